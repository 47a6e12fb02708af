package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPct(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tt := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {10, 1}, {100, 10}} {
		if got := pct(xs, tt.p); got != tt.want {
			t.Errorf("pct(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if pct(nil, 50) != 0 {
		t.Error("pct of nothing is not 0")
	}
}

// TestLoadIsOpenLoop: a slow server does not slow the sender down; every
// scheduled request is sent, and the latency counts the wait.
func TestLoadIsOpenLoop(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	start := time.Now()
	r := load(context.Background(), srv.Client(), target{url: srv.URL, body: []byte("{}")}, 100, 200*time.Millisecond)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("load took %v", elapsed)
	}
	if r.sent != 20 || r.errors != 10 || len(r.lat) != 10 {
		t.Fatalf("sent %d, errors %d, latencies %d; want 20, 10, 10", r.sent, r.errors, len(r.lat))
	}
	if p := pct(r.lat, 50); p < 50_000 {
		t.Errorf("median latency %vµs is below the server's 50ms", p)
	}
}
