package reqlog

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// fakeStore is an in-memory CaptureStore and PruneStore.
type fakeStore struct {
	mu       sync.Mutex
	settings []store.LogCapture
	logs     []store.RequestLog
	failAdd  error
	added    chan int // receives each AddRequestLogs batch size, when set
	prunes   []time.Time
}

func (s *fakeStore) ListLogCaptures(context.Context) ([]store.LogCapture, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.LogCapture(nil), s.settings...), nil
}

func (s *fakeStore) AddRequestLogs(_ context.Context, logs []store.RequestLog) error {
	s.mu.Lock()
	err := s.failAdd
	if err == nil {
		s.logs = append(s.logs, logs...)
	}
	added := s.added
	s.mu.Unlock()
	if added != nil {
		added <- len(logs)
	}
	return err
}

func (s *fakeStore) PruneRequestLogs(_ context.Context, now time.Time, _ time.Duration) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunes = append(s.prunes, now)
	return 0, nil
}

func (s *fakeStore) stored() []store.RequestLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.RequestLog(nil), s.logs...)
}

func rec(id string) gateway.Record {
	return gateway.Record{RequestID: id, Project: "p1", Deployment: "chat", Model: "gpt", Operation: "chat", Status: 200,
		Usage: inference.Usage{PromptTokens: 5, CompletionTokens: 7}, Latency: 250 * time.Millisecond, Time: t0}
}

func TestEnabled(t *testing.T) {
	st := &fakeStore{settings: []store.LogCapture{
		{Project: "p1", Deployment: "on", Enabled: true, RetentionDays: 7},
		{Project: "p1", Deployment: "off", Enabled: false, RetentionDays: 7},
	}}
	c := NewCapturer(CaptureOptions{Store: st})
	if c.Enabled("p1", "on") {
		t.Error("enabled before the settings were read")
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		project, deployment string
		want                bool
	}{{"p1", "on", true}, {"p1", "off", false}, {"p1", "never", false}, {"p2", "on", false}}
	for _, tt := range tests {
		if got := c.Enabled(tt.project, tt.deployment); got != tt.want {
			t.Errorf("Enabled(%q, %q) = %v, want %v", tt.project, tt.deployment, got, tt.want)
		}
	}
}

// TestRunWritesAndReloads runs the worker: captures are written scrubbed
// and capped, Invalidate reloads the settings, and the queue is drained
// when the context ends.
func TestRunWritesAndReloads(t *testing.T) {
	st := &fakeStore{added: make(chan int, 16)}
	c := NewCapturer(CaptureOptions{Store: st, MaxBody: 40, Refresh: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	c.Capture(ctx, rec("r1"), []byte(`{"api_key":"sk-1","messages":[{"role":"user","content":"hi"}]}`),
		[]byte(`{"choices":[{"text":"`+strings.Repeat("z", 100)+`"}]}`))
	select {
	case <-st.added:
	case <-time.After(10 * time.Second):
		t.Fatal("capture not written")
	}
	want := []store.RequestLog{{RequestID: "r1", Time: t0, Project: "p1", Deployment: "chat", Model: "gpt", Operation: "chat",
		Status: 200, PromptTokens: 5, CompletionTokens: 7, Latency: 250 * time.Millisecond,
		Request:  `{"api_key":"[REDACTED]","messages":[{"ro…[truncated: the body had 62 bytes]`,
		Response: `{"choices":[{"text":"zzzzzzzzzzzzzzzzzzz…[truncated: the body had 125 bytes]`,
	}}
	if d := cmp.Diff(want, st.stored()); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}

	st.mu.Lock()
	st.settings = []store.LogCapture{{Project: "p1", Deployment: "chat", Enabled: true, RetentionDays: 1}}
	st.mu.Unlock()
	c.Invalidate()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Enabled("p1", "chat") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !c.Enabled("p1", "chat") {
		t.Error("Invalidate did not reload the settings")
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	// Captures after Run ended stay queued; a new Run writes them at once
	// when its context is already done (the drain).
	c.Capture(ctx, rec("r2"), nil, nil)
	if err := c.Run(ctx); err != nil {
		t.Errorf("second Run = %v", err)
	}
	if got := st.stored(); len(got) != 2 || got[1].RequestID != "r2" {
		t.Errorf("stored after drain: %+v", got)
	}
}

func TestDrops(t *testing.T) {
	tests := []struct {
		name        string
		opts        CaptureOptions
		bodies      []int // body sizes of successive captures
		wantDropped int64
		wantQueued  int
	}{
		{"queue length", CaptureOptions{QueueLen: 2}, []int{1, 1, 1, 1}, 2, 2},
		{"queue bytes", CaptureOptions{QueueBytes: 100}, []int{60, 60, 30, 20}, 2, 2},
		{"one body over the bytes", CaptureOptions{QueueBytes: 100}, []int{101}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Store = &fakeStore{}
			c := NewCapturer(tt.opts)
			for i, n := range tt.bodies {
				c.Capture(context.Background(), rec(string(rune('a'+i))), make([]byte, n), nil)
			}
			if got := c.Dropped(); got != tt.wantDropped {
				t.Errorf("Dropped = %d, want %d", got, tt.wantDropped)
			}
			if got := len(c.queue); got != tt.wantQueued {
				t.Errorf("queued %d, want %d", got, tt.wantQueued)
			}
		})
	}
}

func TestWriteFailureDrops(t *testing.T) {
	st := &fakeStore{failAdd: errors.New("disk full")}
	c := NewCapturer(CaptureOptions{Store: st})
	for _, id := range []string{"a", "b", "c"} {
		c.Capture(context.Background(), rec(id), []byte(`{}`), []byte(`{}`))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := c.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	if got := c.queued.Load(); got != 0 {
		t.Errorf("queued bytes = %d after the queue emptied, want 0", got)
	}
}

func TestRetention(t *testing.T) {
	st := &fakeStore{}
	now := t0
	r := NewRetention(RetentionOptions{Store: st, Now: func() time.Time { return now }, Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mu.Lock()
		n := len(st.prunes)
		st.mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.prunes) < 3 {
		t.Fatalf("%d prunes, want at least 3 (at start and every interval)", len(st.prunes))
	}
	if !st.prunes[0].Equal(t0) {
		t.Errorf("pruned at %v, want the clock's %v", st.prunes[0], t0)
	}
}
