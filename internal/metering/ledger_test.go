package metering_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/store"
)

func TestLedgerIdempotent(t *testing.T) {
	st := newStore(t)
	l := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st})
	stop := runLedger(t, l)
	ctx := context.Background()
	r := record("req-1", 10, 5)
	l.Record(ctx, r)
	l.Record(ctx, r) // the same request twice in one batch
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	l.Record(ctx, r) // and again in a later batch
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l.Record(ctx, r) // and once more after shutdown, written synchronously
	got, err := st.ListUsage(ctx, store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageRecord{{RequestID: "req-1", Time: t0, Hub: testHub, Project: testProject, KeyID: "k1",
		Deployment: "chat", Model: testModel, Version: "1", SKU: "Standard", Operation: "chat",
		PromptTokens: 10, CompletionTokens: 5, LatencyMS: 20, TTFTMS: 20, Status: 200}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if s := l.Stats(); s.Recorded != 4 || s.Written != 1 || s.Duplicates != 3 || s.Lost != 0 || s.SyncWrites != 1 {
		t.Errorf("stats = %+v, want 4 recorded, 1 written, 3 duplicates, 1 synchronous write, 0 lost", s)
	}
}

func TestLedgerFlushesOnShutdown(t *testing.T) {
	st := newStore(t)
	// Nothing is written before shutdown: the batch is large and the
	// flush interval long.
	l := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st, FlushEvery: time.Hour, BatchSize: 100000})
	stop := runLedger(t, l)
	const n = 2345
	for i := range n {
		l.Record(context.Background(), record(fmt.Sprintf("req-%d", i), i, 1))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListUsage(context.Background(), store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("%d records after shutdown, want %d", len(got), n)
	}
	// Flush after Run returned does not wait.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.Flush(ctx); err != nil {
		t.Errorf("Flush after shutdown: %v", err)
	}
}

func TestLedgerBatches(t *testing.T) {
	f := newFakeLedgerStore()
	l := metering.NewLedger(metering.LedgerOptions{Store: f, BatchSize: 10, FlushEvery: time.Hour})
	stop := runLedger(t, l)
	for i := range 25 {
		l.Record(context.Background(), record(fmt.Sprintf("r%d", i), 1, 1))
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{10, 10, 5}, f.batchSizes()); d != "" {
		t.Errorf("batch sizes (-want +got):\n%s", d)
	}
}

func TestLedgerFlushesAfterInterval(t *testing.T) {
	f := newFakeLedgerStore()
	l := metering.NewLedger(metering.LedgerOptions{Store: f, FlushEvery: 20 * time.Millisecond})
	runLedger(t, l)
	l.Record(context.Background(), record("r1", 1, 1))
	deadline := time.Now().Add(5 * time.Second)
	for f.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if f.count() != 1 {
		t.Fatal("a partial batch was not written after FlushEvery")
	}
}

