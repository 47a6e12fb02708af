package metering

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Billing is how a deployment type is charged.
type Billing int

// The ways of billing, by deployment type (reference §4.3).
const (
	PerToken       Billing = iota // Standard, GlobalStandard, DataZoneStandard, Developer
	PerBatchToken                 // GlobalBatch, DataZoneBatch: per token at BatchDiscount
	PerPTUHour                    // *ProvisionedManaged: tokens cost nothing
	PerReplicaHour                // ManagedCompute: tokens cost nothing
)

// BatchDiscount is the share of the token price batch deployments pay
// (Azure's Global Batch costs about half of Global Standard).
const BatchDiscount = 0.5

// DefaultInstanceType names the instance type of managed-compute replicas
// until deployments choose one; a price sheet prices it like any other.
const DefaultInstanceType = "default"

// BillingOf is how deployments of type sku are charged.
func BillingOf(sku string) Billing {
	switch {
	case strings.Contains(sku, "Provisioned"):
		return PerPTUHour
	case sku == "ManagedCompute":
		return PerReplicaHour
	case strings.HasSuffix(sku, "Batch"):
		return PerBatchToken
	}
	return PerToken
}

// Cost is what u costs at model prices p and instancePerHour per
// replica-hour. Prompt tokens are billed at the input price except the
// cached ones, which cost the cached price when it is set (else the input
// price); completion tokens at the output price. PTU-hours cost p.PTUHour
// and replica-hours instancePerHour. Provisioned and managed-compute
// tokens cost nothing per token.
func Cost(u store.UsageSum, p catalog.Prices, instancePerHour float64) float64 {
	var c float64
	if b := BillingOf(u.SKU); b == PerToken || b == PerBatchToken {
		cached := min(max(u.CachedTokens, 0), u.PromptTokens)
		cachedPrice := p.CachedInputPer1K
		if cachedPrice == 0 {
			cachedPrice = p.InputPer1K
		}
		c = float64(u.PromptTokens-cached)/1000*p.InputPer1K +
			float64(cached)/1000*cachedPrice +
			float64(u.CompletionTokens)/1000*p.OutputPer1K
		if b == PerBatchToken {
			c *= BatchDiscount
		}
	}
	c += float64(u.PTUMinutes) / 60 * p.PTUHour
	c += float64(u.ReplicaMinutes) / 60 * instancePerHour
	return c
}

// roundCost rounds a cost to millionths, so that reports show 0.3, not
// 0.30000000000000004.
func roundCost(c float64) float64 { return math.Round(c*1e6) / 1e6 }

// Models finds catalog models; store.Store satisfies it.
type Models interface {
	GetModel(ctx context.Context, name string) (catalog.Model, error)
}

// PriceBook prices usage for one hub: the hub's price sheet over the
// catalog's prices.
type PriceBook struct {
	sheet  store.PriceSheet
	models Models
	cache  map[[2]string]catalog.Prices
}

// NewPriceBook returns the prices of a hub whose sheet is sheet.
func NewPriceBook(sheet store.PriceSheet, models Models) *PriceBook {
	return &PriceBook{sheet: sheet, models: models, cache: map[[2]string]catalog.Prices{}}
}

// Model returns the prices of a model version: the sheet's entry for that
// version, else its entry for every version, else the catalog's prices;
// zero for a model that is in neither.
func (b *PriceBook) Model(ctx context.Context, model, version string) (catalog.Prices, error) {
	k := [2]string{model, version}
	if p, ok := b.cache[k]; ok {
		return p, nil
	}
	p, err := b.lookup(ctx, model, version)
	if err != nil {
		return catalog.Prices{}, err
	}
	b.cache[k] = p
	return p, nil
}

func (b *PriceBook) lookup(ctx context.Context, model, version string) (catalog.Prices, error) {
	var every *store.ModelPrice
	for i := range b.sheet.Models {
		mp := &b.sheet.Models[i]
		if mp.Model != model {
			continue
		}
		if mp.Version == version {
			return prices(mp), nil
		}
		if mp.Version == "" {
			every = mp
		}
	}
	if every != nil {
		return prices(every), nil
	}
	if b.models == nil {
		return catalog.Prices{}, nil
	}
	m, err := b.models.GetModel(ctx, model)
	if errors.Is(err, store.ErrNotFound) {
		return catalog.Prices{}, nil
	}
	if err != nil {
		return catalog.Prices{}, fmt.Errorf("metering: prices of model %q: %w", model, err)
	}
	v, ok := m.Version(version)
	if !ok {
		return catalog.Prices{}, nil
	}
	return v.Prices, nil
}

func prices(mp *store.ModelPrice) catalog.Prices {
	return catalog.Prices{InputPer1K: mp.InputPer1K, OutputPer1K: mp.OutputPer1K, CachedInputPer1K: mp.CachedInputPer1K, PTUHour: mp.PTUHour}
}

// Instance returns the price of a replica-hour of an instance type; 0
// when the sheet does not price it.
func (b *PriceBook) Instance(name string) float64 {
	for _, ip := range b.sheet.Instances {
		if ip.Name == name {
			return ip.PerHour
		}
	}
	return 0
}
