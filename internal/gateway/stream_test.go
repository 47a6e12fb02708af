package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// events splits an SSE body into its data payloads.
func events(t *testing.T, body string) []string {
	t.Helper()
	if !strings.HasSuffix(body, "\n\n") {
		t.Errorf("stream does not end with a blank line: %q", body)
	}
	var out []string
	for _, block := range strings.Split(strings.TrimSuffix(body, "\n\n"), "\n\n") {
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok {
			t.Fatalf("event %q is not a data line", block)
		}
		out = append(out, data)
	}
	return out
}

// summary reduces a chunk to what the order tests compare.
func summary(t *testing.T, data string) string {
	t.Helper()
	if data == "[DONE]" {
		return data
	}
	var ch struct {
		ID      string `json:"id"`
		Choices []struct {
			Delta struct {
				Role    string  `json:"role"`
				Content *string `json:"content"`
			} `json:"delta"`
			Text         string          `json:"text"`
			FinishReason *string         `json:"finish_reason"`
			Filter       json.RawMessage `json:"content_filter_results"`
		} `json:"choices"`
		Usage *struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
		PromptFilter json.RawMessage `json:"prompt_filter_results"`
		Error        json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(data), &ch); err != nil {
		t.Fatalf("chunk %q: %v", data, err)
	}
	switch {
	case ch.Error != nil:
		return "error"
	case ch.Usage != nil:
		return "usage:" + string(rune('0'+ch.Usage.TotalTokens/10)) + string(rune('0'+ch.Usage.TotalTokens%10))
	case ch.PromptFilter != nil && len(ch.Choices) == 0:
		return "prompt-filter"
	}
	var s []string
	for _, c := range ch.Choices {
		switch {
		case c.Delta.Role != "":
			s = append(s, "role")
		case c.Delta.Content != nil:
			s = append(s, "content:"+*c.Delta.Content)
		case c.Text != "":
			s = append(s, "text:"+c.Text)
		}
		if c.Filter != nil {
			s = append(s, "filtered")
		}
		if c.FinishReason != nil {
			s = append(s, "finish:"+*c.FinishReason)
		}
	}
	return strings.Join(s, ",")
}

func TestChatStream(t *testing.T) {
	h := newHarness(t, nil)
	stream := `"stream":true`
	withUsage := `"stream":true,"stream_options":{"include_usage":true}`
	cases := []struct {
		name, path, extra string
		want              []string
	}{
		{"Azure", azChat, stream, []string{"prompt-filter", "role", "content:Hel,filtered", "content:lo,filtered", "content:!,filtered", "finish:stop", "[DONE]"}},
		{"Azure with usage", azChat, withUsage, []string{"prompt-filter", "role", "content:Hel,filtered", "content:lo,filtered", "content:!,filtered", "finish:stop", "usage:10", "[DONE]"}},
		{"OpenAI", oaChat, stream, []string{"role", "content:Hel", "content:lo", "content:!", "finish:stop", "[DONE]"}},
		{"OpenAI with usage", oaChat, withUsage, []string{"role", "content:Hel", "content:lo", "content:!", "finish:stop", "usage:10", "[DONE]"}},
		{"Azure v1", "/openai/v1/chat/completions", withUsage, []string{"prompt-filter", "role", "content:Hel,filtered", "content:lo,filtered", "content:!,filtered", "finish:stop", "usage:10", "[DONE]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", tc.path, nil, chatBody(tc.extra))
			for k, want := range map[string]string{"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no", "x-content-type-options": "nosniff"} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := readAll(t, resp)
			evs := events(t, body)
			var got []string
			for _, e := range evs {
				got = append(got, summary(t, e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s\n%s", diff, body)
			}
			if strings.HasPrefix(tc.path, "/openai/") {
				var first map[string]any
				if err := json.Unmarshal([]byte(evs[0]), &first); err != nil {
					t.Fatal(err)
				}
				for k, want := range map[string]any{"id": "", "object": "", "created": 0.0, "model": "", "choices": []any{}} {
					if diff := cmp.Diff(want, first[k]); diff != "" {
						t.Errorf("first event %s: %s", k, diff)
					}
				}
				pfr, _ := first["prompt_filter_results"].([]any)
				if len(pfr) != 1 || len(first) != 6 {
					t.Errorf("first event = %s", evs[0])
				}
			}
		})
	}
	// The backend is always asked for usage.
	h.backend.mu.Lock()
	defer h.backend.mu.Unlock()
	for _, r := range h.backend.chatReqs {
		if r.StreamOptions == nil || !r.StreamOptions.IncludeUsage {
			t.Errorf("backend request without include_usage")
		}
	}
}

func TestCompletionStream(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.do(t, "POST", azCompl, nil, `{"prompt":"Once","stream":true,"stream_options":{"include_usage":true}}`)
	var got []string
	for _, e := range events(t, readAll(t, resp)) {
		got = append(got, summary(t, e))
	}
	want := []string{"prompt-filter", "text:Hel,filtered", "text:lo,filtered", "text:!,filtered", "usage:10", "[DONE]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestStreamErrors(t *testing.T) {
	cases := []struct {
		name       string
		failAfter  int
		wantStatus int
		want       []string
	}{
		{"before the first chunk", 0, http.StatusBadGateway, nil},
		{"after two chunks", 2, http.StatusOK, []string{"role", "content:Hel", "error"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.backend.failAfter = tc.failAfter
			h.backend.err = fault.New(fault.BadGateway, "upstream_error", "the upstream server failed")
			resp := h.do(t, "POST", oaChat, nil, chatBody(`"stream":true`))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.want == nil {
				got, _ := parseError(t, resp)
				if diff := cmp.Diff(errorOf{502, "upstream_error", ""}, got); diff != "" {
					t.Error(diff)
				}
				return
			}
			var got []string
			for _, e := range events(t, readAll(t, resp)) {
				got = append(got, summary(t, e))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStreamClientDisconnect checks that a client going away cancels the
// backend's context, and that the usage is still recorded.
func TestStreamClientDisconnect(t *testing.T) {
	h := newHarness(t, nil)
	h.backend.block = true
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+oaChat, strings.NewReader(chatBody(`"stream":true`)))
	req.Header.Set("api-key", keyA)
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
	select {
	case err := <-h.backend.streamCtx:
		if err == nil {
			t.Error("backend stream ended with a live context")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend context not cancelled after the client went away")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.meter.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	recs := h.meter.all()
	if len(recs) != 1 || recs[0].Usage.TotalTokens != 10 || !recs[0].Stream {
		t.Errorf("records = %+v", recs)
	}
}
