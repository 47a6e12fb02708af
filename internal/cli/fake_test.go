package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

const (
	adminToken = "admin-secret"
	demoKey1   = "k1-demo-0000"
	demoKey2   = "k2-demo-0000"
)

// t0 is when everything in the fake was made.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeServer is a hand-written, in-memory stand-in for the management API
// and the chat endpoint of the inference API, with canned state.
type fakeServer struct {
	*httptest.Server

	mu          sync.Mutex
	hubs        []api.Hub
	projects    []api.Project
	keys        map[string]api.Keys
	models      []api.Model
	deployments []api.Deployment // in every project
	pending     map[string]int   // project/deployment: GETs left before Creating or Deleting ends
	chats       []chatCall       // what the chat endpoint got
	regenerated int              // counts RegenerateKey calls, to make new keys
}

// chatCall is one request to the chat endpoint.
type chatCall struct {
	Model       string            `json:"model"`
	Messages    []api.ChatMessage `json:"messages"`
	Temperature *float64          `json:"temperature"`
	MaxTokens   *int              `json:"max_tokens"`
	Stream      bool              `json:"stream"`
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		hubs: []api.Hub{
			{Name: "default", Description: "The default hub", CreatedAt: t0, Quotas: []api.QuotaLimit{
				{Model: "*", SKU: "Standard", Limit: 100},
				{Model: "*", SKU: "ProvisionedManaged", Limit: 50},
			}},
			{Name: "research", CreatedAt: t0, Quotas: []api.QuotaLimit{}},
		},
		keys: map[string]api.Keys{"demo": {Key1: demoKey1, Key2: demoKey2}},
		models: []api.Model{
			{
				Name: "llama3", Description: "Llama 3.2 1B on Ollama", DefaultVersion: "1", CreatedAt: t0, UpdatedAt: t0,
				Versions: []api.ModelVersion{{
					Version: "1", Format: "upstream",
					Upstream:      &api.Upstream{BaseURL: "http://127.0.0.1:11434/v1", Model: "llama3.2:1b", HasAPIKey: true},
					Capabilities:  api.Capabilities{Chat: true, Completion: true},
					ContextLength: 8192, Lifecycle: "generally-available",
					Prices: api.Prices{InputPer1K: 0.5, OutputPer1K: 1.5}, SKUs: []string{"Standard", "GlobalStandard"},
				}},
			},
			{
				Name: "minilm", DefaultVersion: "2", CreatedAt: t0, UpdatedAt: t0,
				Versions: []api.ModelVersion{{
					Version: "2", Format: "gguf", File: "minilm.gguf",
					Capabilities: api.Capabilities{Embeddings: true}, Lifecycle: "preview",
				}},
			},
		},
		pending: map[string]int{},
	}
	f.Server = httptest.NewServer(f.routes())
	t.Cleanup(f.Close)
	f.projects = []api.Project{{Name: "demo", Hub: "default", Region: "local", Description: "Demo project",
		Endpoint: "http://cerulean.test/", CreatedAt: t0}}
	f.deployments = []api.Deployment{{
		Name: "chat", Project: "demo", Model: api.DeploymentModel{Name: "llama3", Version: "1", Format: "upstream"},
		SKU: api.SKU{Name: "Standard", Capacity: 10}, VersionUpgradeOption: "OnceNewDefaultVersionAvailable",
		RAIPolicyName: "Microsoft.Default", ProvisioningState: "Succeeded",
		RateLimits:   []api.RateLimit{{Key: "request", RenewalPeriod: 10, Count: 10}, {Key: "token", RenewalPeriod: 60, Count: 10000}},
		Capabilities: &api.Capabilities{Chat: true, Completion: true}, CreatedAt: t0, UpdatedAt: t0,
	}}
	return f
}

// fakeState is a copy of the fake's state.
type fakeState struct {
	hubs        []api.Hub
	projects    []api.Project
	keys        map[string]api.Keys
	models      []api.Model
	deployments []api.Deployment
	chats       []chatCall
}

