package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/backend/backendtest"
	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

var _ gateway.Backend = (*upstream.Backend)(nil)

const (
	upstreamModel = "upstream-model"
	secret        = "sk-upstream-secret-123"
)

func logger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTarget(baseURL, key string) inference.Target {
	return inference.Target{
		Project: "p", Deployment: "my-deployment", SKU: "Standard", Model: "tiny",
		Version: catalog.Version{
			Version: "1", Format: catalog.FormatUpstream,
			Upstream:     &catalog.Upstream{BaseURL: baseURL, Model: upstreamModel, APIKey: key},
			Capabilities: catalog.Capabilities{Chat: true, Completion: true, Embeddings: true},
		},
	}
}

// setup starts a fake upstream that requires the secret key and knows only
// upstreamModel, and a backend for it.
func setup(t *testing.T, b fakeopenai.Behavior, opts upstream.Options) (*upstream.Backend, *fakeopenai.Server, inference.Target) {
	t.Helper()
	fake := fakeopenai.New(fakeopenai.Options{APIKey: secret, Model: upstreamModel, Behavior: b})
	t.Cleanup(fake.Close)
	if opts.Logger == nil {
		opts.Logger = logger(t)
	}
	return upstream.New(opts), fake, newTarget(fake.URL(), secret)
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (backendtest.Backend, inference.Target) {
		b, _, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
		return b, target
	})
}

func TestConformanceSlowUpstream(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) (backendtest.Backend, inference.Target) {
		b, _, target := setup(t, fakeopenai.Behavior{ChunkDelay: time.Millisecond, FirstByteDelay: time.Millisecond}, upstream.Options{})
		return b, target
	})
}

func ptr[T any](v T) *T { return &v }

func chatReq(user string) *inference.ChatRequest {
	return &inference.ChatRequest{
		Model:    "my-deployment",
		Messages: []inference.Message{{Role: "user", Content: inference.TextContent(user)}},
	}
}

func collect(t *testing.T) (*strings.Builder, func(*inference.ChatChunk) error) {
	var sb strings.Builder
	return &sb, func(c *inference.ChatChunk) error {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				sb.WriteString(*ch.Delta.Content)
			}
		}
		return nil
	}
}

// TestRequestRewriting checks what reaches the upstream: its model name,
// its key, include_usage forced on streams and stripped elsewhere, float
// embeddings, and the client's other fields passed through.
func TestRequestRewriting(t *testing.T) {
	b, fake, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
	ctx := t.Context()

	req := chatReq("hi")
	req.Temperature, req.Seed, req.User = ptr(0.5), ptr(int64(9)), "alice"
	req.StreamOptions = &inference.StreamOptions{IncludeUsage: false}
	_, emit := collect(t)
	if _, err := b.ChatStream(ctx, target, req, emit); err != nil {
		t.Fatal(err)
	}
	req.Stream = true
	if _, err := b.Chat(ctx, target, req); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompleteStream(ctx, target, &inference.CompletionRequest{Model: "x", Prompt: inference.Prompt{Texts: []string{"a"}}}, func(*inference.Completion) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Embed(ctx, target, &inference.EmbeddingRequest{Model: "x", Input: inference.Prompt{Texts: []string{"a"}}, EncodingFormat: "base64"}); err != nil {
		t.Fatal(err)
	}
	if req.Model != "my-deployment" || req.StreamOptions.IncludeUsage {
		t.Errorf("the caller's request was modified: %+v", req)
	}

	type seen struct {
		Path, Auth, Accept string
		Model, Stream      any
		StreamOptions      any
		Temperature, User  any
		EncodingFormat     any
	}
	var got []seen
	for _, r := range fake.Requests() {
		got = append(got, seen{r.Path, r.Header.Get("Authorization"), r.Header.Get("Accept"), r.Body["model"], r.Body["stream"],
			r.Body["stream_options"], r.Body["temperature"], r.Body["user"], r.Body["encoding_format"]})
	}
	include := map[string]any{"include_usage": true}
	want := []seen{
		{"/v1/chat/completions", "Bearer " + secret, "text/event-stream", upstreamModel, true, include, 0.5, "alice", nil},
		{"/v1/chat/completions", "Bearer " + secret, "application/json", upstreamModel, nil, nil, 0.5, "alice", nil},
		{"/v1/completions", "Bearer " + secret, "text/event-stream", upstreamModel, true, include, nil, nil, nil},
		{"/v1/embeddings", "Bearer " + secret, "application/json", upstreamModel, nil, nil, nil, nil, nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests upstream (-want +got):\n%s", diff)
	}
}

func TestNoKey(t *testing.T) {
	fake := fakeopenai.New(fakeopenai.Options{})
	defer fake.Close()
	b := upstream.New(upstream.Options{Logger: logger(t)})
	if _, err := b.Chat(t.Context(), newTarget(fake.URL()+"/", ""), chatReq("x")); err != nil {
		t.Fatal(err)
	}
	r, _ := fake.LastRequest()
	if h := r.Header.Get("Authorization"); h != "" || r.Path != "/v1/chat/completions" {
		t.Errorf("Authorization %q, path %q; want none and /v1/chat/completions", h, r.Path)
	}
}

func TestNotConfigured(t *testing.T) {
	b := upstream.New(upstream.Options{})
	target := newTarget("", "")
	target.Version.Upstream = nil
	_, err := b.Chat(t.Context(), target, chatReq("x"))
	if got := fault.KindOf(err); got != fault.BadGateway {
		t.Errorf("kind = %v (%v), want BadGateway", got, err)
	}
}

// wantFault describes an expected *fault.Error.
type wantFault struct {
	Kind     fault.Kind
	Code     string
	Param    string
	Contains []string
}

func checkFault(t *testing.T, err error, want wantFault) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *fault.Error", err, err)
	}
	got := wantFault{fe.Kind, fe.Code, fe.Param, want.Contains}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fault (-want +got):\n%s\nmessage: %s", diff, fe.Message)
	}
	for _, s := range want.Contains {
		if !strings.Contains(fe.Message, s) {
			t.Errorf("message %q does not contain %q", fe.Message, s)
		}
	}
	if strings.Contains(fe.Message, secret) || strings.Contains(err.Error(), secret) || strings.Contains(fmt.Sprint(fe.Err), secret) {
		t.Errorf("error leaks the upstream key: %q / %v", fe.Message, fe.Err)
	}
}

