package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/model"
)

// EngineOptions tune the engine benchmark.
type EngineOptions struct {
	Model   string // GGUF path
	Threads int
	Prompt  int // prompt tokens, processed as one batch
	Gen     int // tokens generated one at a time after the prompt
	Seed    uint64
}

// EngineResult is what `cerulean bench --model` prints.
type EngineResult struct {
	Model           string  `json:"model"`
	Architecture    string  `json:"architecture"`
	Threads         int     `json:"threads"`
	LoadSeconds     float64 `json:"load_seconds"`
	PromptTokens    int     `json:"prompt_tokens"`
	PromptSeconds   float64 `json:"prompt_seconds"`
	PromptPerSecond float64 `json:"prompt_tokens_per_second"`
	GenTokens       int     `json:"gen_tokens"`
	GenSeconds      float64 `json:"gen_seconds"`
	GenPerSecond    float64 `json:"gen_tokens_per_second"`
}

// Engine loads a model and measures prompt processing (one batched
// forward pass over Prompt random tokens) and generation (Gen single-token
// passes, each fed the argmax of the previous logits), as llama-bench does
// with -p and -n.
func Engine(ctx context.Context, o EngineOptions) (EngineResult, error) {
	start := time.Now()
	m, err := model.Options{Threads: o.Threads}.Load(o.Model)
	if err != nil {
		return EngineResult{}, err
	}
	defer m.Close()
	cfg := m.Config()
	r := EngineResult{Model: o.Model, Architecture: cfg.Architecture, Threads: o.Threads, LoadSeconds: time.Since(start).Seconds(),
		PromptTokens: o.Prompt, GenTokens: o.Gen}
	if o.Prompt+o.Gen > cfg.ContextLength {
		return r, fmt.Errorf("--prompt %d + --gen %d exceeds the model's context of %d tokens", o.Prompt, o.Gen, cfg.ContextLength)
	}
	if o.Prompt < 1 {
		return r, fmt.Errorf("--prompt must be at least 1")
	}
	cache, err := m.NewCache(o.Prompt+o.Gen, nil)
	if err != nil {
		return r, err
	}
	defer cache.Free()
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	prompt := make([]int32, o.Prompt)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(cfg.VocabSize))
	}
	logits := make([]float32, cfg.VocabSize)
	t := time.Now()
	if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: prompt, Cache: cache, Logits: logits}}}); err != nil {
		return r, fmt.Errorf("prompt: %w", err)
	}
	r.PromptSeconds = time.Since(t).Seconds()
	r.PromptPerSecond = float64(o.Prompt) / r.PromptSeconds
	t = time.Now()
	for range o.Gen {
		next := []int32{argmax(logits)}
		if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: next, Cache: cache, Logits: logits}}}); err != nil {
			return r, fmt.Errorf("generation: %w", err)
		}
	}
	r.GenSeconds = time.Since(t).Seconds()
	if o.Gen > 0 {
		r.GenPerSecond = float64(o.Gen) / r.GenSeconds
	}
	return r, nil
}

func argmax(xs []float32) int32 {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return int32(best)
}
