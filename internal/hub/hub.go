// Package hub is the top of the resource tree: a hub owns model quota per
// model and deployment type, and its projects.
package hub

import (
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/project"
)

// Default is the hub created on first start.
const Default = "default"

// AnyModel in a quota limit applies to every model without a limit of its own.
const AnyModel = "*"

// Hub is an organisation or region.
type Hub struct {
	Name        string
	Description string
	Quotas      []QuotaLimit
	CreatedAt   time.Time
}

// QuotaLimit is how much capacity of one deployment type the hub's
// deployments of one model may hold together: K-TPM for Standard types,
// PTUs for provisioned ones, replicas for managed compute.
type QuotaLimit struct {
	Model string // a catalog model name, or AnyModel
	SKU   string
	Limit int
}

// DefaultQuotas are the limits a new hub gets.
func DefaultQuotas() []QuotaLimit {
	return []QuotaLimit{
		{Model: AnyModel, SKU: "Standard", Limit: 1000},
		{Model: AnyModel, SKU: "GlobalStandard", Limit: 1000},
		{Model: AnyModel, SKU: "DataZoneStandard", Limit: 1000},
		{Model: AnyModel, SKU: "ProvisionedManaged", Limit: 500},
		{Model: AnyModel, SKU: "GlobalProvisionedManaged", Limit: 500},
		{Model: AnyModel, SKU: "ManagedCompute", Limit: 16},
		{Model: AnyModel, SKU: "GlobalBatch", Limit: 1000},
	}
}

// Limit is the quota for model and sku: the model's own entry, else the
// AnyModel entry, else 0.
func (h *Hub) Limit(model, sku string) int {
	limit, found := 0, false
	for _, q := range h.Quotas {
		if q.SKU != sku {
			continue
		}
		if q.Model == model {
			return q.Limit
		}
		if q.Model == AnyModel && !found {
			limit, found = q.Limit, true
		}
	}
	return limit
}

// Validate checks the hub's name and quotas.
func (h *Hub) Validate() error {
	if err := project.ValidateName("name", h.Name); err != nil {
		return err
	}
	seen := map[[2]string]bool{}
	for i, q := range h.Quotas {
		if q.Model == "" || q.SKU == "" {
			return fault.Param("quotas", "invalidPayload", "quotas[%d] needs both model and sku", i)
		}
		if q.Limit < 0 {
			return fault.Param("quotas", "invalidPayload", "quotas[%d].limit must be 0 or more, got %d", i, q.Limit)
		}
		k := [2]string{q.Model, q.SKU}
		if seen[k] {
			return fault.Param("quotas", "invalidPayload", "quotas has model %q sku %q twice", q.Model, q.SKU)
		}
		seen[k] = true
	}
	return nil
}
