package testenv_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// TestUsageAddsUp: the usage report of a project counts exactly the
// requests and tokens the tests sent, and prices them with the catalog's
// prices (testenv.Deploy sets 0.001 per 1K prompt and 0.002 per 1K
// completion tokens).
func TestUsageAddsUp(t *testing.T) {
	e := testenv.New(t)
	e.Deploy(t, "chat")
	ctx := context.Background()
	c := clients(e, e.Key1)["openai"]
	var prompt, completion int64
	for _, text := range []string{"one", "one two", "one two three"} {
		r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}})
		if err != nil {
			t.Fatal(err)
		}
		prompt += r.Usage.PromptTokens
		completion += r.Usage.CompletionTokens
	}
	var row api.UsageRow
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rep, err := e.Admin.ProjectUsage(ctx, "default", api.UsageOptions{By: "deployment"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Value {
			if r.Group == "chat" {
				row = r
			}
		}
		if row.Requests == 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if row.Requests != 3 || row.PromptTokens != prompt || row.CompletionTokens != completion || row.TotalTokens != prompt+completion {
		t.Fatalf("usage row %+v; want 3 requests, %d prompt and %d completion tokens", row, prompt, completion)
	}
	wantCost := float64(prompt)/1000*0.001 + float64(completion)/1000*0.002
	if math.Abs(row.Cost-wantCost) > 1e-6 {
		t.Errorf("cost %v, want %v", row.Cost, wantCost)
	}
}
