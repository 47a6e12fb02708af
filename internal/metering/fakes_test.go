package metering_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

// Fixtures of the seeded store.
const (
	testKey     = "test-key-of-project-p1"
	testHub     = "h1"
	testProject = "p1"
	testModel   = "gpt"
)

var t0 = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// openStore opens a SQLite store at path.
func openStore(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// newStore is a seeded store in a temp folder, closed at the end.
func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "db"))
	t.Cleanup(func() { st.Close() })
	if err := seed(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	return st
}

// seed makes hub h1, project p1 (key testKey), model gpt and the
// Succeeded Standard deployment "chat".
func seed(ctx context.Context, st store.Store) error {
	if err := st.CreateHub(ctx, hub.Hub{Name: testHub, Quotas: hub.DefaultQuotas(), CreatedAt: t0}); err != nil {
		return err
	}
	keys := [2]apikey.Key{
		{Project: testProject, Slot: apikey.Key1, Hash: apikey.Sum(testKey), Sealed: []byte("x"), CreatedAt: t0},
		{Project: testProject, Slot: apikey.Key2, Hash: apikey.Sum(testKey + "2"), Sealed: []byte("y"), CreatedAt: t0},
	}
	if err := st.CreateProject(ctx, project.Project{Name: testProject, Hub: testHub, CreatedAt: t0}, keys); err != nil {
		return err
	}
	m := catalog.Model{Name: testModel, DefaultVersion: "1", CreatedAt: t0, UpdatedAt: t0, Versions: []catalog.Version{{
		Version: "1", Format: catalog.FormatUpstream, Upstream: &catalog.Upstream{BaseURL: "http://127.0.0.1:9/v1", Model: "x"},
		Capabilities: catalog.Capabilities{Chat: true}, Lifecycle: catalog.GenerallyAvailable,
		Prices: catalog.Prices{InputPer1K: 0.5, OutputPer1K: 1.5, CachedInputPer1K: 0.25, PTUHour: 2},
	}}}
	if err := st.CreateModel(ctx, m); err != nil {
		return err
	}
	return addDeployment(ctx, st, "chat", "Standard", 10, deployment.Succeeded)
}

func addDeployment(ctx context.Context, st store.Store, name, sku string, capacity int, state string) error {
	d := deployment.Deployment{Project: testProject, Name: name, Model: testModel, Version: "1", SKU: sku, Capacity: capacity,
		VersionUpgradeOption: deployment.NoAutoUpgrade, RAIPolicy: deployment.DefaultRAIPolicy, State: deployment.Creating,
		CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateDeployment(ctx, d); err != nil {
		return err
	}
	return st.SetDeploymentState(ctx, testProject, name, state, "")
}

// record is a gateway record of request id with the given tokens.
func record(id string, prompt, completion int) gateway.Record {
	return gateway.Record{RequestID: id, Project: testProject, KeyID: "k1", Deployment: "chat", Model: testModel, Version: "1",
		SKU: "Standard", Operation: "chat", Status: http.StatusOK, Time: t0, Latency: 20 * time.Millisecond,
		TimeToFirstToken: 20 * time.Millisecond,
		Usage:            inference.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}}
}

// fakeLedgerStore is an in-memory metering.LedgerStore, idempotent on
// request id, that can fail its next writes and notes batch sizes.
type fakeLedgerStore struct {
	mu      sync.Mutex
	recs    map[string]store.UsageRecord
	batches []int
	failN   int           // fail this many more writes
	delay   time.Duration // each write takes this long
}

func newFakeLedgerStore() *fakeLedgerStore {
	return &fakeLedgerStore{recs: map[string]store.UsageRecord{}}
}

var errDisk = errors.New("disk on fire")

func (f *fakeLedgerStore) RecordUsage(ctx context.Context, recs []store.UsageRecord) (int, error) {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failN > 0 {
		f.failN--
		return 0, errDisk
	}
	f.batches = append(f.batches, len(recs))
	n := 0
	for _, r := range recs {
		if _, ok := f.recs[r.RequestID]; !ok {
			f.recs[r.RequestID] = r
			n++
		}
	}
	return n, nil
}

func (f *fakeLedgerStore) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.recs)
}

func (f *fakeLedgerStore) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

func (f *fakeLedgerStore) get(id string) (store.UsageRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.recs[id]
	return r, ok
}

// fakeProjects maps projects to hubs.
type fakeProjects map[string]string

func (p fakeProjects) GetProject(_ context.Context, name string) (project.Project, error) {
	h, ok := p[name]
	if !ok {
		return project.Project{}, fmt.Errorf("project %q: %w", name, store.ErrNotFound)
	}
	return project.Project{Name: name, Hub: h}, nil
}

// runLedger starts l.Run and returns a function that stops it and returns
// Run's error.
func runLedger(t *testing.T, l *metering.Ledger) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				err = errors.New("Run did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// fakeBackend serves chat with fixed usage: 7 prompt tokens, and one
// completion token per streamed chunk. A stream emits chunks until
// chunks is reached or the client goes away, and returns the usage of
// what it emitted.
type fakeBackend struct {
	chunks    int
	chunkWait time.Duration
	emitted   chan int // how many chunks each stream emitted
}

const backendPrompt = 7

func (b *fakeBackend) Chat(_ context.Context, _ inference.Target, _ *inference.ChatRequest) (*inference.ChatCompletion, error) {
	u := inference.Usage{PromptTokens: backendPrompt, CompletionTokens: 3, TotalTokens: backendPrompt + 3}
	return &inference.ChatCompletion{ID: "chatcmpl-1", Object: "chat.completion", Created: t0.Unix(), Model: testModel,
		Choices: []inference.ChatChoice{{FinishReason: "stop", Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hi!")}}},
		Usage:   &u}, nil
}

func (b *fakeBackend) ChatStream(ctx context.Context, _ inference.Target, _ *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	n := 0
	defer func() {
		if b.emitted != nil {
			b.emitted <- n
		}
	}()
	usage := func() *inference.Usage {
		return &inference.Usage{PromptTokens: backendPrompt, CompletionTokens: n, TotalTokens: backendPrompt + n}
	}
	for n < b.chunks {
		if err := ctx.Err(); err != nil {
			return usage(), err
		}
		s := "tok"
		if err := emit(&inference.ChatChunk{ID: "chatcmpl-2", Object: "chat.completion.chunk", Model: testModel,
			Choices: []inference.ChunkChoice{{Delta: inference.Delta{Content: &s}}}}); err != nil {
			return usage(), err
		}
		n++
		time.Sleep(b.chunkWait)
	}
	return usage(), nil
}

func (b *fakeBackend) Complete(context.Context, inference.Target, *inference.CompletionRequest) (*inference.Completion, error) {
	return nil, errors.New("not served")
}

func (b *fakeBackend) CompleteStream(context.Context, inference.Target, *inference.CompletionRequest, func(*inference.Completion) error) (*inference.Usage, error) {
	return nil, errors.New("not served")
}

func (b *fakeBackend) Embed(context.Context, inference.Target, *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	return nil, errors.New("not served")
}

// newGateway is a gateway over st's directory, serving every deployment
// with b and metering into m.
func newGateway(st store.Store, b gateway.Backend, m gateway.Meter) *gateway.Gateway {
	return gateway.New(gateway.Deps{
		Directory: gateway.NewDirectory(st, time.Minute),
		Backend:   func(inference.Target) (gateway.Backend, error) { return b, nil },
		Meter:     m,
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
