package studio

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
)

// editForm is the deployment settings form as the page fills it for the
// fake's demo deployment.
func editForm(csrf string) url.Values {
	return url.Values{"csrf": {csrf}, "capacity": {"10"}, "version": {"1"}, "upgrade": {"OnceNewDefaultVersionAvailable"}}
}

func TestUpdateDeploymentSendsWhatChanged(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	form := editForm(csrf)
	resp, body := h.post("/studio/projects/default/deployments/demo/update", form)
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "flash=Nothing+changed.") || len(h.fake.updates) != 0 {
		t.Errorf("an unchanged form: redirect to %q, %d updates sent", loc, len(h.fake.updates))
	}
	form.Set("capacity", "20")
	form.Set("upgrade", "NoAutoUpgrade")
	form.Set("instanceType", "cpu-8") // not a ManagedCompute deployment: ignored
	resp, body = h.post("/studio/projects/default/deployments/demo/update", form)
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/studio/projects/default/deployments/demo?flash=Deployment+demo+updated.#settings" {
		t.Errorf("redirect to %q", loc)
	}
	u := h.fake.updates[0]
	if u.Capacity == nil || *u.Capacity != 20 || u.VersionUpgradeOption == nil || *u.VersionUpgradeOption != "NoAutoUpgrade" ||
		u.Version != nil || u.InstanceType != nil || u.ScaleToZero != nil {
		t.Errorf("update sent: %+v", u)
	}
	_, body = h.get("/studio/projects/default/deployments/demo")
	wantContains(t, body, `<dd id="capacity">Standard, 20 K-TPM</dd>`, `id="e-capacity" name="capacity" type="number" min="1" step="1" value="20"`)
}

func TestUpdateDeploymentShowsErrorsInline(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	form := editForm(csrf)
	form.Set("capacity", "500")
	resp, body := h.post("/studio/projects/default/deployments/demo/update", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `value="500"`, `aria-invalid="true"`, `<p class="field-error" id="e-capacity-error" role="alert">not enough quota: 90 K-TPM left</p>`)
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("a page with an error reloads itself")
	}
	form.Set("capacity", "ten")
	resp, body = h.post("/studio/projects/default/deployments/demo/update", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="e-capacity-error" role="alert">Enter a whole number`)
	golden(t, "deployment_quota_error.html", body)
}

// addManagedCompute gives the fake a ManagedCompute deployment "replicas".
func addManagedCompute(h *harness) {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	h.fake.deployments["default"] = append(h.fake.deployments["default"], api.Deployment{
		Name: "replicas", Project: "default", Model: api.DeploymentModel{Name: "demo", Version: "1", Format: "gguf"},
		SKU: api.SKU{Name: "ManagedCompute", Capacity: 2}, InstanceType: "cpu-2", VersionUpgradeOption: "NoAutoUpgrade",
		ProvisioningState: "Succeeded", CreatedAt: fixedTime,
	})
}

func TestManagedComputeSettings(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	addManagedCompute(h)
	resp, body := h.get("/studio/projects/default/deployments/replicas")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, `<dd id="capacity">ManagedCompute, 2 replicas</dd>`, `<dt>Instance type</dt><dd>cpu-2</dd>`,
		`<label for="e-capacity">Replicas</label>`, `min="0"`, `<option value="cpu-8">cpu-8 — 8 threads, 16,384 MB, $0.4/hour</option>`,
		`<input type="checkbox" id="e-scale" name="scaleToZero" aria-describedby="e-scale-help">`)
	golden(t, "deployment_mc.html", body)
	resp, body = h.post("/studio/projects/default/deployments/replicas/update", url.Values{"csrf": {csrf}, "capacity": {"0"},
		"instanceType": {"cpu-8"}, "scaleToZero": {"on"}, "version": {"1"}, "upgrade": {"NoAutoUpgrade"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	u := h.fake.updates[0]
	if u.Capacity == nil || *u.Capacity != 0 || u.InstanceType == nil || *u.InstanceType != "cpu-8" || u.ScaleToZero == nil || !*u.ScaleToZero || u.VersionUpgradeOption != nil {
		t.Errorf("update sent: %+v", u)
	}
	_, body = h.get("/studio/projects/default/deployments/replicas")
	wantContains(t, body, "on: at 0 replicas the first request starts one", `id="e-scale" name="scaleToZero" checked`)
}

func TestRequestLogs(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	_, body := h.get("/studio/projects/default/deployments/demo")
	wantContains(t, body, `<input type="checkbox" id="l-enabled" name="enabled" checked`, `value="7"`,
		"Captured requests (the last 2), newest first", `Hi &lt;b&gt;there&lt;/b&gt;`, "183 ms", "12 + 5")
	if i, j := strings.Index(body, "&#34;again&#34;"), strings.Index(body, "Hi &lt;b&gt;"); i < 0 || j < 0 || i > j {
		t.Error("the logs are not newest first")
	}
	resp, body := h.post("/studio/projects/default/deployments/demo/logging", url.Values{"csrf": {csrf}, "retentionDays": {"999"}, "enabled": {"on"}})
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `value="999"`, `id="l-days-error" role="alert">retentionDays must be 1 to 365`)
	resp, body = h.post("/studio/projects/default/deployments/demo/logging", url.Values{"csrf": {csrf}, "retentionDays": {"30"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if got := h.fake.logSettings["default/demo"]; got.Enabled || got.RetentionDays != 30 {
		t.Errorf("log settings sent: %+v", got)
	}
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "capture+is+off") {
		t.Errorf("redirect to %q", loc)
	}
}

func TestDeployWizardManagedCompute(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	_, body := h.get("/studio/projects/default/deploy/demo")
	wantContains(t, body, `<fieldset id="d-compute" data-for-sku="ManagedCompute">`, `<option value="cpu-2">cpu-2 — 2 threads`,
		`data-unit="replicas"`, `data-unit="PTUs"`, `Capacity <small>(<span id="d-capacity-unit">K-TPM</span>)</small>`)
	form := url.Values{"csrf": {csrf}, "name": {"rep"}, "sku": {"ManagedCompute"}, "capacity": {"1"}, "version": {"1"},
		"instanceType": {"cpu-8"}, "scaleToZero": {"on"}}
	resp, body := h.post("/studio/projects/default/deploy/demo", form)
	wantStatus(t, resp, body, http.StatusSeeOther)
	form.Set("name", "std")
	form.Set("sku", "Standard")
	resp, body = h.post("/studio/projects/default/deploy/demo", form)
	wantStatus(t, resp, body, http.StatusSeeOther)
	ds := h.fake.deployments["default"]
	if d := ds[1]; d.InstanceType != "cpu-8" || !d.ScaleToZero {
		t.Errorf("ManagedCompute deployment sent: %+v", d)
	}
	if d := ds[2]; d.InstanceType != "" || d.ScaleToZero {
		t.Errorf("a Standard deployment was sent the managed compute fields: %+v", d)
	}
}
