package model

import (
	"context"
	"os"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// FuzzLoad feeds mutated model files to the loader and, when one loads,
// runs a short forward pass: neither may panic.
func FuzzLoad(f *testing.F) {
	for _, spec := range []testSpec{
		{embd: 32, ff: 32, layers: 1, heads: 2, kvHeads: 1, vocab: 260, ctx: 8},
		{arch: "qwen2", embd: 32, ff: 32, layers: 1, heads: 2, kvHeads: 2, vocab: 260, ctx: 8, tied: true, typ: tensor.Q8_0},
	} {
		b, err := os.ReadFile(writeTestModel(f, spec))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := gguf.Parse(data)
		if err != nil {
			return
		}
		m, err := Options{Threads: 2}.FromFile(gf)
		if err != nil {
			return
		}
		defer m.Close()
		c, err := m.NewCache(4, nil)
		if err != nil {
			return
		}
		logits := make([]float32, m.Config().VocabSize)
		_ = m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: []int32{1, 2}, Cache: c, Logits: logits}}})
		_, _ = m.Embed(context.Background(), []int32{1})
	})
}
