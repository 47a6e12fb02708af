package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// Matrix-vector benchmarks on Qwen2.5-0.5B shapes. Each case runs the
// default (assembly) kernels and the reference ones one after the other in
// the same process; on a shared machine compare their ratio, not absolute
// times. SetBytes is the weight bytes, so MB/s is the weight bandwidth.
//
//	go test -run '^$' -bench 'MatVec' -benchmem ./internal/engine/tensor/

// matShape is rows × cols of a weight matrix.
type matShape struct{ rows, cols int }

var (
	// ffn_gate/up (4864 rows of 896) and ffn_down (896 rows of 4864).
	shapes32 = []matShape{{4864, 896}, {896, 4864}}
	// k-quants need cols % 256 == 0: only ffn_down qualifies in Qwen2.5-0.5B.
	shapesK = []matShape{{896, 4864}}
)

func benchKernels() []*tensor.Kernels {
	def, ref := tensor.DefaultKernels(), tensor.ReferenceKernels()
	if def.Name == ref.Name {
		return []*tensor.Kernels{ref}
	}
	return []*tensor.Kernels{def, ref}
}

func BenchmarkMatVec(b *testing.B) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		shapes := shapes32
		if typ.BlockSize() == 256 {
			shapes = shapesK
		}
		for _, s := range shapes {
			xt, _ := tensor.VecDotType(typ)
			w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			x := randomActs(r, xt, s.cols, scaleRandom, false)
			y := make([]float32, s.rows)
			for _, k := range benchKernels() {
				b.Run(fmt.Sprintf("%v/%dx%d/%s", typ, s.rows, s.cols, k.Name), func(b *testing.B) {
					b.SetBytes(int64(len(w)))
					for b.Loop() {
						if err := k.MatVec(typ, s.cols, w, x, y); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkMatVecDRAM streams Q8_0 matrices totalling about 300 MiB, more
// than any cache, as decoding a 0.5B model does, at 1 and 2 goroutines:
// ffn_down-shaped ones (rows of 4864 values: the 1×1 tile with AVX2, the
// 2×1 with VNNI) and ffn_up-shaped ones (rows of 896, the 2×1 tile). One iteration is one
// pass over all the matrices. It reports the fastest pass as weight
// bandwidth (GB/s) and as a fraction of the best of
// MeasureBandwidthThreads with the same number of goroutines, run just
// before and just after (best against best, since other processes only
// ever slow either down).
func BenchmarkMatVecDRAM(b *testing.B) {
	typ := tensor.Q8_0
	r := rand.New(rand.NewPCG(23, 24))
	for _, s := range []struct{ rows, cols, mats int }{{896, 4864, 64}, {4864, 896, 64}} {
		one := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
		ws := make([][]byte, s.mats)
		for i := range ws {
			ws[i] = append([]byte(nil), one...) // distinct memory, same values
		}
		x := randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)
		y := make([]float32, s.rows)
		for _, threads := range []int{1, 2} {
			for _, k := range benchKernels() {
				b.Run(fmt.Sprintf("Q8_0/%dx%d/threads=%d/%s", s.rows, s.cols, threads, k.Name), func(b *testing.B) {
					bw := tensor.MeasureBandwidthThreads(time.Second, threads)
					g := tensor.Goroutines(threads)
					best := time.Duration(1 << 62)
					for b.Loop() {
						start := time.Now()
						for _, w := range ws {
							if err := k.MatVecParallel(g, typ, s.cols, w, x, y); err != nil {
								b.Fatal(err)
							}
						}
						best = min(best, time.Since(start))
					}
					b.StopTimer()
					bw = max(bw, tensor.MeasureBandwidthThreads(time.Second, threads))
					got := float64(s.mats*len(one)) / best.Seconds()
					b.ReportMetric(got/1e9, "matvec-GB/s")
					b.ReportMetric(bw/1e9, "membw-GB/s")
					b.ReportMetric(got/bw, "of-membw")
				})
			}
		}
	}
}

// BenchmarkMatVecSpeedup alternates the default and the reference kernels
// on the same matrix, one product each per iteration, and reports the
// fastest time of each and their ratio ("speedup"): the minimum is what
// other processes on a shared machine disturb least, and alternating
// exposes both to the same conditions.
func BenchmarkMatVecSpeedup(b *testing.B) {
	def, ref := tensor.DefaultKernels(), tensor.ReferenceKernels()
	r := rand.New(rand.NewPCG(25, 26))
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		shapes := shapes32
		if typ.BlockSize() == 256 {
			shapes = shapesK
		}
		for _, s := range shapes {
			xt, _ := tensor.VecDotType(typ)
			w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			x := randomActs(r, xt, s.cols, scaleRandom, false)
			y := make([]float32, s.rows)
			b.Run(fmt.Sprintf("%v/%dx%d", typ, s.rows, s.cols), func(b *testing.B) {
				best := [2]time.Duration{1 << 62, 1 << 62}
				for b.Loop() {
					for i, k := range []*tensor.Kernels{def, ref} {
						start := time.Now()
						if err := k.MatVec(typ, s.cols, w, x, y); err != nil {
							b.Fatal(err)
						}
						best[i] = min(best[i], time.Since(start))
					}
				}
				b.ReportMetric(float64(best[0].Microseconds()), def.Name+"-µs")
				b.ReportMetric(float64(best[1].Microseconds()), ref.Name+"-µs")
				b.ReportMetric(float64(len(w))/best[0].Seconds()/1e9, def.Name+"-GB/s")
				b.ReportMetric(float64(best[1])/float64(best[0]), "speedup")
			})
		}
	}
}
