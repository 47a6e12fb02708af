package model

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
)

// setPassTokens makes m run batches in passes of at most n tokens.
func setPassTokens(m *Model, n int) { m.passTokens = n }

// TestPassesMatchOnePass checks that a batch split into passes of a few
// tokens gives bit-identical logits, caches and embeddings to one pass
// over the whole batch.
func TestPassesMatchOnePass(t *testing.T) {
	a := make([]int32, 23)
	for i := range a {
		a[i] = int32(3 + 11*i%290)
	}
	b := []int32{1, 99, 7, 260, 12, 13, 14, 15, 16}
	for _, tc := range []struct {
		name    string
		spec    testSpec
		threads int
	}{
		{"llama F32", testSpec{seed: 11}, 1},
		{"llama Q8_0", testSpec{seed: 12, typ: tensor.Q8_0}, 2},
		{"qwen2 Q4_K tied", testSpec{seed: 13, arch: "qwen2", typ: tensor.Q4_K, embd: 256, ff: 256, tied: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadTestModel(t, tc.spec, tc.threads)
			vocab := m.Config().VocabSize
			run := func() (logits []float32, keys [][]float32, embed []float32) {
				ca, _ := m.NewCache(0, nil)
				cb, _ := m.NewCache(0, nil)
				la := make([]float32, 4*vocab)
				lb := make([]float32, vocab)
				batch := &Batch{Seqs: []Sequence{
					{Tokens: a, Cache: ca, Outputs: []int{22, 0, 5, 6}, Logits: la},
					{Tokens: b, Cache: cb, Logits: lb},
				}}
				if err := m.Forward(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
				e, err := m.Embed(context.Background(), a)
				if err != nil {
					t.Fatal(err)
				}
				for l := range m.Config().Layers {
					keys = append(keys, ca.Keys(l)[:ca.Len()*ca.Spec().KeyDim], cb.Values(l)[:cb.Len()*cb.Spec().ValueDim])
				}
				return append(la, lb...), keys, e
			}
			wantL, wantK, wantE := run()
			for _, n := range []int{1, 4, 7} {
				setPassTokens(m, n)
				gotL, gotK, gotE := run()
				if diff := cmp.Diff(wantL, gotL); diff != "" {
					t.Errorf("passes of %d: logits differ (-one pass +passes):\n%s", n, diff)
				}
				if diff := cmp.Diff(wantK, gotK); diff != "" {
					t.Errorf("passes of %d: caches differ (-one pass +passes):\n%s", n, diff)
				}
				if diff := cmp.Diff(wantE, gotE); diff != "" {
					t.Errorf("passes of %d: embeddings differ (-one pass +passes):\n%s", n, diff)
				}
			}
		})
	}
}

// TestScratchBytes checks ScratchBytes against the buffers a model keeps
// after a Forward, and that passes bound them.
func TestScratchBytes(t *testing.T) {
	for _, tc := range []struct {
		tokens, outputs, pass int
	}{
		{1, 1, 256}, {40, 1, 256}, {40, 3, 256}, {40, 3, 16}, {40, 40, 256}, {40, 0, 8},
	} {
		m := loadTestModel(t, testSpec{seed: 14, typ: tensor.Q8_0}, 2)
		setPassTokens(m, tc.pass)
		vocab := m.Config().VocabSize
		c, _ := m.NewCache(0, nil)
		s := Sequence{Tokens: make([]int32, tc.tokens), Cache: c}
		for i := range tc.outputs {
			s.Outputs = append(s.Outputs, i)
		}
		if tc.outputs > 0 {
			s.Logits = make([]float32, tc.outputs*vocab)
		}
		if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{s}}); err != nil {
			t.Fatal(err)
		}
		if len(m.states) != 1 {
			t.Fatalf("%+v: %d states kept, want 1", tc, len(m.states))
		}
		if got, want := m.states[0].bytes(), m.ScratchBytes(tc.tokens, tc.outputs); got != want {
			t.Errorf("%+v: state holds %d bytes, ScratchBytes says %d", tc, got, want)
		}
		m.Close()
	}
}

