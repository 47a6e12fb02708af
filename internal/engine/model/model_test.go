package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testSpec
		want Config
	}{
		{
			name: "llama GQA untied",
			spec: testSpec{},
			want: Config{
				Architecture: "llama", Name: "test-llama", VocabSize: 300, ContextLength: 64,
				Embedding: 64, Layers: 2, FeedForward: 96, Heads: 4, KVHeads: 2, KeyLength: 16, ValueLength: 16,
				NormEpsilon: 1e-5, RopeStyle: RopeNormal, RopeDims: 16, RopeFreqBase: 10000, RopeFreqScale: 1,
				RopeAttnScale: 1, BOS: 1, EOS: 2,
			},
		},
		{
			name: "qwen2 tied with linear scaling and rope freqs",
			spec: testSpec{arch: "qwen2", tied: true, heads: 2, kvHeads: 2, ropeFreqs: true, meta: map[string]any{
				"qwen2.rope.scaling.type": "linear", "qwen2.rope.scaling.factor": float32(4),
				"qwen2.attention.layer_norm_rms_epsilon": float32(1e-6), "qwen2.rope.freq_base": float32(1e6),
			}},
			want: Config{
				Architecture: "qwen2", Name: "test-qwen2", VocabSize: 300, ContextLength: 64,
				Embedding: 64, Layers: 2, FeedForward: 96, Heads: 2, KVHeads: 2, KeyLength: 32, ValueLength: 32,
				NormEpsilon: 1e-6, RopeStyle: RopeNeox, RopeDims: 32, RopeFreqBase: 1e6, RopeFreqScale: 0.25,
				RopeAttnScale: 1, RopeFreqs: true, TiedEmbeddings: true, QKVBias: true, BOS: 1, EOS: 2,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadTestModel(t, tc.spec, 1)
			if diff := cmp.Diff(tc.want, m.Config(), cmpopts.EquateApprox(1e-7, 0)); diff != "" {
				t.Errorf("Config() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHostileFiles checks that broken models give clear errors, not panics.
func TestHostileFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec testSpec
		want error
	}{
		{"unknown architecture", testSpec{meta: map[string]any{"general.architecture": "gpt9"}}, ErrUnsupported},
		{"no architecture", testSpec{meta: map[string]any{"general.architecture": deleted{}}}, ErrInvalid},
		{"no block count", testSpec{meta: map[string]any{"llama.block_count": deleted{}}}, ErrInvalid},
		{"string head count", testSpec{meta: map[string]any{"llama.attention.head_count": "four"}}, ErrInvalid},
		{"kv heads not dividing", testSpec{meta: map[string]any{"llama.attention.head_count_kv": uint32(3)}}, ErrInvalid},
		{"rope dims too large", testSpec{meta: map[string]any{"llama.rope.dimension_count": uint32(1000)}}, ErrInvalid},
		{"NaN epsilon", testSpec{meta: map[string]any{"llama.attention.layer_norm_rms_epsilon": float32(math.NaN())}}, ErrInvalid},
		{"yarn scaling", testSpec{meta: map[string]any{"llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": float32(4)}}, ErrUnsupported},
		{"missing embedding", testSpec{skip: map[string]bool{"token_embd.weight": true}}, ErrInvalid},
		{"missing ffn_up", testSpec{skip: map[string]bool{"blk.1.ffn_up.weight": true}}, ErrInvalid},
		{"missing norm", testSpec{skip: map[string]bool{"output_norm.weight": true}}, ErrInvalid},
		{"missing qwen2 bias", testSpec{arch: "qwen2", skip: map[string]bool{"blk.0.attn_k.bias": true}}, ErrInvalid},
		{"wrong q shape", testSpec{dims: map[string][]uint64{"blk.0.attn_q.weight": {64, 32}}}, ErrInvalid},
		{"transposed down", testSpec{dims: map[string][]uint64{"blk.0.ffn_down.weight": {64, 96}}}, ErrInvalid},
		{"3-D weight", testSpec{dims: map[string][]uint64{"blk.0.attn_v.weight": {64, 16, 2}}}, ErrInvalid},
		{"wrong norm length", testSpec{dims: map[string][]uint64{"blk.1.ffn_norm.weight": {63}}}, ErrInvalid},
		{"embedding rows below vocabulary", testSpec{dims: map[string][]uint64{"token_embd.weight": {64, 200}}}, ErrInvalid},
		{"type without kernel", testSpec{embd: 256, types: map[string]tensor.Type{"blk.0.ffn_gate.weight": tensor.Q2_K}}, ErrUnsupported},
		{"integer weights", testSpec{types: map[string]tensor.Type{"blk.0.attn_q.weight": tensor.I32}}, ErrUnsupported},
		{"tied embedding without kernel", testSpec{embd: 256, tied: true, types: map[string]tensor.Type{"token_embd.weight": tensor.Q3_K}}, ErrUnsupported},
		{"rope freqs wrong length", testSpec{ropeFreqs: true, dims: map[string][]uint64{"rope_freqs.weight": {5}}}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(writeTestModel(t, tc.spec))
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded, want an error")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Load: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("truncated file", func(t *testing.T) {
		path := writeTestModel(t, testSpec{})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 10, len(b) / 3, len(b) - 1} {
			if err := os.WriteFile(path, b[:n], 0o600); err != nil {
				t.Fatal(err)
			}
			if m, err := Load(path); err == nil {
				m.Close()
				t.Errorf("Load of %d of %d bytes succeeded", n, len(b))
			}
		}
	})
}

// decodeAll feeds tokens one at a time into a fresh cache and returns the
// logits after each.
func decodeAll(t *testing.T, m *Model, tokens []int32) [][]float32 {
	t.Helper()
	c, err := m.NewCache(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, id := range tokens {
		l := make([]float32, m.Config().VocabSize)
		if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: []int32{id}, Cache: c, Logits: l}}}); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// TestBatchMatchesSequential checks that a batch of two sequences of
// different lengths with several outputs each gives bit-identical logits to
// decoding each sequence alone one token at a time, for several weight
// types, architectures and thread counts. Each dot product is computed the
// same way whatever the batch, so equality is exact.
func TestBatchMatchesSequential(t *testing.T) {
	a := []int32{1, 300 - 1, 17, 42, 260, 5}
	b := []int32{1, 99, 7}
	for _, tc := range []struct {
		name    string
		spec    testSpec
		threads int
	}{
		{"llama F32", testSpec{seed: 1}, 1},
		{"llama Q8_0 3 threads", testSpec{seed: 2, typ: tensor.Q8_0}, 3},
		{"qwen2 Q4_K tied", testSpec{seed: 3, arch: "qwen2", typ: tensor.Q4_K, embd: 256, ff: 256, tied: true}, 2},
		{"llama F16 rope freqs", testSpec{seed: 4, typ: tensor.F16, ropeFreqs: true, meta: map[string]any{"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": float32(2)}}, 2},
		{"qwen2 Q8_0 F16 cache", testSpec{seed: 10, arch: "qwen2", typ: tensor.Q8_0, cache: kvcache.F16}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadTestModel(t, tc.spec, tc.threads)
			vocab := m.Config().VocabSize
			wantA, wantB := decodeAll(t, m, a), decodeAll(t, m, b)
			ca, _ := m.NewCache(0, nil)
			cb, _ := m.NewCache(0, nil)
			la := make([]float32, 2*vocab)
			lb := make([]float32, vocab)
			batch := &Batch{Seqs: []Sequence{
				{Tokens: a[:4], Cache: ca, Outputs: []int{1, 3}, Logits: la},
				{Tokens: b, Cache: cb, Logits: lb},
			}}
			if err := m.Forward(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			// Continue a with the rest in a second batch, alone.
			la2 := make([]float32, vocab)
			if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: a[4:], Cache: ca, Logits: la2}}}); err != nil {
				t.Fatal(err)
			}
			got := [][]float32{la[:vocab], la[vocab:], lb, la2}
			want := [][]float32{wantA[1], wantA[3], wantB[2], wantA[5]}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("batched logits differ from sequential ones (-want +got):\n%s", diff)
			}
			if got, want := ca.Len(), len(a); got != want {
				t.Errorf("cache a Len() = %d, want %d", got, want)
			}
		})
	}
}

