package metering

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/store"
)

type fakeInstanceStore struct {
	ReportStore
	types []hub.InstanceType
}

func (f fakeInstanceStore) ListInstanceTypes(context.Context, string) ([]hub.InstanceType, error) {
	return f.types, nil
}

func TestAddInstancePrices(t *testing.T) {
	rs := fakeInstanceStore{types: []hub.InstanceType{{Name: "cpu-2", PricePerHour: 0.1}, {Name: "cpu-4", PricePerHour: 0.2}}}
	sheet := store.PriceSheet{Hub: "h", Instances: []store.InstancePrice{{Name: "cpu-4", PerHour: 0.15}}}
	if err := addInstancePrices(context.Background(), rs, &sheet); err != nil {
		t.Fatal(err)
	}
	want := []store.InstancePrice{{Name: "cpu-4", PerHour: 0.15}, {Name: "cpu-2", PerHour: 0.1}}
	if diff := cmp.Diff(want, sheet.Instances); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
}
