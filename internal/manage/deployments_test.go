package manage_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/deployment"
)

const depsPath = "/api/v1/projects/p1/deployments"

// chatDeployment is d as the API shows it right after creation: m1's
// default version 2, Standard.
func chatDeployment(name string, capacity int) api.Deployment {
	return api.Deployment{
		Name: name, Project: "p1",
		Model:                api.DeploymentModel{Name: "m1", Version: "2", Format: "gguf"},
		SKU:                  api.SKU{Name: "Standard", Capacity: capacity},
		VersionUpgradeOption: "OnceNewDefaultVersionAvailable", RAIPolicyName: "Microsoft.Default",
		ProvisioningState: "Creating",
		RateLimits: []api.RateLimit{
			{Key: "request", RenewalPeriod: 10, Count: capacity},
			{Key: "token", RenewalPeriod: 60, Count: capacity * 1000},
		},
		Capabilities: &api.Capabilities{Chat: true, Tools: true},
		CreatedAt:    fixedNow, UpdatedAt: fixedNow,
	}
}

func TestDeploymentCreate(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	ptu := api.Deployment{
		Name: "ptu.1", Project: "p1",
		Model:                api.DeploymentModel{Name: "m1", Version: "1", Format: "upstream"},
		SKU:                  api.SKU{Name: "ProvisionedManaged", Capacity: 100},
		VersionUpgradeOption: "NoAutoUpgrade", RAIPolicyName: "strict",
		ProvisioningState: "Creating", Capabilities: &api.Capabilities{Chat: true},
		CreatedAt: fixedNow, UpdatedAt: fixedNow,
	}
	tests := []struct {
		name string
		body any
		want api.Deployment
	}{
		{"standard", `{"name":"chat","model":{"name":"m1"},"sku":{"name":"Standard","capacity":12}}`, chatDeployment("chat", 12)},
		{"defaults: Standard, capacity 1", `{"name":"tiny","model":{"name":"m1","format":"OpenAI"}}`, chatDeployment("tiny", 1)},
		{"provisioned, no rate limits", `{"name":"ptu.1","model":{"name":"m1","version":"1"},"sku":{"name":"ProvisionedManaged","capacity":100},
			"versionUpgradeOption":"NoAutoUpgrade","raiPolicyName":"strict","provisioningState":"Succeeded","project":"ignored"}`, ptu},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reconciled, changed := e.reconciled.Load(), e.changed.Load()
			got := want[api.Deployment](t, e, "POST", depsPath, tt.body, http.StatusCreated)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("created (-want +got):\n%s", diff)
			}
			if e.reconciled.Load() != reconciled+1 || e.changed.Load() != changed+1 {
				t.Error("create did not call Reconcile and Changed once each")
			}
			got = want[api.Deployment](t, e, "GET", depsPath+"/"+tt.want.Name, nil, http.StatusOK)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
	list := want[api.List[api.Deployment]](t, e, "GET", depsPath, nil, http.StatusOK)
	if diff := cmp.Diff([]api.Deployment{chatDeployment("chat", 12), ptu, chatDeployment("tiny", 1)}, list.Value); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}

	// The hub allows 120 K-TPM of m1 Standard; chat and tiny hold 13.
	reconciled := e.reconciled.Load()
	errCase{method: "POST", path: depsPath, body: `{"name":"big","model":{"name":"m1"},"sku":{"name":"Standard","capacity":120}}`,
		status: 409, code: "InsufficientQuota", target: "sku.capacity",
		message: "The specified capacity '120' of account deployment is bigger than available capacity '107' for UsageName 'Tokens Per Minute (thousands) - m1 (Standard)'."}.run(t, e)
	if e.reconciled.Load() != reconciled {
		t.Error("a refused create called Reconcile")
	}
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"fits","model":{"name":"m1"},"sku":{"capacity":107}}`, http.StatusCreated)
}

func TestDeploymentQuotaMessage(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"a1","model":{"name":"m1"},"sku":{"capacity":12}}`, http.StatusCreated)
	status, b := e.call(t, "POST", depsPath, `{"name":"a2","model":{"name":"m1"},"sku":{"capacity":120}}`)
	want := `{"error":{"code":"InsufficientQuota","message":"The specified capacity '120' of account deployment is bigger than available capacity '108' for UsageName 'Tokens Per Minute (thousands) - m1 (Standard)'.","target":"sku.capacity"}}` + "\n"
	if status != http.StatusConflict || string(b) != want {
		t.Errorf("got %d %s\nwant 409 %s", status, b, want)
	}
}

