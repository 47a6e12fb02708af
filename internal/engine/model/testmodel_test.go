package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// testSpec describes a small random-weight model for tests that do not
// need ../shared. Weights are drawn like the synthetic README's models
// (seeded normals, scaled per tensor) and stored as typ.
type testSpec struct {
	arch             string      // "llama" (default) or "qwen2"
	typ              tensor.Type // type of the 2-D weights (default F32)
	embd, ff, layers int         // defaults 64, 96, 2
	heads, kvHeads   int         // defaults 4, 2
	vocab            int         // default 300 (at least 259)
	ctx              int         // default 64
	tied             bool        // no output.weight
	ropeFreqs        bool        // add rope_freqs.weight
	seed             uint64
	cache            kvcache.DType          // Options.CacheType
	meta             map[string]any         // metadata overrides; a deleted value removes the key
	skip             map[string]bool        // tensors to leave out
	dims             map[string][]uint64    // tensor dimension overrides (data sized to match)
	types            map[string]tensor.Type // tensor type overrides (random bytes for types Quantize lacks)
}

// deleted marks a metadata key to remove in testSpec.meta.
type deleted struct{}

func (s *testSpec) defaults() {
	if s.arch == "" {
		s.arch = "llama"
	}
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&s.embd, 64)
	set(&s.ff, 96)
	set(&s.layers, 2)
	set(&s.heads, 4)
	set(&s.kvHeads, 2)
	set(&s.vocab, 300)
	set(&s.ctx, 64)
}

// testVocab returns an SPM vocabulary of n tokens: <unk>, <s>, </s>, the
// 256 byte tokens and then word pieces.
func testVocab(n int) (tokens []string, scores []float32, types []int32) {
	tokens = []string{"<unk>", "<s>", "</s>"}
	types = []int32{2, 3, 3}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, 6)
	}
	words := []string{"▁", "e", "t", "a", "o", "▁t", "he", "▁a", "▁the", "in", "▁s", "▁w", "re", "nd", "▁b", "▁h"}
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

// writeTestModel writes the model of spec to a temporary GGUF file and
// returns its path.
func writeTestModel(tb testing.TB, spec testSpec) string {
	tb.Helper()
	spec.defaults()
	rng := rand.New(rand.NewPCG(spec.seed, 0x5eed))
	w := gguf.NewWriter(3)
	a := spec.arch
	tokens, scores, types := testVocab(spec.vocab)
	meta := []struct {
		k string
		v any
	}{
		{"general.architecture", a},
		{"general.name", "test-" + a},
		{a + ".context_length", uint32(spec.ctx)},
		{a + ".embedding_length", uint32(spec.embd)},
		{a + ".block_count", uint32(spec.layers)},
		{a + ".feed_forward_length", uint32(spec.ff)},
		{a + ".attention.head_count", uint32(spec.heads)},
		{a + ".attention.head_count_kv", uint32(spec.kvHeads)},
		{a + ".rope.freq_base", float32(10000)},
		{a + ".rope.dimension_count", uint32(spec.embd / spec.heads)},
		{a + ".attention.layer_norm_rms_epsilon", float32(1e-5)},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(2)},
	}
	seen := map[string]bool{}
	for _, kv := range meta {
		seen[kv.k] = true
		v := kv.v
		if o, ok := spec.meta[kv.k]; ok {
			v = o
		}
		if _, del := v.(deleted); del {
			continue
		}
		if err := w.SetKV(kv.k, v); err != nil {
			tb.Fatal(err)
		}
	}
	for k, v := range spec.meta {
		if _, del := v.(deleted); !seen[k] && !del {
			if err := w.SetKV(k, v); err != nil {
				tb.Fatal(err)
			}
		}
	}

	head := spec.embd / spec.heads
	add := func(name string, cols, rows int, scale, offset float64) {
		if spec.skip[name] {
			return
		}
		typ := tensor.F32
		if rows > 1 {
			typ = spec.typ
		}
		if t, ok := spec.types[name]; ok {
			typ = t
		}
		dims := []uint64{uint64(cols), uint64(rows)}
		if rows == 1 {
			dims = dims[:1]
		}
		if d, ok := spec.dims[name]; ok {
			dims = d
		}
		n := uint64(1)
		for _, d := range dims {
			n *= d
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(offset + scale*rng.NormFloat64())
		}
		size, err := typ.Bytes(n)
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		data := make([]byte, size)
		if tensor.CanQuantize(typ) {
			if err := tensor.Quantize(typ, vals, data); err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
		} else {
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
		}
		if err := w.AddTensor(name, typ, dims, data); err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
	}
	proj := func(fanIn int) float64 { return 2 / math.Sqrt(float64(fanIn)) }
	add("token_embd.weight", spec.embd, spec.vocab, 0.15, 0)
	if spec.ropeFreqs {
		add("rope_freqs.weight", head/2, 1, 0.2, 1.5)
	}
	for l := range spec.layers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", spec.embd, 1, 0.1, 1)
		add(p+"attn_q.weight", spec.embd, spec.embd, proj(spec.embd), 0)
		add(p+"attn_k.weight", spec.embd, spec.kvHeads*head, proj(spec.embd), 0)
		add(p+"attn_v.weight", spec.embd, spec.kvHeads*head, proj(spec.embd), 0)
		if a == "qwen2" {
			add(p+"attn_q.bias", spec.embd, 1, 0.5, 0)
			add(p+"attn_k.bias", spec.kvHeads*head, 1, 0.5, 0)
			add(p+"attn_v.bias", spec.kvHeads*head, 1, 0.5, 0)
		}
		add(p+"attn_output.weight", spec.embd, spec.embd, proj(spec.embd), 0)
		add(p+"ffn_norm.weight", spec.embd, 1, 0.1, 1)
		add(p+"ffn_gate.weight", spec.embd, spec.ff, proj(spec.embd), 0)
		add(p+"ffn_up.weight", spec.embd, spec.ff, proj(spec.embd), 0)
		add(p+"ffn_down.weight", spec.ff, spec.embd, proj(spec.ff), 0)
	}
	add("output_norm.weight", spec.embd, 1, 0.1, 1)
	if !spec.tied {
		add("output.weight", spec.embd, spec.vocab, 4/math.Sqrt(float64(spec.embd)), 0)
	}

	path := filepath.Join(tb.TempDir(), "test.gguf")
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

// loadTestModel writes and loads the model of spec with threads goroutines.
func loadTestModel(tb testing.TB, spec testSpec, threads int) *Model {
	tb.Helper()
	m, err := Options{Threads: threads, CacheType: spec.cache}.Load(writeTestModel(tb, spec))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}
