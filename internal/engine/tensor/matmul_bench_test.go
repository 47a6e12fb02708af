package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkMatMulShapes times MatMul of DefaultKernels, on one goroutine,
// on the Qwen2.5-0.5B matrix shapes (attention q/o 896×896, k/v 128×896,
// ffn gate/up 4864×896, ffn down 896×4864, output head 151936×896 at one
// vector only) with 1 vector (decode), 8 (eight decode streams) and 64
// (prefill), for Q8_0, Q4_0 and Q4_K (whose blocks of 256 fit ffn down
// only). It uses only the package's stable API, so the same file can time
// an older version of the package for an A/B comparison. SetBytes is the
// weight bytes; best-GMAC/s is the rate of the fastest call, which other
// processes on a shared machine disturb least.
//
//	go test -run '^$' -bench MatMulShapes -benchmem ./internal/engine/tensor/
func BenchmarkMatMulShapes(b *testing.B) {
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(47, 48))
	type shape struct{ rows, cols int }
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_0, tensor.Q4_K} {
		shapes := []shape{{896, 896}, {128, 896}, {4864, 896}, {896, 4864}, {151936, 896}}
		if typ == tensor.Q4_K {
			shapes = []shape{{896, 4864}}
		}
		for _, s := range shapes {
			xt, _ := tensor.VecDotType(typ)
			w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			for _, nx := range []int{1, 8, 64} {
				if s.rows > 10000 && nx > 1 {
					continue
				}
				var x []byte
				for range nx {
					x = append(x, randomActs(r, xt, s.cols, scaleRandom, false)...)
				}
				y := make([]float32, s.rows*nx)
				b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", typ, s.rows, s.cols, nx), func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					best := time.Duration(1 << 62)
					for b.Loop() {
						start := time.Now()
						if err := k.MatMul(nil, typ, s.cols, w, x, nx, y); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(start))
					}
					macs := float64(s.rows) * float64(s.cols) * float64(nx)
					b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
					b.ReportMetric(macs/best.Seconds()/1e9, "best-GMAC/s")
				})
			}
		}
	}
}

// BenchmarkMatMulCached times MatMul on data that stays in the L1 and L2
// caches (64 rows of 896 with 1, 4, 8 and 64 vectors), i.e. the compute
// throughput of the kernels, as GMAC/s of the fastest call (the one other
// processes on a shared machine disturbed least). Like
// BenchmarkMatMulShapes it uses only the stable API.
func BenchmarkMatMulCached(b *testing.B) {
	k := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(49, 50))
	const rows, cols = 64, 896
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_0, tensor.Q5_0} {
		w := randomWeights(r, typ, rows*cols, scaleRandom)
		for _, nx := range []int{1, 4, 8, 64} {
			var x []byte
			for range nx {
				x = append(x, randomActs(r, tensor.Q8_0, cols, scaleRandom, false)...)
			}
			y := make([]float32, rows*nx)
			b.Run(fmt.Sprintf("%v/nx=%d", typ, nx), func(b *testing.B) {
				best := time.Duration(1 << 62)
				for b.Loop() {
					start := time.Now()
					if err := k.MatMul(nil, typ, cols, w, x, nx, y); err != nil {
						b.Fatal(err)
					}
					best = min(best, time.Since(start))
				}
				b.ReportMetric(float64(rows*cols*nx)/best.Seconds()/1e9, "best-GMAC/s")
			})
		}
	}
}

