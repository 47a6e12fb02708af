package builtin_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/backend/backendtest"
	"github.com/cerulean-ai/cerulean/internal/backend/builtin"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

var _ gateway.Backend = (*builtin.Backend)(nil)

func ptr[T any](v T) *T { return &v }

// newBackend returns a backend with the model at path loaded, and a target
// serving it.
func newBackend(t *testing.T, path string, o builtin.Options) (*builtin.Backend, inference.Target) {
	t.Helper()
	if o.Threads == 0 {
		o.Threads = 1
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PrefixCacheBytes == 0 {
		// Repeated requests would report cached tokens, and the
		// conformance checks expect the same usage from the same request.
		o.PrefixCacheBytes = -1
	}
	b := builtin.New(o)
	t.Cleanup(b.Close)
	if err := b.Load(t.Context(), path); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return b, inference.Target{
		Project: "p", Deployment: "d", Model: "m",
		Version: catalog.Version{
			Version: "1", Format: catalog.FormatGGUF, File: path,
			Capabilities: catalog.Capabilities{Chat: true, Completion: true, Embeddings: true},
		},
	}
}

// tinyPath writes the tiny random model once per test.
func tinyPath(t *testing.T) string {
	// Seed 11 starts every suite prompt with text rather than </s>.
	return writeTiny(t, tinySpec{seed: 11, ctx: 1024})
}

func TestConformance(t *testing.T) {
	t.Run("tiny", func(t *testing.T) {
		path := tinyPath(t)
		backendtest.Run(t, func(t *testing.T) (backendtest.Backend, inference.Target) {
			return newBackend(t, path, builtin.Options{})
		})
	})
	t.Run("stories260K", func(t *testing.T) {
		path := storiesPath(t)
		if raceEnabled {
			t.Skip("skipping: stories260K's 400-token prompts are slow under the race detector; the tiny model runs the suite")
		}
		// The GGUF says 128 positions (a converter default); the model was
		// trained on 512, and the suite's long prompt needs them.
		backendtest.Run(t, func(t *testing.T) (backendtest.Backend, inference.Target) {
			return newBackend(t, path, builtin.Options{ContextLength: 512, Threads: 2})
		})
	})
}

func completionReq(prompt string, maxTokens int) *inference.CompletionRequest {
	return &inference.CompletionRequest{
		Prompt: inference.Prompt{Texts: []string{prompt}}, MaxTokens: ptr(maxTokens), Temperature: ptr(0.0),
	}
}

func chatReq(user string, maxTokens int) *inference.ChatRequest {
	return &inference.ChatRequest{
		Messages:    []inference.Message{{Role: "user", Content: inference.TextContent(user)}},
		Temperature: ptr(0.0), MaxTokens: ptr(maxTokens),
	}
}

// TestStoriesCompletion checks llama.cpp's greedy continuation (from
// ../shared/testdata/models/README.md).
func TestStoriesCompletion(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{})
	resp, err := b.Complete(t.Context(), target, completionReq("Once upon a time", 40))
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Text, Finish, Model string
		Usage               inference.Usage
	}
	got := summary{resp.Choices[0].Text, *resp.Choices[0].FinishReason, resp.Model, *resp.Usage}
	want := summary{
		Text:   ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.",
		Finish: "length", Model: "llama", // general.name
		Usage: inference.Usage{PromptTokens: 5, CompletionTokens: 40, TotalTokens: 45},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("completion of \"Once upon a time\" (-llama.cpp +builtin):\n%s", diff)
	}
	if !strings.HasPrefix(resp.SystemFingerprint, "cerulean-") || !strings.HasPrefix(resp.ID, "cmpl-") {
		t.Errorf("id %q, fingerprint %q", resp.ID, resp.SystemFingerprint)
	}
}

