package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Scope names the project or the hub that budgets, alert rules, alert
// history and webhook deliveries belong to: set exactly one field.
type Scope struct {
	Project string
	Hub     string
}

// segments are the path segments of the scope: projects/P or hubs/H.
func (s Scope) segments(rest ...string) []string {
	if s.Project != "" {
		return append([]string{"projects", s.Project}, rest...)
	}
	return append([]string{"hubs", s.Hub}, rest...)
}

// Webhook is where a budget's or rule's notifications are posted. Secret
// is write-only: when set, each POST carries X-Cerulean-Signature:
// sha256=<hex HMAC-SHA256 of the body>; reads show only HasSecret.
type Webhook struct {
	URL       string `json:"url"`
	Secret    string `json:"secret,omitempty"`
	HasSecret bool   `json:"hasSecret,omitempty"`
}

// Budget is a monthly spending limit of a project or a hub. Thresholds
// are percents of Amount (default 50, 80, 100); each fires once a month.
// A Hard budget refuses requests (429 budget_exceeded) once spent. Reads
// add the current month's Spend, Percent and whether it blocks requests.
type Budget struct {
	Name       string    `json:"name"`
	Project    string    `json:"project,omitempty"`
	Hub        string    `json:"hub,omitempty"`
	Amount     float64   `json:"amount"`
	Thresholds []float64 `json:"thresholds,omitempty"`
	Hard       bool      `json:"hard"`
	Webhooks   []Webhook `json:"webhooks,omitempty"`
	Period     string    `json:"period,omitempty"` // YYYY-MM (UTC) of Spend
	Spend      float64   `json:"spend"`
	Percent    float64   `json:"percent"`
	Exceeded   bool      `json:"exceeded"` // spend reached the amount
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

// Alert rule metrics.
const (
	MetricRate429   = "rate_429"       // percent of requests answered 429
	MetricP95       = "p95_latency_ms" // 95th percentile latency
	MetricErrorRate = "error_rate"     // percent of requests answered 5xx
	MetricRequests  = "requests"       // number of requests
)

// AlertRule watches a metric of a project's (or one deployment's, or a
// hub's) requests over a sliding window and fires when it compares
// (">" or "<") to Threshold, resolving when it no longer does. Window and
// Cooldown are Go durations ("5m", "1h"). State, StateSince, LastFired and
// LastValue are read-only.
type AlertRule struct {
	Name       string    `json:"name"`
	Project    string    `json:"project,omitempty"`
	Hub        string    `json:"hub,omitempty"`
	Deployment string    `json:"deployment,omitempty"`
	Metric     string    `json:"metric"`
	Comparator string    `json:"comparator"`
	Threshold  float64   `json:"threshold"`
	Window     string    `json:"window"`
	Cooldown   string    `json:"cooldown,omitempty"`
	Webhooks   []Webhook `json:"webhooks,omitempty"`
	State      string    `json:"state,omitempty"` // ok, firing, resolved
	StateSince time.Time `json:"stateSince,omitzero"`
	LastFired  time.Time `json:"lastFired,omitzero"`
	LastValue  float64   `json:"lastValue,omitempty"`
	CreatedAt  time.Time `json:"createdAt,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

// AlertEvent is one entry of the alert history: a budget threshold passed
// (budget.threshold), a rule firing (alert.firing) or resolving
// (alert.resolved).
type AlertEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Name       string    `json:"name"` // the budget or rule
	Deployment string    `json:"deployment,omitempty"`
	Metric     string    `json:"metric,omitempty"`
	Value      float64   `json:"value"`
	Threshold  float64   `json:"threshold"`
	Period     string    `json:"period,omitempty"`
	Message    string    `json:"message"`
	Time       time.Time `json:"time"`
}

// WebhookDelivery is one notification to one webhook and its attempts.
type WebhookDelivery struct {
	ID         string          `json:"id"`
	EventID    string          `json:"eventId"`
	URL        string          `json:"url"`
	Type       string          `json:"type"`
	State      string          `json:"state"` // pending, delivered, failed
	Attempts   int             `json:"attempts"`
	StatusCode int             `json:"statusCode,omitempty"`
	Error      string          `json:"error,omitempty"`
	NextAt     time.Time       `json:"nextAttemptAt,omitzero"` // pending ones only
	Payload    json.RawMessage `json:"payload"`
	CreatedAt  time.Time       `json:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt"`
}

// ListBudgets lists the budgets of a project or hub with their spend.
func (c *Client) ListBudgets(ctx context.Context, s Scope) ([]Budget, error) {
	return list[Budget](ctx, c, apiPath(s.segments("budgets")...))
}

// GetBudget returns one budget with its spend.
func (c *Client) GetBudget(ctx context.Context, s Scope, name string) (Budget, error) {
	var b Budget
	err := c.do(ctx, http.MethodGet, apiPath(s.segments("budgets", name)...), nil, &b)
	return b, err
}

// CreateBudget makes a budget.
func (c *Client) CreateBudget(ctx context.Context, s Scope, b Budget) (Budget, error) {
	var out Budget
	err := c.do(ctx, http.MethodPost, apiPath(s.segments("budgets")...), b, &out)
	return out, err
}

// PutBudget creates or replaces budget b.Name.
func (c *Client) PutBudget(ctx context.Context, s Scope, b Budget) (Budget, error) {
	var out Budget
	err := c.do(ctx, http.MethodPut, apiPath(s.segments("budgets", b.Name)...), b, &out)
	return out, err
}

// DeleteBudget deletes a budget.
func (c *Client) DeleteBudget(ctx context.Context, s Scope, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath(s.segments("budgets", name)...), nil, nil)
}