func TestErrorMapping(t *testing.T) {
	var logs syncBuffer
	b, fake, target := setup(t, fakeopenai.Behavior{}, upstream.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	defer func() {
		if out := logs.String(); strings.Contains(out, secret) || !strings.Contains(out, "upstream answered with an error") {
			t.Errorf("logs leak the key or say nothing:\n%s", out)
		}
	}()
	host := strings.TrimPrefix(strings.TrimSuffix(fake.URL(), "/v1"), "http://")
	tests := []struct {
		name      string
		fail      fakeopenai.Failure
		want      wantFault
		wantRetry time.Duration
	}{
		{"400 with code and param", fakeopenai.Failure{Status: 400, Message: "This model's maximum context length is 8 tokens.", Code: "context_length_exceeded", Param: "messages"},
			wantFault{fault.Invalid, "context_length_exceeded", "messages", []string{"maximum context length is 8"}}, 0},
		{"400 without code", fakeopenai.Failure{Status: 400, Message: "bad temperature"},
			wantFault{fault.Invalid, "invalid_request_error", "", []string{"bad temperature"}}, 0},
		{"400 vLLM shape", fakeopenai.Failure{Status: 400, Body: `{"object":"error","message":"top_k must be -1","type":"BadRequestError","param":null,"code":400}`},
			wantFault{fault.Invalid, "invalid_request_error", "", []string{"top_k must be -1"}}, 0},
		{"401 echoing the key", fakeopenai.Failure{Status: 401, Message: "Incorrect API key provided: " + secret, Code: "invalid_api_key"},
			wantFault{fault.BadGateway, "upstream_auth_failed", "", []string{host, "rejected Cerulean's API key"}}, 0},
		{"403", fakeopenai.Failure{Status: 403, Message: "forbidden"},
			wantFault{fault.BadGateway, "upstream_auth_failed", "", []string{host}}, 0},
		{"404", fakeopenai.Failure{Status: 404, Message: "The model does not exist", Code: "model_not_found"},
			wantFault{fault.BadGateway, "upstream_model_not_found", "", []string{host, `does not know model "upstream-model"`}}, 0},
		{"408", fakeopenai.Failure{Status: 408},
			wantFault{fault.Timeout, "upstream_timeout", "", []string{host}}, 0},
		{"413", fakeopenai.Failure{Status: 413, Message: "too big"},
			wantFault{fault.TooLarge, "request_too_large", "", []string{"too big"}}, 0},
		{"422 other 4xx", fakeopenai.Failure{Status: 422, Message: "unprocessable", Param: "tools"},
			wantFault{fault.Invalid, "invalid_request_error", "tools", []string{"unprocessable"}}, 0},
		{"429 retry-after", fakeopenai.Failure{Status: 429, Message: "Rate limit reached.", Code: "rate_limit_exceeded", Header: http.Header{"Retry-After": {"7"}}},
			wantFault{fault.RateLimited, "rate_limit_exceeded", "", []string{"Rate limit reached.", "retry after 7 seconds"}}, 7 * time.Second},
		{"429 Azure retry-after-ms", fakeopenai.Failure{Status: 429, Body: `{"error":{"code":"429","message":"Requests have exceeded token rate limit."}}`, Header: http.Header{"Retry-After-Ms": {"1500"}, "Retry-After": {"2"}}},
			wantFault{fault.RateLimited, "429", "", []string{"exceeded token rate limit", "retry after 2 seconds"}}, 1500 * time.Millisecond},
		{"429 no header", fakeopenai.Failure{Status: 429, Body: `{"error":"slow down"}`},
			wantFault{fault.RateLimited, "rate_limit_exceeded", "", []string{"slow down"}}, 0},
		{"500", fakeopenai.Failure{Status: 500, Message: "The server had an error"},
			wantFault{fault.BadGateway, "upstream_error", "", []string{host, "HTTP 500", "The server had an error"}}, 0},
		{"503 plain text", fakeopenai.Failure{Status: 503, Body: "overloaded\n"},
			wantFault{fault.BadGateway, "upstream_error", "", []string{host, "HTTP 503", "overloaded"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.FailNext(1, tt.fail)
			_, err := b.Chat(t.Context(), target, chatReq("x"))
			checkFault(t, err, tt.want)
			var ra interface{ RetryAfter() time.Duration }
			var gotRetry time.Duration
			if errors.As(err, &ra) {
				gotRetry = ra.RetryAfter()
			}
			if gotRetry != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", gotRetry, tt.wantRetry)
			}

			fake.FailNext(1, tt.fail)
			_, emit := collect(t)
			u, err := b.ChatStream(t.Context(), target, chatReq("x"), emit)
			checkFault(t, err, tt.want)
			if u != nil {
				t.Errorf("usage %+v for a stream that never started", *u)
			}
		})
	}
}

func TestWrongUpstreamKey(t *testing.T) {
	b, _, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
	target.Version.Upstream.APIKey = "sk-wrong"
	_, err := b.Chat(t.Context(), target, chatReq("x"))
	checkFault(t, err, wantFault{fault.BadGateway, "upstream_auth_failed", "", []string{"rejected"}})
}

// refusedAddr is an address nothing listens on.
func refusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestConnectRetries(t *testing.T) {
	fake := fakeopenai.New(fakeopenai.Options{})
	defer fake.Close()
	fakeAddr := strings.TrimPrefix(strings.TrimSuffix(fake.URL(), "/v1"), "http://")
	dead := refusedAddr(t)
	tests := []struct {
		name      string
		retries   int
		failDials int // dials that go to a dead port before the fake
		wantDials int64
		wantErr   bool
	}{
		{"refused, default retries", 0, 100, 3, true},
		{"refused, no retries", -1, 100, 1, true},
		{"refused, 4 retries", 4, 100, 5, true},
		{"refused twice then up", 0, 2, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int64
			d := &net.Dialer{Timeout: time.Second}
			tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				n := dials.Add(1)
				if n <= int64(tt.failDials) {
					return d.DialContext(ctx, network, dead)
				}
				return d.DialContext(ctx, network, fakeAddr)
			}}
			defer tr.CloseIdleConnections()
			b := upstream.New(upstream.Options{Transport: tr, Retries: tt.retries, RetryBackoff: time.Millisecond, Logger: logger(t)})
			_, err := b.Chat(t.Context(), newTarget(fake.URL(), ""), chatReq("x"))
			if got := dials.Load(); got != tt.wantDials {
				t.Errorf("dials = %d, want %d", got, tt.wantDials)
			}
			if !tt.wantErr {
				if err != nil {
					t.Errorf("err = %v, want success", err)
				}
				return
			}
			attempts := fmt.Sprintf("(%d attempts)", tt.wantDials)
			if tt.wantDials == 1 {
				attempts = "refused"
			}
			checkFault(t, err, wantFault{fault.BadGateway, "upstream_error", "", []string{fakeAddr, "connection refused", attempts}})
			if fault.KindOf(err).Status() != http.StatusBadGateway {
				t.Errorf("status %d, want 502", fault.KindOf(err).Status())
			}
		})
	}
}

