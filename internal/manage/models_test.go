package manage_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// storedModel is m1 as created from chatModel(), as the API shows it.
func storedModel() api.Model {
	return api.Model{Name: "m1", Description: "a chat model", DefaultVersion: "2", CreatedAt: fixedNow, UpdatedAt: fixedNow,
		Versions: []api.ModelVersion{
			{Version: "1", Format: "upstream", Capabilities: api.Capabilities{Chat: true}, Lifecycle: "generally-available",
				Upstream: &api.Upstream{BaseURL: "http://127.0.0.1:9/v1", Model: "llama", HasAPIKey: true}},
			{Version: "2", Format: "gguf", File: "/models/m1.gguf", Capabilities: api.Capabilities{Chat: true, Tools: true},
				Lifecycle: "generally-available"},
		}}
}

func TestModelCreateGetList(t *testing.T) {
	e := newEnv(t, newFakeStore())
	for _, r := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"POST", "/api/v1/models", chatModel(), http.StatusCreated},
		{"GET", "/api/v1/models/m1", nil, http.StatusOK},
	} {
		status, b := e.call(t, r.method, r.path, r.body)
		if status != r.status {
			t.Fatalf("%s %s: %d %s", r.method, r.path, status, b)
		}
		if strings.Contains(string(b), upstreamKey) || strings.Contains(string(b), `"apiKey"`) {
			t.Errorf("%s %s shows the upstream API key: %s", r.method, r.path, b)
		}
		got := want[api.Model](t, e, "GET", "/api/v1/models/m1", nil, http.StatusOK)
		if diff := cmp.Diff(storedModel(), got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", r.method, r.path, diff)
		}
	}

	// Azure's lifecycle spellings and upper-case formats are accepted.
	azure := api.Model{Name: "gpt-4o:mini.2024", Versions: []api.ModelVersion{
		{Version: "2024-07-18", Format: "GGUF", File: "x.gguf", Lifecycle: "Preview", Capabilities: api.Capabilities{Completion: true},
			SKUs: []string{"Standard", "ProvisionedManaged"}, ContextLength: 4096, Prices: api.Prices{InputPer1K: 0.5, OutputPer1K: 1.5}},
	}}
	got := want[api.Model](t, e, "POST", "/api/v1/models", azure, http.StatusCreated)
	wantAzure := azure
	wantAzure.DefaultVersion, wantAzure.CreatedAt, wantAzure.UpdatedAt = "2024-07-18", fixedNow, fixedNow
	wantAzure.Versions = []api.ModelVersion{azure.Versions[0]}
	wantAzure.Versions[0].Format, wantAzure.Versions[0].Lifecycle = "gguf", "preview"
	if diff := cmp.Diff(wantAzure, got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	status, b := e.call(t, "GET", "/api/v1/models", nil)
	if status != http.StatusOK || strings.Contains(string(b), upstreamKey) {
		t.Fatalf("list: %d %s", status, b)
	}
	list := want[api.List[api.Model]](t, e, "GET", "/api/v1/models", nil, http.StatusOK)
	if diff := cmp.Diff([]api.Model{wantAzure, storedModel()}, list.Value); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
}

