package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Keys and deployments of the fake directory.
const (
	keyA = "key-of-project-a"
	keyB = "key-of-project-b"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeDirectory is a map-backed Directory.
type fakeDirectory struct {
	keys        map[string]Caller
	deployments map[string][]deployment.Deployment // by project
	versions    map[string]catalog.Version         // by model name
}

func newFakeDirectory() *fakeDirectory {
	chat := catalog.Version{Version: "1", Format: catalog.FormatGGUF, Capabilities: catalog.Capabilities{Chat: true, Completion: true}}
	embed := catalog.Version{Version: "2", Format: catalog.FormatGGUF, Capabilities: catalog.Capabilities{Embeddings: true}}
	dep := func(project, name, model, state, reason string) deployment.Deployment {
		return deployment.Deployment{Project: project, Name: name, Model: model, Version: "1", SKU: "Standard", Capacity: 10,
			State: state, Reason: reason, CreatedAt: testNow.Add(-time.Hour), UpdatedAt: testNow}
	}
	return &fakeDirectory{
		keys: map[string]Caller{
			keyA: {Project: "proj-a", KeyID: "aaaa0001", Region: "westeurope"},
			keyB: {Project: "proj-b", KeyID: "bbbb0001"},
		},
		deployments: map[string][]deployment.Deployment{
			"proj-a": {
				dep("proj-a", "chat-dep", "tiny-chat", deployment.Succeeded, ""),
				dep("proj-a", "embed-dep", "tiny-embed", deployment.Succeeded, ""),
				dep("proj-a", "creating-dep", "tiny-chat", deployment.Creating, ""),
				dep("proj-a", "failed-dep", "tiny-chat", deployment.Failed, "the model file is missing"),
			},
			"proj-b": {dep("proj-b", "b-dep", "tiny-chat", deployment.Succeeded, "")},
		},
		versions: map[string]catalog.Version{"tiny-chat": chat, "tiny-embed": embed},
	}
}

func (d *fakeDirectory) Authenticate(_ context.Context, key string) (Caller, error) {
	c, ok := d.keys[key]
	if !ok {
		return Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "unknown key")
	}
	return c, nil
}

func (d *fakeDirectory) Resolve(_ context.Context, project, name string) (inference.Target, error) {
	for _, dep := range d.deployments[project] {
		if dep.Name != name {
			continue
		}
		if !dep.Callable() {
			return inference.Target{}, notCallable(dep)
		}
		return inference.Target{Project: project, Deployment: name, SKU: dep.SKU, Model: dep.Model, Version: d.versions[dep.Model]}, nil
	}
	return inference.Target{}, fault.New(fault.NotFound, "DeploymentNotFound", deploymentMissing)
}

func (d *fakeDirectory) Deployments(_ context.Context, project string) ([]deployment.Deployment, error) {
	return d.deployments[project], nil
}

// fakeBackend answers with canned content. Its behaviour is set per test.
type fakeBackend struct {
	mu       sync.Mutex
	chatReqs []*inference.ChatRequest
	// chunks are the content deltas ChatStream and CompleteStream emit.
	chunks []string
	// failAfter makes a stream fail with err after that many chunks (-1: never).
	failAfter int
	err       error // returned by non-stream calls and by streams at failAfter
	// block makes streams wait for ctx after the first chunk.
	block     bool
	streamCtx chan error // receives the stream context's error when a stream ends
	panicMsg  string
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{chunks: []string{"Hel", "lo", "!"}, failAfter: -1, streamCtx: make(chan error, 8)}
}

var usage = inference.Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10}

