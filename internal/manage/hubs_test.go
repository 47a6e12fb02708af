package manage_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/api"
)

func TestHubCreateGetList(t *testing.T) {
	e := newEnv(t, newFakeStore())
	defaults := []api.QuotaLimit{
		{Model: "*", SKU: "Standard", Limit: 1000},
		{Model: "*", SKU: "GlobalStandard", Limit: 1000},
		{Model: "*", SKU: "DataZoneStandard", Limit: 1000},
		{Model: "*", SKU: "ProvisionedManaged", Limit: 500},
		{Model: "*", SKU: "GlobalProvisionedManaged", Limit: 500},
		{Model: "*", SKU: "ManagedCompute", Limit: 16},
		{Model: "*", SKU: "GlobalBatch", Limit: 1000},
	}
	tests := []struct {
		name string
		body string
		want api.Hub
	}{
		{"quotas left out get the defaults", `{"name":"default"}`,
			api.Hub{Name: "default", Quotas: defaults, CreatedAt: fixedNow}},
		{"null quotas get the defaults", `{"name":"h-null","quotas":null}`,
			api.Hub{Name: "h-null", Quotas: defaults, CreatedAt: fixedNow}},
		{"empty quotas mean none", `{"name":"h.empty","description":"no quota","quotas":[]}`,
			api.Hub{Name: "h.empty", Description: "no quota", Quotas: []api.QuotaLimit{}, CreatedAt: fixedNow}},
		{"given quotas", `{"name":"h_2","quotas":[{"model":"m1","sku":"Standard","limit":7}]}`,
			api.Hub{Name: "h_2", Quotas: []api.QuotaLimit{{Model: "m1", SKU: "Standard", Limit: 7}}, CreatedAt: fixedNow}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := want[api.Hub](t, e, "POST", "/api/v1/hubs", tt.body, http.StatusCreated)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("created (-want +got):\n%s", diff)
			}
			got = want[api.Hub](t, e, "GET", "/api/v1/hubs/"+tt.want.Name, nil, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
	list := want[api.List[api.Hub]](t, e, "GET", "/api/v1/hubs", nil, http.StatusOK)
	var names []string
	for _, h := range list.Value {
		names = append(names, h.Name)
	}
	if diff := cmp.Diff([]string{"default", "h-null", "h.empty", "h_2"}, names); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if n := e.changed.Load(); n != int64(len(tests)) {
		t.Errorf("Changed called %d times, want %d", n, len(tests))
	}
}

func TestHubErrors(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	for _, c := range []errCase{
		{name: "name too short", method: "POST", path: "/api/v1/hubs", body: `{"name":"x"}`,
			status: 400, code: "invalidPayload", target: "name", message: `"x" is invalid`},
		{name: "name with slash", method: "POST", path: "/api/v1/hubs", body: `{"name":"a/b"}`,
			status: 400, code: "invalidPayload", target: "name"},
		{name: "no name", method: "POST", path: "/api/v1/hubs", body: `{}`,
			status: 400, code: "invalidPayload", target: "name"},
		{name: "negative limit", method: "POST", path: "/api/v1/hubs", body: `{"name":"ab","quotas":[{"model":"*","sku":"Standard","limit":-1}]}`,
			status: 400, code: "invalidPayload", target: "quotas", message: "0 or more"},
		{name: "twice", method: "POST", path: "/api/v1/hubs", body: `{"name":"ab","quotas":[{"model":"*","sku":"Standard","limit":1},{"model":"*","sku":"Standard","limit":2}]}`,
			status: 400, code: "invalidPayload", target: "quotas", message: "twice"},
		{name: "duplicate", method: "POST", path: "/api/v1/hubs", body: `{"name":"default"}`,
			status: 409, code: "itemDoesAlreadyExist", target: "default"},
		{name: "get missing", method: "GET", path: "/api/v1/hubs/nope", status: 404, code: "HubNotFound", target: "nope"},
		{name: "quotas of missing", method: "GET", path: "/api/v1/hubs/nope/quotas", status: 404, code: "HubNotFound", target: "nope"},
		{name: "patch missing", method: "PATCH", path: "/api/v1/hubs/nope", body: `{"description":"x"}`, status: 404, code: "HubNotFound", target: "nope"},
		{name: "patch rename", method: "PATCH", path: "/api/v1/hubs/default", body: `{"name":"other"}`,
			status: 400, code: "invalidPayload", target: "name", message: "renamed"},
		{name: "patch bad quotas", method: "PATCH", path: "/api/v1/hubs/default", body: `{"quotas":[{"sku":"Standard","limit":1}]}`,
			status: 400, code: "invalidPayload", target: "quotas", message: "model and sku"},
		{name: "patch bad type", method: "PATCH", path: "/api/v1/hubs/default", body: `{"description":1}`,
			status: 400, code: "invalidPayload", target: "description"},
		{name: "delete missing", method: "DELETE", path: "/api/v1/hubs/nope", status: 404, code: "HubNotFound", target: "nope"},
		{name: "delete with projects", method: "DELETE", path: "/api/v1/hubs/default", status: 409, code: "conflict", target: "default", message: "project p1"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestHubUpdateDelete(t *testing.T) {
	e := newEnv(t, newFakeStore())
	want[api.Hub](t, e, "POST", "/api/v1/hubs", defaultHub(), http.StatusCreated)
	base := defaultHub()
	base.CreatedAt = fixedNow
	newQuotas := []api.QuotaLimit{{Model: "m1", SKU: "Standard", Limit: 9}}
	steps := []struct {
		name string
		body string
		want func(*api.Hub)
	}{
		{"description only keeps quotas", `{"description":"first"}`, func(h *api.Hub) { h.Description = "first" }},
		{"quotas only keep the description", `{"quotas":[{"model":"m1","sku":"Standard","limit":9}]}`, func(h *api.Hub) { h.Quotas = newQuotas }},
		{"null quotas keep them", `{"quotas":null,"description":"second"}`, func(h *api.Hub) { h.Description = "second" }},
		{"the same name is fine", `{"name":"default"}`, func(*api.Hub) {}},
		{"empty description clears it", `{"description":""}`, func(h *api.Hub) { h.Description = "" }},
		{"empty quotas remove them", `{"quotas":[]}`, func(h *api.Hub) { h.Quotas = []api.QuotaLimit{} }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.want(&base)
			got := want[api.Hub](t, e, "PATCH", "/api/v1/hubs/default", s.body, http.StatusOK)
			if diff := cmp.Diff(base, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("patched (-want +got):\n%s", diff)
			}
			got = want[api.Hub](t, e, "GET", "/api/v1/hubs/default", nil, http.StatusOK)
			if diff := cmp.Diff(base, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
	before := e.changed.Load()
	if status, b := e.call(t, "DELETE", "/api/v1/hubs/default", nil); status != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s, want 204 and no body", status, b)
	}
	if e.changed.Load() != before+1 {
		t.Error("delete did not call Changed")
	}
	errCase{method: "GET", path: "/api/v1/hubs/default", status: 404, code: "HubNotFound", target: "default"}.run(t, e)
}

func TestHubQuotas(t *testing.T) {
	e := newEnv(t, newFakeStore())
	h := defaultHub()
	h.Quotas = append(h.Quotas, api.QuotaLimit{Model: "m1", SKU: "Standard", Limit: 50})
	want[api.Hub](t, e, "POST", "/api/v1/hubs", h, http.StatusCreated)
	want[api.Hub](t, e, "POST", "/api/v1/hubs", api.Hub{Name: "other"}, http.StatusCreated)
	want[api.Model](t, e, "POST", "/api/v1/models", chatModel(), http.StatusCreated)
	want[api.Model](t, e, "POST", "/api/v1/models", embedModel(), http.StatusCreated)
	want[api.Project](t, e, "POST", "/api/v1/projects", api.CreateProject{Name: "p1"}, http.StatusCreated)
	want[api.Project](t, e, "POST", "/api/v1/projects", api.CreateProject{Name: "p2"}, http.StatusCreated)
	want[api.Project](t, e, "POST", "/api/v1/projects", api.CreateProject{Name: "elsewhere", Hub: "other"}, http.StatusCreated)
	for _, d := range []struct {
		project, name, model, sku string
		capacity                  int
	}{
		{"p1", "d1", "m1", "Standard", 20},
		{"p2", "d2", "m1", "Standard", 5},
		{"p1", "d3", "m2", "Standard", 30},
		{"p2", "d4", "m1", "ManagedCompute", 2},
		{"elsewhere", "d5", "m1", "Standard", 11}, // another hub: not counted
	} {
		want[api.Deployment](t, e, "POST", "/api/v1/projects/"+d.project+"/deployments", api.Deployment{
			Name: d.name, Model: api.DeploymentModel{Name: d.model}, SKU: api.SKU{Name: d.sku, Capacity: d.capacity}}, http.StatusCreated)
	}

	got := want[api.List[api.QuotaUsage]](t, e, "GET", "/api/v1/hubs/default/quotas", nil, http.StatusOK)
	wantRows := []api.QuotaUsage{
		{Model: "*", SKU: "Standard", UsageName: "Tokens Per Minute (thousands) - * (Standard)", Limit: 120, Used: 0, Unit: "K-TPM"},
		{Model: "*", SKU: "ProvisionedManaged", UsageName: "Provisioned Throughput Units - ProvisionedManaged", Limit: 300, Used: 0, Unit: "PTU"},
		{Model: "*", SKU: "ManagedCompute", UsageName: "Replicas - *", Limit: 4, Used: 0, Unit: "replicas"},
		{Model: "m1", SKU: "Standard", UsageName: "Tokens Per Minute (thousands) - m1 (Standard)", Limit: 50, Used: 25, Unit: "K-TPM"},
		{Model: "m1", SKU: "ManagedCompute", UsageName: "Replicas - m1", Limit: 4, Used: 2, Unit: "replicas"},
		{Model: "m2", SKU: "Standard", UsageName: "Tokens Per Minute (thousands) - m2 (Standard)", Limit: 120, Used: 30, Unit: "K-TPM"},
	}
	if diff := cmp.Diff(wantRows, got.Value); diff != "" {
		t.Errorf("quotas (-want +got):\n%s", diff)
	}

	// The other hub's defaults, and its one model in use.
	other := want[api.List[api.QuotaUsage]](t, e, "GET", "/api/v1/hubs/other/quotas", nil, http.StatusOK)
	last := other.Value[len(other.Value)-1]
	if diff := cmp.Diff(api.QuotaUsage{Model: "m1", SKU: "Standard", UsageName: "Tokens Per Minute (thousands) - m1 (Standard)",
		Limit: 1000, Used: 11, Unit: "K-TPM"}, last); diff != "" {
		t.Errorf("other hub's last row (-want +got):\n%s", diff)
	}
	for _, row := range other.Value {
		if row.Model == "*" && row.Used != 0 {
			t.Errorf("bad AnyModel row %+v", row)
		}
	}
}
