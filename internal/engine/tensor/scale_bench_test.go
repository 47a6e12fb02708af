package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkMatVecIndependent runs the Q8_0 matrix-vector product on g
// goroutines that share nothing (each its own matrix, vector and output,
// no Runner), so it shows how far the kernel itself scales across cores
// apart from any work splitting. ffn-shaped 896×896 matrices (850 KB) fit
// in L2, so memory plays no part. It reports the aggregate GB/s.
func BenchmarkMatVecIndependent(b *testing.B) {
	typ := tensor.Q8_0
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(31, 32))
	const rows, cols = 896, 896
	for _, g := range []int{1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			ws := make([][]byte, g)
			xs := make([][]byte, g)
			ys := make([][]float32, g)
			for i := range g {
				ws[i] = randomWeights(r, typ, rows*cols, scaleRandom)
				xs[i] = randomActs(r, tensor.Q8_0, cols, scaleRandom, false)
				ys[i] = make([]float32, rows)
			}
			const reps = 2000
			best := time.Duration(1 << 62)
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for i := range g {
					wg.Go(func() {
						for range reps {
							_ = k.MatVec(typ, cols, ws[i], xs[i], ys[i])
						}
					})
				}
				wg.Wait()
				best = min(best, time.Since(start))
			}
			b.ReportMetric(float64(g*reps*len(ws[0]))/best.Seconds()/1e9, "GB/s")
		})
	}
}

// BenchmarkMatVecSplit splits one cache-resident Q8_0 product across
// Goroutines(g) with MatVecParallel, and reports GB/s and how many chunks
// each goroutine ran on average.
func BenchmarkMatVecSplit(b *testing.B) {
	typ := tensor.Q8_0
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(33, 34))
	for _, s := range []matShape{{896, 896}, {4864, 896}, {896, 4864}} {
		w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
		x := randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)
		y := make([]float32, s.rows)
		for _, g := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%d/goroutines=%d", s.rows, s.cols, g), func(b *testing.B) {
				const reps = 200
				best := time.Duration(1 << 62)
				for b.Loop() {
					start := time.Now()
					for range reps {
						_ = k.MatVecParallel(tensor.Goroutines(g), typ, s.cols, w, x, y)
					}
					best = min(best, time.Since(start))
				}
				b.ReportMetric(float64(reps*len(w))/best.Seconds()/1e9, "GB/s")
				b.ReportMetric(float64(best.Microseconds())/reps, "µs/call")
			})
		}
	}
}

// timedRunner is Goroutines(2) recording, per goroutine, chunks run and
// time spent inside fn.
type timedRunner struct {
	g      int
	busy   [2]time.Duration
	chunks [2]int
	start  [2]time.Duration // from Run entry to first chunk
}

func (t *timedRunner) Run(n, grain int, fn func(lo, hi int)) {
	var next = new(int64)
	var mu sync.Mutex
	t0 := time.Now()
	work := func(id int) {
		first := true
		for {
			mu.Lock()
			lo := int(*next)
			*next += int64(grain)
			mu.Unlock()
			if lo >= n {
				return
			}
			s := time.Now()
			if first {
				t.start[id] += s.Sub(t0)
				first = false
			}
			fn(lo, min(lo+grain, n))
			t.busy[id] += time.Since(s)
			t.chunks[id]++
		}
	}
	if t.g < 2 {
		work(0)
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { work(1) })
	work(0)
	wg.Wait()
}

func BenchmarkMatVecTimed(b *testing.B) {
	typ := tensor.Q8_0
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(33, 34))
	for _, s := range []matShape{{896, 896}, {4864, 896}} {
		w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
		x := randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)
		y := make([]float32, s.rows)
		for _, g := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%d/goroutines=%d", s.rows, s.cols, g), func(b *testing.B) {
				tr := &timedRunner{g: g}
				calls := 0
				for b.Loop() {
					_ = k.MatVecParallel(tr, typ, s.cols, w, x, y)
					calls++
				}
				for i := range g {
					if tr.chunks[i] > 0 {
						b.ReportMetric(float64(tr.busy[i].Nanoseconds())/float64(tr.chunks[i]), fmt.Sprintf("ns/chunk%d", i))
					}
					b.ReportMetric(float64(tr.chunks[i])/float64(calls), fmt.Sprintf("chunks%d/call", i))
					b.ReportMetric(float64(tr.start[i].Nanoseconds())/float64(calls), fmt.Sprintf("ns-start%d", i))
				}
			})
		}
	}
}

// BenchmarkMatVecIndependentDRAM is BenchmarkMatVecIndependent with each
// goroutine streaming its own 150 MB of 4864×896 Q8_0 matrices.
func BenchmarkMatVecIndependentDRAM(b *testing.B) {
	typ := tensor.Q8_0
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(31, 32))
	const rows, cols, mats = 4864, 896, 32
	one := randomWeights(r, typ, rows*cols, scaleRandom)
	x := randomActs(r, tensor.Q8_0, cols, scaleRandom, false)
	ws := make([][][]byte, 2)
	for i := range ws {
		for range mats {
			ws[i] = append(ws[i], append([]byte(nil), one...))
		}
	}
	for _, g := range []int{1, 2, 1, 2} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			best := time.Duration(1 << 62)
			for b.Loop() {
				start := time.Now()
				var wg sync.WaitGroup
				for i := range g {
					wg.Go(func() {
						y := make([]float32, rows)
						for _, w := range ws[i] {
							_ = k.MatVec(typ, cols, w, x, y)
						}
					})
				}
				wg.Wait()
				best = min(best, time.Since(start))
			}
			b.ReportMetric(float64(g*mats*len(one))/best.Seconds()/1e9, "GB/s")
		})
	}
}
