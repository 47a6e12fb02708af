package alert_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/store"
)

var (
	p1 = store.Owner{Scope: store.ScopeProject, Name: "p1"}
	h1 = store.Owner{Scope: store.ScopeHub, Name: "h1"}
)

func createBudget(t *testing.T, s store.Store, b store.Budget) store.Budget {
	t.Helper()
	if err := alert.ValidateBudget(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBudget(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetBudget(context.Background(), b.Owner, b.Name)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// firedThresholds lists the (period, threshold) firings of a budget.
func firedThresholds(t *testing.T, s store.Store, id int64) []string {
	t.Helper()
	fs, err := s.ListBudgetFirings(context.Background(), id, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%v", f.Period, f.Threshold))
	}
	return out
}

func TestBudgetFiresOncePerPeriod(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	clk := newClock(march15)
	b := createBudget(t, s, store.Budget{Owner: p1, Name: "monthly", Amount: 10, Thresholds: []float64{100, 50, 80},
		Webhooks: []store.Webhook{{URL: "https://hooks.example/a"}}})
	notified := 0
	newEval := func() *alert.Evaluator {
		return &alert.Evaluator{Store: s, Now: clk.Now, Notify: func() { notified++ }}
	}
	steps := []struct {
		name  string
		at    time.Time
		spend float64 // added before evaluating
		want  []string
	}{
		{"below every threshold", march15, 4, nil},
		{"passes 50", march15.Add(time.Hour), 2, []string{"2025-03@50"}},
		{"again: nothing new", march15.Add(2 * time.Hour), 0, []string{"2025-03@50"}},
		{"passes 80 and 100 at once", march15.Add(3 * time.Hour), 5, []string{"2025-03@50", "2025-03@80", "2025-03@100"}},
		{"more spend: nothing new", march15.Add(4 * time.Hour), 10, []string{"2025-03@50", "2025-03@80", "2025-03@100"}},
		{"april starts at 0", time.Date(2025, 4, 1, 0, 0, 1, 0, time.UTC), 0, []string{"2025-03@50", "2025-03@80", "2025-03@100"}},
		{"april passes 50", time.Date(2025, 4, 2, 0, 0, 0, 0, time.UTC), 6,
			[]string{"2025-03@50", "2025-03@80", "2025-03@100", "2025-04@50"}},
	}
	for _, st := range steps {
		clk.Set(st.at)
		if st.spend > 0 {
			spend(t, s, "p1", st.at.Add(-time.Second), st.spend)
		}
		if err := newEval().Evaluate(ctx); err != nil { // a new evaluator each time: a restart
			t.Fatalf("%s: Evaluate: %v", st.name, err)
		}
		if d := cmp.Diff(st.want, firedThresholds(t, s, b.ID)); d != "" {
			t.Errorf("%s: firings (-want +got):\n%s", st.name, d)
		}
	}
	evs, err := s.ListAlertEvents(ctx, store.AlertEventQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Errorf("history holds %d entries, want 4", len(evs))
	}
	ds, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 || notified != 4 {
		t.Errorf("%d deliveries and %d notifications, want 4 of each", len(ds), notified)
	}
}

func TestBudgetRacingEvaluators(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	clk := newClock(march15)
	b := createBudget(t, s, store.Budget{Owner: h1, Name: "hub", Amount: 10, Webhooks: []store.Webhook{{URL: "https://h.example"}}})
	spend(t, s, "p1", march15.Add(-time.Minute), 6)
	spend(t, s, "p2", march15.Add(-time.Minute), 5) // the hub spent 11: 110 %
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			e := &alert.Evaluator{Store: s, Now: clk.Now}
			if err := e.Evaluate(context.Background()); err != nil {
				t.Errorf("Evaluate: %v", err)
			}
		})
	}
	wg.Wait()
	if d := cmp.Diff([]string{"2025-03@50", "2025-03@80", "2025-03@100"}, firedThresholds(t, s, b.ID)); d != "" {
		t.Errorf("firings (-want +got):\n%s", d)
	}
	ds, err := s.ListDeliveries(context.Background(), store.DeliveryQuery{Owner: h1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Errorf("6 racing evaluators made %d deliveries, want 3", len(ds))
	}
}

// admitAll is the next admitter: it counts what it admits.
type admitAll struct {
	mu       sync.Mutex
	admitted int
}

func (a *admitAll) Admit(context.Context, gateway.Estimate) (func(inference.Usage), error) {
	a.mu.Lock()
	a.admitted++
	a.mu.Unlock()
	return func(inference.Usage) {}, nil
}

func TestHardStop(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	clk := newClock(march15)
	blocks := &alert.Blocks{}
	eval := &alert.Evaluator{Store: s, Now: clk.Now, Blocks: blocks}
	next := &admitAll{}
	gate := &alert.BudgetGate{Next: next, Blocks: blocks, Now: clk.Now}
	createBudget(t, s, store.Budget{Owner: p1, Name: "p1-hard", Amount: 10, Hard: true})
	createBudget(t, s, store.Budget{Owner: h1, Name: "h1-soft", Amount: 5}) // not hard: never blocks
	admit := func(p string) error {
		_, err := gate.Admit(ctx, gateway.Estimate{Caller: gateway.Caller{Project: p}})
		return err
	}
	check := func(step string, want map[string]bool) {
		t.Helper()
		for _, p := range []string{"p1", "p2"} {
			err := admit(p)
			if blocked := err != nil; blocked != want[p] {
				t.Errorf("%s: %s blocked = %v (%v), want %v", step, p, blocked, err, want[p])
			}
			if err == nil {
				continue
			}
			f, ok := fault.As(err)
			if !ok || f.Kind != fault.RateLimited || f.Kind.Status() != http.StatusTooManyRequests || f.Code != alert.CodeBudgetExceeded {
				t.Errorf("%s: %s got %#v, want a 429 %s fault", step, p, err, alert.CodeBudgetExceeded)
				continue
			}
			if f.RetryAfter <= 0 || f.RetryAfter > 31*24*time.Hour {
				t.Errorf("%s: RetryAfter %s, want the time until the month ends", step, f.RetryAfter)
			}
			t.Logf("%s: %s", step, f.Message)
		}
	}
	eval.Evaluate(ctx)
	check("no spend", nil)
	spend(t, s, "p1", march15.Add(-time.Minute), 9.99)
	eval.Evaluate(ctx)
	check("99.9 %", nil)
	spend(t, s, "p1", march15.Add(-30*time.Second), 0.01)
	eval.Evaluate(ctx)
	check("100 %", map[string]bool{"p1": true})

	// A hard hub budget blocks every project of the hub.
	createBudget(t, s, store.Budget{Owner: h1, Name: "h1-hard", Amount: 10, Hard: true})
	spend(t, s, "p2", march15.Add(-20*time.Second), 1)
	eval.Evaluate(ctx)
	check("hub at 110 %", map[string]bool{"p1": true, "p2": true})

	// The month ends: unblocked at once, before any evaluation.
	clk.Set(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))
	check("april, not yet evaluated", nil)
	eval.Evaluate(ctx)
	check("april", nil)
	if blocks.Len() != 0 {
		t.Errorf("after april's evaluation %d projects are blocked, want 0", blocks.Len())
	}
	if next.admitted == 0 {
		t.Errorf("the next admitter admitted nothing")
	}
}

