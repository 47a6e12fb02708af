package manage

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// UsageStore is what the usage and price routes need of store.Store.
type UsageStore interface {
	UsageSums(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error)
	GetPriceSheet(ctx context.Context, hubName string) (store.PriceSheet, error)
	PutPriceSheet(ctx context.Context, ps store.PriceSheet) error
}

// getPrices returns a hub's price sheet (empty lists when none was set).
func (a *API) getPrices(r *http.Request) (reply, error) {
	ps, err := a.store.GetPriceSheet(r.Context(), r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("get price sheet: %w", err)
	}
	return reply{status: http.StatusOK, body: sheetToAPI(ps)}, nil
}

// putPrices replaces a hub's price sheet.
func (a *API) putPrices(r *http.Request) (reply, error) {
	name := r.PathValue("hub")
	var in api.PriceSheet
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	if in.Hub != "" && in.Hub != name {
		return reply{}, badParam("hub", "the body names hub %q but the path %q", in.Hub, name)
	}
	ps := sheetFromAPI(name, in)
	if err := a.store.PutPriceSheet(r.Context(), ps); err != nil {
		return reply{}, fmt.Errorf("put price sheet: %w", err)
	}
	return reply{status: http.StatusOK, body: sheetToAPI(ps)}, nil
}

// projectUsage reports a project's usage, priced with its hub's sheet.
func (a *API) projectUsage(r *http.Request) (reply, error) {
	p, err := a.store.GetProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return reply{}, fmt.Errorf("get project: %w", err)
	}
	q, err := a.usageQuery(r)
	if err != nil {
		return reply{}, err
	}
	q.Project = p.Name
	return a.usageReport(r, q, p.Hub)
}

// hubUsage reports the usage of all of a hub's projects.
func (a *API) hubUsage(r *http.Request) (reply, error) {
	h, err := a.store.GetHub(r.Context(), r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("get hub: %w", err)
	}
	q, err := a.usageQuery(r)
	if err != nil {
		return reply{}, err
	}
	q.Hub = h.Name
	return a.usageReport(r, q, h.Name)
}

func (a *API) usageReport(r *http.Request, q store.UsageQuery, priceHub string) (reply, error) {
	rep, err := metering.BuildReport(r.Context(), a.store, q, priceHub)
	if err != nil {
		return reply{}, fmt.Errorf("usage report: %w", err)
	}
	out := api.UsageReport{Project: q.Project, Hub: priceHub, Since: q.Since, Until: q.Until, By: q.By,
		Value: make([]api.UsageRow, 0, len(rep.Rows)), Total: rowToAPI(rep.Total)}
	for _, row := range rep.Rows {
		out.Value = append(out.Value, rowToAPI(row))
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// usageQuery reads since, until (RFC 3339 or YYYY-MM-DD, UTC) and by.
// The default window is the current month (UTC); with only since it ends
// at the end of the current month, with only until it starts at the
// beginning of until's month.
func (a *API) usageQuery(r *http.Request) (store.UsageQuery, error) {
	v := r.URL.Query()
	q := store.UsageQuery{By: v.Get("by")}
	switch q.By {
	case "":
		q.By = store.ByDeployment
	case store.ByDeployment, store.ByKey, store.ByModel, store.ByDay, store.BySKU, store.ByProject:
	default:
		return q, badParam("by", "cannot group usage by %q: want deployment, key, model, day, sku or project", q.By)
	}
	var err error
	if q.Since, err = parseTimeParam(v.Get("since"), "since"); err != nil {
		return q, err
	}
	if q.Until, err = parseTimeParam(v.Get("until"), "until"); err != nil {
		return q, err
	}
	monthOf := func(t time.Time) time.Time {
		t = t.UTC()
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	switch {
	case q.Since.IsZero() && q.Until.IsZero():
		q.Since = monthOf(a.now())
		q.Until = q.Since.AddDate(0, 1, 0)
	case q.Until.IsZero():
		q.Until = monthOf(a.now()).AddDate(0, 1, 0)
	case q.Since.IsZero():
		q.Since = monthOf(q.Until.Add(-time.Nanosecond))
	}
	if !q.Since.Before(q.Until) {
		return q, badParam("until", "until (%s) must be after since (%s)", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	return q, nil
}

// parseTimeParam reads an RFC 3339 time or a YYYY-MM-DD date (midnight
// UTC); "" is the zero time.
func parseTimeParam(s, param string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, badParam(param, "%s %q is not a time: use RFC 3339 (2025-03-01T00:00:00Z) or a date (2025-03-01)", param, clipParam(s))
}

func clipParam(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// badParam is the error for a bad query parameter or body field.
func badParam(param, format string, args ...any) error {
	return fault.Param(param, codeInvalidPayload, format, args...)
}

func rowToAPI(r metering.Row) api.UsageRow {
	return api.UsageRow{Group: r.Group, Requests: r.Requests, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		CachedTokens: r.CachedTokens, TotalTokens: r.TotalTokens, PTUHours: r.PTUHours, ReplicaHours: r.ReplicaHours,
		Cost: r.Cost, Errors: r.Errors, Throttled: r.Throttled}
}

func sheetToAPI(ps store.PriceSheet) api.PriceSheet {
	out := api.PriceSheet{Hub: ps.Hub, Models: make([]api.ModelPrice, 0, len(ps.Models)),
		InstanceTypes: make([]api.InstancePrice, 0, len(ps.Instances))}
	for _, m := range ps.Models {
		out.Models = append(out.Models, api.ModelPrice{Model: m.Model, Version: m.Version, InputPer1K: m.InputPer1K,
			OutputPer1K: m.OutputPer1K, CachedInputPer1K: m.CachedInputPer1K, PTUHour: m.PTUHour})
	}
	for _, ip := range ps.Instances {
		out.InstanceTypes = append(out.InstanceTypes, api.InstancePrice{Name: ip.Name, PerHour: ip.PerHour})
	}
	return out
}

func sheetFromAPI(hubName string, in api.PriceSheet) store.PriceSheet {
	ps := store.PriceSheet{Hub: hubName}
	for _, m := range in.Models {
		ps.Models = append(ps.Models, store.ModelPrice{Model: m.Model, Version: m.Version, InputPer1K: m.InputPer1K,
			OutputPer1K: m.OutputPer1K, CachedInputPer1K: m.CachedInputPer1K, PTUHour: m.PTUHour})
	}
	for _, ip := range in.InstanceTypes {
		ps.Instances = append(ps.Instances, store.InstancePrice{Name: ip.Name, PerHour: ip.PerHour})
	}
	return ps
}
