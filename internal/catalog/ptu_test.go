package catalog

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

func TestValidatePTU(t *testing.T) {
	tests := []struct {
		name  string
		ptu   *PTUSpec
		param string // "" means valid
	}{
		{"absent", nil, ""},
		{"gpt-4o global", &PTUSpec{Minimum: 15, Step: 5, InputTPMPerPTU: 2500, OutputTokenWeight: 3}, ""},
		{"weight defaults", &PTUSpec{Minimum: 1, Step: 1, InputTPMPerPTU: 100}, ""},
		{"zero minimum", &PTUSpec{Step: 5, InputTPMPerPTU: 2500}, "ptu"},
		{"zero step", &PTUSpec{Minimum: 15, InputTPMPerPTU: 2500}, "ptu"},
		{"no throughput", &PTUSpec{Minimum: 15, Step: 5}, "ptu.inputTpmPerPtu"},
		{"negative weight", &PTUSpec{Minimum: 15, Step: 5, InputTPMPerPTU: 1, OutputTokenWeight: -1}, "ptu.outputTokenWeight"},
		{"NaN weight", &PTUSpec{Minimum: 15, Step: 5, InputTPMPerPTU: 1, OutputTokenWeight: math.NaN()}, "ptu.outputTokenWeight"},
		{"huge weight", &PTUSpec{Minimum: 15, Step: 5, InputTPMPerPTU: 1, OutputTokenWeight: 1e6}, "ptu.outputTokenWeight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := upstreamModel()
			m.Versions[0].PTU = tt.ptu
			err := m.Validate()
			got := ""
			if f, ok := fault.As(err); ok {
				got = f.Param
			} else if err != nil {
				t.Fatalf("Validate() = %v, want a *fault.Error", err)
			}
			if diff := cmp.Diff(tt.param, got); diff != "" {
				t.Errorf("Validate() param (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}
