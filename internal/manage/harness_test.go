package manage_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/manage"
)

const (
	adminToken = "admin-secret-token"
	publicURL  = "http://cerulean.test:8080"
)

var fixedNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// env is one management API on an httptest server.
type env struct {
	srv         *httptest.Server
	client      *api.Client
	sealer      *apikey.Sealer
	logs        *syncBuffer
	changed     atomic.Int64
	reconciled  atomic.Int64
	onReconcile atomic.Pointer[func()]
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
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

func newEnv(t *testing.T, st manage.Store) *env {
	t.Helper()
	sealer, err := apikey.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{sealer: sealer, logs: &syncBuffer{}}
	a := manage.New(manage.Deps{
		Logger:     slog.New(slog.NewTextHandler(e.logs, nil)),
		Store:      st,
		Sealer:     sealer,
		AdminToken: adminToken,
		PublicURL:  func() string { return publicURL },
		Changed:    func() { e.changed.Add(1) },
		Reconcile: func() {
			e.reconciled.Add(1)
			if f := e.onReconcile.Load(); f != nil {
				(*f)()
			}
		},
		Now: func() time.Time { return fixedNow },
	})
	mux := http.NewServeMux()
	a.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.client = api.New(e.srv.URL, adminToken)
	return e
}

// raw sends a request with the given headers; body is nil, a string (sent
// as is) or a value (sent as JSON).
func (e *env) raw(t *testing.T, method, path string, body any, header http.Header) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// call sends an authorized request.
func (e *env) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return e.raw(t, method, path, body, http.Header{"Authorization": {"Bearer " + adminToken}})
}

// want sends an authorized request, checks its status and decodes its body.
func want[T any](t *testing.T, e *env, method, path string, body any, status int) T {
	t.Helper()
	got, b := e.call(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, b)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
	}
	return v
}

// errCase is an expected error answer.
type errCase struct {
	name    string
	method  string
	path    string
	body    any
	status  int
	code    string
	target  string
	message string // substring, when not empty
}

// run checks one error case.
func (c errCase) run(t *testing.T, e *env) {
	t.Helper()
	status, b := e.call(t, c.method, c.path, c.body)
	checkError(t, status, b, c)
}

func checkError(t *testing.T, status int, b []byte, c errCase) {
	t.Helper()
	if status != c.status {
		t.Fatalf("status %d, want %d; body %s", status, c.status, b)
	}
	var body api.ErrorBody
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	got := api.ErrorDetail{Code: body.Error.Code, Target: body.Error.Target}
	if diff := cmp.Diff(api.ErrorDetail{Code: c.code, Target: c.target}, got); diff != "" {
		t.Errorf("error (-want +got):\n%s\nbody %s", diff, b)
	}
	if !strings.Contains(body.Error.Message, c.message) {
		t.Errorf("message %q does not contain %q", body.Error.Message, c.message)
	}
	if body.Error.Message == "" {
		t.Errorf("empty message in %s", b)
	}
}

// Fixtures.

func defaultHub() api.Hub {
	return api.Hub{Name: "default", Quotas: []api.QuotaLimit{
		{Model: "*", SKU: "Standard", Limit: 120},
		{Model: "*", SKU: "ProvisionedManaged", Limit: 300},
		{Model: "*", SKU: "ManagedCompute", Limit: 4},
	}}
}

const upstreamKey = "sk-upstream-very-secret"

// chatModel has an upstream version 1 (with an API key) and a gguf
// version 2, the default.
func chatModel() api.Model {
	return api.Model{Name: "m1", Description: "a chat model", Versions: []api.ModelVersion{
		{Version: "1", Format: "upstream", Capabilities: api.Capabilities{Chat: true},
			Upstream: &api.Upstream{BaseURL: "http://127.0.0.1:9/v1", Model: "llama", APIKey: upstreamKey}},
		{Version: "2", Format: "gguf", File: "/models/m1.gguf", Capabilities: api.Capabilities{Chat: true, Tools: true}},
	}}
}

func embedModel() api.Model {
	return api.Model{Name: "m2", Versions: []api.ModelVersion{
		{Version: "1", Format: "gguf", File: "/models/m2.gguf", Capabilities: api.Capabilities{Embeddings: true}},
	}}
}

// seed makes the default hub, models m1 and m2 and project p1.
func (e *env) seed(t *testing.T) {
	t.Helper()
	want[api.Hub](t, e, "POST", "/api/v1/hubs", defaultHub(), http.StatusCreated)
	want[api.Model](t, e, "POST", "/api/v1/models", chatModel(), http.StatusCreated)
	want[api.Model](t, e, "POST", "/api/v1/models", embedModel(), http.StatusCreated)
	want[api.Project](t, e, "POST", "/api/v1/projects", api.CreateProject{Name: "p1"}, http.StatusCreated)
}
