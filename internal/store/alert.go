package store

import (
	"context"
	"time"
)

// AlertStore is budgets, alert rules, alert history and webhook deliveries.
//
// Budgets and rules belong to an Owner: a project or a hub. Deleting the
// project or hub deletes its budgets and rules; their history and
// deliveries stay (like usage, they outlive what they name).
//
// Firing is exactly once: RecordBudgetFiring stores one firing per
// (budget, period, threshold) and TransitionAlertRule changes a rule's
// state only from the state the caller observed, each in one transaction
// with the history entry and the webhook deliveries it causes, so that
// evaluators that race or restart never fire twice and a firing never
// loses its deliveries.
type AlertStore interface {
	// CreateBudget stores a new budget (ErrExists when the owner has one of
	// that name; ErrNotFound when the owner does not exist).
	CreateBudget(ctx context.Context, b Budget) error
	// GetBudget returns one budget.
	GetBudget(ctx context.Context, o Owner, name string) (Budget, error)
	// ListBudgets returns an owner's budgets by name; a zero Owner lists
	// every budget (by scope, owner and name).
	ListBudgets(ctx context.Context, o Owner) ([]Budget, error)
	// UpdateBudget replaces a budget's amount, thresholds, hard flag and
	// webhooks. A change of amount or thresholds re-arms it: its firings
	// are forgotten, so thresholds already passed fire again against the
	// new amount.
	UpdateBudget(ctx context.Context, b Budget) error
	// DeleteBudget deletes a budget and its firings.
	DeleteBudget(ctx context.Context, o Owner, name string) error
	// RecordBudgetFiring stores f (with the history entry it makes and its
	// deliveries) unless the same (budget, period, threshold) was stored
	// before, and reports whether it was new.
	RecordBudgetFiring(ctx context.Context, f BudgetFiring, ev AlertEvent, ds []Delivery) (bool, error)
	// ListBudgetFirings returns a budget's firings of a period ("" for
	// every period), oldest first.
	ListBudgetFirings(ctx context.Context, budgetID int64, period string) ([]BudgetFiring, error)

	// CreateAlertRule stores a new rule in state ok.
	CreateAlertRule(ctx context.Context, r AlertRule) error
	// GetAlertRule returns one rule with its state.
	GetAlertRule(ctx context.Context, o Owner, name string) (AlertRule, error)
	// ListAlertRules returns an owner's rules by name; a zero Owner lists
	// every rule.
	ListAlertRules(ctx context.Context, o Owner) ([]AlertRule, error)
	// UpdateAlertRule replaces a rule's definition; its state is kept.
	UpdateAlertRule(ctx context.Context, r AlertRule) error
	// DeleteAlertRule deletes a rule.
	DeleteAlertRule(ctx context.Context, o Owner, name string) error
	// TransitionAlertRule moves rule id from state from to st (with
	// StateSince, LastFired and LastValue) and stores ev and ds, all only
	// if the rule is still in state from; it reports whether it did.
	TransitionAlertRule(ctx context.Context, id int64, from string, st AlertState, ev AlertEvent, ds []Delivery) (bool, error)

	// ListAlertEvents returns the history q selects, newest first.
	ListAlertEvents(ctx context.Context, q AlertEventQuery) ([]AlertEvent, error)

	// DueDeliveries returns up to limit pending deliveries whose NextAt is
	// at or before now, oldest NextAt first.
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// UpdateDelivery records an attempt: state, attempts, status code,
	// error, next attempt and update time of delivery d.ID.
	UpdateDelivery(ctx context.Context, d Delivery) error
	// ListDeliveries returns the deliveries q selects, newest first.
	ListDeliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
}

// Scopes of budgets, rules, history and deliveries.
const (
	ScopeProject = "project"
	ScopeHub     = "hub"
)

// Owner is the project or hub a budget, rule, event or delivery belongs to.
type Owner struct {
	Scope string // ScopeProject or ScopeHub
	Name  string
}

// Webhook is where notifications go. A delivery is signed with Secret
// (HMAC-SHA256) when it is set.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// Budget is a monthly spending limit of a project or a hub, in currency
// units. Thresholds are percents of Amount (e.g. 50, 80, 100), ascending.
// A Hard budget blocks its requests once spend reaches 100 %.
type Budget struct {
	ID         int64 // set by the store; stable across updates
	Owner      Owner
	Name       string
	Amount     float64
	Thresholds []float64
	Hard       bool
	Webhooks   []Webhook
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// BudgetFiring is one threshold of one budget passed in one period.
type BudgetFiring struct {
	BudgetID  int64
	Period    string  // the month, YYYY-MM (UTC)
	Threshold float64 // percent
	Spend     float64 // the spend observed
	Time      time.Time
}

// Alert rule metrics.
const (
	MetricRate429   = "rate_429"       // share of requests answered 429, in percent
	MetricP95       = "p95_latency_ms" // 95th percentile latency, milliseconds
	MetricErrorRate = "error_rate"     // share of requests answered 5xx, in percent
	MetricRequests  = "requests"       // number of requests
)

// Alert rule states.
const (
	StateOK       = "ok"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// AlertRule watches a metric of an owner's requests (of one deployment
// when Deployment is set) over a sliding Window: it fires when the metric
// compares (Comparator ">" or "<") to Threshold, resolves when it no
// longer does, and fires again at most once per Cooldown.
type AlertRule struct {
	ID         int64 // set by the store
	Owner      Owner
	Name       string
	Deployment string
	Metric     string
	Comparator string
	Threshold  float64
	Window     time.Duration
	Cooldown   time.Duration
	Webhooks   []Webhook
	CreatedAt  time.Time
	UpdatedAt  time.Time
	AlertState // kept by the store; ignored by create and update
}

// AlertState is where a rule stands.
type AlertState struct {
	State      string // StateOK, StateFiring or StateResolved
	StateSince time.Time
	LastFired  time.Time // zero when it never fired
	LastValue  float64   // the value of the last transition
}

// Alert event types, which are also the webhook payload types.
const (
	EventBudgetThreshold = "budget.threshold"
	EventAlertFiring     = "alert.firing"
	EventAlertResolved   = "alert.resolved"
)

// AlertEvent is one entry of the alert history.
type AlertEvent struct {
	ID         int64 // set by the store
	Owner      Owner
	Type       string // EventBudgetThreshold, EventAlertFiring, EventAlertResolved
	Name       string // the budget or rule
	Deployment string
	Metric     string  // rules only
	Value      float64 // budgets: spend; rules: the metric's value
	Threshold  float64 // budgets: percent; rules: the rule's threshold
	Period     string  // budgets: YYYY-MM
	Message    string
	Time       time.Time
}

// AlertEventQuery selects history. Limit 0 means DefaultAlertLimit.
type AlertEventQuery struct {
	Owner Owner
	Limit int
}

// Limits of history and delivery listings.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // gave up
)

// Delivery is one webhook notification and its attempts so far.
type Delivery struct {
	ID         int64 // set by the store
	EventID    int64 // the history entry it announces; set by the store
	Owner      Owner
	URL        string
	Secret     string
	Type       string
	Body       []byte // the JSON payload, exactly as sent
	State      string
	Attempts   int
	StatusCode int    // of the last attempt; 0 when none answered
	Error      string // of the last attempt
	NextAt     time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DeliveryQuery selects deliveries. Limit 0 means DefaultAlertLimit.
type DeliveryQuery struct {
	Owner Owner
	Limit int
}
