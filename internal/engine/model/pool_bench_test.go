package model

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkPoolMatVec streams Q8_0 matrix-vector products over about 300
// MB of weights (more than any cache, as a decode step does) through the
// model's pool, at 1 and 2 threads, and reports the fastest pass as
// weight bandwidth. Shapes are Qwen2.5-0.5B's: 896 rows (q, o), 4864 rows
// (gate, up) of 896 values and 896 rows of 4864 (down).
func BenchmarkPoolMatVec(b *testing.B) {
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(41, 42))
	for _, s := range []struct{ rows, cols int }{{896, 896}, {4864, 896}, {896, 4864}} {
		rb, _ := tensor.Q8_0.RowBytes(s.cols)
		one := make([]byte, s.rows*rb)
		for i := range one {
			one[i] = byte(r.IntN(256))
		}
		for i := 0; i < len(one); i += 34 { // small finite f16 scales
			one[i], one[i+1] = 0, 0x20
		}
		mats := max(1, (300<<20)/len(one))
		ws := make([][]byte, mats)
		for i := range ws {
			ws[i] = append([]byte(nil), one...)
		}
		f := make([]float32, s.cols)
		for i := range f {
			f[i] = r.Float32() - 0.5
		}
		x := make([]byte, len(one)/s.rows)
		if err := tensor.QuantizeActivations(tensor.Q8_0, f, x); err != nil {
			b.Fatal(err)
		}
		y := make([]float32, s.rows)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%d/threads=%d", s.rows, s.cols, threads), func(b *testing.B) {
				p := newPool(threads)
				defer p.close()
				best := time.Duration(1 << 62)
				for b.Loop() {
					start := time.Now()
					for _, w := range ws {
						if err := k.MatVecParallel(p, tensor.Q8_0, s.cols, w, x, y); err != nil {
							b.Fatal(err)
						}
					}
					best = min(best, time.Since(start))
				}
				b.ReportMetric(float64(mats*len(one))/best.Seconds()/1e9, "GB/s")
				b.ReportMetric(float64(best.Microseconds())/float64(mats), "µs/call")
			})
		}
	}
}

// TestPoolChunks checks that run calls fn exactly once on every chunk
// [c·grain, min((c+1)·grain, n)), whatever the thread count, and on
// nothing else.
func TestPoolChunks(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 4} {
		p := newPool(threads)
		for _, n := range []int{0, 1, 2, 3, 7, 14, 100, 896, 4864, 50257} {
			for _, grain := range []int{1, 4, 68, 2048} {
				for range 5 {
					hits := make([]int32, n)
					var bad atomic.Bool
					p.run(n, grain, func(lo, hi int) {
						if threads > 1 && (lo%grain != 0 || hi != min(lo+grain, n)) {
							bad.Store(true)
						}
						for i := lo; i < hi; i++ {
							atomic.AddInt32(&hits[i], 1)
						}
					})
					if bad.Load() {
						t.Fatalf("threads=%d n=%d grain=%d: a range is not one chunk", threads, n, grain)
					}
					for i, h := range hits {
						if h != 1 {
							t.Fatalf("threads=%d n=%d grain=%d: index %d run %d times", threads, n, grain, i, h)
						}
					}
				}
			}
		}
		p.close()
	}
}
