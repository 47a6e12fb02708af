package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// RunAlerts runs the conformance suite of store.AlertStore: budgets and
// rules (round trips, errors, cascades), exactly-once firings and
// transitions under concurrency, history and webhook deliveries. Each
// subtest calls open for a store of its own.
func RunAlerts(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Budgets", testBudgets},
		{"BudgetErrors", testBudgetErrors},
		{"BudgetFiringsOnce", testBudgetFiringsOnce},
		{"BudgetRearm", testBudgetRearm},
		{"AlertCascade", testAlertCascade},
		{"AlertRules", testAlertRules},
		{"AlertTransitionOnce", testAlertTransitionOnce},
		{"Deliveries", testDeliveries},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var (
	p1Owner = store.Owner{Scope: store.ScopeProject, Name: "p1"}
	h1Owner = store.Owner{Scope: store.ScopeHub, Name: "h1"}
)

func newBudget(o store.Owner, name string, amount float64) store.Budget {
	return store.Budget{Owner: o, Name: name, Amount: amount, Thresholds: []float64{50, 80, 100}, Hard: true,
		Webhooks:  []store.Webhook{{URL: "https://hooks.example/a", Secret: "s3cret"}},
		CreatedAt: at().UTC(), UpdatedAt: at().UTC()}
}

func mustCreateBudget(t *testing.T, s store.Store, b store.Budget) store.Budget {
	t.Helper()
	if err := s.CreateBudget(t.Context(), b); err != nil {
		t.Fatalf("CreateBudget(%q): %v", b.Name, err)
	}
	got, err := s.GetBudget(t.Context(), b.Owner, b.Name)
	if err != nil {
		t.Fatalf("GetBudget(%q): %v", b.Name, err)
	}
	return got
}

func testBudgets(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	pb := newBudget(p1Owner, "monthly", 100)
	hb := newBudget(h1Owner, "monthly", 1000) // the same name in another owner
	hb.Hard, hb.Webhooks, hb.Thresholds = false, nil, nil
	got := mustCreateBudget(t, s, pb)
	if got.ID == 0 {
		t.Errorf("GetBudget: ID is 0, want one set by the store")
	}
	wantUTC(t, "budget CreatedAt", got.CreatedAt)
	if d := diff(pb, withID(got, 0)); d != "" {
		t.Errorf("GetBudget (-want +got):\n%s", d)
	}
	mustCreateBudget(t, s, hb)
	list, err := s.ListBudgets(ctx, store.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]store.Budget{pb, hb}, withoutIDs(list)); d != "" {
		t.Errorf("ListBudgets(all) (-want +got):\n%s", d)
	}
	list, err = s.ListBudgets(ctx, h1Owner)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]store.Budget{hb}, withoutIDs(list)); d != "" {
		t.Errorf("ListBudgets(hub) (-want +got):\n%s", d)
	}

	up := pb
	up.Hard, up.Webhooks, up.UpdatedAt = false, []store.Webhook{{URL: "https://hooks.example/b"}}, later().UTC()
	if err := s.UpdateBudget(ctx, up); err != nil {
		t.Fatalf("UpdateBudget: %v", err)
	}
	after, err := s.GetBudget(ctx, p1Owner, "monthly")
	if err != nil {
		t.Fatal(err)
	}
	if after.ID != got.ID {
		t.Errorf("UpdateBudget changed the ID from %d to %d", got.ID, after.ID)
	}
	if d := diff(up, withID(after, 0)); d != "" {
		t.Errorf("after UpdateBudget (-want +got):\n%s", d)
	}
	if err := s.DeleteBudget(ctx, p1Owner, "monthly"); err != nil {
		t.Fatalf("DeleteBudget: %v", err)
	}
	_, err = s.GetBudget(ctx, p1Owner, "monthly")
	wantNotFound(t, "GetBudget after delete", err, "BudgetNotFound", "monthly")
}

func withID(b store.Budget, id int64) store.Budget { b.ID = id; return b }

func withoutIDs(bs []store.Budget) []store.Budget {
	out := make([]store.Budget, len(bs))
	for i, b := range bs {
		out[i] = withID(b, 0)
	}
	return out
}