// BenchmarkMatMulKernelSets alternates MatMul on one goroutine between
// every kernel table of this machine (tensor.KernelSets but the pure-Go
// reference) and reports each one's GMAC/s of its fastest call and the
// ratio of the last (the default) to the first ("avx2"): the speedup of
// the AVX-512 VNNI tiles where the CPU has them.
func BenchmarkMatMulKernelSets(b *testing.B) {
	sets := tensor.KernelSets()[1:]
	if len(sets) < 2 {
		b.Skip("fewer than two assembly kernel tables on this machine")
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, tc := range []struct {
		typ            tensor.Type
		rows, cols, nx int
	}{
		{tensor.Q8_0, 64, 896, 4}, {tensor.Q8_0, 64, 896, 8}, {tensor.Q8_0, 64, 896, 64},
		{tensor.Q8_0, 896, 896, 1}, {tensor.Q8_0, 4864, 896, 1}, {tensor.Q8_0, 896, 4864, 1},
		{tensor.Q8_0, 4864, 896, 8}, {tensor.Q8_0, 896, 4864, 8}, {tensor.Q8_0, 4864, 896, 64},
		{tensor.Q4_0, 64, 896, 8}, {tensor.Q4_0, 4864, 896, 1}, {tensor.Q4_0, 4864, 896, 8},
		{tensor.Q4_K, 896, 4864, 1},
	} {
		w := randomWeights(r, tc.typ, tc.rows*tc.cols, scaleRandom)
		xt, _ := tensor.VecDotType(tc.typ)
		var x []byte
		for range tc.nx {
			x = append(x, randomActs(r, xt, tc.cols, scaleRandom, false)...)
		}
		y := make([]float32, tc.rows*tc.nx)
		b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", tc.typ, tc.rows, tc.cols, tc.nx), func(b *testing.B) {
			best := make([]time.Duration, len(sets))
			for i := range best {
				best[i] = 1 << 62
			}
			for b.Loop() {
				for i, k := range sets {
					start := time.Now()
					if err := k.MatMul(nil, tc.typ, tc.cols, w, x, tc.nx, y); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			macs := float64(tc.rows) * float64(tc.cols) * float64(tc.nx)
			for i, k := range sets {
				b.ReportMetric(macs/best[i].Seconds()/1e9, k.Name+"-GMAC/s")
			}
			b.ReportMetric(float64(best[0])/float64(best[len(best)-1]), "speedup")
		})
	}
}

// BenchmarkQ6_KMat alternates, on one goroutine, MatMul of a Q6_K matrix
// (ffn_down of a 0.5B model) through the default table's Q6_K MatFunc
// (four vectors per unpacked row) and through the same table without it
// (the DotFunc per row and vector), data in cache, and reports each one's
// GMAC/s of its fastest call and their ratio ("speedup").
//
//	go test -run '^$' -bench Q6_KMat -count 6 ./internal/engine/tensor/
func BenchmarkQ6_KMat(b *testing.B) {
	k := tensor.DefaultKernels()
	if k.Q6_KMat == nil {
		b.Skip("no Q6_K matrix kernel in the " + k.Name + " table")
	}
	rowwise := *k
	rowwise.Q6_KMat = nil
	r := rand.New(rand.NewPCG(53, 54))
	const rows, cols = 896, 4864
	w := randomWeights(r, tensor.Q6_K, rows*cols, scaleRandom)
	for _, nx := range []int{4, 8, 64} {
		var x []byte
		for range nx {
			x = append(x, randomActs(r, tensor.Q8_K, cols, scaleRandom, false)...)
		}
		y := make([]float32, rows*nx)
		b.Run(fmt.Sprintf("nx=%d", nx), func(b *testing.B) {
			best := [2]time.Duration{1 << 62, 1 << 62}
			for b.Loop() {
				for i, kt := range []*tensor.Kernels{&rowwise, k} {
					start := time.Now()
					if err := kt.MatMul(nil, tensor.Q6_K, cols, w, x, nx, y); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			macs := float64(rows) * float64(cols) * float64(nx)
			b.ReportMetric(macs/best[0].Seconds()/1e9, "rowwise-GMAC/s")
			b.ReportMetric(macs/best[1].Seconds()/1e9, "mat-GMAC/s")
			b.ReportMetric(float64(best[0])/float64(best[1]), "speedup")
		})
	}
}
