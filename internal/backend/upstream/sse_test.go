package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

func TestReadEvents(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []string
		wantDone bool
	}{
		{"lf", "data: a\n\ndata: b\n\ndata: [DONE]\n\n", []string{"a", "b"}, true},
		{"crlf", "data: a\r\n\r\ndata: [DONE]\r\n\r\n", []string{"a"}, true},
		{"no space after colon", "data:a\n\n", []string{"a"}, false},
		{"two spaces keep one", "data:  a\n\n", []string{" a"}, false},
		{"comments and other fields", ": ping\nevent: message\nid: 7\nretry: 10\ndata: a\n\n: bye\n\n", []string{"a"}, false},
		{"multi-line data", "data: {\"x\":\ndata: 1}\n\n", []string{"{\"x\":\n1}"}, false},
		{"empty data line", "data\n\n", []string{""}, false},
		{"blank lines without data", "\n\n\ndata: a\n\n", []string{"a"}, false},
		{"stops at DONE", "data: a\n\ndata: [DONE]\n\ndata: b\n\n", []string{"a"}, true},
		{"open event at EOF", "data: a\n\ndata: b", []string{"a", "b"}, false},
		{"open event at EOF after newline", "data: a\n", []string{"a"}, false},
		{"nothing", "", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				var got []string
				done, err := readEvents(r, func(d []byte) error { got = append(got, string(d)); return nil })
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" || done != tt.wantDone {
					t.Errorf("events (-want +got):\n%s\ndone %v, want %v", diff, done, tt.wantDone)
				}
			}
		})
	}
}

func TestReadEventsErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := readEvents(strings.NewReader("data: a\n\n"), func([]byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("handler error = %v, want boom", err)
	}
	_, err = readEvents(iotest.TimeoutReader(strings.NewReader("data: a\n\ndata: b\n\n")), func([]byte) error { return nil })
	if err == nil {
		t.Error("read error was swallowed")
	}
	_, err = readEvents(strings.NewReader("data: "+strings.Repeat("x", maxEvent+10)+"\n\n"), func([]byte) error { return nil })
	if !errors.Is(err, errTooLong) {
		t.Errorf("oversized event: err = %v, want errTooLong", err)
	}
}

// canned serves one fixed response body for every request.
func canned(t *testing.T, status int, contentType, body string) inference.Target {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return target(srv.URL + "/v1")
}

func target(base string) inference.Target {
	return inference.Target{Deployment: "d", Model: "m", Version: catalog.Version{Version: "1",
		Upstream: &catalog.Upstream{BaseURL: base, Model: "up"}, Capabilities: catalog.Capabilities{Chat: true}}}
}

