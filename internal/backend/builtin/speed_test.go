package builtin_test

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/builtin"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// TestSchemaSpeed measures decode tokens/s with a json_schema response
// format against the same request without one, on the same model in the
// same run, when CERULEAN_SCHEMA_BENCH names a GGUF file (for example the
// qwen2.5-0.5b-shaped synthetic model made by `cerulean models synth --arch
// qwen2 --shape qwen2.5-0.5b --type q8_0 --vocab ggml-vocab-gpt-2.gguf`).
// CERULEAN_SCHEMA_BENCH_TOKENS sets the tokens per request (default 64).
// Requests alternate between the two modes so that load drifts hit both.
func TestSchemaSpeed(t *testing.T) {
	path := os.Getenv("CERULEAN_SCHEMA_BENCH")
	if path == "" {
		t.Skip("set CERULEAN_SCHEMA_BENCH=model.gguf to measure")
	}
	n := 64
	if v, err := strconv.Atoi(os.Getenv("CERULEAN_SCHEMA_BENCH_TOKENS")); err == nil && v > 0 {
		n = v
	}
	b, target := newBackend(t, path, builtin.Options{Threads: 2, MaxSeqs: 1})
	// A schema whose output is long: strings inside an array, so the
	// grammar is active on every token and the output rarely ends early.
	schema := `{"type":"object","properties":{"lines":{"type":"array","items":{"type":"string"}}},"required":["lines"],"additionalProperties":false}`
	req := func(seed int64, constrained bool) *inference.ChatRequest {
		r := chatReq("Write a long list of lines.", n)
		r.Temperature, r.Seed = ptr(1.0), &seed
		if constrained {
			r.ResponseFormat = &inference.ResponseFormat{Type: "json_schema", JSONSchema: &inference.JSONSchema{Name: "l", Schema: json.RawMessage(schema), Strict: ptr(true)}}
		}
		return r
	}
	var toks [2]int
	var dur [2]time.Duration
	for round := range 4 {
		for mode := range 2 {
			var first time.Time
			u, err := b.ChatStream(t.Context(), target, req(int64(round), mode == 1), func(c *inference.ChatChunk) error {
				if first.IsZero() && len(c.Choices) > 0 && c.Choices[0].Delta.Content != nil && *c.Choices[0].Delta.Content != "" {
					first = time.Now()
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				continue // warm-up: vocabulary index, grammar compile, caches
			}
			dur[mode] += time.Since(first)
			toks[mode] += u.CompletionTokens - 1 // the first token's time is prefill
		}
	}
	plain := float64(toks[0]) / dur[0].Seconds()
	constrained := float64(toks[1]) / dur[1].Seconds()
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("decode tokens/s: without schema %.2f (%d tokens), with schema %.2f (%d tokens), ratio %.3f; loadavg %s",
		plain, toks[0], constrained, toks[1], constrained/plain, load)
}