func (b *fakeBackend) Chat(_ context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	b.mu.Lock()
	b.chatReqs = append(b.chatReqs, req)
	b.mu.Unlock()
	if b.panicMsg != "" {
		panic(b.panicMsg)
	}
	if b.err != nil {
		return nil, b.err
	}
	u := usage
	return &inference.ChatCompletion{ID: "chatcmpl-1", Object: "chat.completion", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
		Choices: []inference.ChatChoice{{Index: 0, FinishReason: "stop",
			Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hello!")}}},
		Usage: &u}, nil
}

func (b *fakeBackend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	b.mu.Lock()
	b.chatReqs = append(b.chatReqs, req)
	b.mu.Unlock()
	defer func() { b.streamCtx <- ctx.Err() }()
	u := usage
	chunk := func(delta inference.Delta, finish *string) *inference.ChatChunk {
		return &inference.ChatChunk{ID: "chatcmpl-2", Object: "chat.completion.chunk", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
			Choices: []inference.ChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}}}
	}
	if b.failAfter == 0 {
		return &u, b.err
	}
	if err := emit(chunk(inference.Delta{Role: "assistant"}, nil)); err != nil {
		return &u, err
	}
	if b.block {
		<-ctx.Done()
		return &u, ctx.Err()
	}
	for i, s := range b.chunks {
		if i+1 == b.failAfter {
			return &u, b.err
		}
		if err := emit(chunk(inference.Delta{Content: &s}, nil)); err != nil {
			return &u, err
		}
	}
	stop := "stop"
	if err := emit(chunk(inference.Delta{}, &stop)); err != nil {
		return &u, err
	}
	return &u, nil
}

func (b *fakeBackend) Complete(_ context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error) {
	if b.err != nil {
		return nil, b.err
	}
	u := usage
	stop := "stop"
	return &inference.Completion{ID: "cmpl-1", Object: "text_completion", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
		Choices: []inference.CompletionChoice{{Text: "Hello!", FinishReason: &stop}}, Usage: &u}, nil
}

func (b *fakeBackend) CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error) {
	u := usage
	for _, s := range b.chunks {
		if err := emit(&inference.Completion{ID: "cmpl-2", Object: "text_completion", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
			Choices: []inference.CompletionChoice{{Text: s}}}); err != nil {
			return &u, err
		}
	}
	return &u, nil
}

// embedVector is the vector of input i.
func embedVector(i int) []float32 { return []float32{float32(i), 0.5, -1.25, 3.4028235e38} }

func (b *fakeBackend) Embed(_ context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	if b.err != nil {
		return nil, b.err
	}
	if req.EncodingFormat != "float" {
		return nil, errors.New("the gateway must ask the backend for float vectors")
	}
	out := &inference.EmbeddingList{Object: "list", Model: "tiny-embed-v2", Usage: &inference.Usage{PromptTokens: 2, TotalTokens: 2}}
	for i := range req.Input.Len() {
		out.Data = append(out.Data, inference.Embedding{Object: "embedding", Index: i, Embedding: embedVector(i)})
	}
	return out, nil
}

// fakeMeter collects records.
type fakeMeter struct {
	mu      sync.Mutex
	records []Record
}

func (m *fakeMeter) Record(_ context.Context, r Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
}

func (m *fakeMeter) all() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.records...)
}

// harness is a gateway behind a real HTTP server.
type harness struct {
	srv     *httptest.Server
	backend *fakeBackend
	meter   *fakeMeter
}

// newHarness starts a gateway with a fake directory and backend; edit
// adjusts the deps.
func newHarness(t *testing.T, edit func(*Deps)) *harness {
	t.Helper()
	h := &harness{backend: newFakeBackend(), meter: &fakeMeter{}}
	d := Deps{
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		Directory:    newFakeDirectory(),
		Backend:      func(inference.Target) (Backend, error) { return h.backend, nil },
		MaxBodyBytes: 256 << 10,
		Now:          func() time.Time { return testNow },
		Meter:        h.meter,
	}
	if edit != nil {
		edit(&d)
	}
	mux := http.NewServeMux()
	New(d).Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

// do sends a request with the given headers (nil: api-key keyA).
func (h *harness) do(t *testing.T, method, path string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if header == nil {
		header = map[string]string{"api-key": keyA}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("content-type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
