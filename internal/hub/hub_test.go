package hub

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

func TestLimit(t *testing.T) {
	h := Hub{Name: "h1", Quotas: []QuotaLimit{
		{Model: AnyModel, SKU: "Standard", Limit: 100},
		{Model: "big", SKU: "Standard", Limit: 500},
		{Model: "big", SKU: "ProvisionedManaged", Limit: 50},
	}}
	tests := []struct {
		model, sku string
		want       int
	}{
		{"big", "Standard", 500},
		{"small", "Standard", 100},
		{"big", "ProvisionedManaged", 50},
		{"small", "ProvisionedManaged", 0},
	}
	for _, tt := range tests {
		if got := h.Limit(tt.model, tt.sku); got != tt.want {
			t.Errorf("Limit(%q, %q) = %d, want %d", tt.model, tt.sku, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []Hub{
		{Name: "x"},
		{Name: "-bad"},
		{Name: "ok", Quotas: []QuotaLimit{{Model: "*", SKU: "Standard", Limit: -1}}},
		{Name: "ok", Quotas: []QuotaLimit{{Model: "*", SKU: "Standard", Limit: 1}, {Model: "*", SKU: "Standard", Limit: 2}}},
		{Name: "ok", Quotas: []QuotaLimit{{Model: "", SKU: "Standard", Limit: 1}}},
	}
	for _, h := range bad {
		if err := h.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", h)
		}
	}
	good := Hub{Name: "west-eu", Quotas: DefaultQuotas()}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(default quotas) = %v", err)
	}
}

func TestInstanceTypeValidate(t *testing.T) {
	tests := []struct {
		it    InstanceType
		param string // "" means valid
	}{
		{InstanceType{Name: "cpu-2", Threads: 2, MemoryMB: 4096, PricePerHour: 0.1}, ""},
		{InstanceType{Name: "free", Threads: 1, MemoryMB: 64}, ""},
		{InstanceType{Name: "", Threads: 2, MemoryMB: 4096}, "name"},
		{InstanceType{Name: "-x", Threads: 2, MemoryMB: 4096}, "name"},
		{InstanceType{Name: "cpu", Threads: 0, MemoryMB: 4096}, "threads"},
		{InstanceType{Name: "cpu", Threads: 2, MemoryMB: 1}, "memoryMB"},
		{InstanceType{Name: "cpu", Threads: 2, MemoryMB: 4096, PricePerHour: -1}, "pricePerHour"},
	}
	for _, tt := range tests {
		err := tt.it.Validate()
		if tt.param == "" {
			if err != nil {
				t.Errorf("Validate(%+v) = %v", tt.it, err)
			}
			continue
		}
		f, ok := fault.As(err)
		if !ok || f.Param != tt.param {
			t.Errorf("Validate(%+v) = %v, want an error on %q", tt.it, err, tt.param)
		}
	}
	for _, it := range DefaultInstanceTypes() {
		if err := it.Validate(); err != nil {
			t.Errorf("default %+v: %v", it, err)
		}
	}
}
