package fakeopenai_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
)

func newServer(t *testing.T, opts fakeopenai.Options) *fakeopenai.Server {
	t.Helper()
	s := fakeopenai.New(opts)
	t.Cleanup(s.Close)
	return s
}

// post sends body as JSON and returns the status and the response body.
func post(t *testing.T, ctx context.Context, url string, body any, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, resp.Header, out
}

// events splits an SSE body into its data payloads.
func events(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chatResponse struct {
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

type chatChoice struct {
	Index        int
	Content      string
	FinishReason string
}

func ptr[T any](v T) *T { return &v }

func TestChat(t *testing.T) {
	s := newServer(t, fakeopenai.Options{})
	msgs := []map[string]any{
		{"role": "system", "content": "be brief"},
		{"role": "user", "content": "hello there world"},
	}
	tests := []struct {
		name        string
		body        map[string]any
		wantChoices []chatChoice
		wantUsage   usage
	}{
		{"plain", map[string]any{"model": "m", "messages": msgs},
			[]chatChoice{{0, "You said: hello there world", "stop"}}, usage{5, 5, 10}},
		{"max_tokens cuts", map[string]any{"model": "m", "messages": msgs, "max_tokens": 3},
			[]chatChoice{{0, "You said: hello", "length"}}, usage{5, 3, 8}},
		{"max_completion_tokens wins", map[string]any{"model": "m", "messages": msgs, "max_tokens": 1, "max_completion_tokens": 2},
			[]chatChoice{{0, "You said:", "length"}}, usage{5, 2, 7}},
		{"cap equal to length", map[string]any{"model": "m", "messages": msgs, "max_tokens": 5},
			[]chatChoice{{0, "You said: hello there world", "stop"}}, usage{5, 5, 10}},
		{"n", map[string]any{"model": "m", "messages": msgs, "n": 2, "max_tokens": 2},
			[]chatChoice{{0, "You said:", "length"}, {1, "You said:", "length"}}, usage{5, 4, 9}},
		{"parts", map[string]any{"model": "m", "messages": []map[string]any{{"role": "user", "content": []map[string]any{
			{"type": "text", "text": "a b"}, {"type": "image_url", "image_url": map[string]string{"url": "x"}}, {"type": "text", "text": "c"}}}}},
			[]chatChoice{{0, "You said: a b c", "stop"}}, usage{3, 5, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, t.Context(), s.URL()+"/chat/completions", tt.body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			resp := decode[chatResponse](t, body)
			var got []chatChoice
			for _, c := range resp.Choices {
				got = append(got, chatChoice{c.Index, c.Message.Content, c.FinishReason})
			}
			if diff := cmp.Diff(tt.wantChoices, got); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
			if resp.Usage == nil {
				t.Fatal("no usage")
			}
			if diff := cmp.Diff(tt.wantUsage, *resp.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if resp.Object != "chat.completion" || resp.Model != "m" {
				t.Errorf("object, model = %q, %q; want chat.completion, m", resp.Object, resp.Model)
			}
		})
	}
}

func TestChatStream(t *testing.T) {
	s := newServer(t, fakeopenai.Options{})
	msgs := []map[string]any{{"role": "user", "content": "one two"}}
	tests := []struct {
		name         string
		includeUsage bool
		omitUsage    bool
	}{
		{"without usage", false, false},
		{"with usage", true, false},
		{"usage omitted by behaviour", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetBehavior(fakeopenai.Behavior{OmitUsage: tt.omitUsage})
			body := map[string]any{"model": "m", "messages": msgs, "stream": true, "n": 2}
			if tt.includeUsage {
				body["stream_options"] = map[string]bool{"include_usage": true}
			}
			status, header, raw := post(t, t.Context(), s.URL()+"/chat/completions", body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("Content-Type = %q", ct)
			}
			evs := events(t, raw)
			if len(evs) == 0 || evs[len(evs)-1] != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %q", evs)
			}
			content := map[int]string{}
			finish := map[int]string{}
			var gotUsage *usage
			for i, ev := range evs[:len(evs)-1] {
				var chunk map[string]json.RawMessage
				if err := json.Unmarshal([]byte(ev), &chunk); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				u, hasUsage := chunk["usage"]
				if hasUsage != tt.includeUsage {
					t.Errorf("event %d has usage key = %v, want %v", i, hasUsage, tt.includeUsage)
				}
				var choices []struct {
					Index int `json:"index"`
					Delta struct {
						Content string `json:"content"`
					} `json:"delta"`
					FinishReason *string `json:"finish_reason"`
				}
				json.Unmarshal(chunk["choices"], &choices)
				if len(choices) == 0 {
					if i != len(evs)-2 {
						t.Errorf("event %d has no choices but is not the last", i)
					}
					gotUsage = ptr(decode[usage](t, u))
					continue
				}
				if hasUsage && string(u) != "null" {
					t.Errorf("event %d: usage = %s, want null", i, u)
				}
				for _, c := range choices {
					content[c.Index] += c.Delta.Content
					if c.FinishReason != nil {
						finish[c.Index] = *c.FinishReason
					}
				}
			}
			if diff := cmp.Diff(map[int]string{0: "You said: one two", 1: "You said: one two"}, content); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(map[int]string{0: "stop", 1: "stop"}, finish); diff != "" {
				t.Errorf("finish reasons (-want +got):\n%s", diff)
			}
			var wantUsage *usage
			if tt.includeUsage && !tt.omitUsage {
				wantUsage = &usage{2, 8, 10}
			}
			if diff := cmp.Diff(wantUsage, gotUsage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompletions(t *testing.T) {
	s := newServer(t, fakeopenai.Options{})
	type choice struct {
		Text         string `json:"text"`
		Index        int    `json:"index"`
		FinishReason string `json:"finish_reason"`
	}
	long := strings.Repeat("w ", 20)
	tests := []struct {
		name        string
		body        map[string]any
		wantChoices []choice
		wantUsage   usage
	}{
		{"string", map[string]any{"prompt": "hi there", "max_tokens": 10},
			[]choice{{"You said: hi there", 0, "stop"}}, usage{2, 4, 6}},
		{"default cap 16", map[string]any{"prompt": long},
			[]choice{{"You said: " + strings.TrimSpace(strings.Repeat("w ", 14)), 0, "length"}}, usage{20, 16, 36}},
		{"strings and n", map[string]any{"prompt": []string{"a", "b c"}, "n": 2, "max_tokens": 3},
			[]choice{{"You said: a", 0, "stop"}, {"You said: a", 1, "stop"}, {"You said: b", 2, "length"}, {"You said: b", 3, "length"}},
			usage{3, 12, 15}},
		{"token ids", map[string]any{"prompt": []int{7, 8, 9}, "max_tokens": 9},
			[]choice{{"You said: 7 8 9", 0, "stop"}}, usage{3, 5, 8}},
		{"echo", map[string]any{"prompt": "x ", "echo": true},
			[]choice{{"x You said: x", 0, "stop"}}, usage{1, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, t.Context(), s.URL()+"/completions", tt.body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			resp := decode[struct {
				Object  string   `json:"object"`
				Choices []choice `json:"choices"`
				Usage   usage    `json:"usage"`
			}](t, body)
			if diff := cmp.Diff(tt.wantChoices, resp.Choices); diff != "" {
				t.Errorf("choices (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUsage, resp.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
			if resp.Object != "text_completion" {
				t.Errorf("object = %q", resp.Object)
			}

			// The stream says the same.
			sb := map[string]any{"stream": true, "stream_options": map[string]bool{"include_usage": true}}
			for k, v := range tt.body {
				sb[k] = v
			}
			status, _, raw := post(t, t.Context(), s.URL()+"/completions", sb, nil)
			if status != http.StatusOK {
				t.Fatalf("stream status %d: %s", status, raw)
			}
			texts := map[int]string{}
			var streamUsage usage
			for _, ev := range events(t, raw) {
				if ev == "[DONE]" {
					continue
				}
				c := decode[struct {
					Choices []choice `json:"choices"`
					Usage   *usage   `json:"usage"`
				}](t, []byte(ev))
				for _, ch := range c.Choices {
					texts[ch.Index] += ch.Text
				}
				if c.Usage != nil {
					streamUsage = *c.Usage
				}
			}
			want := map[int]string{}
			for _, c := range tt.wantChoices {
				want[c.Index] = c.Text
			}
			if diff := cmp.Diff(want, texts); diff != "" {
				t.Errorf("streamed texts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUsage, streamUsage); diff != "" {
				t.Errorf("streamed usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmbeddings(t *testing.T) {
	s := newServer(t, fakeopenai.Options{Dimensions: 8})
	type resp struct {
		Object string `json:"object"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage usage `json:"usage"`
	}
	tests := []struct {
		name      string
		body      map[string]any
		wantDims  []int
		wantUsage usage
	}{
		{"one", map[string]any{"input": "a b c"}, []int{8}, usage{PromptTokens: 3, TotalTokens: 3}},
		{"many with dimensions", map[string]any{"input": []string{"a", "b c"}, "dimensions": 3}, []int{3, 3}, usage{PromptTokens: 3, TotalTokens: 3}},
		{"base64", map[string]any{"input": "x", "encoding_format": "base64"}, []int{8}, usage{PromptTokens: 1, TotalTokens: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, t.Context(), s.URL()+"/embeddings", tt.body, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			r := decode[resp](t, body)
			var dims []int
			for i, d := range r.Data {
				var vec []float32
				if tt.body["encoding_format"] == "base64" {
					b, err := base64.StdEncoding.DecodeString(decode[string](t, d.Embedding))
					if err != nil {
						t.Fatal(err)
					}
					for j := 0; j+4 <= len(b); j += 4 {
						vec = append(vec, math.Float32frombits(binary.LittleEndian.Uint32(b[j:])))
					}
				} else {
					vec = decode[[]float32](t, d.Embedding)
				}
				var norm float64
				for _, x := range vec {
					norm += float64(x) * float64(x)
				}
				if math.Abs(norm-1) > 1e-5 {
					t.Errorf("vector %d has squared norm %v, want 1", i, norm)
				}
				if d.Index != i || d.Object != "embedding" {
					t.Errorf("data[%d]: index %d, object %q", i, d.Index, d.Object)
				}
				dims = append(dims, len(vec))
			}
			if diff := cmp.Diff(tt.wantDims, dims); diff != "" {
				t.Errorf("dims (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUsage, r.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(fakeopenai.Embedding("q", 4), fakeopenai.Embedding("q", 4)); diff != "" {
		t.Errorf("Embedding is not deterministic:\n%s", diff)
	}
	if cmp.Equal(fakeopenai.Embedding("q", 4), fakeopenai.Embedding("r", 4)) {
		t.Error("different texts give the same vector")
	}
}

func TestModels(t *testing.T) {
	s := newServer(t, fakeopenai.Options{Model: "tiny"})
	resp, err := http.Get(s.URL() + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	got := decode[struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}](t, b)
	if got.Object != "list" || len(got.Data) != 1 || got.Data[0].ID != "tiny" {
		t.Errorf("models = %s", b)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, fakeopenai.Options{APIKey: "sk-good", Model: "tiny"})
	good := http.Header{"Authorization": {"Bearer sk-good"}}
	msgs := []map[string]string{{"role": "user", "content": "x"}}
	tests := []struct {
		name       string
		path       string
		body       any
		header     http.Header
		wantStatus int
		wantCode   string
		wantParam  string
	}{
		{"no key", "/chat/completions", map[string]any{"model": "tiny", "messages": msgs}, nil, 401, "invalid_api_key", ""},
		{"wrong key", "/chat/completions", map[string]any{"model": "tiny", "messages": msgs}, http.Header{"Authorization": {"Bearer nope"}}, 401, "invalid_api_key", ""},
		{"unknown model", "/chat/completions", map[string]any{"model": "big", "messages": msgs}, good, 404, "model_not_found", "model"},
		{"no messages", "/chat/completions", map[string]any{"model": "tiny", "messages": []any{}}, good, 400, "empty_array", "messages"},
		{"stream_options without stream", "/chat/completions", map[string]any{"model": "tiny", "messages": msgs, "stream_options": map[string]bool{"include_usage": true}}, good, 400, "invalid_value", "stream_options"},
		{"n too big", "/chat/completions", map[string]any{"model": "tiny", "messages": msgs, "n": 129}, good, 400, "integer_above_max_value", "n"},
		{"bad prompt", "/completions", map[string]any{"model": "tiny", "prompt": 3}, good, 400, "invalid_value", "prompt"},
		{"empty input", "/embeddings", map[string]any{"model": "tiny", "input": ""}, good, 400, "invalid_value", "input"},
		{"unknown path", "/nope", map[string]any{}, good, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := post(t, t.Context(), s.URL()+tt.path, tt.body, tt.header)
			env := decode[struct {
				Error struct {
					Message string  `json:"message"`
					Code    *string `json:"code"`
					Param   *string `json:"param"`
				} `json:"error"`
			}](t, body)
			got := []any{status, deref(env.Error.Code), deref(env.Error.Param), env.Error.Message != ""}
			want := []any{tt.wantStatus, tt.wantCode, tt.wantParam, true}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("status, code, param, has message (-want +got):\n%s\nbody %s", diff, body)
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestFailNextAndRecording(t *testing.T) {
	s := newServer(t, fakeopenai.Options{})
	s.FailNext(2, fakeopenai.Failure{Status: 429, Message: "slow down", Code: "rate_limit_exceeded", Header: http.Header{"Retry-After": {"7"}}})
	s.FailNext(1, fakeopenai.Failure{Status: 500, Body: `{"oops":true}`})
	body := map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": "x"}}}
	var got []int
	var retryAfter []string
	var bodies []string
	for range 4 {
		status, h, b := post(t, t.Context(), s.URL()+"/chat/completions", body, http.Header{"X-Test": {"yes"}})
		got = append(got, status)
		retryAfter = append(retryAfter, h.Get("Retry-After"))
		if status != 200 {
			bodies = append(bodies, string(b))
		}
	}
	if diff := cmp.Diff([]int{429, 429, 500, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"7", "7", "", ""}, retryAfter); diff != "" {
		t.Errorf("Retry-After (-want +got):\n%s", diff)
	}
	if !strings.Contains(bodies[0], `"slow down"`) || bodies[2] != `{"oops":true}` {
		t.Errorf("bodies = %q", bodies)
	}
	reqs := s.Requests()
	if len(reqs) != 4 {
		t.Fatalf("recorded %d requests, want 4", len(reqs))
	}
	r := reqs[3]
	if r.Method != "POST" || r.Path != "/v1/chat/completions" || r.Header.Get("X-Test") != "yes" || r.Body["model"] != "m" {
		t.Errorf("recorded %+v", r)
	}
	s.Reset()
	if _, ok := s.LastRequest(); ok {
		t.Error("Reset kept requests")
	}
}

func TestBehavior(t *testing.T) {
	body := map[string]any{"model": "m", "stream": true, "messages": []map[string]string{{"role": "user", "content": "a b c d e f"}}}

	t.Run("first byte delay", func(t *testing.T) {
		s := newServer(t, fakeopenai.Options{Behavior: fakeopenai.Behavior{FirstByteDelay: 100 * time.Millisecond}})
		start := time.Now()
		post(t, t.Context(), s.URL()+"/chat/completions", body, nil)
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("answered after %v, want ≥ 100ms", d)
		}
	})

	t.Run("drop mid-stream", func(t *testing.T) {
		s := newServer(t, fakeopenai.Options{Behavior: fakeopenai.Behavior{DropAfter: 3}})
		b, _ := json.Marshal(body)
		resp, err := http.Post(s.URL()+"/chat/completions", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("read error = %v, want unexpected EOF", err)
		}
		if got := len(events(t, raw)); got != 3 {
			t.Errorf("got %d events before the drop, want 3", got)
		}
	})

	t.Run("chunk delay and cancellation", func(t *testing.T) {
		s := newServer(t, fakeopenai.Options{Behavior: fakeopenai.Behavior{ChunkDelay: 50 * time.Millisecond}})
		ctx, cancel := context.WithCancel(t.Context())
		b, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", bytes.NewReader(b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		start := time.Now()
		for range 4 { // two events
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("two events in %v, want ≥ one chunk delay", d)
		}
		cancel()
		resp.Body.Close()
		deadline := time.Now().Add(2 * time.Second)
		for s.Cancelled() == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s.Cancelled() != 1 {
			t.Errorf("Cancelled() = %d, want 1", s.Cancelled())
		}
	})

	t.Run("close ends delays", func(t *testing.T) {
		s := fakeopenai.New(fakeopenai.Options{Behavior: fakeopenai.Behavior{FirstByteDelay: time.Minute}})
		go func() {
			b, _ := json.Marshal(body)
			resp, err := http.Post(s.URL()+"/chat/completions", "application/json", bytes.NewReader(b))
			if err == nil {
				resp.Body.Close()
			}
		}()
		for len(s.Requests()) == 0 {
			time.Sleep(time.Millisecond)
		}
		start := time.Now()
		s.Close()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v", d)
		}
	})
}