func testBudgetErrors(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	mustCreateBudget(t, s, newBudget(p1Owner, "b", 10))
	wantExists(t, "CreateBudget twice", s.CreateBudget(ctx, newBudget(p1Owner, "b", 10)), "b")
	wantNotFound(t, "CreateBudget in a missing project", s.CreateBudget(ctx, newBudget(store.Owner{Scope: store.ScopeProject, Name: "nope"}, "b", 10)), "ProjectNotFound", "nope")
	wantNotFound(t, "CreateBudget in a missing hub", s.CreateBudget(ctx, newBudget(store.Owner{Scope: store.ScopeHub, Name: "nope"}, "b", 10)), "HubNotFound", "nope")
	_, err := s.GetBudget(ctx, p1Owner, "missing")
	wantNotFound(t, "GetBudget", err, "BudgetNotFound", "missing")
	wantNotFound(t, "UpdateBudget", s.UpdateBudget(ctx, newBudget(p1Owner, "missing", 1)), "BudgetNotFound", "missing")
	wantNotFound(t, "DeleteBudget", s.DeleteBudget(ctx, p1Owner, "missing"), "BudgetNotFound", "missing")
	_, err = s.ListBudgets(ctx, store.Owner{Scope: store.ScopeHub, Name: "nope"})
	wantNotFound(t, "ListBudgets of a missing hub", err, "HubNotFound", "nope")
	bad := newBudget(store.Owner{Scope: "planet", Name: "p1"}, "b", 10)
	if err := s.CreateBudget(ctx, bad); fault.KindOf(err) != fault.Invalid {
		t.Errorf("CreateBudget with scope planet: got %v, want an Invalid fault", err)
	}
	if err := s.CreateBudget(ctx, newBudget(p1Owner, "zero", 0)); fault.KindOf(err) != fault.Invalid {
		t.Errorf("CreateBudget with amount 0: got %v, want an Invalid fault", err)
	}
}

// firing is the firing of threshold th of budget b in period, with its
// event and one delivery.
func firing(b store.Budget, period string, th float64) (store.BudgetFiring, store.AlertEvent, []store.Delivery) {
	when := at().UTC()
	f := store.BudgetFiring{BudgetID: b.ID, Period: period, Threshold: th, Spend: b.Amount * th / 100, Time: when}
	ev := store.AlertEvent{Owner: b.Owner, Type: store.EventBudgetThreshold, Name: b.Name, Value: f.Spend, Threshold: th,
		Period: period, Message: "spent", Time: when}
	ds := []store.Delivery{{Owner: b.Owner, URL: "https://hooks.example/a", Secret: "s", Type: ev.Type, Body: []byte(`{"x":1}`),
		CreatedAt: when}}
	return f, ev, ds
}

func testBudgetFiringsOnce(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	b := mustCreateBudget(t, s, newBudget(p1Owner, "b", 100))
	const racers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range racers {
		wg.Go(func() {
			f, ev, ds := firing(b, "2025-03", 50)
			ok, err := s.RecordBudgetFiring(ctx, f, ev, ds)
			if err != nil {
				t.Errorf("RecordBudgetFiring: %v", err)
			}
			if ok {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Errorf("%d racing RecordBudgetFiring calls stored %d firings, want 1", racers, fresh)
	}
	// Another threshold and another period are new.
	for _, c := range []struct {
		period string
		th     float64
		want   bool
	}{{"2025-03", 80, true}, {"2025-04", 50, true}, {"2025-03", 50, false}} {
		f, ev, ds := firing(b, c.period, c.th)
		got, err := s.RecordBudgetFiring(ctx, f, ev, ds)
		if err != nil || got != c.want {
			t.Errorf("RecordBudgetFiring(%s, %v) = %v, %v; want %v", c.period, c.th, got, err, c.want)
		}
	}
	fs, err := s.ListBudgetFirings(ctx, b.ID, "2025-03")
	if err != nil {
		t.Fatal(err)
	}
	var ths []float64
	for _, f := range fs {
		ths = append(ths, f.Threshold)
		wantUTC(t, "firing time", f.Time)
	}
	if d := diff([]float64{50, 80}, ths); d != "" {
		t.Errorf("firings of 2025-03 (-want +got):\n%s", d)
	}
	evs, err := s.ListAlertEvents(ctx, store.AlertEventQuery{Owner: p1Owner})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Errorf("history holds %d events, want 3 (one per new firing)", len(evs))
	}
	ds, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: p1Owner})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Errorf("%d deliveries, want 3 (one per new firing)", len(ds))
	}
}

