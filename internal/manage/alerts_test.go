package manage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// The fake store keeps no budgets or alerts: their routes are tested on
// SQLite. These methods make it a manage.Store.

var errNoAlerts = errors.New("fakeStore: budgets and alerts are tested on SQLite")

func (s *fakeStore) CreateBudget(context.Context, store.Budget) error { return errNoAlerts }
func (s *fakeStore) GetBudget(context.Context, store.Owner, string) (store.Budget, error) {
	return store.Budget{}, errNoAlerts
}
func (s *fakeStore) ListBudgets(context.Context, store.Owner) ([]store.Budget, error) {
	return nil, errNoAlerts
}
func (s *fakeStore) UpdateBudget(context.Context, store.Budget) error           { return errNoAlerts }
func (s *fakeStore) DeleteBudget(context.Context, store.Owner, string) error    { return errNoAlerts }
func (s *fakeStore) CreateAlertRule(context.Context, store.AlertRule) error     { return errNoAlerts }
func (s *fakeStore) UpdateAlertRule(context.Context, store.AlertRule) error     { return errNoAlerts }
func (s *fakeStore) DeleteAlertRule(context.Context, store.Owner, string) error { return errNoAlerts }
func (s *fakeStore) GetAlertRule(context.Context, store.Owner, string) (store.AlertRule, error) {
	return store.AlertRule{}, errNoAlerts
}
func (s *fakeStore) ListAlertRules(context.Context, store.Owner) ([]store.AlertRule, error) {
	return nil, errNoAlerts
}
func (s *fakeStore) ListAlertEvents(context.Context, store.AlertEventQuery) ([]store.AlertEvent, error) {
	return nil, errNoAlerts
}
func (s *fakeStore) ListDeliveries(context.Context, store.DeliveryQuery) ([]store.Delivery, error) {
	return nil, errNoAlerts
}

// ignoreTimes leaves out times the server sets.
var ignoreTimes = cmpopts.IgnoreFields(api.Budget{}, "CreatedAt", "UpdatedAt")

