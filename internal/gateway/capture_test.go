package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// fakeCapturer enables capture for the deployments in on and keeps what
// it is given.
type fakeCapturer struct {
	on map[string]bool // "project/deployment"

	mu      sync.Mutex
	asked   []string
	capture []captured
}

type captured struct {
	rec       Record
	req, resp string
}

func (c *fakeCapturer) Enabled(project, deployment string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, project+"/"+deployment)
	return c.on[project+"/"+deployment]
}

func (c *fakeCapturer) Capture(_ context.Context, r Record, req, resp []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capture = append(c.capture, captured{r, string(req), string(resp)})
}

func (c *fakeCapturer) all() ([]string, []captured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.asked...), append([]captured(nil), c.capture...)
}

func TestCaptureOff(t *testing.T) {
	capt := &fakeCapturer{on: map[string]bool{"proj-a/embed-dep": true}}
	h := newHarness(t, func(d *Deps) { d.Capture = capt })
	for _, stream := range []string{`"stream":false`, `"stream":true`} {
		resp := h.do(t, "POST", oaChat, nil, chatBody(stream))
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Requests refused before a deployment is resolved never ask.
	readAll(t, h.do(t, "POST", oaChat, nil, `{"model":"no-such-dep","messages":[`+goodMsg+`]}`))
	asked, got := capt.all()
	if diff := cmp.Diff([]string{"proj-a/chat-dep", "proj-a/chat-dep"}, asked); diff != "" {
		t.Errorf("Enabled calls (-want +got):\n%s", diff)
	}
	if len(got) != 0 {
		t.Errorf("Capture called with capture off: %+v", got)
	}
	if n := len(h.meter.all()); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}

func TestCaptureBodies(t *testing.T) {
	chatReq := chatBody(`"api_key":"sk-not-scrubbed-here"`)
	tests := []struct {
		name     string
		path     string
		body     string
		setup    func(*fakeBackend, *fakeAdmitter)
		wantCode string
		status   int
	}{
		{"chat", oaChat, chatReq, nil, "", 200},
		{"chat Azure", azChat, chatBody(""), nil, "", 200},
		{"completion", oaCompl, `{"model":"chat-dep","prompt":"Say hi"}`, nil, "", 200},
		{"embeddings", oaEmbed, `{"model":"embed-dep","input":["a"]}`, nil, "", 200},
		{"backend error", oaChat, chatBody(""), func(b *fakeBackend, _ *fakeAdmitter) {
			b.err = fault.New(fault.BadGateway, "upstream_error", "the upstream server failed")
		}, "upstream_error", 502},
		{"rate limited", azChat, chatBody(""), func(_ *fakeBackend, a *fakeAdmitter) { a.refuse = true }, "429", 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capt := &fakeCapturer{on: map[string]bool{"proj-a/chat-dep": true, "proj-a/embed-dep": true}}
			adm := &fakeAdmitter{}
			h := newHarness(t, func(d *Deps) { d.Capture, d.Admit = capt, adm })
			if tt.setup != nil {
				tt.setup(h.backend, adm)
			}
			resp := h.do(t, "POST", tt.path, map[string]string{"api-key": keyA, "x-request-id": "cap-1"}, tt.body)
			sent := readAll(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, sent)
			}
			_, got := capt.all()
			if len(got) != 1 {
				t.Fatalf("%d captures, want 1", len(got))
			}
			c := got[0]
			if c.req != tt.body {
				t.Errorf("captured request %q, want the body sent %q", c.req, tt.body)
			}
			if c.resp+"\n" != sent && c.resp != sent {
				t.Errorf("captured response %q, want the body sent %q", c.resp, sent)
			}
			if c.rec.RequestID != "cap-1" || c.rec.Status != tt.status || c.rec.ErrorCode != tt.wantCode {
				t.Errorf("record id %q status %d code %q, want cap-1 %d %q", c.rec.RequestID, c.rec.Status, c.rec.ErrorCode, tt.status, tt.wantCode)
			}
			if recs := h.meter.all(); len(recs) != 1 || !cmp.Equal(recs[0], c.rec) {
				t.Errorf("meter got %+v, capturer %+v: want the same record", recs, c.rec)
			}
		})
	}
}

