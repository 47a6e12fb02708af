package studio

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

// fakeToken is the admin token the fake API accepts.
const fakeToken = "admin-token"

// fixedTime is every timestamp of the fake API.
var fixedTime = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeAPI is a small in-memory management API (and a non-streaming chat
// endpoint) with fixed data, so pages render the same every run.
type fakeAPI struct {
	mu          sync.Mutex
	hubs        []api.Hub
	projects    []api.Project
	keys        map[string]api.Keys
	models      []api.Model
	deployments map[string][]api.Deployment
	quotaUsed   int
	regenerated int
	lastChat    map[string]any
	srv         *httptest.Server

	// Alerts, compute and request logs (fakealerts_test.go).
	budgets     map[string][]api.Budget // by scope: "projects/P" or "hubs/H"
	rules       map[string][]api.AlertRule
	events      []api.AlertEvent
	deliveries  []api.WebhookDelivery
	instances   []api.InstanceType
	logSettings map[string]api.LogSettings // by project/deployment
	logs        []api.RequestLog
	updates     []api.DeploymentUpdate
}

var fakeNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,30}$`)

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		hubs:     []api.Hub{{Name: "default", Description: "The default hub", Quotas: []api.QuotaLimit{{Model: "*", SKU: "Standard", Limit: 100}}, CreatedAt: fixedTime}},
		projects: []api.Project{{Name: "default", Hub: "default", Endpoint: "http://cerulean.test", CreatedAt: fixedTime}},
		keys:     map[string]api.Keys{"default": {Key1: "key1-aaaa", Key2: "key2-bbbb"}},
		models: []api.Model{
			{Name: "demo", Description: "A tiny demo model", DefaultVersion: "1", CreatedAt: fixedTime, Versions: []api.ModelVersion{{
				Version: "1", Format: "gguf", File: "/data/demo.gguf", ContextLength: 2048, Lifecycle: "generally-available",
				Capabilities: api.Capabilities{Chat: true, Completion: true, JSONSchema: true},
				Prices:       api.Prices{InputPer1K: 0.0005, OutputPer1K: 0.0015},
			}}},
			{Name: "embedder", DefaultVersion: "2", CreatedAt: fixedTime, Versions: []api.ModelVersion{{
				Version: "2", Format: "upstream", Upstream: &api.Upstream{BaseURL: "http://up/v1", Model: "e"}, Lifecycle: "preview",
				Capabilities: api.Capabilities{Embeddings: true}, SKUs: []string{"Standard"},
			}}},
		},
		deployments: map[string][]api.Deployment{"default": {{
			Name: "demo", Project: "default", Model: api.DeploymentModel{Name: "demo", Version: "1", Format: "gguf"},
			SKU: api.SKU{Name: "Standard", Capacity: 10}, VersionUpgradeOption: "OnceNewDefaultVersionAvailable", RAIPolicyName: "Microsoft.Default",
			ProvisioningState: "Succeeded", RateLimits: []api.RateLimit{{Key: "request", RenewalPeriod: 10, Count: 10}, {Key: "token", RenewalPeriod: 60, Count: 10000}},
			Capabilities: &api.Capabilities{Chat: true}, CreatedAt: fixedTime,
		}}},
		quotaUsed: 10,
	}
	f.seedAlerts()
	f.srv = httptest.NewServer(f.mux())
	t.Cleanup(f.srv.Close)
	return f
}

func fakeErr(w http.ResponseWriter, status int, code, target, msg string) {
	writeFakeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg, Target: target}})
}

func writeFakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) mux() http.Handler {
	m := http.NewServeMux()
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+fakeToken {
				fakeErr(w, http.StatusUnauthorized, "Unauthorized", "", "the admin token is missing or wrong")
				return
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			fn(w, r)
		})
	}
	h("GET /api/v1/hubs", func(w http.ResponseWriter, r *http.Request) { writeFakeJSON(w, 200, api.List[api.Hub]{Value: f.hubs}) })
	h("POST /api/v1/hubs", func(w http.ResponseWriter, r *http.Request) {
		var in api.Hub
		_ = json.NewDecoder(r.Body).Decode(&in)
		if !fakeNameRE.MatchString(in.Name) {
			fakeErr(w, 400, "invalidPayload", "name", "hub name \""+in.Name+"\" is invalid")
			return
		}
		in.CreatedAt = fixedTime
		f.hubs = append(f.hubs, in)
		writeFakeJSON(w, 201, in)
	})
	h("GET /api/v1/hubs/{hub}", func(w http.ResponseWriter, r *http.Request) {
		for _, x := range f.hubs {
			if x.Name == r.PathValue("hub") {
				writeFakeJSON(w, 200, x)
				return
			}
		}
		fakeErr(w, 404, "HubNotFound", "hub", "hub does not exist")
	})
	h("GET /api/v1/hubs/{hub}/quotas", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, api.List[api.QuotaUsage]{Value: []api.QuotaUsage{{Model: "*", SKU: "Standard", Limit: 100, Used: f.quotaUsed, Unit: "K-TPM"}}})
	})
	h("DELETE /api/v1/hubs/{hub}", func(w http.ResponseWriter, r *http.Request) {
		fakeErr(w, 409, "HubInUse", "", "hub "+r.PathValue("hub")+" has projects: delete them first")
	})
	h("GET /api/v1/projects", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, api.List[api.Project]{Value: f.projects})
	})
	h("POST /api/v1/projects", func(w http.ResponseWriter, r *http.Request) {
		var in api.CreateProject
		_ = json.NewDecoder(r.Body).Decode(&in)
		if !fakeNameRE.MatchString(in.Name) {
			fakeErr(w, 400, "invalidPayload", "name", "project name \""+in.Name+"\" is invalid: use 2 to 31 lowercase letters, digits or '-'")
			return
		}
		p := api.Project{Name: in.Name, Hub: in.Hub, Endpoint: "http://cerulean.test", CreatedAt: fixedTime}
		f.projects = append(f.projects, p)
		f.keys[p.Name] = api.Keys{Key1: p.Name + "-key1", Key2: p.Name + "-key2"}
		writeFakeJSON(w, 201, p)
	})
	h("GET /api/v1/projects/{project}", func(w http.ResponseWriter, r *http.Request) {
		for _, p := range f.projects {
			if p.Name == r.PathValue("project") {
				writeFakeJSON(w, 200, p)
				return
			}
		}
		fakeErr(w, 404, "ProjectNotFound", "project", "project \""+r.PathValue("project")+"\" does not exist")
	})
	h("DELETE /api/v1/projects/{project}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h("GET /api/v1/projects/{project}/keys", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, f.keys[r.PathValue("project")])
	})
	h("POST /api/v1/projects/{project}/keys/regenerate", func(w http.ResponseWriter, r *http.Request) {
		f.regenerated++
		k := f.keys[r.PathValue("project")]
		k.Key1 = "key1-new"
		f.keys[r.PathValue("project")] = k
		writeFakeJSON(w, 200, k)
	})
	h("GET /api/v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, api.List[api.Model]{Value: f.models})
	})
	h("GET /api/v1/models/{model}", func(w http.ResponseWriter, r *http.Request) {
		for _, m := range f.models {
			if m.Name == r.PathValue("model") {
				writeFakeJSON(w, 200, m)
				return
			}
		}
		fakeErr(w, 404, "ModelNotFound", "model", "model does not exist")
	})
	h("POST /api/v1/models", func(w http.ResponseWriter, r *http.Request) {
		var in api.Model
		_ = json.NewDecoder(r.Body).Decode(&in)
		if len(in.Versions) == 1 && in.Versions[0].Format == "upstream" && in.Versions[0].Upstream.BaseURL == "" {
			fakeErr(w, 400, "invalidPayload", "upstream.baseURL", "version \"1\": upstream.baseURL is required")
			return
		}
		f.models = append(f.models, in)
		writeFakeJSON(w, 201, in)
	})
	h("GET /api/v1/projects/{project}/deployments", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, api.List[api.Deployment]{Value: f.deployments[r.PathValue("project")]})
	})
	h("GET /api/v1/projects/{project}/deployments/{deployment}", func(w http.ResponseWriter, r *http.Request) {
		for _, d := range f.deployments[r.PathValue("project")] {
			if d.Name == r.PathValue("deployment") {
				writeFakeJSON(w, 200, d)
				return
			}
		}
		fakeErr(w, 404, "DeploymentNotFound", "deployment", "deployment does not exist")
	})
	h("POST /api/v1/projects/{project}/deployments", func(w http.ResponseWriter, r *http.Request) {
		var in api.Deployment
		_ = json.NewDecoder(r.Body).Decode(&in)
		if len(in.Name) < 2 {
			fakeErr(w, 400, "invalidPayload", "name", "deployment name \""+in.Name+"\" is invalid")
			return
		}
		if in.SKU.Capacity > 100-f.quotaUsed {
			fakeErr(w, 409, "InsufficientQuota", "sku.capacity", "not enough quota: 90 K-TPM left")
			return
		}
		in.Project, in.ProvisioningState, in.CreatedAt = r.PathValue("project"), "Creating", fixedTime
		f.deployments[in.Project] = append(f.deployments[in.Project], in)
		writeFakeJSON(w, 201, in)
	})
	h("GET /api/v1/projects/{project}/usage", func(w http.ResponseWriter, r *http.Request) {
		rep := api.UsageReport{Project: r.PathValue("project"), Hub: "default", By: r.URL.Query().Get("by")}
		switch rep.By {
		case api.UsageByDay:
			rep.Value = []api.UsageRow{
				{Group: "2024-12-30", Requests: 40, PromptTokens: 4000, CompletionTokens: 1500, TotalTokens: 5500, Cost: 0.00425, Throttled: 2, Errors: 3},
				{Group: "2025-01-02", Requests: 12, PromptTokens: 900, CompletionTokens: 300, TotalTokens: 1200, Cost: 0.0009},
			}
		default:
			rep.Value = []api.UsageRow{{Group: "demo", Requests: 52, PromptTokens: 4900, CompletionTokens: 1800, TotalTokens: 6700, Cost: 0.00515, Throttled: 2, Errors: 3}}
		}
		rep.Total = api.UsageRow{Requests: 52, PromptTokens: 4900, CompletionTokens: 1800, TotalTokens: 6700, Cost: 0.00515, Throttled: 2, Errors: 3}
		writeFakeJSON(w, 200, rep)
	})
	h("DELETE /api/v1/projects/{project}/deployments/{deployment}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) })
	f.alertRoutes(h)
	m.HandleFunc("POST /openai/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("api-key") != f.keys["default"].Key1 {
			fakeErr(w, 401, "401", "", "Access denied due to invalid subscription key")
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&f.lastChat)
		content := "Hello from the fake."
		if rf, ok := f.lastChat["response_format"].(map[string]any); ok && rf["type"] != "text" {
			content = `{"answer":"hi"}`
		}
		writeFakeJSON(w, 200, map[string]any{
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
		})
	})
	return m
}
