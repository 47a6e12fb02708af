// Package backendtest is a conformance suite for inference backends: any
// implementation of the gateway's Backend interface (the built-in engine,
// the upstream proxy, managed replicas) runs it from its own tests.
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) (backendtest.Backend, inference.Target) { ... })
//	}
//
// The suite needs a deterministic backend at temperature 0: a streamed and
// a non-streamed request with the same body must produce the same text and
// the same usage.
package backendtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Backend is the gateway's Backend interface, repeated so that the gateway's
// own tests can import this package; every gateway.Backend is one.
type Backend interface {
	Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error)
	ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error)
	Complete(ctx context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error)
	CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error)
	Embed(ctx context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error)
}

// callTimeout bounds every call the suite makes.
const callTimeout = 30 * time.Second

// promptly is how soon a cancelled stream must return.
const promptly = 5 * time.Second

// Run runs the suite. newBackend is called once per subtest; the target's
// Version.Capabilities decide which APIs are exercised.
func Run(t *testing.T, newBackend func(t *testing.T) (Backend, inference.Target)) {
	t.Run("Chat", func(t *testing.T) { withChat(t, newBackend, testChat) })
	t.Run("ChatStream", func(t *testing.T) { withChat(t, newBackend, testChatStream) })
	t.Run("ChatMaxTokens", func(t *testing.T) { withChat(t, newBackend, testChatMaxTokens) })
	t.Run("ChatStreamEmitError", func(t *testing.T) { withChat(t, newBackend, testChatStreamEmitError) })
	t.Run("ChatStreamCancel", func(t *testing.T) { withChat(t, newBackend, testChatStreamCancel) })
	t.Run("ChatStreamConcurrent", func(t *testing.T) { withChat(t, newBackend, testChatStreamConcurrent) })
	t.Run("Complete", func(t *testing.T) {
		b, target := newBackend(t)
		if !target.Version.Capabilities.Completion {
			t.Skip("the target does not serve completions")
		}
		testComplete(t, b, target)
	})
	t.Run("CompleteStreamCancel", func(t *testing.T) {
		b, target := newBackend(t)
		if !target.Version.Capabilities.Completion {
			t.Skip("the target does not serve completions")
		}
		testCompleteStreamCancel(t, b, target)
	})
	t.Run("Embed", func(t *testing.T) {
		b, target := newBackend(t)
		if !target.Version.Capabilities.Embeddings {
			t.Skip("the target does not serve embeddings")
		}
		testEmbed(t, b, target)
	})
}

func withChat(t *testing.T, newBackend func(t *testing.T) (Backend, inference.Target), test func(*testing.T, Backend, inference.Target)) {
	b, target := newBackend(t)
	if !target.Version.Capabilities.Chat {
		t.Skip("the target does not serve chat")
	}
	test(t, b, target)
}

func ptr[T any](v T) *T { return &v }

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

// chatRequest is a deterministic request asking for up to maxTokens.
func chatRequest(target inference.Target, user string, maxTokens int) *inference.ChatRequest {
	return &inference.ChatRequest{
		Model: target.Deployment,
		Messages: []inference.Message{
			{Role: "system", Content: inference.TextContent("You are a helpful assistant.")},
			{Role: "user", Content: inference.TextContent(user)},
		},
		Temperature: ptr(0.0),
		Seed:        ptr(int64(1)),
		MaxTokens:   ptr(maxTokens),
	}
}

const story = "Tell me a short story about a lighthouse keeper and the sea."

// longPrompt is long enough that echoing backends produce many chunks.
var longPrompt = strings.Repeat("Please keep talking about boats and waves and wind. ", 12)

// checkUsage reports usage that is missing or does not add up.
func checkUsage(t *testing.T, what string, u *inference.Usage) {
	t.Helper()
	switch {
	case u == nil:
		t.Errorf("%s: usage is nil", what)
	case u.PromptTokens <= 0 || u.CompletionTokens <= 0:
		t.Errorf("%s: usage %+v, want positive prompt and completion tokens", what, *u)
	case u.TotalTokens != u.PromptTokens+u.CompletionTokens:
		t.Errorf("%s: usage %+v: total is not prompt + completion", what, *u)
	}
}

func testChat(t *testing.T, b Backend, target inference.Target) {
	resp, err := b.Chat(callCtx(t), target, chatRequest(target, story, 32))
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	if len(resp.Choices) == 0 {
		t.Fatal("Chat returned no choices")
	}
	c := resp.Choices[0]
	got := []string{c.Message.Role, fmt.Sprint(c.Message.Content.String() != ""), fmt.Sprint(slices.Contains([]string{"stop", "length"}, c.FinishReason))}
	if diff := cmp.Diff([]string{"assistant", "true", "true"}, got); diff != "" {
		t.Errorf("choice 0: role, has content, finish reason stop|length (-want +got):\n%s\nchoice: %+v", diff, c)
	}
	checkUsage(t, "Chat", resp.Usage)
}

