// Package alert is Cerulean's budgets, alert rules and webhooks.
//
// # Budgets
//
// A budget is a monthly spending limit of a project or a hub, in currency
// units, with thresholds in percent. Spend is the cost of the current
// calendar month (UTC) as the usage reports price it (metering.BuildReport
// over the ledger and the hub's price sheet). The Evaluator fires each
// threshold at most once per month: the store keeps one firing per
// (budget, month, threshold) under a unique key, written in the same
// transaction as the history entry and the webhook deliveries, so that
// restarts and evaluators running side by side never fire twice. A new
// month arms every threshold again.
//
// A hard budget blocks its requests once spend reaches 100 %: the
// Evaluator publishes the blocked projects (for a hub budget, every
// project of the hub) in a Blocks set and BudgetGate, an Admitter in front
// of the rate limiter, refuses their requests with 429 budget_exceeded.
// The gate reads an immutable map through an atomic pointer: one load and
// one lookup per request. A block ends with its month, even before the
// next evaluation; raising the amount ends it at the next evaluation.
// Projects made in a blocked hub are blocked from the next evaluation.
//
// # Alert rules
//
// A rule watches a metric of an owner's requests (optionally of one
// deployment) over a sliding window: rate_429 (percent of requests
// answered 429), error_rate (percent answered 5xx), p95_latency_ms (the
// exact 95th percentile, nearest rank, of the window's latencies) or
// requests (their number). It moves ok → firing when the metric compares
// to the threshold (and its cooldown since it last fired has passed), and
// firing → resolved when it no longer does; each move is a history entry
// with the value seen and notifies the rule's webhooks. The store changes
// the state only from the state the evaluator read, so racing evaluators
// move a rule once. With no requests in the window, the rates and p95 have
// no value and the rule keeps its state.
//
// # Webhooks
//
// Every firing stores one delivery per webhook, with its JSON payload. The
// Deliverer posts due deliveries (timeout, HMAC-SHA256 signature in
// X-Cerulean-Signature when the webhook has a secret), and after a failure
// retries with exponential backoff (1 s, 2 s, 4 s, ... capped) up to
// MaxAttempts, recording every attempt in the store. Pending deliveries
// live in the store, so they resume after a restart. Payloads carry a
// stable id: a receiver that sees an id twice (a crash between the POST
// and the write of its outcome) can drop the second.
package alert

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Limits of what a budget or a rule may hold.
const (
	MaxThresholds = 10
	MaxWebhooks   = 5
	MaxNameLength = 64
	MinWindow     = time.Minute
	MaxWindow     = 24 * time.Hour
	MaxCooldown   = 7 * 24 * time.Hour
)

// CodeInvalid is the code of validation errors.
const CodeInvalid = "invalidPayload"

// DefaultThresholds returns the thresholds a budget gets when none are
// given: 50, 80 and 100 %.
func DefaultThresholds() []float64 { return []float64{50, 80, 100} }

// Period is the budget period (month, UTC) of t, as YYYY-MM, with its
// bounds [start, end).
func Period(t time.Time) (name string, start, end time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start.Format("2006-01"), start, start.AddDate(0, 1, 0)
}

// ValidateBudget checks a budget and normalises it: thresholds sorted
// without duplicates (DefaultThresholds when empty).
func ValidateBudget(b *store.Budget) error {
	if err := validateOwner(b.Owner); err != nil {
		return err
	}
	if err := validateName(b.Name); err != nil {
		return err
	}
	if !(b.Amount > 0) || b.Amount > 1e12 {
		return fault.Param("amount", CodeInvalid, "amount must be a number of currency units above 0, got %v", b.Amount)
	}
	if len(b.Thresholds) == 0 {
		b.Thresholds = DefaultThresholds()
	}
	if len(b.Thresholds) > MaxThresholds {
		return fault.Param("thresholds", CodeInvalid, "a budget has at most %d thresholds, got %d", MaxThresholds, len(b.Thresholds))
	}
	for _, th := range b.Thresholds {
		if !(th > 0) || th > 1000 {
			return fault.Param("thresholds", CodeInvalid, "thresholds are percents of the amount above 0 and at most 1000, got %v", th)
		}
	}
	b.Thresholds = slices.Compact(slices.Sorted(slices.Values(b.Thresholds)))
	return validateWebhooks(b.Webhooks)
}

// ValidateRule checks a rule.
func ValidateRule(r *store.AlertRule) error {
	if err := validateOwner(r.Owner); err != nil {
		return err
	}
	if err := validateName(r.Name); err != nil {
		return err
	}
	if r.Deployment != "" && r.Owner.Scope != store.ScopeProject {
		return fault.Param("deployment", CodeInvalid, "only a project's rule can watch one deployment")
	}
	switch r.Metric {
	case store.MetricRate429, store.MetricP95, store.MetricErrorRate, store.MetricRequests:
	default:
		return fault.Param("metric", CodeInvalid, "metric must be %s, %s, %s or %s, got %q",
			store.MetricRate429, store.MetricP95, store.MetricErrorRate, store.MetricRequests, r.Metric)
	}
	if r.Comparator != ">" && r.Comparator != "<" {
		return fault.Param("comparator", CodeInvalid, `comparator must be ">" or "<", got %q`, r.Comparator)
	}
	if r.Threshold < 0 || r.Threshold > 1e12 {
		return fault.Param("threshold", CodeInvalid, "threshold must be a number of at least 0, got %v", r.Threshold)
	}
	if r.Window < MinWindow || r.Window > MaxWindow {
		return fault.Param("window", CodeInvalid, "window must be %s to %s, got %s", MinWindow, MaxWindow, r.Window)
	}
	if r.Cooldown < 0 || r.Cooldown > MaxCooldown {
		return fault.Param("cooldown", CodeInvalid, "cooldown must be 0 to %s, got %s", MaxCooldown, r.Cooldown)
	}
	return validateWebhooks(r.Webhooks)
}

func validateOwner(o store.Owner) error {
	if o.Scope != store.ScopeProject && o.Scope != store.ScopeHub {
		return fault.Param("scope", CodeInvalid, "scope must be project or hub, got %q", o.Scope)
	}
	if o.Name == "" {
		return fault.Param(o.Scope, CodeInvalid, "the %s's name is empty", o.Scope)
	}
	return nil
}

func validateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fault.Param("name", CodeInvalid, "name must be 1 to %d characters, got %d", MaxNameLength, len(name))
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fault.Param("name", CodeInvalid, "name %q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

func validateWebhooks(ws []store.Webhook) error {
	if len(ws) > MaxWebhooks {
		return fault.Param("webhooks", CodeInvalid, "at most %d webhooks, got %d", MaxWebhooks, len(ws))
	}
	for _, w := range ws {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fault.Param("webhooks", CodeInvalid, "webhook URL %q must be an absolute http or https URL", clip(w.URL))
		}
		if len(w.Secret) > 256 {
			return fault.Param("webhooks", CodeInvalid, "a webhook secret is at most 256 bytes")
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// describeOwner is "project p1" or "hub h1".
func describeOwner(o store.Owner) string { return o.Scope + " " + o.Name }

// money formats an amount of currency with two decimals.
func money(v float64) string { return fmt.Sprintf("%.2f", v) }

// percent formats a percentage without trailing zeros.
func percent(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
