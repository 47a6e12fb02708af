package manage

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

func (a *API) listDeployments(r *http.Request) (reply, error) {
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	deps, err := a.store.ListDeployments(r.Context(), p.Name)
	if err != nil {
		return reply{}, fmt.Errorf("list deployments of project %s: %w", p.Name, err)
	}
	models, err := a.store.ListModels(r.Context())
	if err != nil {
		return reply{}, fmt.Errorf("list models: %w", err)
	}
	byName := make(map[string]*catalog.Model, len(models))
	for i := range models {
		byName[models[i].Name] = &models[i]
	}
	out := make([]api.Deployment, 0, len(deps))
	for _, d := range deps {
		out = append(out, deploymentToAPI(d, byName[d.Model]))
	}
	return reply{status: http.StatusOK, body: api.List[api.Deployment]{Value: out}}, nil
}

func (a *API) getDeployment(r *http.Request) (reply, error) {
	d, err := a.mustDeployment(r)
	if err != nil {
		return reply{}, err
	}
	m, err := a.store.GetModel(r.Context(), d.Model)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return reply{}, fmt.Errorf("get model: %w", err)
	}
	var mp *catalog.Model
	if err == nil {
		mp = &m
	}
	return reply{status: http.StatusOK, body: deploymentToAPI(d, mp)}, nil
}

// createDeployment makes the deployment named in the body.
func (a *API) createDeployment(r *http.Request) (reply, error) {
	var in api.Deployment
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	return a.create(r, p.Name, in)
}

// putDeployment is Azure's create-or-update: 201 when the deployment is
// new, 200 when it existed (its model and type cannot change).
func (a *API) putDeployment(r *http.Request) (reply, error) {
	var in api.Deployment
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	name := r.PathValue("deployment")
	if in.Name != "" && in.Name != name {
		return reply{}, fault.Param("name", codeInvalidPayload, "the body names deployment %q but the path %q", in.Name, name)
	}
	in.Name = name
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	d, err := a.store.GetDeployment(r.Context(), p.Name, name)
	if errors.Is(err, store.ErrNotFound) {
		return a.create(r, p.Name, in)
	}
	if err != nil {
		return reply{}, fmt.Errorf("get deployment: %w", err)
	}
	if in.Model.Name != "" && in.Model.Name != d.Model {
		return reply{}, fault.Param("model.name", codeInvalidPayload,
			"deployment %q serves model %q: its model cannot change to %q; create another deployment", name, d.Model, in.Model.Name)
	}
	if in.SKU.Name != "" && in.SKU.Name != d.SKU {
		return reply{}, fault.Param("sku.name", codeInvalidPayload,
			"deployment %q is of type %s: its type cannot change to %s; create another deployment", name, d.SKU, in.SKU.Name)
	}
	var u api.DeploymentUpdate
	if in.SKU.Capacity != 0 {
		u.Capacity = &in.SKU.Capacity
	}
	if in.Model.Version != "" {
		u.Version = &in.Model.Version
	}
	if in.VersionUpgradeOption != "" {
		u.VersionUpgradeOption = &in.VersionUpgradeOption
	}
	if in.RAIPolicyName != "" {
		u.RAIPolicyName = &in.RAIPolicyName
	}
	if in.InstanceType != "" {
		u.InstanceType = &in.InstanceType
	}
	if in.ScaleToZero != d.ScaleToZero {
		u.ScaleToZero = &in.ScaleToZero
	}
	return a.update(r, d, u)
}

// updateDeployment applies an api.DeploymentUpdate.
func (a *API) updateDeployment(r *http.Request) (reply, error) {
	var u api.DeploymentUpdate
	if err := decode(r, &u); err != nil {
		return reply{}, err
	}
	d, err := a.mustDeployment(r)
	if err != nil {
		return reply{}, err
	}
	return a.update(r, d, u)
}

// deleteDeployment marks the deployment Deleting and nudges the reconciler,
// which removes it; 202 with the deployment as it now is.
func (a *API) deleteDeployment(r *http.Request) (reply, error) {
	d, err := a.mustDeployment(r)
	if err != nil {
		return reply{}, err
	}
	if d.State != deployment.Deleting {
		if err := a.store.SetDeploymentState(r.Context(), d.Project, d.Name, deployment.Deleting, ""); err != nil {
			return reply{}, fmt.Errorf("mark deployment deleting: %w", err)
		}
		d.State, d.Reason = deployment.Deleting, ""
		a.changed()
	}
	a.reconcile()
	m, err := a.store.GetModel(r.Context(), d.Model)
	var mp *catalog.Model
	if err == nil {
		mp = &m
	}
	return reply{status: http.StatusAccepted, body: deploymentToAPI(d, mp), location: deploymentPath(d)}, nil
}

// create validates and stores a new deployment in state Creating; the
// store checks quota.
func (a *API) create(r *http.Request, projectName string, in api.Deployment) (reply, error) {
	if in.Model.Name == "" {
		return reply{}, fault.Param("model.name", codeInvalidPayload, "model.name is required: name a catalog model")
	}
	m, err := a.model(r, in.Model.Name)
	if err != nil {
		return reply{}, err
	}
	now := a.now().UTC()
	d := deployment.Deployment{
		Project: projectName, Name: in.Name, Model: m.Name, Version: in.Model.Version,
		SKU: in.SKU.Name, Capacity: in.SKU.Capacity,
		VersionUpgradeOption: in.VersionUpgradeOption, RAIPolicy: in.RAIPolicyName,
		InstanceType: in.InstanceType, ScaleToZero: in.ScaleToZero,
		State: deployment.Creating, CreatedAt: now, UpdatedAt: now,
	}
	if err := a.checkInstanceType(r.Context(), projectName, &d); err != nil {
		return reply{}, err
	}
	if err := d.Validate(&m); err != nil {
		return reply{}, err
	}
	if err := a.store.CreateDeployment(r.Context(), d); err != nil {
		return reply{}, fmt.Errorf("create deployment: %w", err)
	}
	a.changed()
	a.reconcile()
	return reply{status: http.StatusCreated, body: deploymentToAPI(d, &m), location: deploymentPath(d)}, nil
}