func testBudgetRearm(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	b := mustCreateBudget(t, s, newBudget(p1Owner, "b", 100))
	f, ev, ds := firing(b, "2025-03", 50)
	if _, err := s.RecordBudgetFiring(ctx, f, ev, ds); err != nil {
		t.Fatal(err)
	}
	same := b
	same.Hard = false
	if err := s.UpdateBudget(ctx, same); err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.ListBudgetFirings(ctx, b.ID, ""); len(fs) != 1 {
		t.Errorf("after an update keeping the amount: %d firings, want 1", len(fs))
	}
	more := b
	more.Amount = 200
	if err := s.UpdateBudget(ctx, more); err != nil {
		t.Fatal(err)
	}
	if fs, _ := s.ListBudgetFirings(ctx, b.ID, ""); len(fs) != 0 {
		t.Errorf("after a new amount: %d firings, want 0 (re-armed)", len(fs))
	}
	// A firing of a deleted budget is not stored.
	if err := s.DeleteBudget(ctx, p1Owner, "b"); err != nil {
		t.Fatal(err)
	}
	ok, err := s.RecordBudgetFiring(ctx, f, ev, ds)
	if err != nil || ok {
		t.Errorf("RecordBudgetFiring of a deleted budget = %v, %v; want false, nil", ok, err)
	}
}

