package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestDot4Identical checks the four-vector kernels against the one-vector
// ones: bit-identical results (NaN for NaN) for every length, scale mode
// and a stride larger than a vector. Without four-vector kernels (purego,
// other platforms) it checks that there are none to check.
func TestDot4Identical(t *testing.T) {
	def := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(41, 42))
	checked := 0
	for _, typ := range dotTypes {
		fn4 := def.Func4(typ)
		if fn4 == nil {
			continue
		}
		fn := def.Func(typ)
		xt, _ := tensor.VecDotType(typ)
		for _, n := range lengths(typ) {
			for _, tc := range []struct {
				name    string
				mode    scaleMode
				extreme bool
				pad     int
			}{
				{"random", scaleRandom, false, 0},
				{"extreme", scaleRandom, true, 0},
				{"unit", scaleOne, false, 3},
				{"zero", scaleZero, false, 0},
				{"nan", scaleNaN, false, 17},
				{"inf", scaleInf, false, 0},
			} {
				w := randomWeights(r, typ, n, tc.mode)
				xrb := mustRows(xt, n)
				stride := xrb + tc.pad
				x := make([]byte, 3*stride+xrb)
				for i := range 4 {
					copy(x[i*stride:], randomActs(r, xt, n, tc.mode, tc.extreme))
				}
				var got [4]float32
				fn4(n, w, x, stride, &got)
				checked++
				for i, g := range got {
					if want := fn(n, w, x[i*stride:i*stride+xrb]); !sameFloat(g, want) {
						t.Errorf("%v n=%d %s: vector %d: four-vector kernel %v, one-vector %v", typ, n, tc.name, i, g, want)
					}
				}
			}
		}
	}
	t.Logf("%s: %d four-vector cases", def.Name, checked)
	if def.Name == "go" && checked != 0 {
		t.Errorf("the reference kernels have four-vector kernels")
	}
}

// TestMatMulBatchSizes checks that MatMul gives every vector the same
// result whatever the batch it is in (four-vector groups and leftovers).
func TestMatMulBatchSizes(t *testing.T) {
	def := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(43, 44))
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_0, tensor.Q5_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		const rows, cols, nx = 19, 512, 11
		xt, _ := tensor.VecDotType(typ)
		w := randomWeights(r, typ, rows*cols, scaleRandom)
		xrb := mustRows(xt, cols)
		var x []byte
		for range nx {
			x = append(x, randomActs(r, xt, cols, scaleRandom, false)...)
		}
		all := make([]float32, rows*nx)
		if err := def.MatMul(tensor.Goroutines(2), typ, cols, w, x, nx, all); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []struct{ from, n int }{{0, 1}, {3, 3}, {2, 4}, {5, 6}, {1, 9}} {
			got := make([]float32, rows*sub.n)
			if err := def.MatMul(nil, typ, cols, w, x[sub.from*xrb:(sub.from+sub.n)*xrb], sub.n, got); err != nil {
				t.Fatal(err)
			}
			for i := range sub.n {
				for row := range rows {
					if g, want := got[i*rows+row], all[(sub.from+i)*rows+row]; !sameFloat(g, want) {
						t.Fatalf("%v: vector %d row %d in a batch of %d: %v, in a batch of %d: %v", typ, sub.from+i, row, sub.n, g, nx, want)
					}
				}
			}
		}
	}
}

// BenchmarkMatMulFourVector alternates MatMul of a 64-vector batch with
// and without the four-vector kernels, on one goroutine, and reports the
// fastest time of each and their ratio ("speedup"), like
// BenchmarkMatVecSpeedup.
func BenchmarkMatMulFourVector(b *testing.B) {
	with := tensor.DefaultKernels()
	without := tensor.DefaultKernels()
	without.Q8_0x4, without.Q4_0x4, without.Q5_0x4, without.Q4_Kx4, without.Q5_Kx4 = nil, nil, nil, nil, nil
	r := rand.New(rand.NewPCG(45, 46))
	const nx = 64
	for _, tc := range []struct {
		typ        tensor.Type
		rows, cols int
	}{
		{tensor.Q8_0, 896, 896}, {tensor.Q8_0, 4864, 896}, {tensor.Q4_0, 4864, 896}, {tensor.Q5_0, 4864, 896},
		{tensor.Q4_K, 896, 4864}, {tensor.Q5_K, 896, 4864},
	} {
		xt, _ := tensor.VecDotType(tc.typ)
		w := randomWeights(r, tc.typ, tc.rows*tc.cols, scaleRandom)
		var x []byte
		for range nx {
			x = append(x, randomActs(r, xt, tc.cols, scaleRandom, false)...)
		}
		y := make([]float32, tc.rows*nx)
		b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", tc.typ, tc.rows, tc.cols, nx), func(b *testing.B) {
			if with.Func4(tc.typ) == nil {
				b.Skip("no four-vector kernel")
			}
			best := [2]time.Duration{1 << 62, 1 << 62}
			for b.Loop() {
				for i, k := range []*tensor.Kernels{with, without} {
					start := time.Now()
					if err := k.MatMul(nil, tc.typ, tc.cols, w, x, nx, y); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			b.ReportMetric(float64(best[0].Microseconds()), "x4-µs")
			b.ReportMetric(float64(best[1].Microseconds()), "x1-µs")
			b.ReportMetric(float64(tc.rows)*float64(tc.cols)*nx/best[0].Seconds()/1e9, "x4-GMAC/s")
			b.ReportMetric(float64(best[1])/float64(best[0]), "speedup")
		})
	}
}