// TestTruncateReusesPrefix checks that truncating a cache to a prefix and
// continuing gives the logits of a fresh run over prefix + continuation.
func TestTruncateReusesPrefix(t *testing.T) {
	for _, dt := range []kvcache.DType{kvcache.F32, kvcache.F16} {
		t.Run(dt.String(), func(t *testing.T) { testTruncateReusesPrefix(t, dt) })
	}
}

func testTruncateReusesPrefix(t *testing.T, dt kvcache.DType) {
	m := loadTestModel(t, testSpec{seed: 5, typ: tensor.Q8_0, cache: dt}, 2)
	vocab := m.Config().VocabSize
	ctx := context.Background()
	prefix, first, second := []int32{1, 30, 31, 32}, []int32{40, 41, 42}, []int32{50, 51}
	c, _ := m.NewCache(0, nil)
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: append(append([]int32{}, prefix...), first...), Cache: c}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Truncate(len(prefix)); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, vocab)
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: second, Cache: c, Logits: got}}}); err != nil {
		t.Fatal(err)
	}
	fresh, _ := m.NewCache(0, nil)
	want := make([]float32, vocab)
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: append(append([]int32{}, prefix...), second...), Cache: fresh, Logits: want}}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logits after Truncate (-fresh +reused):\n%s", diff)
	}
}