func testBackend(t *testing.T) *Backend {
	return New(Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
}

func userReq(s string) *inference.ChatRequest {
	return &inference.ChatRequest{Messages: []inference.Message{{Role: "user", Content: inference.TextContent(s)}}}
}

// streamed is what a chat stream produced.
type streamed struct {
	Text    string
	Chunks  int
	Finish  string
	Usage   *inference.Usage
	ErrKind string
}

// TestLenientStreams feeds the chat stream reader the shapes various
// servers send.
func TestLenientStreams(t *testing.T) {
	tests := []struct {
		name string
		body string
		want streamed
	}{
		{"llama.cpp: usage and timings on the finish chunk, no space, CRLF",
			"data:{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}],\"object\":\"chat.completion.chunk\"}\r\n\r\n" +
				"data:{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6},\"timings\":{\"predicted_ms\":1.5}}\r\n\r\n" +
				"data: [DONE]\r\n\r\n",
			streamed{"Hi", 2, "stop", &inference.Usage{PromptTokens: 5, CompletionTokens: 1, TotalTokens: 6}, ""}},
		{"Azure: filter annotation first, keep-alive comments, usage chunk",
			"data: {\"id\":\"\",\"object\":\"\",\"created\":0,\"model\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":{}}],\"choices\":[]}\n\n" +
				": keep-alive\n\n" +
				"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a b\"},\"finish_reason\":null,\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}}}],\"usage\":null}\n\n" +
				"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":null}\n\n" +
				"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n" +
				"data: [DONE]\n\n",
			streamed{"a b", 2, "length", &inference.Usage{PromptTokens: 9, CompletionTokens: 2, TotalTokens: 11}, ""}},
		{"vLLM continuous usage: the last one wins",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n" +
				"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n" +
				"data: [DONE]\n\n",
			streamed{"xy", 2, "stop", &inference.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}, ""}},
		{"no [DONE] but finished: fine, usage estimated",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"},\"finish_reason\":\"stop\"}]}\n\n",
			streamed{"hello", 1, "stop", &inference.Usage{PromptTokens: 6, CompletionTokens: 2, TotalTokens: 8}, ""}},
		{"no [DONE], unfinished: cut",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"}}]}\n\n",
			streamed{"hello", 1, "", &inference.Usage{PromptTokens: 6, CompletionTokens: 2, TotalTokens: 8}, "BadGateway"}},
		{"error event mid-stream",
			"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}]}\n\n" +
				"data: {\"error\":{\"message\":\"engine died\",\"type\":\"server_error\"}}\n\n",
			streamed{"hel", 1, "", &inference.Usage{PromptTokens: 6, CompletionTokens: 1, TotalTokens: 7}, "BadGateway"}},
		{"vLLM bare error event",
			"data: {\"object\":\"error\",\"message\":\"oops\",\"code\":500}\n\n",
			streamed{"", 0, "", &inference.Usage{PromptTokens: 6, CompletionTokens: 0, TotalTokens: 6}, "BadGateway"}},
		{"garbage event",
			"data: {not json\n\n",
			streamed{"", 0, "", &inference.Usage{PromptTokens: 6, CompletionTokens: 0, TotalTokens: 6}, "BadGateway"}},
	}
	b := testBackend(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := canned(t, 200, "text/event-stream", tt.body)
			var got streamed
			var sb strings.Builder
			u, err := b.ChatStream(t.Context(), tg, userReq("hi there"), func(c *inference.ChatChunk) error {
				got.Chunks++
				if c.Usage != nil || c.Object != "chat.completion.chunk" {
					t.Errorf("emitted chunk with usage %v, object %q", c.Usage, c.Object)
				}
				for _, ch := range c.Choices {
					if ch.Delta.Content != nil {
						sb.WriteString(*ch.Delta.Content)
					}
					if ch.FinishReason != nil {
						got.Finish = *ch.FinishReason
					}
				}
				return nil
			})
			got.Text, got.Usage = sb.String(), u
			if err != nil {
				fe, ok := fault.As(err)
				if !ok {
					t.Fatalf("err %v is not a fault", err)
				}
				got.ErrKind = map[fault.Kind]string{fault.BadGateway: "BadGateway", fault.Timeout: "Timeout"}[fe.Kind]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nerr %v", diff, err)
			}
		})
	}
}