// TestStoriesChat checks that chat renders the plain template and decodes
// greedily: the answer is what a completion of the rendered prompt gives.
func TestStoriesChat(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{})
	ctx := t.Context()
	first, err := b.Chat(ctx, target, chatReq("Tell me a story.", 24))
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Chat(ctx, target, chatReq("Tell me a story.", 24))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := b.Complete(ctx, target, completionReq("User: Tell me a story.\nAssistant:", 24))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{first.Choices[0].Message.Content.String(), again.Choices[0].Message.Content.String()}
	want := []string{plain.Choices[0].Text, plain.Choices[0].Text}
	if cut := strings.Index(want[0], "\nUser:"); cut >= 0 {
		want = []string{want[0][:cut], want[0][:cut]}
	}
	t.Logf("stories260K answers %q", got[0])
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chat answers (-completion of the rendered prompt +chat):\n%s", diff)
	}
	if got[0] == "" || first.Choices[0].Message.Role != "assistant" || first.Object != "chat.completion" || !strings.HasPrefix(first.ID, "chatcmpl-") {
		t.Errorf("chat response %+v", first)
	}
}

// faultOf returns err's kind, code and param, or fails.
func faultOf(t *testing.T, err error) (int, string, string, string) {
	t.Helper()
	f, ok := fault.As(err)
	if !ok {
		t.Fatalf("error %v is not a *fault.Error", err)
	}
	return f.Kind.Status(), f.Code, f.Param, f.Message
}

func TestInvalidRequests(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{ContextLength: 64})
	long := strings.Repeat("boats and waves ", 40)
	withImage := chatReq("", 4)
	withImage.Messages[0].Content = &inference.Content{Parts: []inference.ContentPart{
		{Type: "text", Text: "what is this?"}, {Type: "image_url", ImageURL: &inference.ImageURL{URL: "https://example.com/a.png"}},
	}}
	bias := chatReq("hi", 4)
	bias.LogitBias = map[string]float64{"320": 5}
	suffix := completionReq("def f(", 4)
	suffix.Suffix = "return x"
	badToken := &inference.CompletionRequest{Prompt: inference.Prompt{Tokens: [][]int{{1, 5000}}}}
	ctx := t.Context()
	tests := []struct {
		name  string
		call  func() error
		param string
		in    string // in the message
	}{
		{"logit_bias out of vocabulary", func() error { _, err := b.Chat(ctx, target, bias); return err }, "logit_bias", "vocabulary of 320"},
		{"context overflow", func() error { _, err := b.Chat(ctx, target, chatReq(long, 4)); return err }, "messages", "maximum context length is 64 tokens"},
		{"context overflow, stream", func() error {
			_, err := b.ChatStream(ctx, target, chatReq(long, 4), func(*inference.ChatChunk) error { return nil })
			return err
		}, "messages", "maximum context length is 64 tokens"},
		{"completion overflow", func() error { _, err := b.Complete(ctx, target, completionReq(long, 4)); return err }, "prompt", "maximum context length is 64 tokens"},
		{"image", func() error { _, err := b.Chat(ctx, target, withImage); return err }, "messages[0].content[1]", "does not accept images"},
		{"suffix", func() error { _, err := b.Complete(ctx, target, suffix); return err }, "suffix", "not supported"},
		{"token out of vocabulary", func() error { _, err := b.Complete(ctx, target, badToken); return err }, "prompt", "outside this model's vocabulary"},
		{"dimensions", func() error {
			_, err := b.Embed(ctx, target, &inference.EmbeddingRequest{Input: inference.Prompt{Texts: []string{"a"}}, Dimensions: ptr(33)})
			return err
		}, "dimensions", "32 dimensions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, param, msg := faultOf(t, tc.call())
			if diff := cmp.Diff([]any{400, tc.param, true}, []any{status, param, strings.Contains(msg, tc.in)}); diff != "" {
				t.Errorf("status, param, message contains %q (-want +got):\n%s\nmessage: %s", tc.in, diff, msg)
			}
		})
	}
}