func TestConnectRefusedDefaultTransport(t *testing.T) {
	b := upstream.New(upstream.Options{RetryBackoff: time.Millisecond, Logger: logger(t)})
	addr := refusedAddr(t)
	_, emit := collect(t)
	u, err := b.ChatStream(t.Context(), newTarget("http://"+addr+"/v1", secret), chatReq("x"), emit)
	checkFault(t, err, wantFault{fault.BadGateway, "upstream_error", "", []string{addr, "connection refused", "(3 attempts)"}})
	if u != nil {
		t.Errorf("usage %+v for a request never sent", *u)
	}
}

func TestTimeout(t *testing.T) {
	b, _, target := setup(t, fakeopenai.Behavior{FirstByteDelay: 5 * time.Second}, upstream.Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := b.Chat(t.Context(), target, chatReq("x"))
	checkFault(t, err, wantFault{fault.Timeout, "upstream_timeout", "", []string{"did not answer in time"}})
	_, emit := collect(t)
	_, err = b.ChatStream(t.Context(), target, chatReq("x"), emit)
	checkFault(t, err, wantFault{fault.Timeout, "upstream_timeout", "", nil})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("two timed-out calls took %v", d)
	}
	if fault.KindOf(err).Status() != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", fault.KindOf(err).Status())
	}
}

