// Package enginetest holds test helpers for the engine and its backends:
// a tiny random-weight llama model written with the GGUF writer (so tests
// run without downloads), and the shared test data beside the repository.
package enginetest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TinySpec is a small random-weight llama model with an SPM vocabulary of
// <unk>, <s>, </s>, the 256 byte tokens and word pieces. Zero fields take
// small defaults.
type TinySpec struct {
	Embd, FF, Layers, Heads, KVHeads, Vocab, Ctx int
	Seed                                         uint64
	Template                                     string // tokenizer.chat_template, if any
}

func (s *TinySpec) defaults() {
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&s.Embd, 32)
	set(&s.FF, 48)
	set(&s.Layers, 2)
	set(&s.Heads, 4)
	set(&s.KVHeads, 2)
	set(&s.Vocab, 320)
	set(&s.Ctx, 96)
}

// tinyVocab returns the vocabulary: special tokens, bytes, then pieces.
func tinyVocab(n int) (tokens []string, scores []float32, types []int32) {
	tokens = []string{"<unk>", "<s>", "</s>"}
	types = []int32{2, 3, 3}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	words := []string{"▁", "e", "t", "a", "o", "n", "▁t", "he", "▁a", "▁the", "in", "▁s", "▁w", "re", "nd", "▁b", "▁h", "er", "▁c", "on", "at", "is", "▁o", "▁is"}
	for i := 0; len(tokens) < n; i++ {
		w := fmt.Sprintf("▁w%d", i)
		if i < len(words) {
			w = words[i]
		}
		tokens = append(tokens, w)
		types = append(types, 1)
	}
	scores = make([]float32, n)
	for i := 259; i < n; i++ {
		scores[i] = -float32(i - 259)
	}
	return tokens[:n], scores, types[:n]
}

// WriteTiny writes the model of spec to a temporary GGUF file and returns
// its path.
func WriteTiny(tb testing.TB, spec TinySpec) string {
	tb.Helper()
	spec.defaults()
	rng := rand.New(rand.NewPCG(spec.Seed, 0x7e57))
	w := gguf.NewWriter(3)
	tokens, scores, types := tinyVocab(spec.Vocab)
	head := spec.Embd / spec.Heads
	kv := []struct {
		k string
		v any
	}{
		{"general.architecture", "llama"},
		{"general.name", "tiny-test"},
		{"llama.context_length", uint32(spec.Ctx)},
		{"llama.embedding_length", uint32(spec.Embd)},
		{"llama.block_count", uint32(spec.Layers)},
		{"llama.feed_forward_length", uint32(spec.FF)},
		{"llama.attention.head_count", uint32(spec.Heads)},
		{"llama.attention.head_count_kv", uint32(spec.KVHeads)},
		{"llama.rope.freq_base", float32(10000)},
		{"llama.rope.dimension_count", uint32(head)},
		{"llama.attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
	}
	if spec.Template != "" {
		kv = append(kv, struct {
			k string
			v any
		}{"tokenizer.chat_template", spec.Template})
	}
	for _, e := range kv {
		if err := w.SetKV(e.k, e.v); err != nil {
			tb.Fatal(err)
		}
	}
	add := func(name string, cols, rows int, scale, offset float64) {
		dims := []uint64{uint64(cols), uint64(rows)}
		if rows == 1 {
			dims = dims[:1]
		}
		data := make([]byte, 4*cols*rows)
		for i := range cols * rows {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(offset+scale*rng.NormFloat64())))
		}
		if err := w.AddTensor(name, tensor.F32, dims, data); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	proj := func(fanIn int) float64 { return 2 / math.Sqrt(float64(fanIn)) }
	add("token_embd.weight", spec.Embd, spec.Vocab, 0.15, 0)
	for l := range spec.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", spec.Embd, 1, 0.1, 1)
		add(p+"attn_q.weight", spec.Embd, spec.Embd, proj(spec.Embd), 0)
		add(p+"attn_k.weight", spec.Embd, spec.KVHeads*head, proj(spec.Embd), 0)
		add(p+"attn_v.weight", spec.Embd, spec.KVHeads*head, proj(spec.Embd), 0)
		add(p+"attn_output.weight", spec.Embd, spec.Embd, proj(spec.Embd), 0)
		add(p+"ffn_norm.weight", spec.Embd, 1, 0.1, 1)
		add(p+"ffn_gate.weight", spec.Embd, spec.FF, proj(spec.Embd), 0)
		add(p+"ffn_up.weight", spec.Embd, spec.FF, proj(spec.Embd), 0)
		add(p+"ffn_down.weight", spec.FF, spec.Embd, proj(spec.FF), 0)
	}
	add("output_norm.weight", spec.Embd, 1, 0.1, 1)
	add("output.weight", spec.Embd, spec.Vocab, 4/math.Sqrt(float64(spec.Embd)), 0)

	path := filepath.Join(tb.TempDir(), "tiny.gguf")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// SharedFile returns the path of a file under ../shared/testdata beside
// the repository (e.g. SharedFile(tb, "models", "stories260K.gguf")), or
// skips the test with a message when it is absent.
func SharedFile(tb testing.TB, rel ...string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("skipping: no go.mod above the package, so no ../shared test data")
		}
		dir = parent
	}
	p := filepath.Join(append([]string{dir, "..", "shared", "testdata"}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("skipping: %s not found (../shared is absent)", p)
	}
	return p
}
