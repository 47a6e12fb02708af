package manage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// AlertStore is what the budget, alert-rule, history and delivery routes
// need of store.Store.
type AlertStore interface {
	CreateBudget(ctx context.Context, b store.Budget) error
	GetBudget(ctx context.Context, o store.Owner, name string) (store.Budget, error)
	ListBudgets(ctx context.Context, o store.Owner) ([]store.Budget, error)
	UpdateBudget(ctx context.Context, b store.Budget) error
	DeleteBudget(ctx context.Context, o store.Owner, name string) error
	CreateAlertRule(ctx context.Context, r store.AlertRule) error
	GetAlertRule(ctx context.Context, o store.Owner, name string) (store.AlertRule, error)
	ListAlertRules(ctx context.Context, o store.Owner) ([]store.AlertRule, error)
	UpdateAlertRule(ctx context.Context, r store.AlertRule) error
	DeleteAlertRule(ctx context.Context, o store.Owner, name string) error
	ListAlertEvents(ctx context.Context, q store.AlertEventQuery) ([]store.AlertEvent, error)
	ListDeliveries(ctx context.Context, q store.DeliveryQuery) ([]store.Delivery, error)
}

// ownerOf is the project or hub of a budget or alert route.
func ownerOf(r *http.Request) store.Owner {
	if p := r.PathValue("project"); p != "" {
		return store.Owner{Scope: store.ScopeProject, Name: p}
	}
	return store.Owner{Scope: store.ScopeHub, Name: r.PathValue("hub")}
}

// Budgets.