// state copies the fake's state under its lock, for tests to look at.
func (f *fakeServer) state() fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := map[string]api.Keys{}
	for k, v := range f.keys {
		keys[k] = v
	}
	return fakeState{
		hubs:        slices.Clone(f.hubs),
		projects:    slices.Clone(f.projects),
		keys:        keys,
		models:      slices.Clone(f.models),
		deployments: slices.Clone(f.deployments),
		chats:       slices.Clone(f.chats),
	}
}

func (f *fakeServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/hubs", f.listHubs)
	mux.HandleFunc("POST /api/v1/hubs", f.createHub)
	mux.HandleFunc("GET /api/v1/hubs/{hub}", f.getHub)
	mux.HandleFunc("GET /api/v1/hubs/{hub}/quotas", f.hubQuotas)
	mux.HandleFunc("GET /api/v1/projects", f.listProjects)
	mux.HandleFunc("POST /api/v1/projects", f.createProject)
	mux.HandleFunc("GET /api/v1/projects/{project}", f.getProject)
	mux.HandleFunc("DELETE /api/v1/projects/{project}", f.deleteProject)
	mux.HandleFunc("GET /api/v1/projects/{project}/keys", f.listKeys)
	mux.HandleFunc("POST /api/v1/projects/{project}/keys/regenerate", f.regenerateKey)
	mux.HandleFunc("GET /api/v1/models", f.listModels)
	mux.HandleFunc("POST /api/v1/models", f.createModel)
	mux.HandleFunc("GET /api/v1/models/{model}", f.getModel)
	mux.HandleFunc("DELETE /api/v1/models/{model}", f.deleteModel)
	mux.HandleFunc("GET /api/v1/projects/{project}/deployments", f.listDeployments)
	mux.HandleFunc("POST /api/v1/projects/{project}/deployments", f.createDeployment)
	mux.HandleFunc("GET /api/v1/projects/{project}/deployments/{deployment}", f.getDeployment)
	mux.HandleFunc("PATCH /api/v1/projects/{project}/deployments/{deployment}", f.updateDeployment)
	mux.HandleFunc("DELETE /api/v1/projects/{project}/deployments/{deployment}", f.deleteDeployment)
	mux.HandleFunc("POST /openai/v1/chat/completions", f.chat)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") && r.Header.Get("Authorization") != "Bearer "+adminToken {
			writeError(w, http.StatusUnauthorized, "Unauthorized", "The admin token is missing or wrong.")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

func notFound(w http.ResponseWriter, kind, name string) {
	writeError(w, http.StatusNotFound, kind+"NotFound", fmt.Sprintf("The %s '%s' does not exist.", strings.ToLower(kind), name))
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "InvalidPayload", err.Error())
		return false
	}
	return true
}

func find[T any](items []T, match func(T) bool) int {
	return slices.IndexFunc(items, match)
}

func (f *fakeServer) listHubs(w http.ResponseWriter, r *http.Request) {
	reply(w, 200, api.List[api.Hub]{Value: f.hubs})
}

func (f *fakeServer) getHub(w http.ResponseWriter, r *http.Request) {
	i := find(f.hubs, func(h api.Hub) bool { return h.Name == r.PathValue("hub") })
	if i < 0 {
		notFound(w, "Hub", r.PathValue("hub"))
		return
	}
	reply(w, 200, f.hubs[i])
}

func (f *fakeServer) createHub(w http.ResponseWriter, r *http.Request) {
	var h api.Hub
	if !decode(w, r, &h) {
		return
	}
	if find(f.hubs, func(x api.Hub) bool { return x.Name == h.Name }) >= 0 {
		writeError(w, http.StatusConflict, "HubAlreadyExists", fmt.Sprintf("A hub named '%s' already exists.", h.Name))
		return
	}
	if h.Quotas == nil {
		h.Quotas = []api.QuotaLimit{{Model: "*", SKU: "Standard", Limit: 30}}
	}
	h.CreatedAt = t0
	f.hubs = append(f.hubs, h)
	reply(w, http.StatusCreated, h)
}

