// Package e2e drives Cerulean Studio in headless Chromium: the whole server
// runs in process (testenv) and flow.mjs, with playwright-core, signs in,
// creates a project, deploys a model through the wizard, chats in the
// playground, rotates a key, reads usage, adds a budget and changes the
// deployment's capacity, saving a screenshot of each step under
// test-artifacts/studio/. .ci/studio-deps installs Chromium and
// playwright-core; without them the test is skipped.
package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/studio"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// chromium is the browser the flow drives (Debian's package).
const chromium = "/usr/bin/chromium"

func TestStudioInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: the browser flow takes about 20 s")
	}
	// CI installs the browser (.ci/studio-deps), so there a missing one is
	// a failure, not a reason to skip.
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	if _, err := os.Stat(chromium); err != nil {
		skip("skipped: %s is absent; run .ci/studio-deps to install Chromium and playwright-core", chromium)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		skip("skipped: internal/studio/e2e/node_modules/playwright-core is absent; run .ci/studio-deps")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skip("skipped: node is not installed; run .ci/studio-deps")
	}

	env := testenv.New(t)
	base := studioURL(t, env)
	out := artifactDir(t)

	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flow.mjs", base, testenv.AdminToken, out, env.Upstream.URL())
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	var shots []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		t.Log("flow: " + line)
		if p, ok := strings.CutPrefix(line, "screenshot "); ok {
			shots = append(shots, p)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser flow failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("browser flow passed in %s; %d screenshots:", time.Since(start).Round(time.Millisecond), len(shots))
	for _, s := range shots {
		t.Logf("  %s", s)
	}

	// The Go side checks what the flow did through the API.
	d, err := env.Admin.GetDeployment(context.Background(), "e2e", "chat1")
	if err != nil || d.ProvisioningState != "Succeeded" || d.SKU.Capacity != 30 {
		t.Errorf("deployment e2e/chat1: %+v, %v; want Succeeded with capacity 30", d, err)
	}
	b, err := env.Admin.GetBudget(context.Background(), api.Scope{Project: "e2e"}, "e2e-monthly")
	if err != nil || b.Amount != 25 || !b.Hard {
		t.Errorf("budget e2e/e2e-monthly: %+v, %v; want a hard budget of 25", b, err)
	}
}

// studioURL is where the flow finds the Studio: the server itself once it
// mounts the Studio, else a front server here that serves the Studio and
// proxies everything else (inference, management) to the server, so the
// pages and the playground's fetch share one origin as they will.
func studioURL(t *testing.T, env *testenv.Env) string {
	t.Helper()
	resp, err := http.Get(env.URL + "/studio/signin")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && strings.Contains(string(b), "Cerulean Studio") {
			t.Log("the server mounts the Studio itself")
			return env.URL
		}
	}
	target, _ := url.Parse(env.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // stream server-sent events as they come
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	st := studio.New(studio.Deps{
		API:        func(token string) *api.Client { return api.New(env.URL, token) },
		SessionKey: key,
	})
	mux := http.NewServeMux()
	st.Register(mux)
	mux.Handle("/", proxy)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Logf("the server does not mount the Studio yet: serving it at %s in front of %s", srv.URL, env.URL)
	return srv.URL
}

// artifactDir is test-artifacts/studio at the repository's root, emptied.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	out := filepath.Join(dir, "test-artifacts", "studio")
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}