func TestDeploymentErrors(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"chat","model":{"name":"m1"}}`, http.StatusCreated)
	for _, c := range []errCase{
		{name: "unknown model", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"gpt-9"}}`,
			status: 404, code: "ModelNotFound", target: "model.name", message: `"gpt-9"`},
		{name: "no model", method: "POST", path: depsPath, body: `{"name":"d9"}`,
			status: 400, code: "invalidPayload", target: "model.name"},
		{name: "bad name", method: "POST", path: depsPath, body: `{"name":"d","model":{"name":"m1"}}`,
			status: 400, code: "invalidPayload", target: "name"},
		{name: "unknown sku", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1"},"sku":{"name":"Huge"}}`,
			status: 400, code: "invalidPayload", target: "sku.name"},
		{name: "unknown version", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1","version":"7"}}`,
			status: 400, code: "invalidPayload", target: "model.version"},
		{name: "negative capacity", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1"},"sku":{"capacity":-1}}`,
			status: 400, code: "invalidPayload", target: "sku.capacity"},
		{name: "capacity as a string", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1"},"sku":{"capacity":"12"}}`,
			status: 400, code: "invalidPayload", target: "sku.capacity", message: "an integer"},
		{name: "bad upgrade option", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1"},"versionUpgradeOption":"Always"}`,
			status: 400, code: "invalidPayload", target: "versionUpgradeOption"},
		{name: "no quota for the type", method: "POST", path: depsPath, body: `{"name":"d9","model":{"name":"m1"},"sku":{"name":"GlobalBatch"}}`,
			status: 409, code: "InsufficientQuota", target: "sku.capacity", message: "available capacity '0'"},
		{name: "duplicate", method: "POST", path: depsPath, body: `{"name":"chat","model":{"name":"m1"}}`,
			status: 409, code: "itemDoesAlreadyExist", target: "chat"},
		{name: "missing project", method: "POST", path: "/api/v1/projects/nope/deployments", body: `{"name":"d9","model":{"name":"m1"}}`,
			status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "list of missing project", method: "GET", path: "/api/v1/projects/nope/deployments", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "get missing", method: "GET", path: depsPath + "/nope", status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "patch missing", method: "PATCH", path: depsPath + "/nope", body: `{"capacity":2}`, status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "delete missing", method: "DELETE", path: depsPath + "/nope", status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "patch capacity 0", method: "PATCH", path: depsPath + "/chat", body: `{"capacity":0}`,
			status: 400, code: "invalidPayload", target: "capacity", message: "1 or more"},
		{name: "patch unknown version", method: "PATCH", path: depsPath + "/chat", body: `{"version":"7"}`,
			status: 400, code: "invalidPayload", target: "model.version"},
		{name: "patch bad type", method: "PATCH", path: depsPath + "/chat", body: `{"capacity":true}`,
			status: 400, code: "invalidPayload", target: "capacity"},
		{name: "patch over quota", method: "PATCH", path: depsPath + "/chat", body: `{"capacity":121}`,
			status: 409, code: "InsufficientQuota", target: "sku.capacity", message: "'121' of account deployment is bigger than available capacity '120'"},
		{name: "put name mismatch", method: "PUT", path: depsPath + "/chat", body: `{"name":"other","model":{"name":"m1"}}`,
			status: 400, code: "invalidPayload", target: "name"},
		{name: "put another model", method: "PUT", path: depsPath + "/chat", body: `{"model":{"name":"m2"}}`,
			status: 400, code: "invalidPayload", target: "model.name", message: "cannot change"},
		{name: "put another type", method: "PUT", path: depsPath + "/chat", body: `{"model":{"name":"m1"},"sku":{"name":"ProvisionedManaged"}}`,
			status: 400, code: "invalidPayload", target: "sku.name", message: "cannot change"},
		{name: "put unknown model", method: "PUT", path: depsPath + "/new1", body: `{"model":{"name":"nope"}}`,
			status: 404, code: "ModelNotFound", target: "model.name"},
		{name: "put missing project", method: "PUT", path: "/api/v1/projects/nope/deployments/x1", body: `{"model":{"name":"m1"}}`,
			status: 404, code: "ProjectNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestDeploymentUpdate(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	e.seed(t)
	cur := want[api.Deployment](t, e, "POST", depsPath, `{"name":"chat","model":{"name":"m1"},"sku":{"capacity":12}}`, http.StatusCreated)
	if err := st.SetDeploymentState(context.Background(), "p1", "chat", deployment.Succeeded, ""); err != nil {
		t.Fatal(err)
	}
	cur.ProvisioningState = "Succeeded"
	rates := func(c int) []api.RateLimit {
		return []api.RateLimit{{Key: "request", RenewalPeriod: 10, Count: c}, {Key: "token", RenewalPeriod: 60, Count: c * 1000}}
	}
	steps := []struct {
		name   string
		method string
		body   string
		want   func(d *api.Deployment)
	}{
		{"capacity", "PATCH", `{"capacity":20}`, func(d *api.Deployment) { d.SKU.Capacity, d.RateLimits = 20, rates(20) }},
		{"policies", "PATCH", `{"raiPolicyName":"strict","versionUpgradeOption":"NoAutoUpgrade"}`,
			func(d *api.Deployment) { d.RAIPolicyName, d.VersionUpgradeOption = "strict", "NoAutoUpgrade" }},
		{"empty patch changes nothing", "PATCH", `{}`, func(*api.Deployment) {}},
		{"put keeps what it leaves out", "PUT", `{"model":{"name":"m1"},"sku":{"name":"Standard","capacity":30}}`,
			func(d *api.Deployment) { d.SKU.Capacity, d.RateLimits = 30, rates(30) }},
		{"a new version goes back to Creating", "PATCH", `{"version":"1"}`, func(d *api.Deployment) {
			d.Model.Version, d.Model.Format, d.ProvisioningState = "1", "upstream", "Creating"
			d.Capabilities = &api.Capabilities{Chat: true}
		}},
		{"put with a version", "PUT", `{"name":"chat","model":{"version":"2"}}`, func(d *api.Deployment) {
			d.Model.Version, d.Model.Format, d.ProvisioningState = "2", "gguf", "Creating"
			d.Capabilities = &api.Capabilities{Chat: true, Tools: true}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			reconciled, changed := e.reconciled.Load(), e.changed.Load()
			s.want(&cur)
			got := want[api.Deployment](t, e, s.method, depsPath+"/chat", s.body, http.StatusOK)
			if diff := cmp.Diff(cur, got); diff != "" {
				t.Errorf("updated (-want +got):\n%s", diff)
			}
			got = want[api.Deployment](t, e, "GET", depsPath+"/chat", nil, http.StatusOK)
			if diff := cmp.Diff(cur, got); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
			if e.reconciled.Load() != reconciled+1 || e.changed.Load() != changed+1 {
				t.Error("update did not call Reconcile and Changed once each")
			}
		})
	}

	// A deployment of a deprecated version still scales, but no
	// deployment moves to it.
	m1 := chatModel()
	m1.Versions[1].Lifecycle = "deprecated"
	want[api.Model](t, e, "PATCH", "/api/v1/models/m1", api.ModelUpdate{Versions: &m1.Versions}, http.StatusOK)
	got := want[api.Deployment](t, e, "PATCH", depsPath+"/chat", `{"capacity":5}`, http.StatusOK)
	if got.SKU.Capacity != 5 {
		t.Errorf("capacity %d after scaling a deprecated version, want 5", got.SKU.Capacity)
	}
	want[api.Deployment](t, e, "PATCH", depsPath+"/chat", `{"version":"1"}`, http.StatusOK)
	errCase{method: "PATCH", path: depsPath + "/chat", body: `{"version":"2"}`,
		status: 400, code: "invalidPayload", target: "model.version", message: "deprecated"}.run(t, e)
}

