package runner

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// BenchmarkStreams generates with 1 and 8 concurrent greedy streams of a
// 4-token prompt and 32 tokens each, and reports generated tokens per
// second over whole runs (the short prompts included). The model is
// $CERULEAN_BENCH_MODEL with $CERULEAN_BENCH_THREADS threads (default 2)
// when set, or a tiny random model with a vocabulary of 50257, so that the
// per-token work outside the model is visible.
func BenchmarkStreams(b *testing.B) {
	params := sample.DefaultParams()
	params.Temperature = 0
	benchStreams(b, params)
}

// BenchmarkStreamsSampled is BenchmarkStreams with top_p sampling and a
// frequency penalty instead of greedy decoding, so that every request's
// sampler needs its vocabulary-sized buffers.
func BenchmarkStreamsSampled(b *testing.B) {
	params := sample.DefaultParams()
	params.TopP, params.FrequencyPenalty = 0.9, 0.1
	benchStreams(b, params)
}

func benchStreams(b *testing.B, params sample.Params) {
	threads := 2
	if s := os.Getenv("CERULEAN_BENCH_THREADS"); s != "" {
		threads, _ = strconv.Atoi(s)
	}
	path := os.Getenv("CERULEAN_BENCH_MODEL")
	if path == "" {
		path = writeTiny(b, tinySpec{embd: 64, ff: 128, layers: 2, heads: 4, kvHeads: 2, vocab: 50257, ctx: 128, seed: 1})
	}
	m, err := model.Options{Threads: threads}.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			r := New(m, Options{MaxSeqs: n, ContextLength: 64, PrefixCacheBytes: -1})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			defer func() {
				cancel()
				<-done
			}()
			tokens := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				streams := make([]*Stream, n)
				for k := range streams {
					prompt := []int32{1, int32(3 + k), int32(5 + i%7), 9}
					if streams[k], err = r.Submit(ctx, Request{Prompt: prompt, MaxTokens: 32, Params: params}); err != nil {
						b.Fatal(err)
					}
				}
				for _, st := range streams {
					for {
						e, ok := st.Next(ctx)
						if !ok || e.Err != nil {
							b.Fatalf("stream ended: %v", e.Err)
						}
						tokens++
						if e.Done {
							break
						}
					}
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
