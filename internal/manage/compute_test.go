package manage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/hub"
)

// The fake store's compute catalog is hub.DefaultInstanceTypes, fixed;
// the routes are tested over SQLite below.
func (s *fakeStore) ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error) {
	if _, err := s.GetHub(ctx, hubName); err != nil {
		return nil, err
	}
	return hub.DefaultInstanceTypes(), nil
}

func (s *fakeStore) PutInstanceType(context.Context, string, hub.InstanceType) (bool, error) {
	return false, errors.New("fakeStore: PutInstanceType is not supported")
}

func TestSQLiteInstanceTypes(t *testing.T) {
	e, _ := newSQLiteEnv(t)
	e.seed(t)
	const path = "/api/v1/hubs/default/instance-types"
	got := want[api.List[api.InstanceType]](t, e, "GET", path, nil, http.StatusOK)
	if len(got.Value) != 2 || got.Value[0].Name != "cpu-2" || got.Value[0].Threads != 2 || got.Value[0].MemoryMB != 4096 {
		t.Fatalf("default instance types = %+v", got.Value)
	}
	big := want[api.InstanceType](t, e, "PUT", path+"/cpu-8", `{"threads":8,"memoryMB":16384,"pricePerHour":0.4}`, http.StatusCreated)
	if big.Name != "cpu-8" || big.Threads != 8 {
		t.Errorf("PUT = %+v", big)
	}
	want[api.InstanceType](t, e, "PUT", path+"/cpu-8", `{"threads":6,"memoryMB":16384,"pricePerHour":0.4}`, http.StatusOK)
	it := want[api.InstanceType](t, e, "GET", path+"/cpu-8", nil, http.StatusOK)
	if it.Threads != 6 {
		t.Errorf("after replace: %+v", it)
	}
	for _, c := range []errCase{
		{name: "bad threads", method: "PUT", path: path + "/x", body: `{"threads":0,"memoryMB":1024}`, status: 400, code: "invalidPayload", target: "threads"},
		{name: "name mismatch", method: "PUT", path: path + "/x", body: `{"name":"y","threads":1,"memoryMB":1024}`, status: 400, code: "invalidPayload", target: "name"},
		{name: "missing type", method: "GET", path: path + "/nope", status: 404, code: "InstanceTypeNotFound", target: "nope"},
		{name: "missing hub", method: "GET", path: "/api/v1/hubs/nohub/instance-types", status: 404, code: "HubNotFound", target: "nohub"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestSQLiteManagedComputeDeployment(t *testing.T) {
	e, _ := newSQLiteEnv(t)
	e.seed(t)
	d := want[api.Deployment](t, e, "POST", depsPath, `{"name":"mc","model":{"name":"m1"},"sku":{"name":"ManagedCompute","capacity":2}}`, http.StatusCreated)
	if d.InstanceType != "cpu-2" || d.SKU.Capacity != 2 {
		t.Errorf("created = %+v, want the hub's first instance type and 2 replicas", d)
	}
	d = want[api.Deployment](t, e, "PATCH", depsPath+"/mc", `{"capacity":0,"scaleToZero":true,"instanceType":"cpu-4"}`, http.StatusOK)
	if d.SKU.Capacity != 0 || !d.ScaleToZero || d.InstanceType != "cpu-4" {
		t.Errorf("after scaling to zero = %+v", d)
	}
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"st1","model":{"name":"m1"}}`, http.StatusCreated)
	for _, c := range []errCase{
		{name: "unknown instance type", method: "POST", path: depsPath,
			body:   `{"name":"mc2","model":{"name":"m1"},"sku":{"name":"ManagedCompute"},"instanceType":"gpu-80"}`,
			status: 400, code: "invalidPayload", target: "properties.instanceType", message: "gpu-80"},
		{name: "instance type on Standard", method: "POST", path: depsPath,
			body:   `{"name":"st","model":{"name":"m1"},"instanceType":"cpu-2"}`,
			status: 400, code: "invalidPayload", target: "properties.instanceType"},
		{name: "Standard to 0", method: "POST", path: depsPath,
			body: `{"name":"st0","model":{"name":"m1"},"sku":{"capacity":-1}}`, status: 400, code: "invalidPayload", target: "sku.capacity"},
		{name: "Standard scaled to 0", method: "PATCH", path: depsPath + "/st1", body: `{"capacity":0}`,
			status: 400, code: "invalidPayload", target: "capacity"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}
