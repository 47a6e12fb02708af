package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeInference answers /openai/v1/chat/completions with a canned status,
// content type and body, and records the request it got.
type fakeInference struct {
	status      int
	contentType string
	body        string

	gotPath string
	gotKey  string
	gotBody map[string]any
}

func (f *fakeInference) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.gotPath = r.Method + " " + r.URL.Path
	f.gotKey = r.Header.Get("api-key")
	b, _ := io.ReadAll(r.Body)
	f.gotBody = nil
	_ = json.Unmarshal(b, &f.gotBody)
	w.Header().Set("Content-Type", f.contentType)
	w.WriteHeader(f.status)
	io.WriteString(w, f.body)
}

// sse joins events as a server writes them.
func sse(events ...string) string {
	var b strings.Builder
	for _, e := range events {
		b.WriteString("data: " + e + "\n\n")
	}
	return b.String()
}

func TestChat(t *testing.T) {
	const azureFirst = `{"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}`
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        ChatResult
		wantDeltas  []string
		wantErr     *Error // nil: no error expected, unless wantAnyErr
		wantAnyErr  bool
	}{
		{
			name:        "stream with usage",
			status:      200,
			contentType: "text/event-stream",
			body: sse(
				azureFirst,
				`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
				`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`,
				`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo, "},"finish_reason":null}]}`,
				`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"world"},"finish_reason":null}]}`,
				`{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
				`{"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`,
				`[DONE]`,
			),
			want: ChatResult{Content: "Hello, world", FinishReason: "stop",
				Usage: ChatUsage{PromptTokens: 9, CompletionTokens: 3, TotalTokens: 12}},
			wantDeltas: []string{"Hel", "lo, ", "world"},
		},
		{
			name:        "CRLF, comments, event lines and no space after data:",
			status:      200,
			contentType: "text/event-stream; charset=utf-8",
			body: ": keep-alive\r\n\r\nevent: message\r\ndata:{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\r\n\r\n" +
				"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}\r\n\r\ndata: [DONE]\r\n\r\n",
			want:       ChatResult{Content: "ab", FinishReason: "length"},
			wantDeltas: []string{"a", "b"},
		},
		{
			name:        "an event split over two data lines",
			status:      200,
			contentType: "text/event-stream",
			body:        "data: {\"choices\":[{\"index\":0,\n" + "data: \"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n" + "data: [DONE]\n\n",
			want:        ChatResult{Content: "x", FinishReason: "stop"},
			wantDeltas:  []string{"x"},
		},
		{
			name:        "other choices are ignored",
			status:      200,
			contentType: "text/event-stream",
			body: sse(
				`{"choices":[{"index":1,"delta":{"content":"no"}},{"index":0,"delta":{"content":"yes"},"finish_reason":"stop"}]}`,
				`[DONE]`,
			),
			want:       ChatResult{Content: "yes", FinishReason: "stop"},
			wantDeltas: []string{"yes"},
		},
		{
			name:        "finished stream without [DONE]",
			status:      200,
			contentType: "text/event-stream",
			body:        sse(`{"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}`),
			want:        ChatResult{Content: "ok", FinishReason: "stop"},
			wantDeltas:  []string{"ok"},
		},
		{
			name:        "stream cut short",
			status:      200,
			contentType: "text/event-stream",
			body:        sse(`{"choices":[{"index":0,"delta":{"content":"par"}}]}`),
			want:        ChatResult{Content: "par"},
			wantDeltas:  []string{"par"},
			wantAnyErr:  true,
		},
		{
			name:        "bad JSON in the stream",
			status:      200,
			contentType: "text/event-stream",
			body:        sse(`{"choices":[`),
			wantAnyErr:  true,
		},
		{
			name:        "error event in the stream",
			status:      200,
			contentType: "text/event-stream",
			body: sse(
				`{"choices":[{"index":0,"delta":{"content":"so"}}]}`,
				`{"error":{"message":"The response was filtered.","code":"content_filter","param":null}}`,
			),
			want:       ChatResult{Content: "so"},
			wantDeltas: []string{"so"},
			wantErr:    &Error{Code: "content_filter", Message: "The response was filtered."},
		},
		{
			name:        "one JSON body instead of a stream",
			status:      200,
			contentType: "application/json",
			body: `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],` +
				`"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
			want:       ChatResult{Content: "whole", FinishReason: "stop", Usage: ChatUsage{1, 2, 3}},
			wantDeltas: []string{"whole"},
		},
		{
			name:        "401 envelope",
			status:      401,
			contentType: "application/json",
			body:        `{"error":{"code":"401","message":"Access denied due to invalid subscription key.","param":null}}`,
			wantErr:     &Error{Status: 401, Code: "401", Message: "Access denied due to invalid subscription key."},
		},
		{
			name:        "404 with a param",
			status:      404,
			contentType: "application/json",
			body:        `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist.","param":"model"}}`,
			wantErr:     &Error{Status: 404, Code: "DeploymentNotFound", Message: "The API deployment for this resource does not exist.", Target: "model"},
		},
		{
			name:        "numeric code",
			status:      429,
			contentType: "application/json",
			body:        `{"error":{"code":429,"message":"Rate limit exceeded."}}`,
			wantErr:     &Error{Status: 429, Code: "429", Message: "Rate limit exceeded."},
		},
		{
			name:        "OpenAI style: null code, a type",
			status:      400,
			contentType: "application/json",
			body:        `{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}}`,
			wantErr:     &Error{Status: 400, Code: "invalid_request_error", Message: "bad temperature", Target: "temperature"},
		},
		{
			name:        "plain text error",
			status:      502,
			contentType: "text/plain",
			body:        "upstream down\n",
			wantErr:     &Error{Status: 502, Code: "502", Message: "upstream down"},
		},
		{
			name:        "empty error body",
			status:      503,
			contentType: "text/plain",
			wantErr:     &Error{Status: 503, Code: "503", Message: "Service Unavailable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeInference{status: tt.status, contentType: tt.contentType, body: tt.body}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := New(srv.URL, "admin-token")

			var deltas []string
			got, err := c.Chat(context.Background(), "project-key", "dep1", ChatRequest{
				Messages: []ChatMessage{{Role: "user", Content: "hi"}},
			}, func(s string) { deltas = append(deltas, s) })

			switch {
			case tt.wantErr != nil:
				var apiErr *Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %v (%T), want *Error", err, err)
				}
				if diff := cmp.Diff(tt.wantErr, apiErr); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			case tt.wantAnyErr:
				if err == nil {
					t.Fatalf("err = nil, want an error")
				}
			case err != nil:
				t.Fatalf("Chat: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDeltas, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatRequest(t *testing.T) {
	fake := &fakeInference{status: 200, contentType: "text/event-stream", body: sse(`[DONE]`)}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := New(srv.URL+"/", "admin-token")

	temp, maxTokens := 0.25, 64
	tests := []struct {
		name string
		req  ChatRequest
		want map[string]any
	}{
		{
			name: "defaults left to the server",
			req:  ChatRequest{Messages: []ChatMessage{{Role: "user", Content: "hi"}}},
			want: map[string]any{
				"model":          "dep1",
				"messages":       []any{map[string]any{"role": "user", "content": "hi"}},
				"stream":         true,
				"stream_options": map[string]any{"include_usage": true},
			},
		},
		{
			name: "temperature and max tokens",
			req: ChatRequest{
				Messages:    []ChatMessage{{Role: "system", Content: "be brief"}, {Role: "user", Content: "hi"}},
				Temperature: &temp,
				MaxTokens:   &maxTokens,
			},
			want: map[string]any{
				"model": "dep1",
				"messages": []any{
					map[string]any{"role": "system", "content": "be brief"},
					map[string]any{"role": "user", "content": "hi"},
				},
				"temperature":    0.25,
				"max_tokens":     float64(64),
				"stream":         true,
				"stream_options": map[string]any{"include_usage": true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Chat(context.Background(), "project-key", "dep1", tt.req, nil); err != nil {
				t.Fatalf("Chat: %v", err)
			}
			if got, want := fake.gotPath, "POST /openai/v1/chat/completions"; got != want {
				t.Errorf("request = %q, want %q", got, want)
			}
			if got, want := fake.gotKey, "project-key"; got != want {
				t.Errorf("api-key = %q, want %q", got, want)
			}
			if diff := cmp.Diff(tt.want, fake.gotBody); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatContextCanceled(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, sse(`{"choices":[{"index":0,"delta":{"content":"a"}}]}`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithCancel(context.Background())
	c := New(srv.URL, "admin-token")
	_, err := c.Chat(ctx, "k", "dep1", ChatRequest{Messages: []ChatMessage{{Role: "user", Content: "hi"}}},
		func(string) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