func TestCaptureStreams(t *testing.T) {
	u := usage
	tests := []struct {
		name      string
		path      string
		body      string
		failAfter int
		want      any
		wantCode  string
	}{
		{"chat", oaChat, chatBody(`"stream":true`), -1, &inference.ChatCompletion{ID: "chatcmpl-2", Object: "chat.completion",
			Model: "tiny-chat-2025-01-01", Usage: &u, Choices: []inference.ChatChoice{{Index: 0, FinishReason: "stop",
				Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hello!")}}}}, ""},
		{"chat Azure", azChat, chatBody(`"stream":true`), -1, &inference.ChatCompletion{ID: "chatcmpl-2", Object: "chat.completion",
			Model: "tiny-chat-2025-01-01", Usage: &u, Choices: []inference.ChatChoice{{Index: 0, FinishReason: "stop",
				Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hello!")}}}}, ""},
		{"chat failing", oaChat, chatBody(`"stream":true`), 2, &inference.ChatCompletion{ID: "chatcmpl-2", Object: "chat.completion",
			Model: "tiny-chat-2025-01-01", Usage: &u, Choices: []inference.ChatChoice{{Index: 0,
				Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hel")}}}}, "upstream_error"},
		{"completion", oaCompl, `{"model":"chat-dep","prompt":"Say hi","stream":true}`, -1, &inference.Completion{ID: "cmpl-2",
			Object: "text_completion", Model: "tiny-chat-2025-01-01", Usage: &u,
			Choices: []inference.CompletionChoice{{Index: 0, Text: "Hello!"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capt := &fakeCapturer{on: map[string]bool{"proj-a/chat-dep": true}}
			h := newHarness(t, func(d *Deps) { d.Capture = capt })
			h.backend.failAfter = tt.failAfter
			h.backend.err = fault.New(fault.BadGateway, "upstream_error", "the upstream server failed")
			readAll(t, h.do(t, "POST", tt.path, nil, tt.body))
			_, got := capt.all()
			if len(got) != 1 {
				t.Fatalf("%d captures, want 1", len(got))
			}
			if got[0].req != tt.body || !got[0].rec.Stream || got[0].rec.Status != 200 || got[0].rec.ErrorCode != tt.wantCode {
				t.Errorf("capture %+v", got[0])
			}
			// Decode into the want's type and compare.
			gotResp := newLike(tt.want)
			if err := json.Unmarshal([]byte(got[0].resp), gotResp); err != nil {
				t.Fatalf("captured response %q: %v", got[0].resp, err)
			}
			if diff := cmp.Diff(tt.want, gotResp); diff != "" {
				t.Errorf("assembled response (-want +got):\n%s", diff)
			}
		})
	}
}

// newLike returns a new zero value of v's pointed-to type.
func newLike(v any) any {
	switch v.(type) {
	case *inference.ChatCompletion:
		return &inference.ChatCompletion{}
	case *inference.Completion:
		return &inference.Completion{}
	}
	panic("newLike: unexpected type")
}

// TestTranscript assembles several choices, refusals and tool calls.
func TestTranscript(t *testing.T) {
	s := func(v string) *string { return &v }
	i := func(v int) *int { return &v }
	tr := &transcript{chat: true}
	chunks := []inference.ChatChunk{
		{ID: "c1", Model: "m", Choices: []inference.ChunkChoice{
			{Index: 1, Delta: inference.Delta{Role: "assistant", Content: s("B")}},
			{Index: 0, Delta: inference.Delta{Content: s("A")}},
		}},
		{ID: "c1", Choices: []inference.ChunkChoice{
			{Index: 0, Delta: inference.Delta{Content: s("a"), Refusal: s("no")}},
			{Index: 1, Delta: inference.Delta{ToolCalls: []inference.ToolCall{{Index: i(0), ID: "call_1", Type: "function",
				Function: inference.FunctionCall{Name: "get", Arguments: `{"ci`}}}}},
		}},
		{Choices: []inference.ChunkChoice{
			{Index: 1, Delta: inference.Delta{ToolCalls: []inference.ToolCall{{Index: i(0), Function: inference.FunctionCall{Arguments: `ty":1}`}}}},
				FinishReason: s("tool_calls")},
			{Index: 0, FinishReason: s("length")},
		}},
	}
	for i := range chunks {
		tr.addChat(&chunks[i])
	}
	var got inference.ChatCompletion
	if err := json.Unmarshal(tr.json(inference.Usage{PromptTokens: 1}), &got); err != nil {
		t.Fatal(err)
	}
	want := inference.ChatCompletion{ID: "c1", Object: "chat.completion", Model: "m", Usage: &inference.Usage{PromptTokens: 1},
		Choices: []inference.ChatChoice{
			{Index: 0, FinishReason: "length", Message: inference.Message{Role: "assistant", Content: inference.TextContent("Aa"), Refusal: s("no")}},
			{Index: 1, FinishReason: "tool_calls", Message: inference.Message{Role: "assistant", Content: inference.TextContent("B"),
				ToolCalls: []inference.ToolCall{{ID: "call_1", Type: "function", Function: inference.FunctionCall{Name: "get", Arguments: `{"city":1}`}}}}},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transcript (-want +got):\n%s", diff)
	}
}