// The fallback estimate for chatReq("one two three"): the prompt is one
// message of 13 characters, 4 + ceil(13/4) = 8; the reply "You said: one
// two three" has 23 characters, ceil(23/4) = 6.
func TestUsageFallback(t *testing.T) {
	b, fake, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
	ctx := t.Context()
	tests := []struct {
		name     string
		behavior fakeopenai.Behavior
		call     func() (*inference.Usage, string, error)
		want     inference.Usage
		wantErr  *wantFault
	}{
		{"chat stream without usage", fakeopenai.Behavior{OmitUsage: true}, func() (*inference.Usage, string, error) {
			sb, emit := collect(t)
			u, err := b.ChatStream(ctx, target, chatReq("one two three"), emit)
			return u, sb.String(), err
		}, inference.Usage{PromptTokens: 8, CompletionTokens: 6, TotalTokens: 14}, nil},
		{"chat without usage", fakeopenai.Behavior{OmitUsage: true}, func() (*inference.Usage, string, error) {
			r, err := b.Chat(ctx, target, chatReq("one two three"))
			if err != nil {
				return nil, "", err
			}
			return r.Usage, r.Choices[0].Message.Content.String(), nil
		}, inference.Usage{PromptTokens: 8, CompletionTokens: 6, TotalTokens: 14}, nil},
		// Events: the role chunk, "You", " said:", then the drop;
		// "You said:" is 9 characters, 3 tokens.
		{"chat stream cut", fakeopenai.Behavior{DropAfter: 3}, func() (*inference.Usage, string, error) {
			sb, emit := collect(t)
			u, err := b.ChatStream(ctx, target, chatReq("one two three"), emit)
			return u, sb.String(), err
		}, inference.Usage{PromptTokens: 8, CompletionTokens: 3, TotalTokens: 11},
			&wantFault{fault.BadGateway, "upstream_error", "", []string{"ended the stream early"}}},
		// Legacy: "one two three" is 4 tokens, no per-message overhead.
		{"completion stream without usage", fakeopenai.Behavior{OmitUsage: true}, func() (*inference.Usage, string, error) {
			var sb strings.Builder
			u, err := b.CompleteStream(ctx, target, &inference.CompletionRequest{Prompt: inference.Prompt{Texts: []string{"one two three"}}},
				func(c *inference.Completion) error { sb.WriteString(c.Choices[0].Text); return nil })
			return u, sb.String(), err
		}, inference.Usage{PromptTokens: 4, CompletionTokens: 6, TotalTokens: 10}, nil},
		{"completion without usage", fakeopenai.Behavior{OmitUsage: true}, func() (*inference.Usage, string, error) {
			r, err := b.Complete(ctx, target, &inference.CompletionRequest{Prompt: inference.Prompt{Texts: []string{"one two three"}}})
			if err != nil {
				return nil, "", err
			}
			return r.Usage, r.Choices[0].Text, nil
		}, inference.Usage{PromptTokens: 4, CompletionTokens: 6, TotalTokens: 10}, nil},
		{"embeddings without usage", fakeopenai.Behavior{OmitUsage: true}, func() (*inference.Usage, string, error) {
			r, err := b.Embed(ctx, target, &inference.EmbeddingRequest{Input: inference.Prompt{Texts: []string{"one two three"}}})
			if err != nil {
				return nil, "", err
			}
			return r.Usage, "", nil
		}, inference.Usage{PromptTokens: 4, TotalTokens: 4}, nil},
		{"chat stream with usage", fakeopenai.Behavior{}, func() (*inference.Usage, string, error) {
			sb, emit := collect(t)
			u, err := b.ChatStream(ctx, target, chatReq("one two three"), emit)
			return u, sb.String(), err
		}, inference.Usage{PromptTokens: 3, CompletionTokens: 5, TotalTokens: 8,
			PromptTokensDetails: &inference.PromptTokensDetails{}, CompletionTokensDetails: &inference.CompletionTokensDetails{}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.SetBehavior(tt.behavior)
			u, text, err := tt.call()
			if tt.wantErr != nil {
				checkFault(t, err, *tt.wantErr)
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if u == nil {
				t.Fatalf("no usage (text %q)", text)
			}
			if diff := cmp.Diff(tt.want, *u); diff != "" {
				t.Errorf("usage (-want +got):\n%s\ntext %q", diff, text)
			}
		})
	}
}

func TestCancellationPropagates(t *testing.T) {
	t.Run("stream", func(t *testing.T) {
		b, fake, target := setup(t, fakeopenai.Behavior{ChunkDelay: 20 * time.Millisecond}, upstream.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		u, err := b.ChatStream(ctx, target, chatReq(strings.Repeat("word ", 100)), func(c *inference.ChatChunk) error {
			if c.Choices[0].Delta.Content != nil && *c.Choices[0].Delta.Content != "" {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		// Role chunk "" and "You": 3 characters, 1 token; 100 words of
		// "word " are 500 characters, 4 + 125 tokens.
		if diff := cmp.Diff(&inference.Usage{PromptTokens: 129, CompletionTokens: 1, TotalTokens: 130}, u); diff != "" {
			t.Errorf("usage (-want +got):\n%s", diff)
		}
		waitCancelled(t, fake)
	})
	t.Run("before the first byte", func(t *testing.T) {
		b, fake, target := setup(t, fakeopenai.Behavior{FirstByteDelay: 10 * time.Second}, upstream.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := b.Chat(ctx, target, chatReq("x"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the context's error", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Chat returned after %v", d)
		}
		waitCancelled(t, fake)
	})
}

func waitCancelled(t *testing.T, fake *fakeopenai.Server) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for fake.Cancelled() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if fake.Cancelled() != 1 {
		t.Errorf("the upstream saw %d cancelled requests, want 1", fake.Cancelled())
	}
}

// TestStreamOptionsRejected checks that an upstream that does not know
// stream_options is asked again without it, and its usage estimated.
func TestStreamOptionsRejected(t *testing.T) {
	b, fake, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
	fake.FailNext(1, fakeopenai.Failure{Status: 400, Message: "Unrecognized request argument supplied: stream_options"})
	sb, emit := collect(t)
	u, err := b.ChatStream(t.Context(), target, chatReq("one two three"), emit)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&inference.Usage{PromptTokens: 8, CompletionTokens: 6, TotalTokens: 14}, u); diff != "" {
		t.Errorf("usage (-want +got):\n%s\ntext %q", diff, sb)
	}
	var got []any
	for _, r := range fake.Requests() {
		got = append(got, r.Body["stream_options"])
	}
	if diff := cmp.Diff([]any{map[string]any{"include_usage": true}, nil}, got); diff != "" {
		t.Errorf("stream_options sent (-want +got):\n%s", diff)
	}
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
