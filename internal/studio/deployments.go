package studio

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
)

// refreshSeconds is how often a page with a deployment in progress reloads.
const refreshSeconds = 2

// busy reports whether a state is still changing.
func busy(state string) bool { return state == "Creating" || state == "Deleting" || state == "" }

// deploymentsPage is a project's deployments.
type deploymentsPage struct {
	Project     api.Project
	Deployments []api.Deployment
	Busy        bool
}

func (s *Studio) deployments(q *request) {
	name := q.r.PathValue("project")
	var p deploymentsPage
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	if p.Deployments, err = q.api.ListDeployments(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	slices.SortFunc(p.Deployments, func(a, b api.Deployment) int { return strings.Compare(a.Name, b.Name) })
	for _, d := range p.Deployments {
		p.Busy = p.Busy || busy(d.ProvisioningState)
	}
	v := q.view("Deployments · "+name, "deployments", p)
	if p.Busy {
		v.Refresh = refreshSeconds
	}
	s.render(q.w, http.StatusOK, "deployments", v)
}

// deployPick is step 1 of the wizard: the catalog, with "Select" links.
func (s *Studio) deployPick(q *request) {
	name := q.r.PathValue("project")
	if _, err := q.api.GetProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	p, err := s.loadCatalog(q, q.r.URL.Query().Get("capability"))
	if err != nil {
		s.fail(q, err)
		return
	}
	p.Project = name
	s.render(q.w, http.StatusOK, "catalog", q.view("Deploy a model · "+name, "deployments", p))
}

// skuChoice is one deployment type of the wizard.
type skuChoice struct {
	Name, Label, Unit, Help string
}

// wizardSKUs are the deployment types the wizard offers.
func wizardSKUs() []skuChoice {
	return []skuChoice{
		{"Standard", "Standard", "K-TPM", "Pay per token; capacity in thousands of tokens per minute (6 requests per minute per 1K TPM)."},
		{"GlobalStandard", "Global Standard", "K-TPM", "Pay per token, served from the global pool; capacity in thousands of tokens per minute."},
		{"ProvisionedManaged", "Provisioned (PTU)", "PTUs", "Reserved throughput, billed per PTU-hour; capacity in provisioned throughput units."},
		{"ManagedCompute", "Managed compute", "replicas", "Dedicated replicas serving only this deployment, billed per replica-hour; capacity is the replica count."},
	}
}

// upgradeOptions are the version upgrade options the wizard and the
// settings form offer.
func upgradeOptions() []string {
	return []string{"OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired", "NoAutoUpgrade"}
}

// quotaRow is the hub's remaining quota for one type.
type quotaRow struct {
	api.QuotaUsage
	Remaining int
}

// deployForm is step 2 of the wizard.
type deployForm struct {
	Project  api.Project
	Model    api.Model
	SKUs     []skuChoice
	Quotas   []quotaRow
	Upgrades []string
	Policies []string
	// InstanceTypes are the hub's, for a ManagedCompute deployment.
	InstanceTypes []api.InstanceType
	// The values.
	Name, SKU, Capacity, Version, Upgrade, Policy, InstanceType string
	ScaleToZero                                                 bool
	Errors                                                      []formError
}

// OffersCompute reports whether the wizard offers the ManagedCompute type.
func (f deployForm) OffersCompute() bool {
	return slices.ContainsFunc(f.SKUs, func(c skuChoice) bool { return isManagedCompute(c.Name) })
}

// deploymentFields maps the API's error targets to the wizard's fields.
func deploymentFields() map[string]string {
	return map[string]string{
		"name": "name", "sku.name": "sku", "sku.capacity": "capacity", "capacity": "capacity",
		"model.version": "version", "model.name": "", "versionUpgradeOption": "upgrade", "raiPolicyName": "policy",
		"instanceType": "instanceType", "properties.instanceType": "instanceType",
		"scaleToZero": "scaleToZero", "properties.scaleToZero": "scaleToZero",
	}
}

// loadDeployForm fills the wizard's choices for project and model.
func (s *Studio) loadDeployForm(q *request, f *deployForm) error {
	var err error
	if f.Project, err = q.api.GetProject(q.ctx(), q.r.PathValue("project")); err != nil {
		return err
	}
	if f.Model, err = q.api.GetModel(q.ctx(), q.r.PathValue("model")); err != nil {
		return err
	}
	quotas, err := q.api.HubQuotas(q.ctx(), f.Project.Hub)
	if err != nil {
		return err
	}
	for _, u := range quotas {
		if u.Model == f.Model.Name || u.Model == "*" {
			f.Quotas = append(f.Quotas, quotaRow{QuotaUsage: u, Remaining: max(u.Limit-u.Used, 0)})
		}
	}
	allowed := defaultVersion(f.Model).SKUs
	for _, c := range wizardSKUs() {
		if len(allowed) == 0 || slices.Contains(allowed, c.Name) {
			f.SKUs = append(f.SKUs, c)
			if isManagedCompute(c.Name) {
				if f.InstanceTypes, err = q.api.ListInstanceTypes(q.ctx(), f.Project.Hub); err != nil {
					return err
				}
			}
		}
	}
	f.Upgrades = upgradeOptions()
	f.Policies = []string{"Microsoft.Default", "Microsoft.DefaultV2", "Microsoft.Nil"}
	return nil
}

func (s *Studio) deployForm(q *request) {
	f := deployForm{Capacity: "1", Upgrade: "OnceNewDefaultVersionAvailable", Policy: "Microsoft.Default"}
	if err := s.loadDeployForm(q, &f); err != nil {
		s.fail(q, err)
		return
	}
	f.Name = f.Model.Name
	f.Version = f.Model.DefaultVersion
	if len(f.SKUs) > 0 {
		f.SKU = f.SKUs[0].Name
	}
	s.render(q.w, http.StatusOK, "deploy", q.view("Deploy "+f.Model.Name, "deployments", f))
}

// deploy posts the wizard and goes to the new deployment's page.
func (s *Studio) deploy(q *request) {
	pf := q.r.PostForm
	f := deployForm{Name: strings.TrimSpace(pf.Get("name")), SKU: pf.Get("sku"), Capacity: strings.TrimSpace(pf.Get("capacity")),
		Version: pf.Get("version"), Upgrade: pf.Get("upgrade"), Policy: pf.Get("policy"),
		InstanceType: pf.Get("instanceType"), ScaleToZero: pf.Get("scaleToZero") == "on"}
	if err := s.loadDeployForm(q, &f); err != nil {
		s.fail(q, err)
		return
	}
	again := func(fe formError) {
		f.Errors = []formError{fe}
		s.render(q.w, http.StatusUnprocessableEntity, "deploy", q.view("Deploy "+f.Model.Name, "deployments", f))
	}
	capacity := 0
	if f.Capacity != "" {
		n, err := strconv.Atoi(f.Capacity)
		if err != nil {
			again(formError{Field: "capacity", Message: "Enter a whole number, such as 10."})
			return
		}
		capacity = n
	}
	in := api.Deployment{
		Name: f.Name, Model: api.DeploymentModel{Name: f.Model.Name, Version: f.Version},
		SKU: api.SKU{Name: f.SKU, Capacity: capacity}, VersionUpgradeOption: f.Upgrade, RAIPolicyName: f.Policy,
	}
	if isManagedCompute(f.SKU) {
		in.InstanceType, in.ScaleToZero = f.InstanceType, f.ScaleToZero
	}
	d, err := q.api.CreateDeployment(q.ctx(), f.Project.Name, in)
	if err != nil {
		fe, ok := toFormError(err, deploymentFields())
		if !ok {
			s.fail(q, err)
			return
		}
		if fe.Code == "InsufficientQuota" {
			fe.Field = "capacity"
		}
		again(fe)
		return
	}
	seeOther(q, deploymentURL(f.Project.Name, d.Name)+"?flash="+url.QueryEscape("Deployment "+d.Name+" is being created."))
}

// deploymentURL is the Studio page of a deployment.
func deploymentURL(project, name string) string {
	return "/studio/projects/" + url.PathEscape(project) + "/deployments/" + url.PathEscape(name)
}

// deploymentPage is one deployment: its settings and the form that
// changes them, endpoint, keys, code samples and request logs.
type deploymentPage struct {
	Project    api.Project
	Deployment api.Deployment
	Endpoint   string
	AzureURL   string
	V1URL      string
	APIVersion string
	Keys       api.Keys
	Revealed   bool
	Samples    []sample

	// The settings form.
	Versions      []api.ModelVersion
	Upgrades      []string
	InstanceTypes []api.InstanceType
	Edit          deploymentEdit
	EditErrors    []formError

	// Request logs: LogsOn is false on a server without the logs API.
	LogsOn    bool
	Logging   api.LogSettings
	LogForm   logForm
	LogErrors []formError
	Logs      []api.RequestLog
}

func (s *Studio) deploymentPage(q *request) { s.deploymentWith(q, http.StatusOK, deploymentPage{}) }

// deploymentWith loads the deployment page into p and renders it; a form
// that p already holds (posted back with an error) is kept as typed.
func (s *Studio) deploymentWith(q *request, status int, p deploymentPage) {
	pname, dname := q.r.PathValue("project"), q.r.PathValue("deployment")
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), pname); err != nil {
		s.fail(q, err)
		return
	}
	if p.Deployment, err = q.api.GetDeployment(q.ctx(), pname, dname); err != nil {
		s.fail(q, err)
		return
	}
	if p.Keys, err = q.api.ListKeys(q.ctx(), pname); err != nil {
		s.fail(q, err)
		return
	}
	if err = s.loadDeploymentSettings(q, &p); err != nil {
		s.fail(q, err)
		return
	}
	if err = s.loadRequestLogs(q, &p); err != nil {
		s.fail(q, err)
		return
	}
	p.Endpoint = s.endpoint(q, p.Project)
	p.APIVersion = apiVersion
	p.AzureURL = p.Endpoint + "/openai/deployments/" + url.PathEscape(dname) + "/chat/completions?api-version=" + apiVersion
	p.V1URL = p.Endpoint + "/openai/v1/"
	p.Revealed = q.r.URL.Query().Get("reveal") == "1"
	key := keyPlaceholder
	if p.Revealed {
		key = p.Keys.Key1
	}
	p.Samples = samples(sampleInput{Endpoint: p.Endpoint, Deployment: dname, APIVersion: apiVersion, Key: key})
	v := q.view(dname+" · "+pname, "deployments", p)
	if busy(p.Deployment.ProvisioningState) && status == http.StatusOK {
		v.Refresh = refreshSeconds
	}
	s.render(q.w, status, "deployment", v)
}

