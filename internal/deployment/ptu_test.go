package deployment

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
)

func ptuModel() *catalog.Model {
	return &catalog.Model{Name: "m", DefaultVersion: "1", Versions: []catalog.Version{{Version: "1", Format: catalog.FormatUpstream,
		Lifecycle: catalog.GenerallyAvailable, PTU: &catalog.PTUSpec{Minimum: 25, Step: 50, InputTPMPerPTU: 230}}}}
}

func TestValidatePTUCapacity(t *testing.T) {
	tests := []struct {
		sku      string
		capacity int
		want     int // capacity after Validate; -1 means refused
	}{
		{"ProvisionedManaged", 0, 25}, // defaults to the minimum
		{"ProvisionedManaged", 25, 25},
		{"GlobalProvisionedManaged", 75, 75},
		{"DataZoneProvisionedManaged", 125, 125},
		{"ProvisionedManaged", 24, -1},
		{"ProvisionedManaged", 50, -1},
		{"ProvisionedManaged", 1, -1},
		{"Standard", 7, 7}, // PTU figures do not apply
		{"Standard", 0, 1},
	}
	for _, tt := range tests {
		d := Deployment{Name: "ptu-1", Model: "m", SKU: tt.sku, Capacity: tt.capacity}
		err := d.Validate(ptuModel())
		got := d.Capacity
		if err != nil {
			got = -1
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s capacity %d (-want +got):\n%s (err %v)", tt.sku, tt.capacity, diff, err)
		}
	}
}

func TestIsProvisioned(t *testing.T) {
	got := map[string]bool{}
	for _, s := range catalog.SKUs {
		got[s] = IsProvisioned(s)
	}
	want := map[string]bool{"Standard": false, "GlobalStandard": false, "DataZoneStandard": false, "ProvisionedManaged": true,
		"GlobalProvisionedManaged": true, "DataZoneProvisionedManaged": true, "ManagedCompute": false, "GlobalBatch": false,
		"DataZoneBatch": false, "Developer": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IsProvisioned (-want +got):\n%s", diff)
	}
}