// TestCancelFreesSlot cancels a stream on a runner with one slot; the next
// request must still be served.
func TestCancelFreesSlot(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{MaxSeqs: 1})
	ctx, cancel := context.WithCancel(t.Context())
	req := chatReq("go on", 0)
	req.MaxTokens = nil // until the context is full
	req.LogitBias = map[string]float64{"2": -100}
	_, err := b.ChatStream(ctx, target, req, func(c *inference.ChatChunk) error {
		if d := c.Choices[0].Delta.Content; d != nil && *d != "" {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ChatStream after cancel: %v", err)
	}
	next, stop := context.WithTimeout(t.Context(), 20*time.Second)
	defer stop()
	resp, err := b.Chat(next, target, chatReq("hello", 3))
	if err != nil {
		t.Fatalf("the next request on the freed slot: %v", err)
	}
	if resp.Usage.CompletionTokens == 0 {
		t.Errorf("usage %+v", resp.Usage)
	}
}

// TestSeededChoices checks that n=3 with a seed gives three choices that
// repeat exactly, and that choice 0 is what n=1 gives.
func TestSeededChoices(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{})
	req := func(n int) *inference.ChatRequest {
		r := chatReq("tell me about the sea", 12)
		r.Temperature, r.Seed, r.N = ptr(1.0), ptr(int64(7)), ptr(n)
		return r
	}
	texts := func(r *inference.ChatCompletion) []string {
		var out []string
		for i, c := range r.Choices {
			if c.Index != i {
				t.Errorf("choice %d has index %d", i, c.Index)
			}
			out = append(out, c.Message.Content.String())
		}
		return out
	}
	ctx := t.Context()
	a, err := b.Chat(ctx, target, req(3))
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Chat(ctx, target, req(3))
	if err != nil {
		t.Fatal(err)
	}
	one, err := b.Chat(ctx, target, req(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(texts(a), texts(c)); diff != "" {
		t.Errorf("n=3 with seed 7 twice (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(texts(one)[0], texts(a)[0]); diff != "" {
		t.Errorf("choice 0 of n=3 differs from n=1 (-n=1 +n=3):\n%s", diff)
	}
	if got := texts(a); got[0] == got[1] && got[1] == got[2] {
		t.Errorf("three seeded choices are identical: %q", got[0])
	}
	if want := one.Usage.PromptTokens; a.Usage.PromptTokens != want || a.Usage.TotalTokens != a.Usage.PromptTokens+a.Usage.CompletionTokens {
		t.Errorf("n=3 usage %+v, want prompt tokens %d counted once", a.Usage, want)
	}
}

func TestLogprobs(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{})
	req := chatReq("Hi", 8)
	req.Logprobs, req.TopLogprobs = ptr(true), ptr(2)
	resp, err := b.Chat(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.Logprobs == nil {
		t.Fatal("no logprobs")
	}
	var sb strings.Builder
	for _, tl := range c.Logprobs.Content {
		sb.WriteString(tl.Token)
		if len(tl.TopLogprobs) != 2 || tl.TopLogprobs[0].Token != tl.Token || tl.Logprob > 0 || string(bytesToString(tl.Bytes)) != tl.Token {
			t.Errorf("greedy token %+v: want it first of 2 alternatives, logprob <= 0, bytes = token", tl)
		}
	}
	if diff := cmp.Diff(c.Message.Content.String(), sb.String()); diff != "" {
		t.Errorf("logprob tokens do not spell the content (-content +tokens):\n%s", diff)
	}

	legacy := completionReq("Once upon a time", 6)
	legacy.Logprobs = ptr(1)
	cr, err := b.Complete(t.Context(), target, legacy)
	if err != nil {
		t.Fatal(err)
	}
	lp := cr.Choices[0].Logprobs
	if lp == nil || strings.Join(lp.Tokens, "") != cr.Choices[0].Text || len(lp.TopLogprobs) != 6 || lp.TextOffset[1] != len(lp.Tokens[0]) {
		t.Errorf("legacy logprobs %+v for text %q", lp, cr.Choices[0].Text)
	}
}

func bytesToString(b []int) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = byte(v)
	}
	return out
}

// TestBestOf runs best_of 3 for one choice: one choice comes back and all
// three sequences are counted.
func TestBestOf(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{})
	req := completionReq("the sea", 5)
	req.Temperature, req.Seed, req.BestOf = ptr(1.0), ptr(int64(3)), ptr(3)
	req.LogitBias = map[string]float64{"2": -100}
	resp, err := b.Complete(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Logprobs != nil || resp.Usage.CompletionTokens != 15 {
		t.Errorf("best_of 3, n 1: %d choices, logprobs %v, usage %+v; want 1 choice, no logprobs, 15 completion tokens",
			len(resp.Choices), resp.Choices[0].Logprobs, resp.Usage)
	}
}

func TestEchoAndTokens(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{})
	req := &inference.CompletionRequest{
		Prompt:    inference.Prompt{Tokens: [][]int{{1, 403, 407, 261, 378}}},
		MaxTokens: ptr(2), Temperature: ptr(0.0), Echo: true,
	}
	resp, err := b.Complete(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("Once upon a time, there", resp.Choices[0].Text); diff != "" {
		t.Errorf("echo of token prompt (-want +got):\n%s", diff)
	}
}

func TestEmbedDimensions(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{})
	resp, err := b.Embed(t.Context(), target, &inference.EmbeddingRequest{
		Input: inference.Prompt{Texts: []string{"a hen", "the sea"}}, Dimensions: ptr(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Data {
		var sum float64
		for _, v := range d.Embedding {
			sum += float64(v) * float64(v)
		}
		if len(d.Embedding) != 8 || math.Abs(sum-1) > 1e-5 {
			t.Errorf("vector %d: %d dimensions, squared norm %v; want 8, 1", d.Index, len(d.Embedding), sum)
		}
	}
}

func TestLoadUnload(t *testing.T) {
	b := builtin.New(builtin.Options{Threads: 1, Logger: slog.New(slog.DiscardHandler), MaxLoaded: 1})
	defer b.Close()
	ctx := t.Context()
	if err := b.Load(ctx, "/nonexistent/model.gguf"); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Load of a missing file: %v, want Unavailable", err)
	}
	a, c := tinyPath(t), writeTiny(t, tinySpec{seed: 12})
	if err := b.Load(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx, c); fault.KindOf(err) != fault.Unavailable {
		t.Errorf("Load beyond MaxLoaded with the other pinned: %v, want Unavailable", err)
	}
	b.Unload(a)
	if got := b.Loaded(); len(got) != 0 {
		t.Errorf("after Unload: loaded %v", got)
	}
	// An unpinned model loads on demand and makes way for a pinned one.
	target := inference.Target{Version: catalog.Version{Format: catalog.FormatGGUF, File: a}}
	if _, err := b.Chat(ctx, target, chatReq("hi", 2)); err != nil {
		t.Fatalf("Chat on demand: %v", err)
	}
	if err := b.Load(ctx, c); err != nil {
		t.Errorf("Load with an unpinned model to evict: %v", err)
	}
	if diff := cmp.Diff([]string{c}, b.Loaded()); diff != "" {
		t.Errorf("loaded (-want +got):\n%s", diff)
	}
}

// TestTemplateBOS checks that a template that writes the BOS token itself
// does not get a second one, and that one without it gets one.
func TestTemplateBOS(t *testing.T) {
	const body = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}<|assistant|>"
	for _, tc := range []struct {
		name, template string
	}{
		{"template writes bos", "{{ bos_token }}" + body},
		{"template without bos", body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTiny(t, tinySpec{seed: 11, ctx: 256, template: tc.template})
			b, target := newBackend(t, path, builtin.Options{})
			tok, err := tokenizer.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := b.Chat(t.Context(), target, chatReq("hi", 1))
			if err != nil {
				t.Fatal(err)
			}
			// <s> once, then the rendered text without BOS.
			want := 1 + len(tok.Encode("<|user|>hi<|assistant|>", false, true))
			if resp.Usage.PromptTokens != want {
				t.Errorf("prompt tokens %d, want %d (one BOS)", resp.Usage.PromptTokens, want)
			}
		})
	}
}