// update applies u to d, re-validates and stores it; a new version sends
// the deployment back to Creating.
func (a *API) update(r *http.Request, d deployment.Deployment, u api.DeploymentUpdate) (reply, error) {
	if d.State == deployment.Deleting {
		return reply{}, fault.New(fault.Conflict, "DeploymentDeleting",
			"deployment %q of project %q is being deleted and cannot be changed", d.Name, d.Project)
	}
	if u.Capacity != nil && *u.Capacity < 1 && !(deployment.IsManagedCompute(d.SKU) && *u.Capacity == 0) {
		return reply{}, fault.Param("capacity", codeInvalidPayload, "capacity must be 1 or more, got %d", *u.Capacity)
	}
	m, err := a.model(r, d.Model)
	if err != nil {
		return reply{}, err
	}
	next := d
	if u.Capacity != nil {
		next.Capacity = *u.Capacity
	}
	if u.Version != nil {
		next.Version = *u.Version
	}
	if u.VersionUpgradeOption != nil {
		next.VersionUpgradeOption = *u.VersionUpgradeOption
	}
	if u.RAIPolicyName != nil {
		next.RAIPolicy = *u.RAIPolicyName
	}
	if u.ScaleToZero != nil {
		next.ScaleToZero = *u.ScaleToZero
	}
	if u.InstanceType != nil && *u.InstanceType != d.InstanceType {
		next.InstanceType = *u.InstanceType
		if err := a.checkInstanceType(r.Context(), d.Project, &next); err != nil {
			return reply{}, err
		}
	}
	check := m
	if next.Version == d.Version {
		check = keepServing(m, d.Version) // a deprecated version still scales
	}
	if err := next.Validate(&check); err != nil {
		return reply{}, err
	}
	next.UpdatedAt = a.now().UTC()
	if err := a.store.UpdateDeployment(r.Context(), next); err != nil {
		return reply{}, fmt.Errorf("update deployment: %w", err)
	}
	if next.Version != d.Version {
		if err := a.store.SetDeploymentState(r.Context(), next.Project, next.Name, deployment.Creating, ""); err != nil {
			return reply{}, fmt.Errorf("mark deployment creating: %w", err)
		}
		next.State, next.Reason = deployment.Creating, ""
	}
	a.changed()
	a.reconcile()
	return reply{status: http.StatusOK, body: deploymentToAPI(next, &m)}, nil
}

// keepServing returns m with version v taking deployments again, so that
// an existing deployment of a deprecated version can still change its
// capacity or policies.
func keepServing(m catalog.Model, v string) catalog.Model {
	m.Versions = slices.Clone(m.Versions)
	for i := range m.Versions {
		if m.Versions[i].Version == v {
			m.Versions[i].Lifecycle = catalog.GenerallyAvailable
			m.Versions[i].RetirementAt = nil
		}
	}
	return m
}

// model returns a catalog model, or 404 ModelNotFound naming it.
func (a *API) model(r *http.Request, name string) (catalog.Model, error) {
	m, err := a.store.GetModel(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return catalog.Model{}, &fault.Error{Kind: fault.NotFound, Code: "ModelNotFound", Param: "model.name",
			Message: fmt.Sprintf("model %q is not in the catalog", name), Err: err}
	}
	if err != nil {
		return catalog.Model{}, fmt.Errorf("get model: %w", err)
	}
	return m, nil
}

// mustDeployment returns the deployment the path names.
func (a *API) mustDeployment(r *http.Request) (deployment.Deployment, error) {
	d, err := a.store.GetDeployment(r.Context(), r.PathValue("project"), r.PathValue("deployment"))
	if err != nil {
		return deployment.Deployment{}, fmt.Errorf("get deployment: %w", err)
	}
	return d, nil
}

func deploymentPath(d deployment.Deployment) string {
	return "/api/v1/projects/" + d.Project + "/deployments/" + d.Name
}

// deploymentToAPI converts d; m, when known, gives the version's format and
// capabilities.
func deploymentToAPI(d deployment.Deployment, m *catalog.Model) api.Deployment {
	out := api.Deployment{
		Name: d.Name, Project: d.Project,
		Model:                api.DeploymentModel{Name: d.Model, Version: d.Version},
		SKU:                  api.SKU{Name: d.SKU, Capacity: d.Capacity},
		VersionUpgradeOption: d.VersionUpgradeOption, RAIPolicyName: d.RAIPolicy,
		InstanceType: d.InstanceType, ScaleToZero: d.ScaleToZero,
		ProvisioningState: d.State, Reason: d.Reason,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	for _, l := range d.RateLimits() {
		out.RateLimits = append(out.RateLimits, api.RateLimit{Key: l.Key, RenewalPeriod: l.RenewalPeriod, Count: l.Count})
	}
	if m != nil {
		if v, ok := m.Version(d.Version); ok {
			c := capabilitiesToAPI(v.Capabilities)
			out.Capabilities = &c
			out.Model.Format = v.Format
		}
	}
	return out
}
