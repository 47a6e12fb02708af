package manage_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/manage"
)

func TestAuth(t *testing.T) {
	e := newEnv(t, newFakeStore())
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"no header", nil, http.StatusUnauthorized},
		{"wrong token", http.Header{"Authorization": {"Bearer nope"}}, http.StatusUnauthorized},
		{"token prefix", http.Header{"Authorization": {"Bearer " + adminToken[:5]}}, http.StatusUnauthorized},
		{"wrong scheme", http.Header{"Authorization": {"Basic " + adminToken}}, http.StatusUnauthorized},
		{"bare token", http.Header{"Authorization": {adminToken}}, http.StatusUnauthorized},
		{"api-key header", http.Header{"Api-Key": {adminToken}}, http.StatusUnauthorized},
		{"right token", http.Header{"Authorization": {"Bearer " + adminToken}}, http.StatusOK},
		{"lower-case scheme", http.Header{"Authorization": {"bearer " + adminToken}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := e.raw(t, "GET", "/api/v1/hubs", nil, tt.header)
			if tt.status == http.StatusOK {
				if status != http.StatusOK {
					t.Fatalf("status %d, want 200; body %s", status, b)
				}
				return
			}
			checkError(t, status, b, errCase{status: http.StatusUnauthorized, code: "unauthorized", message: "admin token"})
		})
	}

	// Every route is behind the token, writes included.
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/v1/hubs"}, {"DELETE", "/api/v1/hubs/default"}, {"GET", "/api/v1/projects/p1/keys"},
		{"POST", "/api/v1/projects/p1/listKeys"}, {"PUT", "/api/v1/projects/p1/deployments/d1"},
		{"GET", "/api/v1/no/such/route"},
	} {
		status, b := e.raw(t, r.method, r.path, `{}`, nil)
		checkError(t, status, b, errCase{status: http.StatusUnauthorized, code: "unauthorized"})
	}
	if n := e.changed.Load(); n != 0 {
		t.Errorf("Changed called %d times by refused requests", n)
	}
}

func TestAuthEmptyTokenRefusesAll(t *testing.T) {
	a := manage.New(manage.Deps{Store: newFakeStore()})
	mux := http.NewServeMux()
	a.Register(mux)
	for _, h := range []string{"", "Bearer ", "Bearer  "} {
		req, _ := http.NewRequest("GET", "/api/v1/hubs", nil)
		req.Header.Set("Authorization", h)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q with no admin token configured: status %d, want 401", h, rec.Code)
		}
	}
}

func TestNoRoute(t *testing.T) {
	e := newEnv(t, newFakeStore())
	errCase{method: "GET", path: "/api/v1/nothing", status: 404, code: "notFound", message: "GET /api/v1/nothing"}.run(t, e)
	errCase{method: "GET", path: "/api/v1/hubs/a/b", status: 404, code: "notFound"}.run(t, e)
	errCase{method: "DELETE", path: "/api/v1/hubs", status: 405, code: "methodNotAllowed",
		message: "DELETE is not allowed on /api/v1/hubs: use GET, POST"}.run(t, e)
	errCase{method: "POST", path: "/api/v1/projects/p1/deployments/d1", status: 405, code: "methodNotAllowed",
		message: "use GET, PUT, PATCH, DELETE"}.run(t, e)
}

func TestBodies(t *testing.T) {
	e := newEnv(t, newFakeStore())
	big := `{"name":"big","description":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, c := range []errCase{
		{name: "empty", body: "", status: 400, code: "invalidPayload", target: "body", message: "empty"},
		{name: "syntax", body: `{"name":`, status: 400, code: "invalidPayload", target: "body", message: "not valid JSON"},
		{name: "syntax offset", body: `{"name" "x"}`, status: 400, code: "invalidPayload", target: "body", message: "offset"},
		{name: "not an object", body: `[1,2]`, status: 400, code: "invalidPayload", target: "body", message: "JSON object"},
		{name: "wrong type", body: `{"name":5}`, status: 400, code: "invalidPayload", target: "name", message: `"name" must be a string, got number`},
		{name: "nested wrong type", body: `{"name":"ab","quotas":[{"model":"*","sku":"Standard","limit":"lots"}]}`,
			status: 400, code: "invalidPayload", target: "quotas.limit", message: "an integer"},
		{name: "trailing data", body: `{"name":"ab"} {}`, status: 400, code: "invalidPayload", target: "body", message: "after the JSON object"},
		{name: "too large", body: big, status: 413, code: "payloadTooLarge", target: "body", message: "1048576"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.method, c.path = "POST", "/api/v1/hubs"
			c.run(t, e)
		})
	}
	// Unknown fields are ignored.
	want[map[string]any](t, e, "POST", "/api/v1/hubs", `{"name":"lenient","bogus":{"x":1}}`, http.StatusCreated)
}

func TestInternalFailure(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	st.setFail(errors.New("disk on fire at /var/lib/secret"))
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/hubs"}, {"GET", "/api/v1/projects/p1"}, {"GET", "/api/v1/models"},
		{"GET", "/api/v1/projects/p1/deployments/d1"},
	} {
		status, b := e.raw(t, r.method, r.path, nil, http.Header{
			"Authorization": {"Bearer " + adminToken}, "X-Request-Id": {"req-42"}})
		checkError(t, status, b, errCase{status: 500, code: "internalFailure", message: "req-42"})
		if strings.Contains(string(b), "fire") {
			t.Errorf("%s %s: the cause leaked into the response: %s", r.method, r.path, b)
		}
	}
	if logs := e.logs.String(); !strings.Contains(logs, "disk on fire") || !strings.Contains(logs, "req-42") {
		t.Errorf("the cause and request id were not logged:\n%s", logs)
	}

	// Without a request id one is made, returned in the header and quoted.
	status, b := e.raw(t, "GET", "/api/v1/hubs", nil, http.Header{"Authorization": {"Bearer " + adminToken}})
	checkError(t, status, b, errCase{status: 500, code: "internalFailure", message: "request id"})
}
