package manage

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
)

// ComputeStore is what the instance-type routes and ManagedCompute
// deployments need of store.Store.
type ComputeStore interface {
	ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error)
	PutInstanceType(ctx context.Context, hubName string, it hub.InstanceType) (bool, error)
}

// listInstanceTypes answers GET /api/v1/hubs/{hub}/instance-types.
func (a *API) listInstanceTypes(r *http.Request) (reply, error) {
	its, err := a.store.ListInstanceTypes(r.Context(), r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("list instance types: %w", err)
	}
	out := make([]api.InstanceType, 0, len(its))
	for _, it := range its {
		out = append(out, instanceTypeToAPI(it))
	}
	return reply{status: http.StatusOK, body: api.List[api.InstanceType]{Value: out}}, nil
}

// getInstanceType answers GET /api/v1/hubs/{hub}/instance-types/{name}.
func (a *API) getInstanceType(r *http.Request) (reply, error) {
	its, err := a.store.ListInstanceTypes(r.Context(), r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("list instance types: %w", err)
	}
	name := r.PathValue("name")
	for _, it := range its {
		if it.Name == name {
			return reply{status: http.StatusOK, body: instanceTypeToAPI(it)}, nil
		}
	}
	return reply{}, &fault.Error{Kind: fault.NotFound, Code: "InstanceTypeNotFound", Param: name,
		Message: fmt.Sprintf("hub %q has no instance type %q", r.PathValue("hub"), name)}
}

// putInstanceType answers PUT /api/v1/hubs/{hub}/instance-types/{name}:
// 201 when new, 200 when it replaced one.
func (a *API) putInstanceType(r *http.Request) (reply, error) {
	var in api.InstanceType
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	name := r.PathValue("name")
	if in.Name != "" && in.Name != name {
		return reply{}, fault.Param("name", codeInvalidPayload, "the body names instance type %q but the path %q", in.Name, name)
	}
	it := hub.InstanceType{Name: name, Threads: in.Threads, MemoryMB: in.MemoryMB, PricePerHour: in.PricePerHour}
	if err := it.Validate(); err != nil {
		return reply{}, err
	}
	created, err := a.store.PutInstanceType(r.Context(), r.PathValue("hub"), it)
	if err != nil {
		return reply{}, fmt.Errorf("put instance type: %w", err)
	}
	a.changed()
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return reply{status: status, body: instanceTypeToAPI(it)}, nil
}

func instanceTypeToAPI(it hub.InstanceType) api.InstanceType {
	return api.InstanceType{Name: it.Name, Threads: it.Threads, MemoryMB: it.MemoryMB, PricePerHour: it.PricePerHour}
}

// checkInstanceType fills in the default instance type of a ManagedCompute
// deployment (its project's hub's first) and checks that the hub has the
// one named.
func (a *API) checkInstanceType(ctx context.Context, projectName string, d *deployment.Deployment) error {
	if !deployment.IsManagedCompute(d.SKU) {
		return nil
	}
	p, err := a.store.GetProject(ctx, projectName)
	if err != nil {
		return fmt.Errorf("get project: %w", err)
	}
	hubName := p.Hub
	its, err := a.store.ListInstanceTypes(ctx, hubName)
	if err != nil {
		return fmt.Errorf("list instance types: %w", err)
	}
	if len(its) == 0 {
		return fault.Param("properties.instanceType", codeInvalidPayload,
			"hub %q has no instance types: add one with `cerulean hub instance-types %s --add NAME ...`", hubName, hubName)
	}
	if d.InstanceType == "" {
		d.InstanceType = its[0].Name
		return nil
	}
	var names []string
	for _, it := range its {
		if it.Name == d.InstanceType {
			return nil
		}
		names = append(names, it.Name)
	}
	return fault.Param("properties.instanceType", codeInvalidPayload,
		"hub %q has no instance type %q: want one of %v", hubName, d.InstanceType, names)
}