func (f *fakeServer) hubQuotas(w http.ResponseWriter, r *http.Request) {
	i := find(f.hubs, func(h api.Hub) bool { return h.Name == r.PathValue("hub") })
	if i < 0 {
		notFound(w, "Hub", r.PathValue("hub"))
		return
	}
	var out []api.QuotaUsage
	for _, q := range f.hubs[i].Quotas {
		u := api.QuotaUsage{Model: q.Model, SKU: q.SKU, UsageName: q.SKU + "." + q.Model, Limit: q.Limit, Unit: "K-TPM"}
		if q.SKU == "ProvisionedManaged" {
			u.Unit = "PTU"
		}
		for _, d := range f.deployments {
			if d.SKU.Name == q.SKU && f.hubOf(d.Project) == f.hubs[i].Name {
				u.Used += d.SKU.Capacity
			}
		}
		out = append(out, u)
	}
	reply(w, 200, api.List[api.QuotaUsage]{Value: out})
}

func (f *fakeServer) hubOf(project string) string {
	if i := find(f.projects, func(p api.Project) bool { return p.Name == project }); i >= 0 {
		return f.projects[i].Hub
	}
	return ""
}

func (f *fakeServer) listProjects(w http.ResponseWriter, r *http.Request) {
	reply(w, 200, api.List[api.Project]{Value: f.projects})
}

func (f *fakeServer) getProject(w http.ResponseWriter, r *http.Request) {
	i := find(f.projects, func(p api.Project) bool { return p.Name == r.PathValue("project") })
	if i < 0 {
		notFound(w, "Project", r.PathValue("project"))
		return
	}
	reply(w, 200, f.projects[i])
}

func (f *fakeServer) createProject(w http.ResponseWriter, r *http.Request) {
	var c api.CreateProject
	if !decode(w, r, &c) {
		return
	}
	if find(f.projects, func(p api.Project) bool { return p.Name == c.Name }) >= 0 {
		writeError(w, http.StatusConflict, "ProjectAlreadyExists", fmt.Sprintf("A project named '%s' already exists.", c.Name))
		return
	}
	if c.Hub == "" {
		c.Hub = "default"
	}
	if find(f.hubs, func(h api.Hub) bool { return h.Name == c.Hub }) < 0 {
		notFound(w, "Hub", c.Hub)
		return
	}
	p := api.Project{Name: c.Name, Hub: c.Hub, Region: c.Region, Description: c.Description,
		Endpoint: "http://cerulean.test/", CreatedAt: t0}
	f.projects = append(f.projects, p)
	f.keys[p.Name] = api.Keys{Key1: "k1-" + p.Name, Key2: "k2-" + p.Name}
	reply(w, http.StatusCreated, p)
}

func (f *fakeServer) deleteProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("project")
	i := find(f.projects, func(p api.Project) bool { return p.Name == name })
	if i < 0 {
		notFound(w, "Project", name)
		return
	}
	f.projects = slices.Delete(f.projects, i, i+1)
	f.deployments = slices.DeleteFunc(f.deployments, func(d api.Deployment) bool { return d.Project == name })
	delete(f.keys, name)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) listKeys(w http.ResponseWriter, r *http.Request) {
	k, ok := f.keys[r.PathValue("project")]
	if !ok {
		notFound(w, "Project", r.PathValue("project"))
		return
	}
	reply(w, 200, k)
}

func (f *fakeServer) regenerateKey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("project")
	k, ok := f.keys[name]
	if !ok {
		notFound(w, "Project", name)
		return
	}
	var body api.RegenerateKey
	if !decode(w, r, &body) {
		return
	}
	f.regenerated++
	fresh := fmt.Sprintf("%s-%s-new%d", body.KeyName, name, f.regenerated)
	switch body.KeyName {
	case "key1":
		k.Key1 = fresh
	case "key2":
		k.Key2 = fresh
	default:
		writeError(w, http.StatusBadRequest, "InvalidKeyName", "keyName must be key1 or key2.")
		return
	}
	f.keys[name] = k
	reply(w, 200, k)
}

func (f *fakeServer) listModels(w http.ResponseWriter, r *http.Request) {
	reply(w, 200, api.List[api.Model]{Value: f.models})
}

