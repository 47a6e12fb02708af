package studio

import (
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is a Studio over the fake API, and a browser-like client.
type harness struct {
	t     *testing.T
	fake  *fakeAPI
	srv   *httptest.Server
	hc    *http.Client
	clock *clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := newFakeAPI(t)
	clk := &clock{t: fixedTime}
	st := New(Deps{
		API:        func(token string) *api.Client { return api.New(fake.srv.URL, token) },
		PublicURL:  func() string { return "http://cerulean.test" },
		Now:        clk.now,
		SessionKey: []byte("0123456789abcdef0123456789abcdef"),
	})
	mux := http.NewServeMux()
	st.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &harness{t: t, fake: fake, srv: srv, hc: hc, clock: clk}
}

// get fetches path and returns the status and body.
func (h *harness) get(path string) (*http.Response, string) {
	h.t.Helper()
	resp, err := h.hc.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// post posts a form to path.
func (h *harness) post(path string, form url.Values) (*http.Response, string) {
	h.t.Helper()
	resp, err := h.hc.PostForm(h.srv.URL+path, form)
	if err != nil {
		h.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in and returns the session's CSRF token.
func (h *harness) signIn() string {
	h.t.Helper()
	resp, _ := h.post("/studio/signin", url.Values{"token": {fakeToken}, "next": {"/studio/projects"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/studio/projects" {
		h.t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body := h.get("/studio/projects")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		h.t.Fatalf("no CSRF token on the projects page:\n%s", body)
	}
	return m[1]
}

func wantStatus(t *testing.T, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", body)
	}
}

// golden compares body with testdata/name, after replacing the session's
// random CSRF token; -update rewrites the file.
func golden(t *testing.T, name, body string) {
	t.Helper()
	body = csrfRE.ReplaceAllString(body, `name="csrf" value="CSRF"`)
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to make it)", err)
	}
	if string(want) != body {
		t.Errorf("%s differs from the golden file (go test ./internal/studio -run %s -update rewrites it); got:\n%s", path, t.Name(), body)
	}
}

func TestRootRedirectsToStudio(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.get("/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/studio/" {
		t.Fatalf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestPagesNeedSignIn(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/studio/", "/studio/projects", "/studio/models", "/studio/projects/default/deployments/demo", "/studio/projects/default/playground"} {
		resp, _ := h.get(p)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/studio/signin?next=") {
			t.Errorf("GET %s signed out: %d to %q, want a redirect to the sign-in page", p, resp.StatusCode, loc)
		}
	}
	resp, body := h.post("/studio/projects", url.Values{"name": {"x1"}})
	wantStatus(t, resp, body, http.StatusUnauthorized)
	if len(h.fake.projects) != 1 {
		t.Error("a signed-out POST created a project")
	}
}

func TestSignInRejectsWrongToken(t *testing.T) {
	h := newHarness(t)
	resp, body := h.post("/studio/signin", url.Values{"token": {"nope"}})
	wantStatus(t, resp, body, http.StatusUnauthorized)
	wantContains(t, body, "did not accept this token")
	if len(resp.Cookies()) != 0 {
		t.Error("a failed sign-in set a cookie")
	}
}

func TestSignInCookieAndSignOut(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.post("/studio/signin", url.Values{"token": {fakeToken}, "next": {"https://evil.example/"}})
	if loc := resp.Header.Get("Location"); loc != "/studio/" {
		t.Errorf("an outside next went to %q, want /studio/", loc)
	}
	var c *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == cookieName {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/studio" || strings.Contains(c.Value, fakeToken) {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/studio, without the token", c)
	}
	_, body := h.get("/studio/projects")
	csrf := csrfRE.FindStringSubmatch(body)[1]
	resp, _ = h.post("/studio/signout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	resp, _ = h.get("/studio/projects")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out the projects page answered %d, want a redirect to sign in", resp.StatusCode)
	}
}

func TestTamperedOrExpiredCookieIsRejected(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	u, _ := url.Parse(h.srv.URL + "/studio/")
	cookies := h.hc.Jar.Cookies(u)
	if len(cookies) != 1 {
		t.Fatalf("%d cookies", len(cookies))
	}
	good := cookies[0].Value
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + "9999999999" + "." + parts[2]
	h.hc.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: forged, Path: "/studio"}})
	if resp, _ := h.get("/studio/projects"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a cookie with an altered expiry was accepted (%d)", resp.StatusCode)
	}
	h.hc.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: good, Path: "/studio"}})
	if resp, _ := h.get("/studio/projects"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the good cookie was rejected (%d)", resp.StatusCode)
	}
	h.clock.add(sessionTTL + time.Second)
	if resp, _ := h.get("/studio/projects"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session was accepted (%d)", resp.StatusCode)
	}
}

