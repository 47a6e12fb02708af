package model

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

// benchDecode measures one decode step (batch 1) after a 64-token context:
// each iteration feeds one token and truncates it away again, so the
// attention length stays fixed.
func benchDecode(b *testing.B, m *Model) { benchDecodeAt(b, m, 64) }

// benchContext settles m (the steady state: repacked weights on huge
// pages) and returns a new cache holding a context of ctxLen tokens.
func benchContext(b *testing.B, m *Model, ctxLen int) *kvcache.Cache {
	m.Settle()
	c, err := m.NewCache(0, nil)
	if err != nil {
		b.Fatal(err)
	}
	prompt := make([]int32, ctxLen)
	for i := range prompt {
		prompt[i] = int32(3 + i%200)
	}
	if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c}}}); err != nil {
		b.Fatal(err)
	}
	return c
}

// benchDecodeAt is benchDecode after a context of ctxLen tokens.
func benchDecodeAt(b *testing.B, m *Model, ctxLen int) {
	ctx := context.Background()
	c := benchContext(b, m, ctxLen)
	logits := make([]float32, m.Config().VocabSize)
	batch := &Batch{Seqs: []Sequence{{Tokens: []int32{42}, Cache: c, Logits: logits}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Forward(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if err := c.Truncate(ctxLen); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkDecodeLlamaTinyQ8_0 decodes with the synthetic llama-tiny
// Q8_0 model of ../shared on 1 and 2 threads.
func BenchmarkDecodeLlamaTinyQ8_0(b *testing.B) {
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			m, err := Options{Threads: threads}.Load(filepath.Join(modelsDir(b), "synthetic", "llama-tiny-Q8_0.gguf"))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			benchDecode(b, m)
		})
	}
}
