package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// DefaultEvery is how often the Evaluator evaluates when Every is 0.
const DefaultEvery = 30 * time.Second

// EvalStore is what the Evaluator needs of store.Store.
type EvalStore interface {
	SpendStore
	ListProjects(ctx context.Context, hubName string) ([]project.Project, error)
	ListUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageRecord, error)
	ListBudgets(ctx context.Context, o store.Owner) ([]store.Budget, error)
	RecordBudgetFiring(ctx context.Context, f store.BudgetFiring, ev store.AlertEvent, ds []store.Delivery) (bool, error)
	ListAlertRules(ctx context.Context, o store.Owner) ([]store.AlertRule, error)
	TransitionAlertRule(ctx context.Context, id int64, from string, st store.AlertState, ev store.AlertEvent, ds []store.Delivery) (bool, error)
}

// Evaluator is the worker that evaluates budgets and alert rules.
type Evaluator struct {
	Store  EvalStore
	Logger *slog.Logger     // nil discards
	Every  time.Duration    // 0 means DefaultEvery
	Now    func() time.Time // nil means time.Now
	// Blocks receives the projects hard budgets block after each
	// evaluation; nil keeps none.
	Blocks *Blocks
	// Notify is called after a firing stored deliveries (to wake the
	// Deliverer); nil does nothing.
	Notify func()
}

func (e *Evaluator) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

