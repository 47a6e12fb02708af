package testenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// TestDemoDeployment: on an empty data folder the server deploys its
// random-weight demo model as "demo", and it answers offline.
func TestDemoDeployment(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	d, err := e.Admin.WaitDeployment(ctx, "default", "demo")
	if err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("demo deployment: %+v, %v", d, err)
	}
	m, err := e.Admin.GetModel(ctx, "demo")
	if err != nil || !strings.Contains(m.Description, "RANDOM weights") {
		t.Errorf("demo model %+v, %v: want it labelled as random weights", m, err)
	}
	c := clients(e, e.Key1)["azure"]
	r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "demo", MaxTokens: openai.Int(5),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Usage.CompletionTokens < 1 || r.Usage.CompletionTokens > 5 || r.Usage.PromptTokens < 5 {
		t.Errorf("usage %+v", r.Usage)
	}
}

// TestServeModelStories: `cerulean serve --model stories260K.gguf` serves
// the really-trained TinyStories model through the official SDK, and its
// greedy continuation is llama.cpp's, token for token.
func TestServeModelStories(t *testing.T) {
	path := testenv.SharedModel(t, "stories260K.gguf")
	e := testenv.NewWith(t, testenv.Options{Args: []string{"--model", path, "--demo=false"}})
	ctx := context.Background()
	d, err := e.Admin.WaitDeployment(ctx, "default", "stories260K")
	if err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("deployment: %+v, %v", d, err)
	}
	const want = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball."
	for name, c := range clients(e, e.Key1) {
		t.Run(name, func(t *testing.T) {
			r, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "stories260K",
				Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
				MaxTokens:   openai.Int(40),
				Temperature: openai.Float(0),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Choices[0].Text; got != want {
				t.Errorf("completion = %q, want llama.cpp's %q", got, want)
			}
			if r.Usage.PromptTokens != 5 || r.Usage.CompletionTokens != 40 {
				t.Errorf("usage %+v, want 5 prompt and 40 completion tokens", r.Usage)
			}
			s := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "stories260K",
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story")},
				MaxTokens:     openai.Int(12),
				Seed:          openai.Int(7),
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var text strings.Builder
			var completion int64
			for s.Next() {
				ch := s.Current()
				if len(ch.Choices) > 0 {
					text.WriteString(ch.Choices[0].Delta.Content)
				}
				completion += ch.Usage.CompletionTokens
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if text.Len() == 0 || completion < 1 || completion > 12 {
				t.Errorf("streamed %q with %d completion tokens", text.String(), completion)
			}
		})
	}
}