// decodeStep runs prompt into a new cache of m and returns a decode step
// after it: one token, with logits, then truncated away again.
func decodeStep(t *testing.T, m *Model, prompt []int32) func() {
	t.Helper()
	c, _ := m.NewCache(0, nil)
	ctx := context.Background()
	if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c}}}); err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config().VocabSize)
	batch := &Batch{Seqs: []Sequence{{Tokens: []int32{42}, Cache: c, Logits: logits}}}
	return func() {
		if err := m.Forward(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := c.Truncate(len(prompt)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeStepAllocs checks that a decode step on one thread allocates
// nothing, in this package or in the kernels.
func TestDecodeStepAllocs(t *testing.T) {
	m := loadTestModel(t, testSpec{seed: 15, typ: tensor.Q8_0}, 1)
	step := decodeStep(t, m, []int32{1, 2, 3})
	step()
	limit := 0.0
	if raceEnabled {
		// sync.Pool drops a share of its items under the race detector,
		// so tensor.MatMul's pooled jobs and the repacked kernels' pooled
		// scratch (one each per matrix product: seven per layer, the
		// output and its row-major tail) are sometimes made anew, and the
		// race runtime makes one more.
		limit = float64(2*(7*m.Config().Layers+2) + 1)
	}
	if got := testing.AllocsPerRun(20, step); got > limit {
		t.Errorf("a decode step allocates %v times, want at most %v", got, limit)
	}
}

// TestSegmentStepAllocs checks that a decode step that attends by
// segments (two threads, a cache longer than vecmath.AttendSegment)
// allocates nothing once its buffers have grown.
func TestSegmentStepAllocs(t *testing.T) {
	m := loadTestModel(t, testSpec{seed: 22, typ: tensor.Q8_0, ctx: 1024, cache: kvcache.F16}, 2)
	prompt := make([]int32, vecmath.AttendSegment+40)
	for i := range prompt {
		prompt[i] = int32(3 + i%250)
	}
	step := decodeStep(t, m, prompt)
	step()
	// The idle state keeps the last pass's items: the segments of both
	// KV heads.
	st := m.getState()
	items := len(st.segItems)
	m.putState(st)
	if want := 2 * m.Config().KVHeads; items != want {
		t.Fatalf("the step attended by %d segment items, want %d", items, want)
	}
	limit := 0.0
	if raceEnabled {
		// As in TestDecodeStepAllocs, and a pooled job for each of
		// the pool's loops (nine a layer, the output's).
		limit = float64(2*(7*m.Config().Layers+2) + 1 + 9*m.Config().Layers + 2)
	}
	if got := testing.AllocsPerRun(20, step); got > limit {
		t.Errorf("a decode step by segments allocates %v times, want at most %v", got, limit)
	}
}

// BenchmarkPrefillPasses measures a 512-token prompt run in passes of 128,
// 256 and 512 tokens (one pass), with $CERULEAN_BENCH_MODEL on 2 threads,
// or the synthetic llama-tiny Q8_0 model of ../shared. Run with -count to
// alternate them.
func BenchmarkPrefillPasses(b *testing.B) {
	path := os.Getenv("CERULEAN_BENCH_MODEL")
	if path == "" {
		path = filepath.Join(modelsDir(b), "synthetic", "llama-tiny-Q8_0.gguf")
	}
	m, err := Options{Threads: 2}.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	n := min(512, m.Config().ContextLength)
	prompt := make([]int32, n)
	for i := range prompt {
		prompt[i] = int32(3 + i%(m.Config().VocabSize-3))
	}
	logits := make([]float32, m.Config().VocabSize)
	c, err := m.NewCache(n, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, pass := range []int{128, 256, 512} {
		b.Run(fmt.Sprintf("pass=%d", pass), func(b *testing.B) {
			setPassTokens(m, pass)
			for b.Loop() {
				if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c, Logits: logits}}}); err != nil {
					b.Fatal(err)
				}
				if err := c.Truncate(0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkDecodeEnv is benchDecode with $CERULEAN_BENCH_MODEL on
// $CERULEAN_BENCH_THREADS threads (default 2) after a context of
// $CERULEAN_BENCH_CONTEXT tokens (default 64), with a KV cache of type
// $CERULEAN_BENCH_KV (f32 or f16, default f32); skipped without the model.
func BenchmarkDecodeEnv(b *testing.B) {
	path := os.Getenv("CERULEAN_BENCH_MODEL")
	if path == "" {
		b.Skip("set CERULEAN_BENCH_MODEL to a GGUF file")
	}
	threads := 2
	if s := os.Getenv("CERULEAN_BENCH_THREADS"); s != "" {
		threads, _ = strconv.Atoi(s)
	}
	ctxLen := 64
	if s := os.Getenv("CERULEAN_BENCH_CONTEXT"); s != "" {
		ctxLen, _ = strconv.Atoi(s)
	}
	var cache kvcache.DType
	if s := os.Getenv("CERULEAN_BENCH_KV"); s != "" {
		if err := cache.Set(s); err != nil {
			b.Fatal(err)
		}
	}
	m, err := Options{Threads: threads, CacheType: cache}.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchDecodeAt(b, m, ctxLen)
}

// BenchmarkSegmentItemsEnv compares decoding one sequence with attention
// by segments of the cache (see state.attention) and by (token, KV head)
// items, with $CERULEAN_BENCH_MODEL on $CERULEAN_BENCH_THREADS threads
// (default 2) after $CERULEAN_BENCH_CONTEXT tokens (default 2048), F16
// cache. Each iteration decodes a step each way, in turn first; it
// reports the mean step times and their ratio (segments over items), and
// checks that the logits are the same.
func BenchmarkSegmentItemsEnv(b *testing.B) {
	path := os.Getenv("CERULEAN_BENCH_MODEL")
	if path == "" {
		b.Skip("set CERULEAN_BENCH_MODEL to a GGUF file")
	}
	threads, ctxLen := 2, 2048
	if s := os.Getenv("CERULEAN_BENCH_THREADS"); s != "" {
		threads, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("CERULEAN_BENCH_CONTEXT"); s != "" {
		ctxLen, _ = strconv.Atoi(s)
	}
	m, err := Options{Threads: threads, CacheType: kvcache.F16}.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	c := benchContext(b, m, ctxLen)
	vocab := m.Config().VocabSize
	logits := [2][]float32{make([]float32, vocab), make([]float32, vocab)}
	var took [2]time.Duration
	step := func(items bool) {
		i := 0
		if items {
			i = 1
		}
		m.noSegmentItems = items
		start := time.Now()
		if err := m.Forward(ctx, &Batch{Seqs: []Sequence{{Tokens: []int32{42}, Cache: c, Logits: logits[i]}}}); err != nil {
			b.Fatal(err)
		}
		took[i] += time.Since(start)
		if err := c.Truncate(ctxLen); err != nil {
			b.Fatal(err)
		}
	}
	first := false
	for b.Loop() {
		step(first)
		step(!first)
		first = !first
	}
	if d := cmp.Diff(logits[0], logits[1]); d != "" {
		b.Fatalf("logits by segments and by items differ (-segments +items):\n%s", d)
	}
	b.ReportMetric(float64(took[0].Microseconds())/float64(b.N), "µs/segments-step")
	b.ReportMetric(float64(took[1].Microseconds())/float64(b.N), "µs/items-step")
	b.ReportMetric(float64(took[0])/float64(took[1]), "segments/items")
}

// bytes returns the memory of the buffers ScratchBytes counts.
func (st *state) bytes() int64 {
	n := 4 * int64(cap(st.x)+cap(st.xn)+cap(st.q)+cap(st.k)+cap(st.v)+cap(st.att)+cap(st.tmp)+cap(st.g)+cap(st.u)+cap(st.res))
	for _, r := range st.ropes[:cap(st.ropes)] {
		n += 4 * int64(cap(r.cos)+cap(r.sin))
	}
	for _, e := range st.in.enc {
		n += int64(cap(e.data))
	}
	return n
}