func (f *fakeServer) getModel(w http.ResponseWriter, r *http.Request) {
	i := find(f.models, func(m api.Model) bool { return m.Name == r.PathValue("model") })
	if i < 0 {
		notFound(w, "Model", r.PathValue("model"))
		return
	}
	reply(w, 200, f.models[i])
}

func (f *fakeServer) createModel(w http.ResponseWriter, r *http.Request) {
	var m api.Model
	if !decode(w, r, &m) {
		return
	}
	if find(f.models, func(x api.Model) bool { return x.Name == m.Name }) >= 0 {
		writeError(w, http.StatusConflict, "ModelAlreadyExists", fmt.Sprintf("A model named '%s' already exists.", m.Name))
		return
	}
	m.CreatedAt, m.UpdatedAt = t0, t0
	stored := m
	stored.Versions = slices.Clone(m.Versions)
	for i, v := range stored.Versions {
		if v.Upstream != nil { // the key is write-only
			up := *v.Upstream
			up.HasAPIKey, up.APIKey = up.APIKey != "", ""
			stored.Versions[i].Upstream = &up
		}
	}
	f.models = append(f.models, stored)
	reply(w, http.StatusCreated, stored)
}

func (f *fakeServer) deleteModel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	i := find(f.models, func(m api.Model) bool { return m.Name == name })
	if i < 0 {
		notFound(w, "Model", name)
		return
	}
	if find(f.deployments, func(d api.Deployment) bool { return d.Model.Name == name }) >= 0 {
		writeError(w, http.StatusConflict, "ModelInUse", fmt.Sprintf("The model '%s' is deployed; delete its deployments first.", name))
		return
	}
	f.models = slices.Delete(f.models, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) listDeployments(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	if find(f.projects, func(p api.Project) bool { return p.Name == project }) < 0 {
		notFound(w, "Project", project)
		return
	}
	out := []api.Deployment{}
	for _, d := range f.deployments {
		if d.Project == project {
			out = append(out, d)
		}
	}
	reply(w, 200, api.List[api.Deployment]{Value: out})
}

// deployment finds a deployment, answering 404 when it is not there.
func (f *fakeServer) deployment(w http.ResponseWriter, r *http.Request) int {
	project, name := r.PathValue("project"), r.PathValue("deployment")
	i := find(f.deployments, func(d api.Deployment) bool { return d.Project == project && d.Name == name })
	if i < 0 {
		notFound(w, "Deployment", name)
	}
	return i
}

// getDeployment plays the reconciler: a deployment stays Creating or
// Deleting for the GETs in pending, then succeeds (fails for the model
// "broken") or is gone.
func (f *fakeServer) getDeployment(w http.ResponseWriter, r *http.Request) {
	i := f.deployment(w, r)
	if i < 0 {
		return
	}
	d := &f.deployments[i]
	id := d.Project + "/" + d.Name
	if f.pending[id] > 0 {
		f.pending[id]--
	} else {
		switch d.ProvisioningState {
		case "Creating":
			d.ProvisioningState = "Succeeded"
			if d.Model.Name == "broken" {
				d.ProvisioningState, d.Reason = "Failed", "upstream http://127.0.0.1:1/v1 is not reachable"
			}
		case "Deleting":
			f.deployments = slices.Delete(f.deployments, i, i+1)
			notFound(w, "Deployment", r.PathValue("deployment"))
			return
		}
	}
	reply(w, 200, *d)
}