func testAlertCascade(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	mustCreateBudget(t, s, newBudget(p1Owner, "b", 100))
	if err := s.CreateAlertRule(ctx, newRule(p1Owner, "r")); err != nil {
		t.Fatal(err)
	}
	mustCreateBudget(t, s, newBudget(h1Owner, "hb", 100))
	if err := s.DeleteProject(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	bs, err := s.ListBudgets(ctx, store.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Name != "hb" {
		t.Errorf("budgets after deleting p1: %+v, want only hub budget hb", bs)
	}
	rs, err := s.ListAlertRules(ctx, store.Owner{})
	if err != nil || len(rs) != 0 {
		t.Errorf("rules after deleting p1: %+v, %v; want none", rs, err)
	}
	if err := s.DeleteHub(ctx, "h1"); err != nil {
		t.Fatalf("DeleteHub with a budget: %v, want the budget deleted with it", err)
	}
}

func newRule(o store.Owner, name string) store.AlertRule {
	return store.AlertRule{Owner: o, Name: name, Deployment: "d1", Metric: store.MetricP95, Comparator: ">", Threshold: 500,
		Window: 5 * time.Minute, Cooldown: 10 * time.Minute, Webhooks: []store.Webhook{{URL: "https://hooks.example/r"}},
		CreatedAt: at().UTC(), UpdatedAt: at().UTC()}
}

func testAlertRules(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	r := newRule(p1Owner, "slow")
	if err := s.CreateAlertRule(ctx, r); err != nil {
		t.Fatal(err)
	}
	wantExists(t, "CreateAlertRule twice", s.CreateAlertRule(ctx, r), "slow")
	got, err := s.GetAlertRule(ctx, p1Owner, "slow")
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.ID = got.ID
	want.AlertState = store.AlertState{State: store.StateOK, StateSince: r.CreatedAt}
	if d := diff(want, got); d != "" {
		t.Errorf("GetAlertRule (-want +got):\n%s", d)
	}
	up := r
	up.Threshold, up.Comparator, up.UpdatedAt = 900, "<", later().UTC()
	if err := s.UpdateAlertRule(ctx, up); err != nil {
		t.Fatal(err)
	}
	rs, err := s.ListAlertRules(ctx, p1Owner)
	if err != nil {
		t.Fatal(err)
	}
	up.ID, up.AlertState = got.ID, want.AlertState
	if d := diff([]store.AlertRule{up}, rs); d != "" {
		t.Errorf("ListAlertRules (-want +got):\n%s", d)
	}
	_, err = s.GetAlertRule(ctx, p1Owner, "missing")
	wantNotFound(t, "GetAlertRule", err, "AlertRuleNotFound", "missing")
	wantNotFound(t, "UpdateAlertRule", s.UpdateAlertRule(ctx, newRule(p1Owner, "missing")), "AlertRuleNotFound", "missing")
	wantNotFound(t, "CreateAlertRule in a missing project", s.CreateAlertRule(ctx, newRule(store.Owner{Scope: store.ScopeProject, Name: "nope"}, "r")), "ProjectNotFound", "nope")
	if err := s.DeleteAlertRule(ctx, p1Owner, "slow"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, "DeleteAlertRule twice", s.DeleteAlertRule(ctx, p1Owner, "slow"), "AlertRuleNotFound", "slow")
}

func testAlertTransitionOnce(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	if err := s.CreateAlertRule(ctx, newRule(p1Owner, "slow")); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetAlertRule(ctx, p1Owner, "slow")
	if err != nil {
		t.Fatal(err)
	}
	when := later().UTC()
	st := store.AlertState{State: store.StateFiring, StateSince: when, LastFired: when, LastValue: 812.5}
	ev := store.AlertEvent{Owner: p1Owner, Type: store.EventAlertFiring, Name: "slow", Deployment: "d1", Metric: store.MetricP95,
		Value: 812.5, Threshold: 500, Message: "p95 812.5 > 500", Time: when}
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range 8 {
		wg.Go(func() {
			ok, err := s.TransitionAlertRule(ctx, r.ID, store.StateOK, st, ev, nil)
			if err != nil {
				t.Errorf("TransitionAlertRule: %v", err)
			}
			if ok {
				mu.Lock()
				done++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if done != 1 {
		t.Errorf("8 racing transitions from ok made %d, want 1", done)
	}
	got, err := s.GetAlertRule(ctx, p1Owner, "slow")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(st, got.AlertState); d != "" {
		t.Errorf("state after the transition (-want +got):\n%s", d)
	}
	evs, err := s.ListAlertEvents(ctx, store.AlertEventQuery{Owner: p1Owner})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("history: %d events, want 1", len(evs))
	}
	wantEv := ev
	wantEv.ID = evs[0].ID
	if d := diff(wantEv, evs[0]); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
}

func testDeliveries(t *testing.T, s store.Store) {
	setup(t, s)
	ctx := t.Context()
	b := mustCreateBudget(t, s, newBudget(h1Owner, "b", 100))
	f, ev, _ := firing(b, "2025-03", 50)
	t0 := at().UTC()
	ds := []store.Delivery{
		{Owner: h1Owner, URL: "https://a.example", Secret: "k", Type: ev.Type, Body: []byte(`{"a":1}`), CreatedAt: t0},
		{Owner: h1Owner, URL: "https://b.example", Type: ev.Type, Body: []byte(`{"b":2}`), CreatedAt: t0, NextAt: t0.Add(time.Minute)},
	}
	if _, err := s.RecordBudgetFiring(ctx, f, ev, ds); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueDeliveries(ctx, t0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].URL != "https://a.example" {
		t.Fatalf("due at t0: %+v, want only the first", due)
	}
	d := due[0]
	if d.State != store.DeliveryPending || d.EventID == 0 || string(d.Body) != `{"a":1}` || d.Secret != "k" {
		t.Errorf("due delivery = %+v, want pending with its event, body and secret", d)
	}
	wantUTC(t, "delivery NextAt", d.NextAt)
	d.Attempts, d.StatusCode, d.Error, d.NextAt, d.UpdatedAt = 1, 500, "HTTP 500", t0.Add(2*time.Second), t0.Add(time.Second)
	if err := s.UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDeliveries(ctx, t0.Add(time.Second), 10); len(due) != 0 {
		t.Errorf("due at t0+1s: %d, want 0 (retry at +2s)", len(due))
	}
	due, err = s.DueDeliveries(ctx, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 {
		t.Errorf("due at t0+1h: %d, want 2", len(due))
	}
	d.State, d.Attempts, d.StatusCode, d.Error = store.DeliveryDelivered, 2, 204, ""
	if err := s.UpdateDelivery(ctx, d); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: h1Owner})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("ListDeliveries: %d, want 2", len(list))
	}
	if d := diff(d, list[1]); d != "" { // newest first
		t.Errorf("ListDeliveries[1] (-want +got):\n%s", d)
	}
	bad := d
	bad.State = "lost"
	if err := s.UpdateDelivery(ctx, bad); fault.KindOf(err) != fault.Invalid {
		t.Errorf("UpdateDelivery with state lost: got %v, want Invalid", err)
	}
	bad = d
	bad.ID = 9999
	if err := s.UpdateDelivery(ctx, bad); fault.KindOf(err) != fault.NotFound {
		t.Errorf("UpdateDelivery of a missing id: got %v, want NotFound", err)
	}
}