// TestChatStreamChoices streams n=2 seeded choices: each starts with a role
// chunk, ends with a finish reason, and spells what Chat returns.
func TestChatStreamChoices(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{})
	req := chatReq("the sea", 6)
	req.Temperature, req.Seed, req.N = ptr(1.0), ptr(int64(5)), ptr(2)
	want, err := b.Chat(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	type choice struct {
		Role, Text, Finish string
		Chunks             int
	}
	got := make([]choice, 2)
	u, err := b.ChatStream(t.Context(), target, req, func(c *inference.ChatChunk) error {
		if c.Object != "chat.completion.chunk" || len(c.Choices) != 1 {
			t.Errorf("chunk %+v", c)
		}
		ch := c.Choices[0]
		g := &got[ch.Index]
		if g.Chunks == 0 {
			g.Role = ch.Delta.Role
		}
		g.Chunks++
		if g.Finish != "" {
			t.Errorf("choice %d: chunk after the finish reason", ch.Index)
		}
		if ch.Delta.Content != nil {
			g.Text += *ch.Delta.Content
		}
		if ch.FinishReason != nil {
			g.Finish = *ch.FinishReason
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		got[i].Chunks = 0
	}
	var wantChoices []choice
	for _, c := range want.Choices {
		wantChoices = append(wantChoices, choice{Role: "assistant", Text: c.Message.Content.String(), Finish: c.FinishReason})
	}
	if diff := cmp.Diff(wantChoices, got); diff != "" {
		t.Errorf("streamed choices (-Chat +ChatStream):\n%s", diff)
	}
	if diff := cmp.Diff(want.Usage, u); diff != "" {
		t.Errorf("usage (-Chat +ChatStream):\n%s", diff)
	}
}

// TestCompletionPrompts sends two prompts with n=2: choices are numbered
// prompt-major and prompt tokens add up.
func TestCompletionPrompts(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{})
	req := &inference.CompletionRequest{
		Prompt: inference.Prompt{Texts: []string{"Once upon a time", "Lily"}}, N: ptr(2),
		MaxTokens: ptr(3), Temperature: ptr(0.0),
	}
	resp, err := b.Complete(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, c := range resp.Choices {
		if c.Index != i {
			t.Errorf("choice %d has index %d", i, c.Index)
		}
		got = append(got, c.Text)
	}
	first, err := b.Complete(t.Context(), target, completionReq("Once upon a time", 3))
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Complete(t.Context(), target, completionReq("Lily", 3))
	if err != nil {
		t.Fatal(err)
	}
	a, c := first.Choices[0].Text, second.Choices[0].Text
	if diff := cmp.Diff([]string{a, a, c, c}, got); diff != "" {
		t.Errorf("choices (-each prompt alone +together):\n%s", diff)
	}
	wantUsage := inference.Usage{PromptTokens: first.Usage.PromptTokens + second.Usage.PromptTokens, CompletionTokens: 12}
	wantUsage.TotalTokens = wantUsage.PromptTokens + 12
	if diff := cmp.Diff(&wantUsage, resp.Usage); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

// TestCachedTokens sends two completions that start with the same text:
// the second reports the reused prompt tokens as cached.
func TestCachedTokens(t *testing.T) {
	b, target := newBackend(t, storiesPath(t), builtin.Options{PrefixCacheBytes: 1 << 20})
	ask := func(q string) *inference.Usage {
		t.Helper()
		resp, err := b.Complete(t.Context(), target, completionReq("Once upon a time, there was a little dog named Max. "+q, 4))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Usage
	}
	if u := ask("He"); u.PromptTokensDetails != nil && u.PromptTokensDetails.CachedTokens != 0 {
		t.Errorf("first request: %+v cached", u.PromptTokensDetails)
	}
	u := ask("One day")
	if u.PromptTokensDetails == nil || u.PromptTokensDetails.CachedTokens < 10 || u.PromptTokensDetails.CachedTokens >= u.PromptTokens {
		t.Errorf("second request with the same start: usage %+v, details %+v", u, u.PromptTokensDetails)
	}
}