// ListAlertRules lists the alert rules of a project or hub.
func (c *Client) ListAlertRules(ctx context.Context, s Scope) ([]AlertRule, error) {
	return list[AlertRule](ctx, c, apiPath(s.segments("alert-rules")...))
}

// GetAlertRule returns one rule with its state.
func (c *Client) GetAlertRule(ctx context.Context, s Scope, name string) (AlertRule, error) {
	var r AlertRule
	err := c.do(ctx, http.MethodGet, apiPath(s.segments("alert-rules", name)...), nil, &r)
	return r, err
}

// CreateAlertRule makes a rule.
func (c *Client) CreateAlertRule(ctx context.Context, s Scope, r AlertRule) (AlertRule, error) {
	var out AlertRule
	err := c.do(ctx, http.MethodPost, apiPath(s.segments("alert-rules")...), r, &out)
	return out, err
}

// PutAlertRule creates or replaces rule r.Name (its state is kept).
func (c *Client) PutAlertRule(ctx context.Context, s Scope, r AlertRule) (AlertRule, error) {
	var out AlertRule
	err := c.do(ctx, http.MethodPut, apiPath(s.segments("alert-rules", r.Name)...), r, &out)
	return out, err
}

// DeleteAlertRule deletes a rule.
func (c *Client) DeleteAlertRule(ctx context.Context, s Scope, name string) error {
	return c.do(ctx, http.MethodDelete, apiPath(s.segments("alert-rules", name)...), nil, nil)
}

// ListAlerts returns the alert history of a project or hub, newest first;
// limit 0 means the server's default (100).
func (c *Client) ListAlerts(ctx context.Context, s Scope, limit int) ([]AlertEvent, error) {
	return list[AlertEvent](ctx, c, withLimit(apiPath(s.segments("alerts")...), limit))
}

// ListWebhookDeliveries returns the webhook deliveries of a project or
// hub, newest first; limit 0 means the server's default (100).
func (c *Client) ListWebhookDeliveries(ctx context.Context, s Scope, limit int) ([]WebhookDelivery, error) {
	return list[WebhookDelivery](ctx, c, withLimit(apiPath(s.segments("webhook-deliveries")...), limit))
}

func withLimit(p string, limit int) string {
	if limit > 0 {
		return p + "?limit=" + strconv.Itoa(limit)
	}
	return p
}
