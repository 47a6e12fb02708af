package hub

import "testing"

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