// endpoint is the project's endpoint: the one the API reports, else the
// Studio's public URL.
func (s *Studio) endpoint(q *request, p api.Project) string {
	if p.Endpoint != "" {
		return strings.TrimRight(p.Endpoint, "/")
	}
	return s.publicURL(q.r)
}

func (s *Studio) confirmDeleteDeployment(q *request) {
	pname, dname := q.r.PathValue("project"), q.r.PathValue("deployment")
	if _, err := q.api.GetDeployment(q.ctx(), pname, dname); err != nil {
		s.fail(q, err)
		return
	}
	base := deploymentURL(pname, dname)
	s.render(q.w, http.StatusOK, "confirm", q.view("Delete deployment "+dname, "deployments", confirmPage{
		Heading: "Delete deployment " + dname + "?",
		Message: "Requests to this deployment will fail with 404 DeploymentNotFound and its quota returns to the hub.",
		Action:  base + "/delete", Button: "Delete deployment", Cancel: base,
	}))
}

func (s *Studio) deleteDeployment(q *request) {
	pname, dname := q.r.PathValue("project"), q.r.PathValue("deployment")
	if err := q.api.DeleteDeployment(q.ctx(), pname, dname); err != nil {
		s.fail(q, err)
		return
	}
	seeOther(q, "/studio/projects/"+url.PathEscape(pname)+"/deployments?flash="+url.QueryEscape("Deployment "+dname+" is being deleted."))
}