func TestPostsNeedTheCSRFToken(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	for _, tok := range []string{"", "wrong", csrf + "x"} {
		form := url.Values{"name": {"newproj"}}
		if tok != "" {
			form.Set("csrf", tok)
		}
		resp, body := h.post("/studio/projects", form)
		wantStatus(t, resp, body, http.StatusForbidden)
		wantContains(t, body, "security token is missing or stale")
	}
	for _, p := range []string{"/studio/projects/default/keys/key1/regenerate", "/studio/projects/default/delete", "/studio/signout"} {
		resp, body := h.post(p, url.Values{})
		wantStatus(t, resp, body, http.StatusForbidden)
	}
	if len(h.fake.projects) != 1 || h.fake.regenerated != 0 {
		t.Error("a POST without the CSRF token changed something")
	}
	resp, body := h.post("/studio/projects", url.Values{"csrf": {csrf}, "name": {"newproj"}, "hub": {"default"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/studio/projects/newproj/deployments?flash=") {
		t.Errorf("after creating a project: redirect to %q", loc)
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	resp, _ := h.get("/studio/signin")
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
		t.Errorf("CSP %q", got)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options")
	}
	resp, body := h.get("/studio/static/studio.js")
	wantStatus(t, resp, body, http.StatusOK)
	if !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("studio.js served as %q", resp.Header.Get("Content-Type"))
	}
}

func TestFormsShowAPIErrorsInline(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()

	resp, body := h.post("/studio/projects", url.Values{"csrf": {csrf}, "name": {"Bad Name!"}, "hub": {"default"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `value="Bad Name!"`, `aria-invalid="true" aria-describedby="project-name-error"`,
		`<p class="field-error" id="project-name-error">project name &#34;Bad Name!&#34; is invalid`)

	resp, body = h.post("/studio/projects/default/deploy/demo", url.Values{"csrf": {csrf}, "name": {"chat"}, "sku": {"Standard"}, "capacity": {"500"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `<p class="field-error" id="d-capacity-error" role="alert">not enough quota: 90 K-TPM left</p>`, `value="500"`)

	resp, body = h.post("/studio/projects/default/deploy/demo", url.Values{"csrf": {csrf}, "name": {"chat"}, "capacity": {"ten"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, "Enter a whole number")

	resp, body = h.post("/studio/models", url.Values{"csrf": {csrf}, "name": {"m"}, "version": {"1"}, "format": {"upstream"}, "apiKey": {"sekrit"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="m-baseurl-error">version &#34;1&#34;: upstream.baseURL is required`)
	if strings.Contains(body, "sekrit") {
		t.Error("the upstream API key was echoed back into the page")
	}

	resp, body = h.post("/studio/hubs/default/delete", url.Values{"csrf": {csrf}})
	wantStatus(t, resp, body, http.StatusConflict)
	wantContains(t, body, "has projects: delete them first")
}

func TestDeployWizardRedirectsToTheDeployment(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	resp, body := h.post("/studio/projects/default/deploy/demo", url.Values{"csrf": {csrf}, "name": {"chat"}, "sku": {"Standard"},
		"capacity": {"5"}, "version": {"1"}, "upgrade": {"NoAutoUpgrade"}, "policy": {"Microsoft.Default"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/studio/projects/default/deployments/chat?flash=") {
		t.Fatalf("redirect to %q", loc)
	}
	d := h.fake.deployments["default"][1]
	if d.SKU.Capacity != 5 || d.VersionUpgradeOption != "NoAutoUpgrade" || d.Model.Name != "demo" {
		t.Errorf("deployment sent: %+v", d)
	}
	_, body = h.get("/studio/projects/default/deployments/chat")
	wantContains(t, body, `<meta http-equiv="refresh" content="2">`, "Creating")
	_, body = h.get("/studio/projects/default/deployments")
	wantContains(t, body, `<meta http-equiv="refresh"`)
}

func TestRegenerateKeyConfirms(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	resp, body := h.get("/studio/projects/default/keys/key1/regenerate")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, "Regenerate key1 of project default?", `action="/studio/projects/default/keys/key1/regenerate"`)
	if h.fake.regenerated != 0 {
		t.Fatal("the confirmation page regenerated the key")
	}
	resp, body = h.post("/studio/projects/default/keys/key1/regenerate", url.Values{"csrf": {csrf}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if h.fake.regenerated != 1 {
		t.Fatal("the key was not regenerated")
	}
	resp, body = h.post("/studio/projects/default/keys/key3/regenerate", url.Values{"csrf": {csrf}})
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestPlaygroundWithoutJavaScript(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	form := url.Values{"csrf": {csrf}, "deployment": {"demo"}, "system": {"Be brief."}, "message": {"Hi <there>"},
		"temperature": {"0.5"}, "max_tokens": {"20"}, "top_p": {"1"}, "frequency_penalty": {"0"}, "presence_penalty": {"0"},
		"stop": {"END\nSTOP"}, "seed": {"7"}, "response_format": {"text"}, "action": {"send"}}
	resp, body := h.post("/studio/projects/default/playground", form)
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, "Hello from the fake.", "12 prompt + 5 completion tokens", "Hi &lt;there&gt;", `&#34;seed&#34;: 7`)
	sent := h.fake.lastChat
	if sent["model"] != "demo" || sent["seed"] != float64(7) || sent["max_tokens"] != float64(20) || len(sent["stop"].([]any)) != 2 {
		t.Errorf("sent %v", sent)
	}
	if msgs := sent["messages"].([]any); len(msgs) != 2 {
		t.Errorf("sent %d messages, want system and user", len(msgs))
	}

	// The conversation goes on: the history comes back in the form.
	m := regexp.MustCompile(`name="history" id="pg-history" value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no history field")
	}
	form.Set("history", htmlUnescape(m[1]))
	form.Set("message", "again")
	form.Set("response_format", "json_schema")
	form.Set("schema", `{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}`)
	_, body = h.post("/studio/projects/default/playground", form)
	wantContains(t, body, "matches the schema")
	if msgs := h.fake.lastChat["messages"].([]any); len(msgs) != 4 {
		t.Errorf("second turn sent %d messages, want 4", len(msgs))
	}

	form.Set("schema", `{not json`)
	resp, body = h.post("/studio/projects/default/playground", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, "The schema is not valid JSON")
	form.Set("temperature", "hot")
	form.Set("response_format", "text")
	resp, body = h.post("/studio/projects/default/playground", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="pg-temperature-error" role="alert">Enter a number.`)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#34;", `"`, "&amp;", "&", "&lt;", "<", "&gt;", ">", "&#39;", "'").Replace(s)
}

func TestCatalogFilter(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	_, body := h.get("/studio/models?capability=embeddings")
	wantContains(t, body, "embedder", `<span class="badge preview">Preview</span>`)
	if strings.Contains(body, "A tiny demo model") {
		t.Error("the embeddings filter kept a chat-only model")
	}
}

func TestNotFoundPages(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	resp, body := h.get("/studio/projects/nope/deployments")
	wantStatus(t, resp, body, http.StatusNotFound)
	wantContains(t, body, `project &#34;nope&#34; does not exist`)
	resp, body = h.get("/studio/nothing-here")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestGoldenPages(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	pages := map[string]string{
		"signin.html":      "",
		"projects.html":    "/studio/projects",
		"hubs.html":        "/studio/hubs",
		"hub.html":         "/studio/hubs/default",
		"catalog.html":     "/studio/models",
		"model_new.html":   "/studio/models/new",
		"deployments.html": "/studio/projects/default/deployments",
		"deploy_pick.html": "/studio/projects/default/deploy",
		"deploy.html":      "/studio/projects/default/deploy/demo",
		"deployment.html":  "/studio/projects/default/deployments/demo",
		"keys.html":        "/studio/projects/default/keys",
		"playground.html":  "/studio/projects/default/playground",
		"usage.html":       "/studio/projects/default/usage",
		"usage_dep.html":   "/studio/projects/default/usage?days=30&deployment=demo",
		"alerts.html":      "/studio/projects/default/alerts",
		"finetuning.html":  "/studio/projects/default/fine-tuning",
	}
	for name, path := range pages {
		t.Run(name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if path == "" {
				resp, body = (&harness{t: t, srv: h.srv, hc: http.DefaultClient}).get("/studio/signin")
			} else {
				resp, body = h.get(path)
			}
			wantStatus(t, resp, body, http.StatusOK)
			golden(t, name, body)
		})
	}
}
