package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkMatVecIndependentDRAM runs the Q8_0 matrix-vector product on 1
// and 2 goroutines that share nothing (each streams its own 150 MB of
// 4864×896 matrices with its own vector and output, no Runner), so it
// shows how far the kernel itself scales across cores on weights read
// from memory, apart from any work splitting. It reports the aggregate
// GB/s of the fastest pass.
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