func (f *fakeServer) createDeployment(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	if find(f.projects, func(p api.Project) bool { return p.Name == project }) < 0 {
		notFound(w, "Project", project)
		return
	}
	var d api.Deployment
	if !decode(w, r, &d) {
		return
	}
	if find(f.deployments, func(x api.Deployment) bool { return x.Project == project && x.Name == d.Name }) >= 0 {
		writeError(w, http.StatusConflict, "DeploymentAlreadyExists", fmt.Sprintf("A deployment named '%s' already exists in project '%s'.", d.Name, project))
		return
	}
	if d.Model.Name != "broken" && find(f.models, func(m api.Model) bool { return m.Name == d.Model.Name }) < 0 {
		notFound(w, "Model", d.Model.Name)
		return
	}
	if d.SKU.Name == "Standard" && d.SKU.Capacity > 90 {
		writeError(w, http.StatusBadRequest, "InsufficientQuota", fmt.Sprintf(
			"The specified capacity '%d' of account deployment is bigger than available capacity '90' for UsageName 'Standard.%s'.",
			d.SKU.Capacity, d.Model.Name))
		return
	}
	d.Project, d.ProvisioningState, d.CreatedAt, d.UpdatedAt = project, "Creating", t0, t0
	if d.Model.Version == "" {
		d.Model.Version = "1"
	}
	f.deployments = append(f.deployments, d)
	f.pending[project+"/"+d.Name] = 1
	reply(w, http.StatusCreated, d)
}

func (f *fakeServer) updateDeployment(w http.ResponseWriter, r *http.Request) {
	i := f.deployment(w, r)
	if i < 0 {
		return
	}
	var u api.DeploymentUpdate
	if !decode(w, r, &u) {
		return
	}
	d := &f.deployments[i]
	if u.Capacity != nil {
		d.SKU.Capacity = *u.Capacity
	}
	if u.Version != nil {
		d.Model.Version = *u.Version
		d.ProvisioningState = "Creating"
		f.pending[d.Project+"/"+d.Name] = 1
	}
	if u.VersionUpgradeOption != nil {
		d.VersionUpgradeOption = *u.VersionUpgradeOption
	}
	if u.RAIPolicyName != nil {
		d.RAIPolicyName = *u.RAIPolicyName
	}
	reply(w, 200, *d)
}

func (f *fakeServer) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	i := f.deployment(w, r)
	if i < 0 {
		return
	}
	d := &f.deployments[i]
	d.ProvisioningState = "Deleting"
	f.pending[d.Project+"/"+d.Name] = 1
	w.WriteHeader(http.StatusNoContent)
}

// chat answers "echo: PROMPT (turn N)" word by word as an Azure-style
// stream, where N counts the user messages; a prompt with "forbidden" in it
// is refused.
func (f *fakeServer) chat(w http.ResponseWriter, r *http.Request) {
	project := ""
	for name, k := range f.keys {
		if k.Key1 == r.Header.Get("api-key") || k.Key2 == r.Header.Get("api-key") {
			project = name
		}
	}
	if project == "" {
		reply(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
			"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint."}})
		return
	}
	var req chatCall
	if !decode(w, r, &req) {
		return
	}
	f.chats = append(f.chats, req)
	turns, last := 0, ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			turns++
			last = m.Content
		}
	}
	if strings.Contains(last, "forbidden") {
		reply(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
			"code": "content_filter", "param": "prompt", "message": "The prompt was filtered by the content policy."}})
		return
	}
	if find(f.deployments, func(d api.Deployment) bool { return d.Project == project && d.Name == req.Model }) < 0 {
		reply(w, http.StatusNotFound, map[string]any{"error": map[string]any{
			"code": "DeploymentNotFound", "param": "model", "message": "The API deployment for this resource does not exist."}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	event := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	delta := func(d map[string]any, finish any) map[string]any {
		return map[string]any{"object": "chat.completion.chunk", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": d, "finish_reason": finish}}}
	}
	event(map[string]any{"choices": []any{}, "prompt_filter_results": []any{}})
	event(delta(map[string]any{"role": "assistant", "content": ""}, nil))
	words := strings.Fields(fmt.Sprintf("echo: %s (turn %d)", last, turns))
	for i, word := range words {
		if i > 0 {
			word = " " + word
		}
		event(delta(map[string]any{"content": word}, nil))
	}
	event(delta(map[string]any{}, "stop"))
	event(map[string]any{"choices": []any{}, "usage": map[string]any{
		"prompt_tokens": 7 * turns, "completion_tokens": len(words), "total_tokens": 7*turns + len(words)}})
	fmt.Fprint(w, "data: [DONE]\n\n")
}
