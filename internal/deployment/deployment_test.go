package deployment

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

func model() *catalog.Model {
	return &catalog.Model{Name: "m", DefaultVersion: "2", Versions: []catalog.Version{
		{Version: "1", Format: catalog.FormatUpstream, Lifecycle: catalog.Deprecated},
		{Version: "2", Format: catalog.FormatUpstream, Lifecycle: catalog.GenerallyAvailable, SKUs: []string{"Standard", "ProvisionedManaged"}},
	}}
}

func TestValidateDefaults(t *testing.T) {
	d := Deployment{Name: "chat-1", Model: "m"}
	if err := d.Validate(model()); err != nil {
		t.Fatal(err)
	}
	want := Deployment{Name: "chat-1", Model: "m", Version: "2", SKU: "Standard", Capacity: 1,
		VersionUpgradeOption: OnceNewDefaultVersionAvailable, RAIPolicy: DefaultRAIPolicy}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		d     Deployment
		param string
	}{
		{Deployment{Name: "a"}, "name"},
		{Deployment{Name: "-lead"}, "name"},
		{Deployment{Name: "has space"}, "name"},
		{Deployment{Name: "ok", SKU: "Premium"}, "sku.name"},
		{Deployment{Name: "ok", SKU: "ManagedCompute"}, "sku.name"},
		{Deployment{Name: "ok", Version: "7"}, "model.version"},
		{Deployment{Name: "ok", Version: "1"}, "model.version"},
		{Deployment{Name: "ok", Capacity: -3}, "sku.capacity"},
		{Deployment{Name: "ok", VersionUpgradeOption: "Sometimes"}, "versionUpgradeOption"},
	}
	for _, tt := range tests {
		err := tt.d.Validate(model())
		f, ok := fault.As(err)
		if !ok || f.Param != tt.param {
			t.Errorf("Validate(%+v) = %v, want an error on %q", tt.d, err, tt.param)
		}
	}
}

func TestRateLimits(t *testing.T) {
	d := Deployment{SKU: "Standard", Capacity: 80}
	want := []RateLimit{{Key: "request", RenewalPeriod: 10, Count: 80}, {Key: "token", RenewalPeriod: 60, Count: 80000}}
	if diff := cmp.Diff(want, d.RateLimits()); diff != "" {
		t.Errorf("RateLimits (-want +got):\n%s", diff)
	}
	if got := (&Deployment{SKU: "ProvisionedManaged", Capacity: 50}).RateLimits(); got != nil {
		t.Errorf("PTU RateLimits = %v, want none", got)
	}
}

func TestValidateManagedCompute(t *testing.T) {
	m := &catalog.Model{Name: "m", DefaultVersion: "1", Versions: []catalog.Version{
		{Version: "1", Format: catalog.FormatGGUF, Lifecycle: catalog.GenerallyAvailable},
	}}
	tests := []struct {
		name     string
		d        Deployment
		param    string // "" means valid
		capacity int
	}{
		{"replicas", Deployment{Name: "mc", SKU: ManagedCompute, InstanceType: "cpu-2", Capacity: 2}, "", 2},
		{"scaled to zero stays zero", Deployment{Name: "mc", SKU: ManagedCompute, InstanceType: "cpu-2"}, "", 0},
		{"scale to zero", Deployment{Name: "mc", SKU: ManagedCompute, InstanceType: "cpu-2", ScaleToZero: true}, "", 0},
		{"no instance type", Deployment{Name: "mc", SKU: ManagedCompute, Capacity: 1}, "properties.instanceType", 0},
		{"instance type on Standard", Deployment{Name: "st", SKU: "Standard", InstanceType: "cpu-2"}, "properties.instanceType", 0},
		{"scale to zero on Standard", Deployment{Name: "st", SKU: "Standard", ScaleToZero: true}, "properties.scaleToZero", 0},
		{"negative replicas", Deployment{Name: "mc", SKU: ManagedCompute, InstanceType: "cpu-2", Capacity: -1}, "sku.capacity", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate(m)
			if tt.param == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				if tt.d.Capacity != tt.capacity {
					t.Errorf("capacity = %d, want %d", tt.d.Capacity, tt.capacity)
				}
				return
			}
			f, ok := fault.As(err)
			if !ok || f.Param != tt.param {
				t.Errorf("Validate = %v, want an error on %q", err, tt.param)
			}
		})
	}
}