func TestForwardErrors(t *testing.T) {
	m := loadTestModel(t, testSpec{seed: 6}, 2)
	other := loadTestModel(t, testSpec{seed: 6, layers: 1}, 1)
	vocab := m.Config().VocabSize
	ctx := context.Background()
	c, _ := m.NewCache(8, nil)
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: []int32{1, 2, 3}, Cache: c}}}); err != nil {
		t.Fatal(err)
	}
	wrongCache, _ := other.NewCache(0, nil)
	f16 := loadTestModel(t, testSpec{seed: 6, cache: kvcache.F16}, 1)
	wrongType, _ := f16.NewCache(0, nil)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		seqs []Sequence
	}{
		{"token out of range", ctx, []Sequence{{Tokens: []int32{int32(vocab)}, Cache: c}}},
		{"negative token", ctx, []Sequence{{Tokens: []int32{-1}, Cache: c}}},
		{"no cache", ctx, []Sequence{{Tokens: []int32{1}}}},
		{"cache of another model", ctx, []Sequence{{Tokens: []int32{1}, Cache: wrongCache}}},
		{"cache of another type", ctx, []Sequence{{Tokens: []int32{1}, Cache: wrongType}}},
		{"shared cache", ctx, []Sequence{{Tokens: []int32{1}, Cache: c}, {Tokens: []int32{2}, Cache: c}}},
		{"short logits", ctx, []Sequence{{Tokens: []int32{1}, Cache: c, Logits: make([]float32, vocab-1)}}},
		{"output out of range", ctx, []Sequence{{Tokens: []int32{1}, Cache: c, Outputs: []int{1}, Logits: make([]float32, vocab)}}},
		{"positions mismatch", ctx, []Sequence{{Tokens: []int32{1, 2}, Positions: []int32{3}, Cache: c}}},
		{"context full", ctx, []Sequence{{Tokens: make([]int32, 6), Cache: c}}},
		{"canceled", canceled, []Sequence{{Tokens: []int32{1}, Cache: c}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Forward(tc.ctx, &Batch{Seqs: tc.seqs}); err == nil {
				t.Error("Forward succeeded, want an error")
			}
			if got, want := c.Len(), 3; got != want {
				t.Errorf("cache Len() = %d after a failed Forward, want %d", got, want)
			}
		})
	}
	if err := m.Forward(ctx, nil); !errors.Is(err, ErrBatch) {
		t.Errorf("Forward(nil) = %v, want ErrBatch", err)
	}
	m.Close()
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: []int32{1}, Cache: c}}}); err == nil {
		t.Error("Forward after Close succeeded")
	}
}

