package builtin

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

func TestWeightOf(t *testing.T) {
	lm := &loaded{}
	if got := lm.weightOf(inference.Target{SKU: "ProvisionedManaged"}); got != 1 {
		t.Errorf("no Weight option: %d, want 1", got)
	}
	lm.weight = func(t inference.Target) int {
		if t.SKU == "ProvisionedManaged" {
			return 8
		}
		return 0
	}
	if got := lm.weightOf(inference.Target{SKU: "ProvisionedManaged"}); got != 8 {
		t.Errorf("PTU weight %d, want 8", got)
	}
	if got := lm.weightOf(inference.Target{SKU: "Standard"}); got != 1 {
		t.Errorf("a weight below 1 gave %d, want 1", got)
	}
}
