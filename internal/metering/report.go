package metering

import (
	"context"
	"fmt"
	"slices"

	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// ReportStore is what a report reads; store.Store satisfies it.
type ReportStore interface {
	Models
	UsageSums(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error)
	GetPriceSheet(ctx context.Context, hubName string) (store.PriceSheet, error)
}

// instanceTypes is what a store that keeps a hub's compute catalog adds.
type instanceTypes interface {
	ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error)
}

// addInstancePrices prices the replica-hours of the hub's instance types
// at their catalog price, unless the price sheet names a price of its own.
func addInstancePrices(ctx context.Context, rs ReportStore, sheet *store.PriceSheet) error {
	its, ok := rs.(instanceTypes)
	if !ok || sheet.Hub == "" {
		return nil
	}
	types, err := its.ListInstanceTypes(ctx, sheet.Hub)
	if err != nil {
		return fmt.Errorf("metering: instance types of hub %q: %w", sheet.Hub, err)
	}
	for _, it := range types {
		if !slices.ContainsFunc(sheet.Instances, func(p store.InstancePrice) bool { return p.Name == it.Name }) {
			sheet.Instances = append(sheet.Instances, store.InstancePrice{Name: it.Name, PerHour: it.PricePerHour})
		}
	}
	return nil
}

// Row is the usage and cost of one group of a report, or its total.
type Row struct {
	Group            string
	Requests         int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	TotalTokens      int64
	PTUHours         float64
	ReplicaHours     float64
	Cost             float64
	Errors           int64 // responses with status 400 or more (throttled ones too)
	Throttled        int64 // responses with status 429
}

// Report is a usage report: one row per group, in group order, and the
// total of all rows.
type Report struct {
	Query store.UsageQuery
	Rows  []Row
	Total Row
}

// BuildReport adds up the usage q selects and prices it with the price
// sheet of hub priceHub (the project's hub for a project report) over the
// catalog's prices. Token counts and capacity-minutes are summed as
// integers, so the total is exactly the sum of the rows; costs are
// rounded to millionths per row and the total cost is the sum of the
// rows' costs.
func BuildReport(ctx context.Context, rs ReportStore, q store.UsageQuery, priceHub string) (Report, error) {
	sums, err := rs.UsageSums(ctx, q)
	if err != nil {
		return Report{}, fmt.Errorf("metering: usage sums: %w", err)
	}
	sheet := store.PriceSheet{Hub: priceHub}
	if priceHub != "" {
		if sheet, err = rs.GetPriceSheet(ctx, priceHub); err != nil {
			return Report{}, fmt.Errorf("metering: price sheet of hub %q: %w", priceHub, err)
		}
	}
	if err := addInstancePrices(ctx, rs, &sheet); err != nil {
		return Report{}, err
	}
	book := NewPriceBook(sheet, rs)
	rep := Report{Query: q, Rows: []Row{}}
	type acc struct {
		row                Row
		ptuMin, replicaMin int64
		cost               float64
	}
	var order []string
	groups := map[string]*acc{}
	var total acc
	for _, u := range sums {
		p, err := book.Model(ctx, u.Model, u.Version)
		if err != nil {
			return Report{}, err
		}
		cost := Cost(u, p, book.Instance(u.InstanceType))
		g, ok := groups[u.Group]
		if !ok {
			g = &acc{row: Row{Group: u.Group}}
			groups[u.Group] = g
			order = append(order, u.Group)
		}
		for _, a := range []*acc{g, &total} {
			a.row.Requests += u.Requests
			a.row.PromptTokens += u.PromptTokens
			a.row.CompletionTokens += u.CompletionTokens
			a.row.CachedTokens += u.CachedTokens
			a.row.Errors += u.Errors
			a.row.Throttled += u.Throttled
			a.ptuMin += u.PTUMinutes
			a.replicaMin += u.ReplicaMinutes
		}
		g.cost += cost
	}
	finish := func(a *acc) Row {
		r := a.row
		r.TotalTokens = r.PromptTokens + r.CompletionTokens
		r.PTUHours = float64(a.ptuMin) / 60
		r.ReplicaHours = float64(a.replicaMin) / 60
		return r
	}
	var cost float64
	for _, name := range order { // sums come sorted by group
		g := groups[name]
		r := finish(g)
		r.Cost = roundCost(g.cost)
		cost += r.Cost
		rep.Rows = append(rep.Rows, r)
	}
	rep.Total = finish(&total)
	rep.Total.Cost = roundCost(cost)
	return rep, nil
}