func TestEmbed(t *testing.T) {
	m := loadTestModel(t, testSpec{seed: 7, typ: tensor.Q8_0}, 2)
	ctx := context.Background()
	tok := m.Tokenizer()
	a, err := m.Embed(ctx, tok.Encode("the a the", true, false))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Embed(ctx, tok.Encode("the a the", true, false))
	b, _ := m.Embed(ctx, tok.Encode("hello world", true, false))
	var norm, dot float64
	for i := range a {
		norm += float64(a[i]) * float64(a[i])
		dot += float64(a[i]) * float64(b[i])
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Errorf("|embedding|² = %g, want 1", norm)
	}
	if diff := cmp.Diff(a, again); diff != "" {
		t.Errorf("embedding not deterministic (-first +second):\n%s", diff)
	}
	if dot > 0.9999 {
		t.Errorf("different texts have cosine similarity %g", dot)
	}
	if _, err := m.Embed(ctx, nil); err == nil {
		t.Error("Embed of no tokens succeeded")
	}
	if _, err := m.Embed(ctx, make([]int32, 65)); err == nil {
		t.Error("Embed beyond the context succeeded")
	}
}

func TestRope(t *testing.T) {
	cfg := Config{RopeDims: 4, RopeFreqBase: 100, RopeFreqScale: 1, RopeAttnScale: 1}
	// Pair 0 turns by pos radians, pair 1 by pos/10.
	var r ropeTable
	r.fill(&cfg, nil, 1)
	c0, s0 := float32(math.Cos(1)), float32(math.Sin(1))
	c1, s1 := float32(math.Cos(0.1)), float32(math.Sin(0.1))
	for _, tc := range []struct {
		style RopeStyle
		in    []float32
		want  []float32
	}{
		{RopeNormal, []float32{1, 0, 0, 1, 7}, []float32{c0, s0, -s1, c1, 7}},
		{RopeNeox, []float32{1, 0, 0, 1, 7}, []float32{c0, -s1, s0, c1, 7}},
	} {
		got := append([]float32(nil), tc.in...)
		rope(got, &r, tc.style)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
			t.Errorf("%v rope (-want +got):\n%s", tc.style, diff)
		}
	}
}

// TestThreadsAgree checks that the thread count does not change any
// result: every output value is computed by one goroutine in a fixed
// order, however the rows are split.
func TestThreadsAgree(t *testing.T) {
	spec := testSpec{seed: 8, typ: tensor.Q4_K, embd: 256, ff: 256, arch: "qwen2"}
	prompt := []int32{1, 20, 21, 22, 23, 24, 25, 26, 27}
	var results [][]float32
	for _, threads := range []int{1, 2, 5} {
		m := loadTestModel(t, spec, threads)
		c, _ := m.NewCache(0, nil)
		vocab := m.Config().VocabSize
		logits := make([]float32, len(prompt)*vocab)
		outs := make([]int, len(prompt))
		for i := range outs {
			outs[i] = i
		}
		if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c, Outputs: outs, Logits: logits}}}); err != nil {
			t.Fatal(err)
		}
		results = append(results, logits)
	}
	for i := 1; i < len(results); i++ {
		if diff := cmp.Diff(results[0], results[i]); diff != "" {
			t.Errorf("logits with %d threads differ from 1 thread (-1 +n):\n%s", []int{1, 2, 5}[i], diff)
		}
	}
}

// TestDecodeSplitsAgree checks that decoding gives the same logits
// whether each KV head's group of query heads is one attention item or,
// with more threads than (token, KV head) pairs, split into several.
func TestDecodeSplitsAgree(t *testing.T) {
	for _, dt := range []kvcache.DType{kvcache.F32, kvcache.F16} {
		t.Run(dt.String(), func(t *testing.T) { testDecodeSplitsAgree(t, dt) })
	}
}