func TestDeploymentPutCreates(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	got := want[api.Deployment](t, e, "PUT", depsPath+"/chat", `{"model":{"name":"m1"},"sku":{"name":"Standard","capacity":3}}`, http.StatusCreated)
	if diff := cmp.Diff(chatDeployment("chat", 3), got); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if e.reconciled.Load() != 1 {
		t.Errorf("Reconcile called %d times, want 1", e.reconciled.Load())
	}
	want[api.Deployment](t, e, "PUT", depsPath+"/chat", `{"model":{"name":"m1"},"sku":{"capacity":4}}`, http.StatusOK)
}

func TestDeploymentDelete(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	e.seed(t)
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"chat","model":{"name":"m1"},"sku":{"capacity":12}}`, http.StatusCreated)
	deleting := chatDeployment("chat", 12)
	deleting.ProvisioningState = "Deleting"
	for i := range 2 { // a second delete answers the same
		reconciled := e.reconciled.Load()
		got := want[api.Deployment](t, e, "DELETE", depsPath+"/chat", nil, http.StatusAccepted)
		if diff := cmp.Diff(deleting, got); diff != "" {
			t.Errorf("delete %d (-want +got):\n%s", i+1, diff)
		}
		if e.reconciled.Load() != reconciled+1 {
			t.Errorf("delete %d did not call Reconcile", i+1)
		}
	}
	got := want[api.Deployment](t, e, "GET", depsPath+"/chat", nil, http.StatusOK)
	if diff := cmp.Diff(deleting, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	for _, c := range []errCase{
		{method: "PATCH", path: depsPath + "/chat", body: `{"capacity":2}`, status: 409, code: "DeploymentDeleting", message: "being deleted"},
		{method: "PUT", path: depsPath + "/chat", body: `{"model":{"name":"m1"},"sku":{"capacity":2}}`, status: 409, code: "DeploymentDeleting"},
	} {
		c.run(t, e)
	}

	// The reconciler removes it.
	if err := st.DeleteDeployment(context.Background(), "p1", "chat"); err != nil {
		t.Fatal(err)
	}
	errCase{method: "GET", path: depsPath + "/chat", status: 404, code: "DeploymentNotFound", target: "chat"}.run(t, e)
	errCase{method: "DELETE", path: depsPath + "/chat", status: 404, code: "DeploymentNotFound", target: "chat"}.run(t, e)
}