func TestLenientResponses(t *testing.T) {
	b := testBackend(t)
	t.Run("chat: tool calls, null content and finish reason, extra fields, no usage", func(t *testing.T) {
		tg := canned(t, 200, "application/json", `{"id":"x","created":1,"model":"llama","choices":[{"index":0,"message":{"role":"assistant","content":null,
			"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}],"reasoning_content":"hmm"},"finish_reason":null,"stop_reason":128}],"kv_transfer_params":null}`)
		r, err := b.Chat(t.Context(), tg, userReq("hi there"))
		if err != nil {
			t.Fatal(err)
		}
		// Tool call name + arguments: 3 + 7 characters = 3 tokens.
		got := []any{r.Object, r.Choices[0].Message.ToolCalls[0].Function.Name, r.Choices[0].FinishReason, *r.Usage}
		want := []any{"chat.completion", "get", "", inference.Usage{PromptTokens: 6, CompletionTokens: 3, TotalTokens: 9}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("embeddings in base64", func(t *testing.T) {
		// [1, -2] as little-endian float32s.
		tg := canned(t, 200, "application/json", `{"data":[{"index":0,"embedding":"AACAPwAAAMA="}]}`)
		r, err := b.Embed(t.Context(), tg, &inference.EmbeddingRequest{Input: inference.Prompt{Texts: []string{"abcdefgh"}}})
		if err != nil {
			t.Fatal(err)
		}
		want := &inference.EmbeddingList{Object: "list", Data: []inference.Embedding{{Object: "embedding", Embedding: []float32{1, -2}}},
			Usage: &inference.Usage{PromptTokens: 2, TotalTokens: 2}}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("undecodable body", func(t *testing.T) {
		tg := canned(t, 200, "application/json", `<html>`)
		_, err := b.Chat(t.Context(), tg, userReq("x"))
		if fault.KindOf(err) != fault.BadGateway {
			t.Errorf("err = %v, want BadGateway", err)
		}
	})
}

// TestNoBuffering checks that each event reaches emit as soon as it is
// complete: the server sends the second event only after emit saw the
// first.
func TestNoBuffering(t *testing.T) {
	seen := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"one\"}}]}\n")
		rc.Flush()
		time.Sleep(20 * time.Millisecond) // the blank line arrives in its own packet
		io.WriteString(w, "\n")
		rc.Flush()
		select {
		case <-seen:
		case <-time.After(5 * time.Second):
			return // the test fails: the client buffered
		}
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" two\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()
	b := testBackend(t)
	var got []string
	_, err := b.ChatStream(t.Context(), target(srv.URL+"/v1"), userReq("x"), func(c *inference.ChatChunk) error {
		got = append(got, *c.Choices[0].Delta.Content)
		if len(got) == 1 {
			close(seen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"one", " two"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		base      string
		wantURL   string
		wantHost  string
		wantAzure bool
	}{
		{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions", "127.0.0.1:8000", false},
		{"http://localhost:11434/v1/", "http://localhost:11434/v1/chat/completions", "localhost:11434", false},
		{"https://user:pw@vllm.internal/v1", "https://vllm.internal/v1/chat/completions", "vllm.internal", false},
		{"https://res.openai.azure.com/openai/v1?api-version=preview", "https://res.openai.azure.com/openai/v1/chat/completions?api-version=preview", "res.openai.azure.com", true},
		{"https://x.services.ai.azure.com/openai/v1", "https://x.services.ai.azure.com/openai/v1/chat/completions", "x.services.ai.azure.com", true},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.base)
		e := &endpoint{base: u}
		got := []any{e.url("/chat/completions"), e.host(), e.isAzure()}
		if diff := cmp.Diff([]any{tt.wantURL, tt.wantHost, tt.wantAzure}, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.base, diff)
		}
	}
}

func TestAzureKeyHeader(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	tr := &http.Transport{Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(srv.URL) }}
	b := New(Options{Transport: tr})
	tg := target("http://res.openai.azure.com/openai/v1")
	tg.Version.Upstream.APIKey = "k"
	if _, err := b.Chat(t.Context(), tg, userReq("x")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Bearer k", "k"}, []string{got.Get("Authorization"), got.Get("Api-Key")}); diff != "" {
		t.Errorf("Authorization, api-key (-want +got):\n%s", diff)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After": {"-1"}}, 0},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.header, now); got != tt.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestEstimates(t *testing.T) {
	tests := []struct {
		name string
		got  int
		want int
	}{
		{"empty text", EstimateText(""), 0},
		{"4 chars", EstimateText("abcd"), 1},
		{"5 chars", EstimateText("abcde"), 2},
		{"code points, not bytes", EstimateText("héllo wörld"), 3},
		{"chat", EstimateChat(&inference.ChatRequest{Messages: []inference.Message{
			{Role: "system", Content: inference.TextContent("be nice")},                                                                    // 4 + 2
			{Role: "user", Content: &inference.Content{Parts: []inference.ContentPart{{Type: "text", Text: "look"}, {Type: "image_url"}}}}, // 4 + 1
			{Role: "assistant", ToolCalls: []inference.ToolCall{{Function: inference.FunctionCall{Name: "f", Arguments: "{}"}}}},           // 4 + 1
			{Role: "tool", ToolCallID: "call_1", Content: inference.TextContent("42")},                                                     // 4 + 2
		}}), 22},
		{"prompt texts", EstimatePrompt(inference.Prompt{Texts: []string{"abcd", "abcdefgh"}}), 3},
		{"prompt tokens", EstimatePrompt(inference.Prompt{Tokens: [][]int{{1, 2, 3}, {4}}}), 4},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

// TestKeepAlive checks that finished requests give their connection back
// to the pool.
func TestKeepAlive(t *testing.T) {
	stream := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
	plain := `{"choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"}]}` + "\n"
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Stream bool }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, stream)
		} else {
			io.WriteString(w, plain)
		}
		// The client has the whole answer before the response ends.
		http.NewResponseController(w).Flush()
		time.Sleep(5 * time.Millisecond)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	b := testBackend(t)
	tg := target(srv.URL + "/v1")
	start := time.Now()
	for range 3 {
		if _, err := b.Chat(t.Context(), tg, userReq("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ChatStream(t.Context(), tg, userReq("x"), func(*inference.ChatChunk) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("6 sequential requests opened %d connections, want 1", n)
	}
	if d := time.Since(start); d > 6*drainWait {
		t.Errorf("6 requests took %v", d)
	}
}

// TestDrainBounded checks that a server holding the response open after
// [DONE] does not hold up the stream's end for long.
func TestDrainBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	start := time.Now()
	_, err := testBackend(t).ChatStream(t.Context(), target(srv.URL+"/v1"), userReq("x"), func(*inference.ChatChunk) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ChatStream returned after %v", d)
	}
}

func TestStreamGotJSON(t *testing.T) {
	tg := canned(t, 200, "application/json; charset=utf-8", `{"id":"c","object":"chat.completion","model":"up","choices":[
		{"index":0,"message":{"role":"assistant","content":"whole answer"},"finish_reason":"stop"},
		{"index":1,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
		"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}`)
	var got []inference.ChatChunk
	u, err := testBackend(t).ChatStream(t.Context(), tg, userReq("x"), func(c *inference.ChatChunk) error { got = append(got, *c); return nil })
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	want := []inference.ChatChunk{{ID: "c", Object: "chat.completion.chunk", Model: "up", Choices: []inference.ChunkChoice{
		{Index: 0, Delta: inference.Delta{Role: "assistant", Content: ptr("whole answer")}, FinishReason: ptr("stop")},
		{Index: 1, Delta: inference.Delta{Role: "assistant", ToolCalls: []inference.ToolCall{{Index: &zero, ID: "t", Type: "function",
			Function: inference.FunctionCall{Name: "f", Arguments: "{}"}}}}, FinishReason: ptr("tool_calls")},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&inference.Usage{PromptTokens: 4, CompletionTokens: 3, TotalTokens: 7}, u); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestErrorIn200(t *testing.T) {
	b := testBackend(t)
	tests := []struct {
		name string
		call func(inference.Target) error
	}{
		{"chat", func(tg inference.Target) error { _, err := b.Chat(t.Context(), tg, userReq("x")); return err }},
		{"completion", func(tg inference.Target) error {
			_, err := b.Complete(t.Context(), tg, &inference.CompletionRequest{Prompt: inference.Prompt{Texts: []string{"x"}}})
			return err
		}},
		{"embeddings", func(tg inference.Target) error {
			_, err := b.Embed(t.Context(), tg, &inference.EmbeddingRequest{Input: inference.Prompt{Texts: []string{"x"}}})
			return err
		}},
		{"chat stream answered with JSON", func(tg inference.Target) error {
			_, err := b.ChatStream(t.Context(), tg, userReq("x"), func(*inference.ChatChunk) error { return nil })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(canned(t, 200, "application/json", `{"error":{"message":"model is loading","type":"server_error"}}`))
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.BadGateway || !strings.Contains(fe.Message, "model is loading") {
				t.Errorf("err = %v, want BadGateway naming the upstream's message", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzReadEvents feeds the SSE reader arbitrary upstream bytes: it must not
// panic, and what it delivers is never more than it read.
func FuzzReadEvents(f *testing.F) {
	for _, s := range []string{"data: a\n\n", "data:a\r\n\r\n", ": c\ndata: x\ndata: y\n\ndata: [DONE]\n\n", "data", "\n\n\r\n", "event: e\nid: 1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		_, err := readEvents(bytes.NewReader(in), func(d []byte) error { total += len(d); return nil })
		if err != nil {
			t.Fatalf("error on a plain reader: %v", err)
		}
		if total > len(in) {
			t.Errorf("delivered %d bytes from %d", total, len(in))
		}
	})
}
