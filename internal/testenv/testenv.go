// Package testenv runs the whole app for a test: `cerulean serve` in
// process on 127.0.0.1:0 with a temporary data folder (so a temporary
// SQLite database), and a fake OpenAI-compatible upstream on httptest. It
// returns clients for the management API and the project's keys.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/cli"
	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
)

// AdminToken is the admin token every Env uses.
const AdminToken = "test-admin-token"

// Env is a running server.
type Env struct {
	URL      string             // the server's base URL
	Admin    *api.Client        // management API client
	Upstream *fakeopenai.Server // the fake upstream; Upstream.URL() includes /v1
	Key1     string             // project "default" key1
	Key2     string             // project "default" key2
	DataDir  string

	cancel context.CancelFunc
	done   chan int
	logs   *syncBuffer
}

// Options tune New.
type Options struct {
	// Upstream options for the fake upstream.
	Upstream fakeopenai.Options
	// Env adds variables to the server's environment.
	Env map[string]string
	// Args are more `cerulean serve` flags, e.g. --model FILE.
	Args []string
}

// New starts a server and stops it when the test ends.
func New(t testing.TB) *Env { return NewWith(t, Options{}) }

// NewWith starts a server with options.
func NewWith(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{DataDir: t.TempDir(), done: make(chan int, 1), logs: &syncBuffer{}}
	e.Upstream = fakeopenai.New(o.Upstream)
	t.Cleanup(e.Upstream.Close)

	vars := map[string]string{
		"HOME":                 e.DataDir,
		"CERULEAN_DATA":        e.DataDir,
		"CERULEAN_ADMIN_TOKEN": AdminToken,
		"CERULEAN_LOG_LEVEL":   "debug",
	}
	for k, v := range o.Env {
		vars[k] = v
	}
	getenv := func(k string) string { return vars[k] }

	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	pr, pw := io.Pipe()
	go func() {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--shutdown-timeout", "5s"}, o.Args...)
		code := cli.Main(ctx, args, getenv, strings.NewReader(""), pw, e.logs)
		pw.Close()
		e.done <- code
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "listening on "); ok {
				addr <- u
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case e.URL = <-addr:
	case code := <-e.done:
		t.Fatalf("testenv: server exited with %d before listening; log:\n%s", code, e.logs.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("testenv: server did not start in 30s; log:\n%s", e.logs.String())
	}
	t.Cleanup(func() {
		if code := e.Stop(); code != 0 {
			t.Errorf("testenv: server exited with %d; log:\n%s", code, e.logs.String())
		}
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})

	e.Admin = api.New(e.URL, AdminToken)
	keys, err := e.Admin.ListKeys(context.Background(), "default")
	if err != nil {
		t.Fatalf("testenv: list keys: %v", err)
	}
	e.Key1, e.Key2 = keys.Key1, keys.Key2
	return e
}

// SharedModel is the path of a file under ../shared/testdata/models, the
// test data beside the repository; the test is skipped when it is absent.
func SharedModel(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	path := filepath.Join(filepath.Dir(dir), "shared", "testdata", "models", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipped: %s is absent (the shared test data is not beside the repository)", path)
	}
	return path
}

// Stop shuts the server down (as SIGTERM would) and returns its exit code.
// It is safe to call more than once.
func (e *Env) Stop() int {
	e.cancel()
	select {
	case code := <-e.done:
		e.done <- code
		return code
	case <-time.After(20 * time.Second):
		return -1
	}
}

// Logs is what the server has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// Deploy registers a model served by the fake upstream (once per name)
// and deploys it in project "default" as deployment name, waiting until it
// has Succeeded.
func (e *Env) Deploy(t testing.TB, name string) api.Deployment {
	t.Helper()
	ctx := context.Background()
	model := "fake-" + name
	_, err := e.Admin.CreateModel(ctx, api.Model{
		Name: model,
		Versions: []api.ModelVersion{{
			Version: "1", Format: "upstream",
			Upstream:      &api.Upstream{BaseURL: e.Upstream.URL(), Model: "upstream-" + name},
			Capabilities:  api.Capabilities{Chat: true, Completion: true, Embeddings: true},
			ContextLength: 4096,
			Prices:        api.Prices{InputPer1K: 0.001, OutputPer1K: 0.002},
		}},
	})
	if err != nil {
		t.Fatalf("testenv: create model: %v", err)
	}
	if _, err := e.Admin.CreateDeployment(ctx, "default", api.Deployment{
		Name: name, Model: api.DeploymentModel{Name: model}, SKU: api.SKU{Name: "Standard", Capacity: 200},
	}); err != nil {
		t.Fatalf("testenv: create deployment: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	d, err := e.Admin.WaitDeployment(wctx, "default", name)
	if err != nil {
		t.Fatalf("testenv: wait deployment: %v", err)
	}
	if d.ProvisioningState != "Succeeded" {
		t.Fatalf("testenv: deployment %s is %s: %s", name, d.ProvisioningState, d.Reason)
	}
	return d
}

// CLI runs `cerulean args...` against this server in process and returns
// its stdout, stderr and exit code.
func (e *Env) CLI(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	vars := map[string]string{
		"HOME":                 e.DataDir,
		"CERULEAN_DATA":        e.DataDir,
		"CERULEAN_HOST":        e.URL,
		"CERULEAN_ADMIN_TOKEN": AdminToken,
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = cli.Main(ctx, args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
