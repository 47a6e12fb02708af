package manage_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/manage"
)

// FuzzBodies sends arbitrary bodies to every route that reads one: the
// answer is never a 5xx, and every error is the JSON envelope with a code
// and a message.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `"x"`, `{"name":"ab"}`, `{"name":"ab","quotas":[{"model":"*","sku":"Standard","limit":1}]}`,
		`{"name":"d1","model":{"name":"m1"},"sku":{"name":"Standard","capacity":1}}`,
		`{"name":"m9","versions":[{"format":"upstream","upstream":{"baseURL":"http://x/v1","model":"y"},"capabilities":{"chatCompletion":true}}]}`,
		`{"keyName":"Key2"}`, `{"capacity":-5}`, `{"versions":[]}`, `{"description":null,"quotas":null}`,
		`{"name":"\u0000"}`, `{"sku":{"capacity":1e99}}`, `{"a":` + string(bytes.Repeat([]byte("["), 10000)),
	} {
		for route := range 11 {
			f.Add(uint8(route), []byte(seed))
		}
	}
	sealer, err := apikey.NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/hubs"},
		{"PATCH", "/api/v1/hubs/default"},
		{"POST", "/api/v1/projects"},
		{"POST", "/api/v1/projects/p1/keys/regenerate"},
		{"POST", "/api/v1/projects/p1/regenerateKey"},
		{"POST", "/api/v1/models"},
		{"PATCH", "/api/v1/models/m1"},
		{"POST", "/api/v1/projects/p1/deployments"},
		{"PUT", "/api/v1/projects/p1/deployments/chat"},
		{"PUT", "/api/v1/projects/p1/deployments/fresh"},
		{"PATCH", "/api/v1/projects/p1/deployments/chat"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		mux := http.NewServeMux()
		manage.New(manage.Deps{Store: seededStore(t, sealer), Sealer: sealer, AdminToken: adminToken}).Register(mux)
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s with %q: error body %s (%v)", rt.method, rt.path, body, rec.Body, err)
			}
		}
	})
}

// seededStore is a fake store with the default hub, models m1 and m2,
// project p1 and deployment p1/chat.
func seededStore(t *testing.T, sealer *apikey.Sealer) *fakeStore {
	t.Helper()
	st := newFakeStore()
	mux := http.NewServeMux()
	manage.New(manage.Deps{Store: st, Sealer: sealer, AdminToken: adminToken}).Register(mux)
	for _, r := range []struct {
		path string
		body any
	}{
		{"/api/v1/hubs", defaultHub()},
		{"/api/v1/models", chatModel()},
		{"/api/v1/models", embedModel()},
		{"/api/v1/projects", api.CreateProject{Name: "p1"}},
		{"/api/v1/projects/p1/deployments", api.Deployment{Name: "chat", Model: api.DeploymentModel{Name: "m1"}}},
	} {
		b, _ := json.Marshal(r.body)
		req := httptest.NewRequest("POST", r.path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", r.path, rec.Code, rec.Body)
		}
	}
	return st
}