func testDecodeSplitsAgree(t *testing.T, dt kvcache.DType) {
	for _, shape := range []struct{ heads, kvHeads int }{{4, 2}, {8, 1}, {7, 1}} {
		spec := testSpec{seed: 9, embd: 16 * shape.heads, heads: shape.heads, kvHeads: shape.kvHeads, cache: dt}
		prompt := make([]int32, 40)
		for i := range prompt {
			prompt[i] = int32(3 + i)
		}
		var results [][]float32
		threadCounts := []int{1, 3, 5}
		for _, threads := range threadCounts {
			m := loadTestModel(t, spec, threads)
			c, _ := m.NewCache(0, nil)
			vocab := m.Config().VocabSize
			if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c}}}); err != nil {
				t.Fatal(err)
			}
			var logits []float32
			for i := range 3 {
				l := make([]float32, vocab)
				if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: []int32{int32(50 + i)}, Cache: c, Logits: l}}}); err != nil {
					t.Fatal(err)
				}
				logits = append(logits, l...)
			}
			results = append(results, logits)
		}
		for i := 1; i < len(results); i++ {
			if diff := cmp.Diff(results[0], results[i]); diff != "" {
				t.Errorf("%+v: decoded logits with %d threads differ from 1 thread (-1 +n):\n%s", shape, threadCounts[i], diff)
			}
		}
	}
}

// TestSegmentsAgree checks that attention by segments (one sequence over
// a cache longer than vecmath.AttendSegment with fewer (token, KV head)
// pairs than twice the threads) gives the logits of attention by (token,
// KV head) items: the same sequence decoded on one thread, and batched
// with two others.
func TestSegmentsAgree(t *testing.T) {
	for _, dt := range []kvcache.DType{kvcache.F32, kvcache.F16} {
		t.Run(dt.String(), func(t *testing.T) {
			spec := testSpec{seed: 21, typ: tensor.Q8_0, ctx: 1024, cache: dt}
			prompt := make([]int32, 2*vecmath.AttendSegment+90)
			for i := range prompt {
				prompt[i] = int32(3 + i%250)
			}
			ctx := context.Background()
			var results [][]float32
			var names []string
			for _, threads := range []int{1, 3} {
				m := loadTestModel(t, spec, threads)
				vocab := m.Config().VocabSize
				for _, batched := range []bool{false, true} {
					c, _ := m.NewCache(0, nil)
					if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c}}}); err != nil {
						t.Fatal(err)
					}
					others := make([]*kvcache.Cache, 2)
					for i := range others {
						others[i], _ = m.NewCache(0, nil)
						if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: prompt[:5+i], Cache: others[i]}}}); err != nil {
							t.Fatal(err)
						}
					}
					var logits []float32
					for i := range 3 {
						l := make([]float32, vocab)
						b := &Batch{Seqs: []Sequence{{Tokens: []int32{int32(50 + i)}, Cache: c, Logits: l}}}
						if batched {
							for j, o := range others {
								b.Seqs = append(b.Seqs, Sequence{Tokens: []int32{int32(60 + j)}, Cache: o})
							}
						}
						if err := m.Forward(ctx, b); err != nil {
							t.Fatal(err)
						}
						logits = append(logits, l...)
					}
					results = append(results, logits)
					names = append(names, fmt.Sprintf("%d threads, batched %v", threads, batched))
				}
			}
			for i := 1; i < len(results); i++ {
				if diff := cmp.Diff(results[0], results[i]); diff != "" {
					t.Errorf("decoded logits with %s differ from %s (-first +this):\n%s", names[i], names[0], diff)
				}
			}
		})
	}
}

// TestUnknownCacheType checks that a model refuses a KV cache type it
// cannot store.
func TestUnknownCacheType(t *testing.T) {
	path := writeTestModel(t, testSpec{seed: 17})
	if m, err := (Options{Threads: 1, CacheType: kvcache.F16 + 1}).Load(path); err == nil {
		m.Close()
		t.Fatal("Load with an unknown cache type succeeded")
	}
	m, err := Options{Threads: 1, CacheType: kvcache.F16}.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewCache(16, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Spec().DType; got != kvcache.F16 {
		t.Errorf("NewCache's type = %v, want f16", got)
	}
}