func TestLedgerRetriesFailedWrites(t *testing.T) {
	f := newFakeLedgerStore()
	f.failN = 3
	l := metering.NewLedger(metering.LedgerOptions{Store: f, FlushEvery: 5 * time.Millisecond})
	stop := runLedger(t, l)
	for i := range 50 {
		l.Record(context.Background(), record(fmt.Sprintf("r%d", i), 1, 1))
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.count() < 50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := f.count(); got != 50 {
		t.Errorf("%d records written, want 50", got)
	}
	if s := l.Stats(); s.Failures != 3 || s.Lost != 0 {
		t.Errorf("stats = %+v, want 3 failures and nothing lost", s)
	}
}

func TestLedgerLossIsReported(t *testing.T) {
	f := newFakeLedgerStore()
	f.failN = 1000
	var logs syncBuffer
	l := metering.NewLedger(metering.LedgerOptions{Store: f, Logger: newLogger(&logs), FlushEvery: time.Hour})
	stop := runLedger(t, l)
	l.Record(context.Background(), record("doomed", 1, 1))
	if err := stop(); err == nil {
		t.Error("Run returned nil after losing a record")
	}
	if s := l.Stats(); s.Lost != 1 {
		t.Errorf("stats = %+v, want 1 lost", s)
	}
	if !strings.Contains(logs.String(), "usage record lost") || !strings.Contains(logs.String(), "doomed") {
		t.Errorf("the loss was not logged with the request id: %s", logs.String())
	}
}

func TestLedgerFullQueueWritesSynchronously(t *testing.T) {
	f := newFakeLedgerStore()
	l := metering.NewLedger(metering.LedgerOptions{Store: f, QueueSize: 2, FullWait: time.Millisecond, FlushEvery: time.Hour})
	// The worker is not running: two records fit in the queue, the other
	// three are written by Record itself.
	for i := range 5 {
		l.Record(context.Background(), record(fmt.Sprintf("r%d", i), 1, 1))
	}
	if got := f.count(); got != 3 {
		t.Errorf("%d records written synchronously, want 3", got)
	}
	stop := runLedger(t, l)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := f.count(); got != 5 {
		t.Errorf("%d records in all, want 5", got)
	}
}

func TestLedgerConcurrent(t *testing.T) {
	st := newStore(t)
	// A small queue, so that some Record calls take the synchronous path.
	l := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st, QueueSize: 64, BatchSize: 50, FullWait: 100 * time.Microsecond})
	stop := runLedger(t, l)
	const writers, each = 16, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.Record(context.Background(), record(fmt.Sprintf("w%d-%d", w, i), i, 1))
			}
		})
	}
	// Stop while the writers may still be recording: the rest are
	// written synchronously.
	time.Sleep(5 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got, err := st.ListUsage(context.Background(), store.UsageFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each {
		t.Errorf("%d records, want %d", len(got), writers*each)
	}
	s := l.Stats()
	if s.Written != writers*each || s.Lost != 0 || s.Recorded != writers*each {
		t.Errorf("stats = %+v", s)
	}
	t.Logf("stats: %+v", s)
}

func TestLedgerHub(t *testing.T) {
	f := newFakeLedgerStore()
	l := metering.NewLedger(metering.LedgerOptions{Store: f, Projects: fakeProjects{"p1": "h1"}})
	stop := runLedger(t, l)
	l.Record(context.Background(), record("a", 1, 1))
	gone := record("b", 1, 1)
	gone.Project = "deleted"
	l.Record(context.Background(), gone)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"a": "h1", "b": ""} {
		if r, _ := f.get(id); r.Hub != want {
			t.Errorf("record %s: hub %q, want %q", id, r.Hub, want)
		}
	}
}

// TestAbandonedStream checks that a stream the client abandons is metered
// from the backend's own count of what it produced.
func TestAbandonedStream(t *testing.T) {
	st := newStore(t)
	l := metering.NewLedger(metering.LedgerOptions{Store: st, Projects: st})
	stop := runLedger(t, l)
	b := &fakeBackend{chunks: 1000, chunkWait: time.Millisecond, emitted: make(chan int, 1)}
	mux := http.NewServeMux()
	newGateway(st, b, l).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/openai/deployments/chat/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"stream":true}`))
	req.Header.Set("api-key", testKey)
	req.Header.Set("x-ms-client-request-id", "abandoned-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for events := 0; events < 5 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	cancel() // the client goes away mid-stream
	resp.Body.Close()
	var emitted int
	select {
	case emitted = <-b.emitted:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend stream did not end after the client left")
	}
	if emitted >= b.chunks {
		t.Fatalf("the stream ran to its end (%d chunks): the client did not abandon it", emitted)
	}
	// The gateway records after the backend returns; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for l.Stats().Recorded == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListUsage(context.Background(), store.UsageFilter{RequestID: "abandoned-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d records of the abandoned stream, want 1", len(got))
	}
	r := got[0]
	if r.PromptTokens != backendPrompt || r.CompletionTokens != emitted || !r.Stream || r.Status != 200 {
		t.Errorf("record = %+v, want %d prompt and %d completion tokens (the backend's count), stream, status 200",
			r, backendPrompt, emitted)
	}
}