func TestSQLiteBudgets(t *testing.T) {
	e, st := newSQLiteEnv(t)
	e.seed(t)
	ctx := context.Background()
	if err := st.PutPriceSheet(ctx, store.PriceSheet{Hub: "default", Models: []store.ModelPrice{{Model: "m1", InputPer1K: 1}}}); err != nil {
		t.Fatal(err)
	}
	// 2.5 spent this month by p1, 1 last month (not counted).
	if _, err := st.RecordUsage(ctx, []store.UsageRecord{
		{RequestID: "a", Time: fixedNow.Add(-time.Hour), Hub: "default", Project: "p1", Deployment: "d", Model: "m1", SKU: "Standard", PromptTokens: 2500, Status: 200},
		{RequestID: "b", Time: fixedNow.AddDate(0, -1, 0), Hub: "default", Project: "p1", Deployment: "d", Model: "m1", SKU: "Standard", PromptTokens: 1000, Status: 200},
	}); err != nil {
		t.Fatal(err)
	}
	p1 := api.Scope{Project: "p1"}
	hub := api.Scope{Hub: "default"}

	got, err := e.client.CreateBudget(ctx, p1, api.Budget{Name: "monthly", Amount: 10, Hard: true,
		Webhooks: []api.Webhook{{URL: "https://hooks.example/x", Secret: "shh"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := api.Budget{Name: "monthly", Project: "p1", Amount: 10, Thresholds: []float64{50, 80, 100}, Hard: true,
		Webhooks: []api.Webhook{{URL: "https://hooks.example/x", HasSecret: true}}, Period: "2025-03", Spend: 2.5, Percent: 25}
	if d := cmp.Diff(want, got, ignoreTimes); d != "" {
		t.Errorf("CreateBudget (-want +got):\n%s", d)
	}
	// PUT of a new name creates; of an existing one replaces.
	hb, err := e.client.PutBudget(ctx, hub, api.Budget{Name: "org", Amount: 2, Thresholds: []float64{100}})
	if err != nil {
		t.Fatal(err)
	}
	wantHub := api.Budget{Name: "org", Hub: "default", Amount: 2, Thresholds: []float64{100},
		Period: "2025-03", Spend: 2.5, Percent: 125, Exceeded: true}
	if d := cmp.Diff(wantHub, hb, ignoreTimes); d != "" {
		t.Errorf("PutBudget (create) (-want +got):\n%s", d)
	}
	status, _ := e.call(t, "PUT", "/api/v1/hubs/default/budgets/org", api.Budget{Amount: 5})
	if status != http.StatusOK {
		t.Errorf("PUT of an existing budget: status %d, want 200", status)
	}
	list, err := e.client.ListBudgets(ctx, hub)
	if err != nil {
		t.Fatal(err)
	}
	wantHub.Amount, wantHub.Thresholds, wantHub.Percent, wantHub.Exceeded = 5, []float64{50, 80, 100}, 50, false
	if d := cmp.Diff([]api.Budget{wantHub}, list, ignoreTimes); d != "" {
		t.Errorf("ListBudgets(hub) (-want +got):\n%s", d)
	}
	if err := e.client.DeleteBudget(ctx, p1, "monthly"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetBudget(ctx, p1, "monthly"); !api.IsNotFound(err) {
		t.Errorf("GetBudget after delete: %v, want 404", err)
	}

	for _, c := range []errCase{
		{name: "no amount", method: "POST", path: "/api/v1/projects/p1/budgets", body: api.Budget{Name: "x"},
			status: 400, code: "invalidPayload", target: "amount"},
		{name: "bad webhook", method: "POST", path: "/api/v1/projects/p1/budgets",
			body: api.Budget{Name: "x", Amount: 1, Webhooks: []api.Webhook{{URL: "not a url"}}}, status: 400, code: "invalidPayload", target: "webhooks"},
		{name: "duplicate", method: "POST", path: "/api/v1/hubs/default/budgets", body: api.Budget{Name: "org", Amount: 1},
			status: 409, code: "itemDoesAlreadyExist", target: "org"},
		{name: "missing project", method: "GET", path: "/api/v1/projects/nope/budgets", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "missing hub", method: "POST", path: "/api/v1/hubs/nope/budgets", body: api.Budget{Name: "x", Amount: 1},
			status: 404, code: "HubNotFound", target: "nope"},
		{name: "missing budget", method: "DELETE", path: "/api/v1/projects/p1/budgets/nope", status: 404, code: "BudgetNotFound", target: "nope"},
		{name: "name mismatch", method: "PUT", path: "/api/v1/projects/p1/budgets/a", body: api.Budget{Name: "b", Amount: 1},
			status: 400, code: "invalidPayload", target: "name"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestSQLiteAlertRulesAndHistory(t *testing.T) {
	e, st := newSQLiteEnv(t)
	e.seed(t)
	ctx := context.Background()
	p1 := api.Scope{Project: "p1"}
	r, err := e.client.CreateAlertRule(ctx, p1, api.AlertRule{Name: "throttled", Metric: api.MetricRate429, Comparator: ">",
		Threshold: 10, Window: "5m", Cooldown: "15m", Webhooks: []api.Webhook{{URL: "http://127.0.0.1:9/hook"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := api.AlertRule{Name: "throttled", Project: "p1", Metric: api.MetricRate429, Comparator: ">", Threshold: 10,
		Window: "5m0s", Cooldown: "15m0s", Webhooks: []api.Webhook{{URL: "http://127.0.0.1:9/hook"}}, State: "ok",
		StateSince: fixedNow, CreatedAt: fixedNow, UpdatedAt: fixedNow}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("CreateAlertRule (-want +got):\n%s", d)
	}
	// Half the requests of the window were throttled: the rule fires.
	var recs []store.UsageRecord
	for i, status := range []int{200, 429, 200, 429} {
		recs = append(recs, store.UsageRecord{RequestID: string(rune('a' + i)), Time: fixedNow.Add(-time.Minute), Hub: "default",
			Project: "p1", Deployment: "d", Model: "m1", Status: status})
	}
	if _, err := st.RecordUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := (&alert.Evaluator{Store: st, Now: func() time.Time { return fixedNow }}).Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = e.client.GetAlertRule(ctx, p1, "throttled")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != "firing" || r.LastValue != 50 {
		t.Errorf("rule after evaluation: %s %v, want firing 50", r.State, r.LastValue)
	}
	// A PUT keeps the state.
	if _, err := e.client.PutAlertRule(ctx, p1, api.AlertRule{Name: "throttled", Metric: api.MetricRate429, Comparator: ">",
		Threshold: 20, Window: "10m"}); err != nil {
		t.Fatal(err)
	}
	rules, err := e.client.ListAlertRules(ctx, p1)
	if err != nil || len(rules) != 1 || rules[0].State != "firing" || rules[0].Threshold != 20 {
		t.Errorf("ListAlertRules after PUT = %+v, %v; want one firing rule of threshold 20", rules, err)
	}
	evs, err := e.client.ListAlerts(ctx, p1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "alert.firing" || evs[0].Value != 50 || evs[0].Name != "throttled" {
		t.Errorf("ListAlerts = %+v, want one alert.firing of throttled at 50", evs)
	}
	ds, err := e.client.ListWebhookDeliveries(ctx, p1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != "pending" || ds[0].URL != "http://127.0.0.1:9/hook" || len(ds[0].Payload) == 0 {
		t.Errorf("ListWebhookDeliveries = %+v, want one pending delivery with its payload", ds)
	}
	if err := e.client.DeleteAlertRule(ctx, p1, "throttled"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []errCase{
		{name: "bad metric", method: "POST", path: "/api/v1/projects/p1/alert-rules",
			body: api.AlertRule{Name: "x", Metric: "cpu", Comparator: ">", Window: "5m"}, status: 400, code: "invalidPayload", target: "metric"},
		{name: "bad window", method: "POST", path: "/api/v1/projects/p1/alert-rules",
			body: api.AlertRule{Name: "x", Metric: "requests", Comparator: ">", Window: "soon"}, status: 400, code: "invalidPayload", target: "window"},
		{name: "missing rule", method: "GET", path: "/api/v1/hubs/default/alert-rules/nope", status: 404, code: "AlertRuleNotFound", target: "nope"},
		{name: "history of a missing project", method: "GET", path: "/api/v1/projects/nope/alerts", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "bad limit", method: "GET", path: "/api/v1/projects/p1/webhook-deliveries?limit=0", status: 400, code: "invalidPayload", target: "limit"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}