func (a *API) listBudgets(r *http.Request) (reply, error) {
	o := ownerOf(r)
	bs, err := a.store.ListBudgets(r.Context(), o)
	if err != nil {
		return reply{}, fmt.Errorf("list budgets: %w", err)
	}
	out := api.List[api.Budget]{Value: make([]api.Budget, 0, len(bs))}
	spend := a.spender()
	for _, b := range bs {
		ab, err := spend(r.Context(), b)
		if err != nil {
			return reply{}, err
		}
		out.Value = append(out.Value, ab)
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (a *API) getBudget(r *http.Request) (reply, error) {
	b, err := a.store.GetBudget(r.Context(), ownerOf(r), r.PathValue("name"))
	if err != nil {
		return reply{}, fmt.Errorf("get budget: %w", err)
	}
	ab, err := a.spender()(r.Context(), b)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: ab}, nil
}

func (a *API) createBudget(r *http.Request) (reply, error) {
	b, err := a.budgetFromRequest(r, "")
	if err != nil {
		return reply{}, err
	}
	if err := a.store.CreateBudget(r.Context(), b); err != nil {
		return reply{}, fmt.Errorf("create budget: %w", err)
	}
	a.changed()
	return a.budgetReply(r, b.Owner, b.Name, http.StatusCreated)
}

// putBudget creates or replaces a budget.
func (a *API) putBudget(r *http.Request) (reply, error) {
	b, err := a.budgetFromRequest(r, r.PathValue("name"))
	if err != nil {
		return reply{}, err
	}
	status := http.StatusOK
	err = a.store.UpdateBudget(r.Context(), b)
	if isBudgetOrRuleMissing(err) {
		status = http.StatusCreated
		b.CreatedAt = b.UpdatedAt
		err = a.store.CreateBudget(r.Context(), b)
	}
	if err != nil {
		return reply{}, fmt.Errorf("put budget: %w", err)
	}
	a.changed()
	return a.budgetReply(r, b.Owner, b.Name, status)
}

func (a *API) deleteBudget(r *http.Request) (reply, error) {
	if err := a.store.DeleteBudget(r.Context(), ownerOf(r), r.PathValue("name")); err != nil {
		return reply{}, fmt.Errorf("delete budget: %w", err)
	}
	a.changed()
	return reply{status: http.StatusNoContent}, nil
}

func (a *API) budgetReply(r *http.Request, o store.Owner, name string, status int) (reply, error) {
	b, err := a.store.GetBudget(r.Context(), o, name)
	if err != nil {
		return reply{}, fmt.Errorf("get budget: %w", err)
	}
	ab, err := a.spender()(r.Context(), b)
	if err != nil {
		return reply{}, err
	}
	return reply{status: status, body: ab}, nil
}

// isBudgetOrRuleMissing reports whether err says the budget or rule (not
// its owner) does not exist.
func isBudgetOrRuleMissing(err error) bool {
	f, ok := fault.As(err)
	return ok && errors.Is(err, store.ErrNotFound) && (f.Code == "BudgetNotFound" || f.Code == "AlertRuleNotFound")
}

// budgetFromRequest reads and validates a budget body; name is the path's
// name for a PUT ("" for a POST, which takes the body's).
func (a *API) budgetFromRequest(r *http.Request, name string) (store.Budget, error) {
	var in api.Budget
	if err := decode(r, &in); err != nil {
		return store.Budget{}, err
	}
	if name != "" {
		if in.Name != "" && in.Name != name {
			return store.Budget{}, badParam("name", "the body names budget %q but the path %q", in.Name, name)
		}
		in.Name = name
	}
	now := a.now().UTC()
	b := store.Budget{Owner: ownerOf(r), Name: in.Name, Amount: in.Amount, Thresholds: in.Thresholds, Hard: in.Hard,
		Webhooks: webhooksFromAPI(in.Webhooks), CreatedAt: now, UpdatedAt: now}
	if err := alert.ValidateBudget(&b); err != nil {
		return store.Budget{}, err
	}
	return b, nil
}

// spender returns a function that adds the current month's spend to a
// budget, remembering each owner's spend for one request.
func (a *API) spender() func(ctx context.Context, b store.Budget) (api.Budget, error) {
	period, start, end := alert.Period(a.now())
	spends := map[store.Owner]float64{}
	return func(ctx context.Context, b store.Budget) (api.Budget, error) {
		spend, ok := spends[b.Owner]
		if !ok {
			var err error
			if spend, err = alert.Spend(ctx, a.store, b.Owner, start, end); err != nil {
				return api.Budget{}, fmt.Errorf("budget %q: %w", b.Name, err)
			}
			spends[b.Owner] = spend
		}
		out := api.Budget{Name: b.Name, Amount: b.Amount, Thresholds: b.Thresholds, Hard: b.Hard,
			Webhooks: webhooksToAPI(b.Webhooks), Period: period, Spend: spend, Percent: roundPercent(spend / b.Amount * 100),
			Exceeded: spend >= b.Amount, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
		setScope(&out.Project, &out.Hub, b.Owner)
		return out, nil
	}
}

func roundPercent(p float64) float64 { return float64(int64(p*100+0.5)) / 100 }

func setScope(project, hub *string, o store.Owner) {
	if o.Scope == store.ScopeProject {
		*project = o.Name
	} else {
		*hub = o.Name
	}
}

func webhooksFromAPI(ws []api.Webhook) []store.Webhook {
	var out []store.Webhook
	for _, w := range ws {
		out = append(out, store.Webhook{URL: w.URL, Secret: w.Secret})
	}
	return out
}

// webhooksToAPI shows webhooks without their secrets.
func webhooksToAPI(ws []store.Webhook) []api.Webhook {
	out := make([]api.Webhook, 0, len(ws))
	for _, w := range ws {
		out = append(out, api.Webhook{URL: w.URL, HasSecret: w.Secret != ""})
	}
	return out
}

// Alert rules.

func (a *API) listAlertRules(r *http.Request) (reply, error) {
	rs, err := a.store.ListAlertRules(r.Context(), ownerOf(r))
	if err != nil {
		return reply{}, fmt.Errorf("list alert rules: %w", err)
	}
	out := api.List[api.AlertRule]{Value: make([]api.AlertRule, 0, len(rs))}
	for _, rule := range rs {
		out.Value = append(out.Value, ruleToAPI(rule))
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (a *API) getAlertRule(r *http.Request) (reply, error) {
	rule, err := a.store.GetAlertRule(r.Context(), ownerOf(r), r.PathValue("name"))
	if err != nil {
		return reply{}, fmt.Errorf("get alert rule: %w", err)
	}
	return reply{status: http.StatusOK, body: ruleToAPI(rule)}, nil
}

func (a *API) createAlertRule(r *http.Request) (reply, error) {
	rule, err := a.ruleFromRequest(r, "")
	if err != nil {
		return reply{}, err
	}
	if err := a.store.CreateAlertRule(r.Context(), rule); err != nil {
		return reply{}, fmt.Errorf("create alert rule: %w", err)
	}
	a.changed()
	return a.ruleReply(r, rule, http.StatusCreated)
}

// putAlertRule creates or replaces a rule, keeping the state of one that
// exists.
func (a *API) putAlertRule(r *http.Request) (reply, error) {
	rule, err := a.ruleFromRequest(r, r.PathValue("name"))
	if err != nil {
		return reply{}, err
	}
	status := http.StatusOK
	err = a.store.UpdateAlertRule(r.Context(), rule)
	if isBudgetOrRuleMissing(err) {
		status = http.StatusCreated
		err = a.store.CreateAlertRule(r.Context(), rule)
	}
	if err != nil {
		return reply{}, fmt.Errorf("put alert rule: %w", err)
	}
	a.changed()
	return a.ruleReply(r, rule, status)
}

func (a *API) deleteAlertRule(r *http.Request) (reply, error) {
	if err := a.store.DeleteAlertRule(r.Context(), ownerOf(r), r.PathValue("name")); err != nil {
		return reply{}, fmt.Errorf("delete alert rule: %w", err)
	}
	a.changed()
	return reply{status: http.StatusNoContent}, nil
}

func (a *API) ruleReply(r *http.Request, rule store.AlertRule, status int) (reply, error) {
	got, err := a.store.GetAlertRule(r.Context(), rule.Owner, rule.Name)
	if err != nil {
		return reply{}, fmt.Errorf("get alert rule: %w", err)
	}
	return reply{status: status, body: ruleToAPI(got)}, nil
}

// ruleFromRequest reads and validates a rule body.
func (a *API) ruleFromRequest(r *http.Request, name string) (store.AlertRule, error) {
	var in api.AlertRule
	if err := decode(r, &in); err != nil {
		return store.AlertRule{}, err
	}
	if name != "" {
		if in.Name != "" && in.Name != name {
			return store.AlertRule{}, badParam("name", "the body names alert rule %q but the path %q", in.Name, name)
		}
		in.Name = name
	}
	window, err := parseDuration("window", in.Window)
	if err != nil {
		return store.AlertRule{}, err
	}
	var cooldown time.Duration
	if in.Cooldown != "" {
		if cooldown, err = parseDuration("cooldown", in.Cooldown); err != nil {
			return store.AlertRule{}, err
		}
	}
	now := a.now().UTC()
	rule := store.AlertRule{Owner: ownerOf(r), Name: in.Name, Deployment: in.Deployment, Metric: in.Metric,
		Comparator: in.Comparator, Threshold: in.Threshold, Window: window, Cooldown: cooldown,
		Webhooks: webhooksFromAPI(in.Webhooks), CreatedAt: now, UpdatedAt: now}
	if err := alert.ValidateRule(&rule); err != nil {
		return store.AlertRule{}, err
	}
	return rule, nil
}

func parseDuration(param, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, badParam(param, "%s must be a duration such as 5m or 1h, got %q", param, clipParam(s))
	}
	return d, nil
}

func ruleToAPI(r store.AlertRule) api.AlertRule {
	out := api.AlertRule{Name: r.Name, Deployment: r.Deployment, Metric: r.Metric, Comparator: r.Comparator,
		Threshold: r.Threshold, Window: r.Window.String(), Webhooks: webhooksToAPI(r.Webhooks), State: r.State,
		StateSince: r.StateSince, LastFired: r.LastFired, LastValue: r.LastValue, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.Cooldown > 0 {
		out.Cooldown = r.Cooldown.String()
	}
	setScope(&out.Project, &out.Hub, r.Owner)
	return out
}

// History and deliveries.

// mustOwner returns NotFound unless the route's project or hub exists.
func (a *API) mustOwner(r *http.Request) (store.Owner, error) {
	o := ownerOf(r)
	var err error
	if o.Scope == store.ScopeProject {
		_, err = a.store.GetProject(r.Context(), o.Name)
	} else {
		_, err = a.store.GetHub(r.Context(), o.Name)
	}
	if err != nil {
		return o, fmt.Errorf("get %s: %w", o.Scope, err)
	}
	return o, nil
}

// alertLimit reads ?limit= (1..1000, default 100).
func alertLimit(r *http.Request) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return store.DefaultAlertLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxAlertLimit {
		return 0, badParam("limit", "limit must be 1 to %d, got %q", store.MaxAlertLimit, clipParam(s))
	}
	return n, nil
}

func (a *API) listAlerts(r *http.Request) (reply, error) {
	limit, err := alertLimit(r)
	if err != nil {
		return reply{}, err
	}
	o, err := a.mustOwner(r)
	if err != nil {
		return reply{}, err
	}
	evs, err := a.store.ListAlertEvents(r.Context(), store.AlertEventQuery{Owner: o, Limit: limit})
	if err != nil {
		return reply{}, fmt.Errorf("list alerts: %w", err)
	}
	out := api.List[api.AlertEvent]{Value: make([]api.AlertEvent, 0, len(evs))}
	for _, e := range evs {
		out.Value = append(out.Value, api.AlertEvent{ID: strconv.FormatInt(e.ID, 10), Type: e.Type, Name: e.Name,
			Deployment: e.Deployment, Metric: e.Metric, Value: e.Value, Threshold: e.Threshold, Period: e.Period,
			Message: e.Message, Time: e.Time})
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func (a *API) listDeliveries(r *http.Request) (reply, error) {
	limit, err := alertLimit(r)
	if err != nil {
		return reply{}, err
	}
	o, err := a.mustOwner(r)
	if err != nil {
		return reply{}, err
	}
	ds, err := a.store.ListDeliveries(r.Context(), store.DeliveryQuery{Owner: o, Limit: limit})
	if err != nil {
		return reply{}, fmt.Errorf("list webhook deliveries: %w", err)
	}
	out := api.List[api.WebhookDelivery]{Value: make([]api.WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		wd := api.WebhookDelivery{ID: strconv.FormatInt(d.ID, 10), EventID: strconv.FormatInt(d.EventID, 10), URL: d.URL,
			Type: d.Type, State: d.State, Attempts: d.Attempts, StatusCode: d.StatusCode, Error: d.Error,
			Payload: json.RawMessage(d.Body), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
		if !json.Valid(d.Body) {
			wd.Payload = nil
		}
		if d.State == store.DeliveryPending {
			wd.NextAt = d.NextAt
		}
		out.Value = append(out.Value, wd)
	}
	return reply{status: http.StatusOK, body: out}, nil
}
