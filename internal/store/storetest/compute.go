package storetest

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// RunCompute runs the suite of store.ComputeStore and of the
// ManagedCompute fields of deployments. Each subtest calls open for a
// store of its own.
func RunCompute(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InstanceTypes", testInstanceTypes},
		{"InstanceTypeErrors", testInstanceTypeErrors},
		{"ManagedComputeDeployment", testManagedComputeDeployment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func testInstanceTypes(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	got, err := s.ListInstanceTypes(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(hub.DefaultInstanceTypes(), got); d != "" {
		t.Errorf("a new hub's instance types (-want +got):\n%s", d)
	}
	gpu := hub.InstanceType{Name: "big-16", Threads: 16, MemoryMB: 65536, PricePerHour: 1.5}
	created, err := s.PutInstanceType(ctx, "h1", gpu)
	if err != nil || !created {
		t.Fatalf("PutInstanceType(new) = %v, %v; want created", created, err)
	}
	cheaper := hub.DefaultInstanceTypes()[0]
	cheaper.PricePerHour = 0.05
	created, err = s.PutInstanceType(ctx, "h1", cheaper)
	if err != nil || created {
		t.Fatalf("PutInstanceType(existing) = %v, %v; want replaced", created, err)
	}
	want := append([]hub.InstanceType{cheaper}, hub.DefaultInstanceTypes()[1], gpu)
	got, err = s.ListInstanceTypes(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(want, got); d != "" {
		t.Errorf("instance types after puts (-want +got):\n%s", d)
	}
	if err := s.DeleteHub(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	mustCreateHub(t, s, newHub("h1"))
	got, _ = s.ListInstanceTypes(ctx, "h1")
	if d := diff(hub.DefaultInstanceTypes(), got); d != "" {
		t.Errorf("a re-created hub's instance types (-want +got):\n%s", d)
	}
}

func testInstanceTypeErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.ListInstanceTypes(ctx, "nope")
	wantFault(t, "ListInstanceTypes of a missing hub", err, store.ErrNotFound, fault.NotFound, "HubNotFound", "nope", "nope")
	_, err = s.PutInstanceType(ctx, "nope", hub.DefaultInstanceTypes()[0])
	wantFault(t, "PutInstanceType in a missing hub", err, store.ErrNotFound, fault.NotFound, "HubNotFound", "nope", "nope")
	mustCreateHub(t, s, newHub("h1"))
	if _, err := s.PutInstanceType(ctx, "h1", hub.InstanceType{Name: "bad", Threads: 0, MemoryMB: 1024}); fault.KindOf(err) != fault.Invalid {
		t.Errorf("PutInstanceType(0 threads) = %v, want invalid", err)
	}
}

func testManagedComputeDeployment(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, hub.QuotaLimit{Model: hub.AnyModel, SKU: deployment.ManagedCompute, Limit: 4})
	d := newDeployment("p1", "mc", "gpt", deployment.ManagedCompute, 0)
	d.InstanceType, d.ScaleToZero = "cpu-2", true
	mustCreateDeployment(t, s, d)
	got, err := s.GetDeployment(ctx, "p1", "mc")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(d, got); d != "" {
		t.Errorf("ManagedCompute round trip (-want +got):\n%s", d)
	}
	d.Capacity, d.InstanceType, d.ScaleToZero = 2, "cpu-4", false
	d.UpdatedAt = later()
	if err := s.UpdateDeployment(ctx, d); err != nil {
		t.Fatal(err)
	}
	ds, err := s.ListDeployments(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Capacity != 2 || ds[0].InstanceType != "cpu-4" || ds[0].ScaleToZero {
		t.Errorf("after update: %+v", ds)
	}
}