func TestModelErrors(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	withVersion := func(v api.ModelVersion) api.Model {
		return api.Model{Name: "mx", Versions: []api.ModelVersion{v}}
	}
	chat := api.Capabilities{Chat: true}
	for _, c := range []errCase{
		{name: "bad name", method: "POST", path: "/api/v1/models", body: api.Model{Name: "a b", Versions: chatModel().Versions},
			status: 400, code: "invalidPayload", target: "name"},
		{name: "no versions", method: "POST", path: "/api/v1/models", body: `{"name":"mx"}`,
			status: 400, code: "invalidPayload", target: "versions", message: "at least one version"},
		{name: "unknown format", method: "POST", path: "/api/v1/models", body: withVersion(api.ModelVersion{Format: "onnx", Capabilities: chat}),
			status: 400, code: "invalidPayload", target: "format"},
		{name: "upstream missing", method: "POST", path: "/api/v1/models", body: withVersion(api.ModelVersion{Format: "upstream", Capabilities: chat}),
			status: 400, code: "invalidPayload", target: "upstream"},
		{name: "relative base URL", method: "POST", path: "/api/v1/models",
			body:   withVersion(api.ModelVersion{Format: "upstream", Capabilities: chat, Upstream: &api.Upstream{BaseURL: "/v1", Model: "x"}}),
			status: 400, code: "invalidPayload", target: "upstream.baseURL"},
		{name: "no capability", method: "POST", path: "/api/v1/models", body: withVersion(api.ModelVersion{Format: "gguf", File: "f"}),
			status: 400, code: "invalidPayload", target: "capabilities"},
		{name: "unknown sku", method: "POST", path: "/api/v1/models", body: withVersion(api.ModelVersion{Format: "gguf", File: "f", Capabilities: chat, SKUs: []string{"Huge"}}),
			status: 400, code: "invalidPayload", target: "skus"},
		{name: "bad default version", method: "POST", path: "/api/v1/models", body: api.Model{Name: "mx", DefaultVersion: "7", Versions: chatModel().Versions},
			status: 400, code: "invalidPayload", target: "defaultVersion"},
		{name: "wrong type", method: "POST", path: "/api/v1/models", body: `{"name":"mx","versions":[{"contextLength":"long"}]}`,
			status: 400, code: "invalidPayload", target: "versions.contextLength"},
		{name: "duplicate", method: "POST", path: "/api/v1/models", body: chatModel(), status: 409, code: "itemDoesAlreadyExist", target: "m1"},
		{name: "get missing", method: "GET", path: "/api/v1/models/nope", status: 404, code: "ModelNotFound", target: "nope"},
		{name: "patch missing", method: "PATCH", path: "/api/v1/models/nope", body: `{}`, status: 404, code: "ModelNotFound", target: "nope"},
		{name: "patch bad default", method: "PATCH", path: "/api/v1/models/m1", body: `{"defaultVersion":"9"}`,
			status: 400, code: "invalidPayload", target: "defaultVersion"},
		{name: "patch bad versions", method: "PATCH", path: "/api/v1/models/m1", body: `{"versions":[]}`,
			status: 400, code: "invalidPayload", target: "versions"},
		{name: "delete missing", method: "DELETE", path: "/api/v1/models/nope", status: 404, code: "ModelNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestModelUpdate(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	e.seed(t)
	storedKey := func() string {
		m, err := st.GetModel(context.Background(), "m1")
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := m.Version("1"); ok && v.Upstream != nil {
			return v.Upstream.APIKey
		}
		return ""
	}
	upstreamV1 := func(baseURL, key string) api.ModelVersion {
		return api.ModelVersion{Version: "1", Format: "upstream", Capabilities: api.Capabilities{Chat: true},
			Upstream: &api.Upstream{BaseURL: baseURL, Model: "llama", APIKey: key}}
	}
	v2 := chatModel().Versions[1]
	cur := storedModel()
	steps := []struct {
		name    string
		body    any
		want    func(m *api.Model)
		wantKey string
	}{
		{"description only", `{"description":"new words"}`,
			func(m *api.Model) { m.Description = "new words" }, upstreamKey},
		{"versions repeating the upstream without a key keep it",
			api.ModelUpdate{Versions: &[]api.ModelVersion{upstreamV1("http://127.0.0.1:9/v1", ""), v2}},
			func(*api.Model) {}, upstreamKey},
		{"a new key replaces it",
			api.ModelUpdate{Versions: &[]api.ModelVersion{upstreamV1("http://127.0.0.1:9/v1", "sk-new"), v2}},
			func(*api.Model) {}, "sk-new"},
		{"another upstream without a key drops it",
			api.ModelUpdate{Versions: &[]api.ModelVersion{upstreamV1("https://elsewhere.test/v1", ""), v2}},
			func(m *api.Model) {
				m.Versions[0].Upstream = &api.Upstream{BaseURL: "https://elsewhere.test/v1", Model: "llama"}
			}, ""},
		{"default version", `{"defaultVersion":"1"}`,
			func(m *api.Model) { m.DefaultVersion = "1" }, ""},
		{"versions without the default pick the last", api.ModelUpdate{Versions: &[]api.ModelVersion{v2}},
			func(m *api.Model) { m.DefaultVersion, m.Versions = "2", m.Versions[1:] }, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			changed := e.changed.Load()
			s.want(&cur)
			status, b := e.call(t, "PATCH", "/api/v1/models/m1", s.body)
			if status != http.StatusOK || strings.Contains(string(b), "sk-") {
				t.Fatalf("patch: %d %s", status, b)
			}
			got := want[api.Model](t, e, "GET", "/api/v1/models/m1", nil, http.StatusOK)
			if diff := cmp.Diff(cur, got); diff != "" {
				t.Errorf("after patch (-want +got):\n%s", diff)
			}
			if k := storedKey(); k != s.wantKey {
				t.Errorf("stored API key %q, want %q", k, s.wantKey)
			}
			if e.changed.Load() != changed+1 {
				t.Error("patch did not call Changed")
			}
		})
	}

	// A version a deployment serves cannot go, nor can its model.
	want[api.Deployment](t, e, "POST", "/api/v1/projects/p1/deployments",
		api.Deployment{Name: "d1", Model: api.DeploymentModel{Name: "m1", Version: "2"}}, http.StatusCreated)
	errCase{method: "PATCH", path: "/api/v1/models/m1",
		body:   api.ModelUpdate{Versions: &[]api.ModelVersion{upstreamV1("http://127.0.0.1:9/v1", "k")}},
		status: 409, code: "ModelVersionInUse", target: "versions", message: `deployment "d1"`}.run(t, e)
	errCase{method: "DELETE", path: "/api/v1/models/m1", status: 409, code: "conflict", target: "m1", message: "d1"}.run(t, e)

	if status, b := e.call(t, "DELETE", "/api/v1/models/m2", nil); status != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s", status, b)
	}
	errCase{method: "GET", path: "/api/v1/models/m2", status: 404, code: "ModelNotFound", target: "m2"}.run(t, e)
}