// streamChat streams req, checking the chunks, and returns the text of
// choice 0, its finish reason and the usage.
func streamChat(t *testing.T, ctx context.Context, b Backend, target inference.Target, req *inference.ChatRequest) (text, finish string, u *inference.Usage) {
	t.Helper()
	var sb strings.Builder
	n := 0
	u, err := b.ChatStream(ctx, target, req, func(c *inference.ChatChunk) error {
		n++
		if c.Usage != nil {
			t.Errorf("chunk %d carries usage %+v", n, *c.Usage)
		}
		if len(c.Choices) == 0 {
			t.Errorf("chunk %d has no choices", n)
		}
		for _, ch := range c.Choices {
			if ch.Index != 0 {
				continue
			}
			if ch.Delta.Content != nil {
				sb.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ChatStream: %v", err)
	}
	if n == 0 {
		t.Fatal("ChatStream emitted no chunks")
	}
	return sb.String(), finish, u
}

func testChatStream(t *testing.T, b Backend, target inference.Target) {
	ctx := callCtx(t)
	want, err := b.Chat(ctx, target, chatRequest(target, story, 32))
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	text, finish, u := streamChat(t, ctx, b, target, chatRequest(target, story, 32))
	if text == "" {
		t.Error("the stream carried no content")
	}
	got := []string{text, finish}
	wantv := []string{want.Choices[0].Message.Content.String(), want.Choices[0].FinishReason}
	if diff := cmp.Diff(wantv, got); diff != "" {
		t.Errorf("streamed text and finish reason differ from Chat's (-chat +stream):\n%s", diff)
	}
	checkUsage(t, "ChatStream", u)
	if diff := cmp.Diff(want.Usage, u); diff != "" {
		t.Errorf("streamed usage differs from Chat's (-chat +stream):\n%s", diff)
	}
}

func testChatMaxTokens(t *testing.T, b Backend, target inference.Target) {
	ctx := callCtx(t)
	resp, err := b.Chat(ctx, target, chatRequest(target, longPrompt, 3))
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	checkUsage(t, "Chat", resp.Usage)
	if resp.Usage != nil && resp.Usage.CompletionTokens > 3 {
		t.Errorf("max_tokens 3: %d completion tokens", resp.Usage.CompletionTokens)
	}
	_, _, u := streamChat(t, ctx, b, target, chatRequest(target, longPrompt, 3))
	if u != nil && u.CompletionTokens > 3 {
		t.Errorf("max_tokens 3, streamed: %d completion tokens", u.CompletionTokens)
	}
}

func testChatStreamEmitError(t *testing.T, b Backend, target inference.Target) {
	errStop := errors.New("client write failed")
	calls := 0
	u, err := b.ChatStream(callCtx(t), target, chatRequest(target, longPrompt, 64), func(*inference.ChatChunk) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("ChatStream error = %v, want emit's error", err)
	}
	if calls != 1 {
		t.Errorf("emit called %d times after failing, want 1 call", calls)
	}
	if u == nil {
		t.Error("ChatStream returned no usage after emit failed")
	}
}

func testChatStreamCancel(t *testing.T, b Backend, target inference.Target) {
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	calls, afterCancel := 0, 0
	cancelled := false
	start := time.Now()
	var end time.Time
	u, err := b.ChatStream(ctx, target, chatRequest(target, longPrompt, 64), func(c *inference.ChatChunk) error {
		calls++
		if cancelled {
			afterCancel++
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil && *ch.Delta.Content != "" && !cancelled {
				cancelled = true
				cancel()
				end = time.Now()
			}
		}
		return nil
	})
	if !cancelled {
		t.Fatalf("no content arrived to cancel on (err %v)", err)
	}
	if d := time.Since(end); d > promptly {
		t.Errorf("ChatStream returned %v after the cancellation (started %v ago)", d, time.Since(start))
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("ChatStream error = %v, want context.Canceled", err)
	}
	if afterCancel != 0 {
		t.Errorf("emit called %d times after the cancellation", afterCancel)
	}
	if u == nil {
		t.Error("ChatStream returned no usage after the cancellation")
	}
}

func testChatStreamConcurrent(t *testing.T, b Backend, target inference.Target) {
	ctx := callCtx(t)
	prompts := []string{"red apples", "blue boats on water", "green hills", "yellow sun at noon"}
	var wg sync.WaitGroup
	for _, p := range prompts {
		wg.Go(func() {
			want, err := b.Chat(ctx, target, chatRequest(target, p, 24))
			if err != nil {
				t.Errorf("Chat(%q): %v", p, err)
				return
			}
			var sb strings.Builder
			_, err = b.ChatStream(ctx, target, chatRequest(target, p, 24), func(c *inference.ChatChunk) error {
				for _, ch := range c.Choices {
					if ch.Index == 0 && ch.Delta.Content != nil {
						sb.WriteString(*ch.Delta.Content)
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("ChatStream(%q): %v", p, err)
				return
			}
			if diff := cmp.Diff(want.Choices[0].Message.Content.String(), sb.String()); diff != "" {
				t.Errorf("concurrent stream for %q differs from Chat (-chat +stream):\n%s", p, diff)
			}
		})
	}
	wg.Wait()
}

func completionRequest(target inference.Target, prompt string, maxTokens int) *inference.CompletionRequest {
	return &inference.CompletionRequest{
		Model:       target.Deployment,
		Prompt:      inference.Prompt{Texts: []string{prompt}},
		MaxTokens:   ptr(maxTokens),
		Temperature: ptr(0.0),
		Seed:        ptr(int64(1)),
	}
}

func testComplete(t *testing.T, b Backend, target inference.Target) {
	ctx := callCtx(t)
	want, err := b.Complete(ctx, target, completionRequest(target, "Once upon a time", 24))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if len(want.Choices) == 0 || want.Choices[0].Text == "" {
		t.Fatalf("Complete returned no text: %+v", want)
	}
	checkUsage(t, "Complete", want.Usage)

	var sb strings.Builder
	n := 0
	u, err := b.CompleteStream(ctx, target, completionRequest(target, "Once upon a time", 24), func(c *inference.Completion) error {
		n++
		if c.Usage != nil {
			t.Errorf("chunk %d carries usage %+v", n, *c.Usage)
		}
		if len(c.Choices) == 0 {
			t.Errorf("chunk %d has no choices", n)
		}
		for _, ch := range c.Choices {
			if ch.Index == 0 {
				sb.WriteString(ch.Text)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("CompleteStream: %v", err)
	}
	if n == 0 {
		t.Fatal("CompleteStream emitted no chunks")
	}
	if diff := cmp.Diff(want.Choices[0].Text, sb.String()); diff != "" {
		t.Errorf("streamed text differs from Complete's (-complete +stream):\n%s", diff)
	}
	checkUsage(t, "CompleteStream", u)
	if diff := cmp.Diff(want.Usage, u); diff != "" {
		t.Errorf("streamed usage differs from Complete's (-complete +stream):\n%s", diff)
	}
}

func testCompleteStreamCancel(t *testing.T, b Backend, target inference.Target) {
	ctx, cancel := context.WithCancel(callCtx(t))
	defer cancel()
	cancelled, afterCancel := false, 0
	var end time.Time
	u, err := b.CompleteStream(ctx, target, completionRequest(target, longPrompt, 64), func(c *inference.Completion) error {
		if cancelled {
			afterCancel++
			return nil
		}
		for _, ch := range c.Choices {
			if ch.Text != "" {
				cancelled = true
				cancel()
				end = time.Now()
			}
		}
		return nil
	})
	if !cancelled {
		t.Fatalf("no text arrived to cancel on (err %v)", err)
	}
	if d := time.Since(end); d > promptly {
		t.Errorf("CompleteStream returned %v after the cancellation", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CompleteStream error = %v, want context.Canceled", err)
	}
	if afterCancel != 0 {
		t.Errorf("emit called %d times after the cancellation", afterCancel)
	}
	if u == nil {
		t.Error("CompleteStream returned no usage after the cancellation")
	}
}

func testEmbed(t *testing.T, b Backend, target inference.Target) {
	ctx := callCtx(t)
	inputs := []string{"the quick brown fox", "jumps over the lazy dog"}
	resp, err := b.Embed(ctx, target, &inference.EmbeddingRequest{Model: target.Deployment, Input: inference.Prompt{Texts: inputs}})
	if err != nil {
		t.Fatalf("Embed: %v", err)
	}
	if len(resp.Data) != len(inputs) {
		t.Fatalf("Embed returned %d vectors for %d inputs", len(resp.Data), len(inputs))
	}
	dims := len(resp.Data[0].Embedding)
	if dims == 0 {
		t.Fatal("Embed returned an empty vector")
	}
	for i, d := range resp.Data {
		if d.Index != i || len(d.Embedding) != dims {
			t.Errorf("data[%d]: index %d, %d dimensions; want index %d, %d dimensions", i, d.Index, len(d.Embedding), i, dims)
		}
	}
	if resp.Usage == nil || resp.Usage.PromptTokens <= 0 {
		t.Errorf("Embed usage = %+v, want positive prompt tokens", resp.Usage)
	}
	again, err := b.Embed(ctx, target, &inference.EmbeddingRequest{Model: target.Deployment, Input: inference.Prompt{Texts: inputs[:1]}})
	if err != nil {
		t.Fatalf("Embed again: %v", err)
	}
	if len(again.Data) != 1 {
		t.Fatalf("Embed of one input returned %d vectors", len(again.Data))
	}
	if diff := cmp.Diff(resp.Data[0].Embedding, again.Data[0].Embedding, cmpopts.EquateApprox(0, 1e-5)); diff != "" {
		t.Errorf("the same input embedded twice differs (-first +second):\n%s", diff)
	}
}