func TestBudgetRaiseUnblocks(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	clk := newClock(march15)
	blocks := &alert.Blocks{}
	eval := &alert.Evaluator{Store: s, Now: clk.Now, Blocks: blocks}
	b := createBudget(t, s, store.Budget{Owner: p1, Name: "cap", Amount: 1, Hard: true})
	spend(t, s, "p1", march15.Add(-time.Minute), 2)
	if err := eval.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := blocks.Get("p1"); !ok {
		t.Fatal("p1 not blocked at 200 %")
	}
	b.Amount = 100
	if err := s.UpdateBudget(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := eval.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := blocks.Get("p1"); ok {
		t.Error("p1 still blocked after raising the budget")
	}
}

// failingStore fails ListBudgets, to check that blocks survive a failed
// evaluation.
type failingStore struct {
	alert.EvalStore
	fail bool
}

func (f *failingStore) ListBudgets(ctx context.Context, o store.Owner) ([]store.Budget, error) {
	if f.fail {
		return nil, errors.New("disk on fire")
	}
	return f.EvalStore.ListBudgets(ctx, o)
}

func TestBlocksKeptWhenEvaluationFails(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	fs := &failingStore{EvalStore: s}
	blocks := &alert.Blocks{}
	eval := &alert.Evaluator{Store: fs, Now: newClock(march15).Now, Blocks: blocks}
	createBudget(t, s, store.Budget{Owner: p1, Name: "cap", Amount: 1, Hard: true})
	spend(t, s, "p1", march15.Add(-time.Minute), 2)
	if err := eval.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	fs.fail = true
	if err := eval.Evaluate(ctx); err == nil {
		t.Fatal("Evaluate with a failing store: no error")
	}
	if _, ok := blocks.Get("p1"); !ok {
		t.Error("a failed evaluation dropped the block of p1")
	}
}

func TestEvaluatorRun(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	blocks := &alert.Blocks{}
	createBudget(t, s, store.Budget{Owner: p1, Name: "cap", Amount: 1, Hard: true})
	spend(t, s, "p1", march15.Add(-time.Minute), 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&alert.Evaluator{Store: s, Every: 10 * time.Millisecond, Now: newClock(march15).Now, Blocks: blocks}).Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for blocks.Len() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	if blocks.Len() != 1 {
		t.Errorf("Run blocked %d projects, want 1", blocks.Len())
	}
}
