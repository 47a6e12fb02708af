package reqlog_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/reqlog"
	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// directory knows one key of project p1 and its deployment "chat".
type directory struct{}

func (directory) Authenticate(_ context.Context, key string) (gateway.Caller, error) {
	if key != "test-key" {
		return gateway.Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "unknown key")
	}
	return gateway.Caller{Project: "p1", KeyID: "k1"}, nil
}

func (directory) Resolve(_ context.Context, projectName, name string) (inference.Target, error) {
	if projectName != "p1" || name != "chat" {
		return inference.Target{}, fault.New(fault.NotFound, "DeploymentNotFound", "no deployment")
	}
	return inference.Target{Project: "p1", Deployment: "chat", SKU: "GlobalStandard", Model: "gpt",
		Version: catalog.Version{Version: "1", Capabilities: catalog.Capabilities{Chat: true}}}, nil
}

func (directory) Deployments(context.Context, string) ([]deployment.Deployment, error) {
	return nil, nil
}

// backend answers "Hello!" in one piece or in three deltas.
type backend struct{}

var usage = inference.Usage{PromptTokens: 9, CompletionTokens: 3, TotalTokens: 12}

func (backend) Chat(context.Context, inference.Target, *inference.ChatRequest) (*inference.ChatCompletion, error) {
	u := usage
	return &inference.ChatCompletion{ID: "c1", Object: "chat.completion", Created: 1, Model: "gpt", Usage: &u,
		Choices: []inference.ChatChoice{{FinishReason: "stop", Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hello!")}}}}, nil
}

func (backend) ChatStream(_ context.Context, _ inference.Target, _ *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	stop := "stop"
	for i, s := range []string{"Hel", "lo", "!"} {
		ch := &inference.ChatChunk{ID: "c2", Model: "gpt", Choices: []inference.ChunkChoice{{Delta: inference.Delta{Content: &s}}}}
		if i == 2 {
			ch.Choices[0].FinishReason = &stop
		}
		if err := emit(ch); err != nil {
			return &usage, err
		}
	}
	u := usage
	return &u, nil
}

func (backend) Complete(context.Context, inference.Target, *inference.CompletionRequest) (*inference.Completion, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

func (backend) CompleteStream(context.Context, inference.Target, *inference.CompletionRequest, func(*inference.Completion) error) (*inference.Usage, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

func (backend) Embed(context.Context, inference.Target, *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	return nil, fault.New(fault.Invalid, "unsupported", "not in this test")
}

// openStore opens a temporary database with project p1 and deployment chat.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := func(slot apikey.Slot, seed string) apikey.Key {
		return apikey.Key{Project: "p1", Slot: slot, Hash: apikey.Sum(seed), Sealed: []byte(seed), CreatedAt: now}
	}
	steps := []error{
		st.CreateHub(ctx, hub.Hub{Name: "h1", CreatedAt: now}),
		st.CreateProject(ctx, project.Project{Name: "p1", Hub: "h1", CreatedAt: now}, [2]apikey.Key{key(apikey.Key1, "a"), key(apikey.Key2, "b")}),
		st.CreateModel(ctx, catalog.Model{Name: "gpt", DefaultVersion: "1", CreatedAt: now, UpdatedAt: now,
			Versions: []catalog.Version{{Version: "1", Format: catalog.FormatGGUF, File: "/m.gguf", Capabilities: catalog.Capabilities{Chat: true}}}}),
		st.CreateDeployment(ctx, deployment.Deployment{Project: "p1", Name: "chat", Model: "gpt", Version: "1", SKU: "GlobalStandard",
			State: deployment.Succeeded, CreatedAt: now, UpdatedAt: now}),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("setup step %d: %v", i, err)
		}
	}
	return st
}

// TestCaptureThroughGateway runs the gateway with a Capturer on SQLite:
// nothing is stored while capture is off; once on, the request (scrubbed)
// and the response (a stream's assembled) are.
func TestCaptureThroughGateway(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st := openStore(t)
	capt := reqlog.NewCapturer(reqlog.CaptureOptions{Store: st, Refresh: time.Hour})
	done := make(chan error, 1)
	go func() { done <- capt.Run(ctx) }()
	mux := http.NewServeMux()
	gateway.New(gateway.Deps{Directory: directory{}, Now: func() time.Time { return now },
		Backend: func(inference.Target) (gateway.Backend, error) { return backend{}, nil }, Capture: capt}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	post := func(id, body string) string {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("api-key", "test-key")
		req.Header.Set("x-request-id", id)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", id, resp.StatusCode, b)
		}
		return string(b)
	}
	// waitFor polls the store until it holds n logs.
	waitFor := func(n int) []store.RequestLog {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			logs, err := st.ListRequestLogs(ctx, store.LogQuery{Project: "p1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(logs) >= n || time.Now().After(deadline) {
				return logs
			}
			time.Sleep(2 * time.Millisecond)
		}
	}

	body := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"api_key":"sk-LEAK","metadata":{"password":"hunter2"}}`
	post("off-1", body)
	if err := st.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "chat", Enabled: true, RetentionDays: 7}); err != nil {
		t.Fatal(err)
	}
	capt.Invalidate()
	deadline := time.Now().Add(10 * time.Second)
	for !capt.Enabled("p1", "chat") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	sent := post("on-1", body)
	post("on-2", strings.Replace(body, `"model":"chat"`, `"model":"chat","stream":true`, 1))
	logs := waitFor(2)
	if len(logs) != 2 {
		t.Fatalf("%d logs stored, want 2 (none while capture was off)", len(logs))
	}
	for _, l := range logs {
		if strings.Contains(l.Request, "sk-LEAK") || strings.Contains(l.Request, "hunter2") {
			t.Errorf("%s: secret stored: %s", l.RequestID, l.Request)
		}
	}
	wantReq := `{"model":"chat","messages":[{"role":"user","content":"hi"}],"api_key":"[REDACTED]","metadata":{"password":"[REDACTED]"}}`
	if d := cmp.Diff(wantReq, logs[0].Request); d != "" {
		t.Errorf("stored request (-want +got):\n%s", d)
	}
	if logs[0].RequestID != "on-1" || logs[0].Response+"\n" != sent && logs[0].Response != sent {
		t.Errorf("log 0: id %q response %q, want on-1 and the body sent %q", logs[0].RequestID, logs[0].Response, sent)
	}
	var streamed inference.ChatCompletion
	if err := json.Unmarshal([]byte(logs[1].Response), &streamed); err != nil {
		t.Fatalf("stream response %q: %v", logs[1].Response, err)
	}
	if len(streamed.Choices) != 1 || streamed.Choices[0].Message.Content.Text != "Hello!" ||
		streamed.Choices[0].FinishReason != "stop" || streamed.Usage == nil || *streamed.Usage != usage || !logs[1].Stream {
		t.Errorf("assembled stream: %s", logs[1].Response)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestRetentionPrunes checks the retention worker against SQLite with a
// fake clock.
func TestRetentionPrunes(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	if err := st.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "chat", Enabled: true, RetentionDays: 2}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	var logs []store.RequestLog
	for _, age := range []time.Duration{5 * day, 2*day + time.Second, 2 * day, day, 0} {
		logs = append(logs, store.RequestLog{RequestID: age.String(), Time: now.Add(-age), Project: "p1", Deployment: "chat", Status: 200})
	}
	gone := store.RequestLog{RequestID: "deleted-deployment", Time: now.Add(-8 * day), Project: "p1", Deployment: "gone", Status: 200}
	kept := store.RequestLog{RequestID: "deleted-recent", Time: now.Add(-6 * day), Project: "p1", Deployment: "gone", Status: 200}
	if err := st.AddRequestLogs(ctx, append(logs, gone, kept)); err != nil {
		t.Fatal(err)
	}
	clock := now
	r := reqlog.NewRetention(reqlog.RetentionOptions{Store: st, Now: func() time.Time { return clock }})
	n, err := r.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.ListRequestLogs(ctx, store.LogQuery{Project: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range left {
		ids = append(ids, l.RequestID)
	}
	// Two days kept for "chat"; the default seven for a deployment without
	// a setting.
	if d := cmp.Diff([]string{"48h0m0s", "24h0m0s", "0s", "deleted-recent"}, ids); d != "" || n != 3 {
		t.Errorf("pruned %d; left (-want +got):\n%s", n, d)
	}
	clock = now.Add(3 * day)
	if n, err := r.Prune(ctx); err != nil || n != 4 {
		t.Errorf("three days later: pruned %d, %v; want all 4", n, err)
	}
}