// keysPage is a project's endpoint and keys.
type keysPage struct {
	Project  api.Project
	Endpoint string
	Keys     api.Keys
}

func (s *Studio) keys(q *request) {
	name := q.r.PathValue("project")
	var p keysPage
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	if p.Keys, err = q.api.ListKeys(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	p.Endpoint = s.endpoint(q, p.Project)
	s.render(q.w, http.StatusOK, "keys", q.view("Keys & endpoint · "+name, "keys", p))
}

// keyName checks the {key} path segment: a project has key1 and key2.
func keyName(q *request) (string, error) {
	if k := q.r.PathValue("key"); k == "key1" || k == "key2" {
		return k, nil
	}
	return "", &api.Error{Status: http.StatusNotFound, Code: "NotFound", Message: "A project has key1 and key2 only."}
}

func (s *Studio) confirmRegenerate(q *request) {
	name := q.r.PathValue("project")
	k, err := keyName(q)
	if err != nil {
		s.fail(q, err)
		return
	}
	base := "/studio/projects/" + url.PathEscape(name) + "/keys"
	s.render(q.w, http.StatusOK, "confirm", q.view("Regenerate "+k, "keys", confirmPage{
		Heading: "Regenerate " + k + " of project " + name + "?",
		Message: "The current " + k + " stops working at once; the other key keeps working, so switch your applications to it first.",
		Action:  base + "/" + k + "/regenerate", Button: "Regenerate " + k, Cancel: base,
	}))
}

func (s *Studio) regenerate(q *request) {
	name := q.r.PathValue("project")
	k, err := keyName(q)
	if err != nil {
		s.fail(q, err)
		return
	}
	if _, err = q.api.RegenerateKey(q.ctx(), name, k); err != nil {
		s.fail(q, err)
		return
	}
	seeOther(q, "/studio/projects/"+url.PathEscape(name)+"/keys?flash="+url.QueryEscape(k+" was regenerated: the old "+k+" no longer works."))
}
