package alert_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// hookServer is a webhook receiver that fails its first failures requests
// with 500 and notes what it got.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	failures int
	got      []hookCall
}

type hookCall struct {
	body      string
	signature string
	event     string
}

func newHookServer(t *testing.T, failures int) *hookServer {
	h := &hookServer{failures: failures}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.got = append(h.got, hookCall{body: string(b), signature: r.Header.Get(alert.SignatureHeader), event: r.Header.Get(alert.EventHeader)})
		if len(h.got) <= h.failures {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) calls() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.got...)
}

// fire stores a budget firing of p1 with one delivery to url.
func fire(t *testing.T, s store.Store, url, secret string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	b := createBudget(t, s, store.Budget{Owner: p1, Name: "b", Amount: 10, Webhooks: []store.Webhook{{URL: url, Secret: secret}}})
	ev := store.AlertEvent{Owner: p1, Type: store.EventBudgetThreshold, Name: "b", Value: 5, Threshold: 50, Period: "2025-03", Time: at}
	d := store.Delivery{Owner: p1, URL: url, Secret: secret, Type: ev.Type, Body: []byte(`{"type":"budget.threshold","id":"x"}`),
		NextAt: at, CreatedAt: at}
	if ok, err := s.RecordBudgetFiring(ctx, store.BudgetFiring{BudgetID: b.ID, Period: "2025-03", Threshold: 50, Spend: 5, Time: at},
		ev, []store.Delivery{d}); err != nil || !ok {
		t.Fatalf("RecordBudgetFiring = %v, %v", ok, err)
	}
}

func TestWebhookRetries(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	hook := newHookServer(t, 2)
	clk := newClock(march15)
	fire(t, s, hook.URL, "topsecret", march15)
	d := &alert.Deliverer{Store: s, Now: clk.Now, Timeout: 5 * time.Second}

	type step struct {
		Attempted  int
		Attempts   int
		State      string
		StatusCode int
		NextIn     time.Duration // NextAt - now, for pending ones
	}
	var got []step
	for _, advance := range []time.Duration{0, 500 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second, time.Second} {
		clk.Advance(advance)
		n, err := d.DeliverDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: p1})
		if err != nil || len(ds) != 1 {
			t.Fatalf("ListDeliveries = %v, %v", ds, err)
		}
		st := step{Attempted: n, Attempts: ds[0].Attempts, State: ds[0].State, StatusCode: ds[0].StatusCode}
		if st.State == store.DeliveryPending {
			st.NextIn = ds[0].NextAt.Sub(clk.Now())
		}
		got = append(got, st)
	}
	// Attempts at 0 s (500), 1 s (500), 3 s (204): waits of 1 s, then 2 s.
	want := []step{
		{1, 1, "pending", 500, time.Second},
		{0, 1, "pending", 500, 500 * time.Millisecond},
		{1, 2, "pending", 500, 2 * time.Second},
		{0, 2, "pending", 500, time.Second},
		{1, 3, "delivered", 204, 0},
		{0, 3, "delivered", 204, 0},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("attempts (-want +got):\n%s", d)
	}
	calls := hook.calls()
	if len(calls) != 3 {
		t.Fatalf("the hook got %d calls, want 3", len(calls))
	}
	for _, c := range calls {
		if !alert.Verify("topsecret", []byte(c.body), c.signature) || alert.Verify("other", []byte(c.body), c.signature) {
			t.Errorf("signature %q does not verify the body %s with the secret (only)", c.signature, c.body)
		}
		if c.event != store.EventBudgetThreshold {
			t.Errorf("event header %q, want %s", c.event, store.EventBudgetThreshold)
		}
	}
}

func TestBackoff(t *testing.T) {
	d := &alert.Deliverer{}
	var got []time.Duration
	for n := 1; n <= 8; n++ {
		got = append(got, d.Backoff(n))
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, time.Minute, time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("backoff (-want +got):\n%s", diff)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	hook := newHookServer(t, 100)
	clk := newClock(march15)
	fire(t, s, hook.URL, "", march15)
	d := &alert.Deliverer{Store: s, Now: clk.Now, MaxAttempts: 3}
	for range 10 {
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	ds, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].State != store.DeliveryFailed || ds[0].Attempts != 3 || ds[0].Error != "HTTP 500" {
		t.Errorf("delivery = %s after %d attempts (%q), want failed after 3 (HTTP 500)", ds[0].State, ds[0].Attempts, ds[0].Error)
	}
	if calls := hook.calls(); len(calls) != 3 || calls[0].signature != "" {
		t.Errorf("hook got %d calls (signature %q), want 3 unsigned", len(calls), calls[0].signature)
	}
}

func TestWebhookResumesAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	hook := newHookServer(t, 0)
	func() {
		s := openStore(t, path)
		seed(t, s)
		fire(t, s, hook.URL, "k", time.Now().Add(-time.Hour)) // left pending by a server that stopped
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	s := openStore(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	d := alert.NewDeliverer(s, nil)
	d.Poll = 10 * time.Millisecond
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(hook.calls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	ds, err := s.ListDeliveries(context.Background(), store.DeliveryQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(hook.calls()) != 1 || ds[0].State != store.DeliveryDelivered {
		t.Errorf("after restart: %d calls, delivery %s; want 1 call, delivered", len(hook.calls()), ds[0].State)
	}
}