func (e *Evaluator) log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run evaluates at once and then every Every until ctx is cancelled; it
// returns nil then. A failed evaluation is logged and retried at the next
// tick.
func (e *Evaluator) Run(ctx context.Context) error {
	every := e.Every
	if every <= 0 {
		every = DefaultEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log().LogAttrs(ctx, slog.LevelError, "alert evaluation failed", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Evaluate evaluates every budget and rule once, then publishes the blocked
// projects. Errors of single budgets or rules are joined; the others are
// still evaluated.
func (e *Evaluator) Evaluate(ctx context.Context) error {
	now := e.now()
	blocks, errB := e.evaluateBudgets(ctx, now)
	errR := e.evaluateRules(ctx, now)
	if errB == nil && e.Blocks != nil {
		e.Blocks.Set(blocks)
	}
	return errors.Join(errB, errR)
}

// evaluateBudgets fires the thresholds each budget passed and returns the
// projects hard budgets block. When the budgets cannot be listed the
// blocks are left as they were (the error is returned).
func (e *Evaluator) evaluateBudgets(ctx context.Context, now time.Time) (map[string]Block, error) {
	budgets, err := e.Store.ListBudgets(ctx, store.Owner{})
	if err != nil {
		return nil, fmt.Errorf("alert: list budgets: %w", err)
	}
	period, start, end := Period(now)
	spends := map[store.Owner]float64{}
	blocks := map[string]Block{}
	var errs []error
	for _, b := range budgets {
		spend, ok := spends[b.Owner]
		if !ok {
			if spend, err = e.Spend(ctx, b.Owner, start, end); err != nil {
				errs = append(errs, err)
				continue
			}
			spends[b.Owner] = spend
		}
		if err := e.fireBudget(ctx, b, spend, period, now); err != nil {
			errs = append(errs, err)
		}
		if !b.Hard || spend < b.Amount {
			continue
		}
		blk := Block{Owner: describeOwner(b.Owner), Budget: b.Name, Amount: b.Amount, Spend: spend, Period: period, Until: end}
		projects := []string{b.Owner.Name}
		if b.Owner.Scope == store.ScopeHub {
			ps, err := e.Store.ListProjects(ctx, b.Owner.Name)
			if err != nil {
				errs = append(errs, fmt.Errorf("alert: projects of hub %q: %w", b.Owner.Name, err))
				continue
			}
			projects = projects[:0]
			for _, p := range ps {
				projects = append(projects, p.Name)
			}
		}
		for _, p := range projects {
			if _, ok := blocks[p]; !ok {
				blocks[p] = blk
			}
		}
	}
	return blocks, errors.Join(errs...)
}

// Spend is what owner o spent in [start, end); see the package Spend.
func (e *Evaluator) Spend(ctx context.Context, o store.Owner, start, end time.Time) (float64, error) {
	return Spend(ctx, e.Store, o, start, end)
}

// SpendStore is what Spend reads; store.Store satisfies it.
type SpendStore interface {
	metering.ReportStore
	GetProject(ctx context.Context, name string) (project.Project, error)
}

// Spend is what owner o spent in [start, end): the total cost of its usage
// report (metering.BuildReport), priced with its hub's price sheet.
func Spend(ctx context.Context, rs SpendStore, o store.Owner, start, end time.Time) (float64, error) {
	q := store.UsageQuery{Since: start, Until: end, By: store.ByProject}
	priceHub := o.Name
	if o.Scope == store.ScopeProject {
		p, err := rs.GetProject(ctx, o.Name)
		if err != nil {
			return 0, fmt.Errorf("alert: project %q: %w", o.Name, err)
		}
		q.Project, priceHub = o.Name, p.Hub
	} else {
		q.Hub = o.Name
	}
	rep, err := metering.BuildReport(ctx, rs, q, priceHub)
	if err != nil {
		return 0, fmt.Errorf("alert: spend of %s: %w", describeOwner(o), err)
	}
	return rep.Total.Cost, nil
}

// fireBudget records the firing of every threshold spend has reached.
func (e *Evaluator) fireBudget(ctx context.Context, b store.Budget, spend float64, period string, now time.Time) error {
	pct := spend / b.Amount * 100
	for _, th := range b.Thresholds {
		if pct < th {
			break // thresholds are sorted
		}
		msg := fmt.Sprintf("Budget %q of %s passed %s%%: spent %s of %s in %s (%s%%).", b.Name, describeOwner(b.Owner),
			percent(th), money(spend), money(b.Amount), period, percent(pct))
		if b.Hard && th >= 100 {
			msg += " It is a hard budget: requests are refused until the month ends or the budget is raised."
		}
		ev := store.AlertEvent{Owner: b.Owner, Type: store.EventBudgetThreshold, Name: b.Name, Value: spend, Threshold: th,
			Period: period, Message: msg, Time: now}
		p := Payload{Type: ev.Type, ID: fmt.Sprintf("budget-%d-%s-%s", b.ID, period, percent(th)), Time: now,
			Budget: b.Name, Value: spend, Threshold: th, Amount: b.Amount, Percent: pct, Period: period, Hard: b.Hard, Message: msg}
		ds, err := deliveries(b.Owner, b.Webhooks, &p, now)
		if err != nil {
			return err
		}
		fresh, err := e.Store.RecordBudgetFiring(ctx, store.BudgetFiring{BudgetID: b.ID, Period: period, Threshold: th,
			Spend: spend, Time: now}, ev, ds)
		if err != nil {
			return fmt.Errorf("alert: fire budget %q at %v%%: %w", b.Name, th, err)
		}
		if fresh {
			e.log().LogAttrs(ctx, slog.LevelWarn, "budget threshold passed", slog.String("owner", describeOwner(b.Owner)),
				slog.String("budget", b.Name), slog.Float64("threshold", th), slog.Float64("spend", spend), slog.String("period", period))
			e.notify(len(ds))
		}
	}
	return nil
}

func (e *Evaluator) notify(n int) {
	if n > 0 && e.Notify != nil {
		e.Notify()
	}
}

// evaluateRules evaluates every rule.
func (e *Evaluator) evaluateRules(ctx context.Context, now time.Time) error {
	rules, err := e.Store.ListAlertRules(ctx, store.Owner{})
	if err != nil {
		return fmt.Errorf("alert: list alert rules: %w", err)
	}
	var errs []error
	for _, r := range rules {
		if err := e.evaluateRule(ctx, r, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// evaluateRule moves one rule if its metric says so.
func (e *Evaluator) evaluateRule(ctx context.Context, r store.AlertRule, now time.Time) error {
	f := store.UsageFilter{Since: now.Add(-r.Window), Until: now}
	if r.Owner.Scope == store.ScopeProject {
		f.Project = r.Owner.Name
	} else {
		f.Hub = r.Owner.Name
	}
	recs, err := e.Store.ListUsage(ctx, f)
	if err != nil {
		return fmt.Errorf("alert: usage of rule %q: %w", r.Name, err)
	}
	value, ok := Measure(r.Metric, r.Deployment, recs)
	if !ok {
		return nil
	}
	breach := r.Comparator == ">" && value > r.Threshold || r.Comparator == "<" && value < r.Threshold
	st := store.AlertState{StateSince: now, LastFired: r.LastFired, LastValue: value}
	var typ string
	switch {
	case r.State != store.StateFiring && breach:
		if !r.LastFired.IsZero() && now.Sub(r.LastFired) < r.Cooldown {
			return nil
		}
		st.State, st.LastFired, typ = store.StateFiring, now, store.EventAlertFiring
	case r.State == store.StateFiring && !breach:
		st.State, typ = store.StateResolved, store.EventAlertResolved
	default:
		return nil
	}
	where := describeOwner(r.Owner)
	if r.Deployment != "" {
		where += " deployment " + r.Deployment
	}
	msg := fmt.Sprintf("Alert %q on %s: %s is %s over the last %s (threshold %s %s).", r.Name, where, r.Metric,
		percent(value), r.Window, r.Comparator, percent(r.Threshold))
	if typ == store.EventAlertResolved {
		msg = fmt.Sprintf("Alert %q on %s resolved: %s is %s over the last %s (threshold %s %s).", r.Name, where, r.Metric,
			percent(value), r.Window, r.Comparator, percent(r.Threshold))
	}
	ev := store.AlertEvent{Owner: r.Owner, Type: typ, Name: r.Name, Deployment: r.Deployment, Metric: r.Metric, Value: value,
		Threshold: r.Threshold, Message: msg, Time: now}
	p := Payload{Type: typ, ID: fmt.Sprintf("rule-%d-%s-%d", r.ID, st.State, now.UnixNano()), Time: now, Rule: r.Name,
		Deployment: r.Deployment, Metric: r.Metric, Comparator: r.Comparator, Value: value, Threshold: r.Threshold,
		Window: r.Window.String(), Message: msg}
	ds, err := deliveries(r.Owner, r.Webhooks, &p, now)
	if err != nil {
		return err
	}
	done, err := e.Store.TransitionAlertRule(ctx, r.ID, r.State, st, ev, ds)
	if err != nil {
		return fmt.Errorf("alert: move rule %q to %s: %w", r.Name, st.State, err)
	}
	if done {
		e.log().LogAttrs(ctx, slog.LevelWarn, "alert "+st.State, slog.String("owner", where), slog.String("rule", r.Name),
			slog.String("metric", r.Metric), slog.Float64("value", value))
		e.notify(len(ds))
	}
	return nil
}

// Payload is the JSON body of a webhook delivery.
type Payload struct {
	Type       string    `json:"type"` // budget.threshold, alert.firing, alert.resolved
	ID         string    `json:"id"`   // stable per event: receivers may drop repeats
	Time       time.Time `json:"time"`
	Project    string    `json:"project,omitempty"`
	Hub        string    `json:"hub,omitempty"`
	Budget     string    `json:"budget,omitempty"`
	Rule       string    `json:"rule,omitempty"`
	Deployment string    `json:"deployment,omitempty"`
	Metric     string    `json:"metric,omitempty"`
	Comparator string    `json:"comparator,omitempty"`
	Value      float64   `json:"value"`     // budgets: spend; rules: the metric's value
	Threshold  float64   `json:"threshold"` // budgets: percent; rules: the rule's threshold
	Amount     float64   `json:"amount,omitempty"`
	Percent    float64   `json:"percent,omitempty"` // budgets: spend in percent of the amount
	Period     string    `json:"period,omitempty"`  // budgets: YYYY-MM
	Hard       bool      `json:"hard,omitempty"`
	Window     string    `json:"window,omitempty"`
	Message    string    `json:"message"`
}

// deliveries makes one delivery of p per webhook.
func deliveries(o store.Owner, hooks []store.Webhook, p *Payload, now time.Time) ([]store.Delivery, error) {
	if len(hooks) == 0 {
		return nil, nil
	}
	if o.Scope == store.ScopeProject {
		p.Project = o.Name
	} else {
		p.Hub = o.Name
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("alert: encode payload: %w", err)
	}
	ds := make([]store.Delivery, 0, len(hooks))
	for _, h := range hooks {
		ds = append(ds, store.Delivery{Owner: o, URL: h.URL, Secret: h.Secret, Type: p.Type, Body: body,
			State: store.DeliveryPending, NextAt: now, CreatedAt: now, UpdatedAt: now})
	}
	return ds, nil
}
