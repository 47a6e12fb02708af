package api

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// PriceSheet is a hub's prices. A model entry replaces the catalog's
// prices of that model (one version, or every version when Version is
// empty); an instance type entry prices one replica-hour.
type PriceSheet struct {
	Hub           string          `json:"hub"`
	Models        []ModelPrice    `json:"models"`
	InstanceTypes []InstancePrice `json:"instanceTypes"`
}

// ModelPrice is a hub's price of a model per 1,000 tokens and per
// PTU-hour. A zero CachedInputPer1K bills cached tokens at the input price.
type ModelPrice struct {
	Model            string  `json:"model"`
	Version          string  `json:"version,omitempty"`
	InputPer1K       float64 `json:"inputPer1K"`
	OutputPer1K      float64 `json:"outputPer1K"`
	CachedInputPer1K float64 `json:"cachedInputPer1K,omitempty"`
	PTUHour          float64 `json:"ptuHour,omitempty"`
}

// InstancePrice is the price of one replica-hour of an instance type.
type InstancePrice struct {
	Name    string  `json:"name"`
	PerHour float64 `json:"perHour"`
}

// Groupings of a usage report.
const (
	UsageByDeployment = "deployment"
	UsageByKey        = "key"
	UsageByModel      = "model"
	UsageByDay        = "day"
	UsageBySKU        = "sku"
	UsageByProject    = "project"
)

// UsageOptions select a usage report. Zero times mean the current month
// (UTC); an empty By means by deployment.
type UsageOptions struct {
	Since time.Time
	Until time.Time
	By    string
}

// UsageReport is the usage of a project or hub in [Since, Until), one row
// per group, with the total of all rows.
type UsageReport struct {
	Project string     `json:"project,omitempty"`
	Hub     string     `json:"hub"`
	Since   time.Time  `json:"since"`
	Until   time.Time  `json:"until"`
	By      string     `json:"by"`
	Value   []UsageRow `json:"value"`
	Total   UsageRow   `json:"total"`
}

// UsageRow is the usage and cost of one group. Errors counts responses
// with status 400 or more (throttled ones included), Throttled those with
// status 429. Capacity (PTU-hours, replica-hours) has no key: grouped by
// key it is in the row with an empty group.
type UsageRow struct {
	Group            string  `json:"group"`
	Requests         int64   `json:"requests"`
	PromptTokens     int64   `json:"promptTokens"`
	CompletionTokens int64   `json:"completionTokens"`
	CachedTokens     int64   `json:"cachedTokens"`
	TotalTokens      int64   `json:"totalTokens"`
	PTUHours         float64 `json:"ptuHours"`
	ReplicaHours     float64 `json:"replicaHours"`
	Cost             float64 `json:"cost"`
	Errors           int64   `json:"errors"`
	Throttled        int64   `json:"throttled"`
}

// GetPrices returns a hub's price sheet.
func (c *Client) GetPrices(ctx context.Context, hub string) (PriceSheet, error) {
	var ps PriceSheet
	err := c.do(ctx, http.MethodGet, apiPath("hubs", hub, "prices"), nil, &ps)
	return ps, err
}

// PutPrices replaces a hub's price sheet.
func (c *Client) PutPrices(ctx context.Context, hub string, ps PriceSheet) (PriceSheet, error) {
	var out PriceSheet
	err := c.do(ctx, http.MethodPut, apiPath("hubs", hub, "prices"), ps, &out)
	return out, err
}

// ProjectUsage reports a project's usage.
func (c *Client) ProjectUsage(ctx context.Context, project string, o UsageOptions) (UsageReport, error) {
	var r UsageReport
	err := c.do(ctx, http.MethodGet, apiPath("projects", project, "usage")+o.query(), nil, &r)
	return r, err
}

// HubUsage reports a hub's usage, all its projects together.
func (c *Client) HubUsage(ctx context.Context, hub string, o UsageOptions) (UsageReport, error) {
	var r UsageReport
	err := c.do(ctx, http.MethodGet, apiPath("hubs", hub, "usage")+o.query(), nil, &r)
	return r, err
}

// query is the options as a query string ("" when all are zero).
func (o UsageOptions) query() string {
	q := url.Values{}
	if !o.Since.IsZero() {
		q.Set("since", o.Since.Format(time.RFC3339Nano))
	}
	if !o.Until.IsZero() {
		q.Set("until", o.Until.Format(time.RFC3339Nano))
	}
	if o.By != "" {
		q.Set("by", o.By)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
