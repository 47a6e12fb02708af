package tensor_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestMatFuncIdentical checks the matrix kernels against the one-vector
// ones: bit-identical results (NaN for NaN) for every length, scale mode,
// number of rows and vectors (tiles and leftovers), and strides larger
// than a row, a vector or an output; outputs outside the tile must stay
// untouched. Without matrix kernels (purego, other platforms) it checks
// that there are none to check.
func TestMatFuncIdentical(t *testing.T) {
	for _, k := range tensor.KernelSets() {
		t.Run(k.Name, func(t *testing.T) { testMatFuncIdentical(t, k) })
	}
}

// testMatFuncIdentical is TestMatFuncIdentical for one kernel table.
func testMatFuncIdentical(t *testing.T, def *tensor.Kernels) {
	r := rand.New(rand.NewPCG(41, 42))
	checked := 0
	for _, typ := range dotTypes {
		mf := def.MatFunc(typ)
		if mf == nil {
			continue
		}
		fn := def.Func(typ)
		xt, _ := tensor.VecDotType(typ)
		for _, n := range lengths(typ) {
			for ci, tc := range []struct {
				name    string
				mode    scaleMode
				extreme bool
				pad     int
			}{
				{"random", scaleRandom, false, 0},
				{"extreme", scaleRandom, true, 5},
				{"unit", scaleOne, false, 3},
				{"zero", scaleZero, false, 0},
				{"nan", scaleNaN, false, 17},
				{"inf", scaleInf, false, 0},
				{"edge", scaleEdge, false, 1},
			} {
				shapes := [][2]int{{1, 1}, {4, 1}, {7, 1}, {2, 4}, {5, 4}, {7, 4}, {9, 9}, {11, 9}, {3, 6}, {13, 5}}
				if n > 1024 || ci > 0 {
					shapes = [][2]int{{1, 1}, {5, 1}, {3, 5}, {6, 8}}
				}
				for _, sh := range shapes {
					rows, nx := sh[0], sh[1]
					rb := mustRows(typ, n)
					wstride := rb + tc.pad
					w := make([]byte, (rows-1)*wstride+rb)
					for i := range rows {
						copy(w[i*wstride:], randomWeights(r, typ, n, tc.mode))
					}
					xrb := mustRows(xt, n)
					xstride := xrb + tc.pad
					x := make([]byte, (nx-1)*xstride+xrb)
					for i := range nx {
						copy(x[i*xstride:], randomActs(r, xt, n, tc.mode, tc.extreme))
						if tc.mode == scaleEdge {
							setEdgeActScales(r, xt, x[i*xstride:i*xstride+xrb])
						}
					}
					ystride := rows + tc.pad%4
					y := make([]float32, (nx-1)*ystride+rows+1)
					const sentinel = -12345.5
					for i := range y {
						y[i] = sentinel
					}
					mf(n, rows, nx, w, wstride, x, xstride, y, ystride)
					checked++
					for i := range nx {
						for row := range rows {
							want := fn(n, w[row*wstride:row*wstride+rb], x[i*xstride:i*xstride+xrb])
							if g := y[i*ystride+row]; !sameFloat(g, want) {
								t.Fatalf("%v n=%d %s %dx%d: row %d vector %d: matrix kernel %v, one-vector %v", typ, n, tc.name, rows, nx, row, i, g, want)
							}
							y[i*ystride+row] = sentinel
						}
					}
					for i, v := range y {
						if v != sentinel {
							t.Fatalf("%v n=%d %s %dx%d: y[%d] = %v written outside the outputs", typ, n, tc.name, rows, nx, i, v)
						}
					}
				}
			}
		}
	}
	t.Logf("%s: %d matrix kernel cases", def.Name, checked)
	if def.Name == "go" && checked != 0 {
		t.Errorf("the reference kernels have matrix kernels")
	}
	if def.Name != "go" && checked == 0 {
		t.Errorf("the %s kernels have no matrix kernels to check", def.Name)
	}
}

// setEdgeActScales overwrites the scale of every block of the encoded
// activations x (Q8_0: fp16; Q8_K: float32) with an edge value: zero of
// either sign, subnormal, the largest finite, infinite, NaN or ordinary.
func setEdgeActScales(r *rand.Rand, xt tensor.Type, x []byte) {
	switch xt {
	case tensor.Q8_0:
		edges := []uint16{0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3c00, 0x2e66}
		for off := 0; off < len(x); off += 34 {
			binary.LittleEndian.PutUint16(x[off:], edges[r.IntN(len(edges))])
		}
	case tensor.Q8_K:
		edges := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, math.MaxFloat32, float32(math.Inf(1)), float32(math.NaN()), 1, -0.33}
		for off := 0; off < len(x); off += 292 {
			binary.LittleEndian.PutUint32(x[off:], math.Float32bits(edges[r.IntN(len(edges))]))
		}
	}
}

// TestMatFuncBounds checks that a matrix kernel refuses arguments that
// would read or write out of range.
func TestMatFuncBounds(t *testing.T) {
	mf := tensor.DefaultKernels().MatFunc(tensor.Q8_0)
	if mf == nil {
		t.Skip("no matrix kernels")
	}
	w, x, y := make([]byte, 2*34), make([]byte, 2*34), make([]float32, 4)
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"short w", func() { mf(32, 3, 1, w, 34, x, 34, y, 3) }},
		{"short x", func() { mf(32, 2, 3, w, 34, x, 34, y, 1) }},
		{"short y", func() { mf(32, 2, 2, w, 34, x, 34, y, 3) }},
		{"overlapping y", func() { mf(32, 2, 2, w, 34, x, 34, y, 1) }},
		{"partial block", func() { mf(31, 1, 1, w, 34, x, 34, y, 1) }},
		{"huge stride", func() { mf(32, 2, 1, w, 1<<62, x, 34, y, 2) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.call()
		}()
	}
	mf(32, 2, 2, w, 34, x, 34, y, 2) // exactly fits
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

// BenchmarkMatMulTiles alternates MatMul of a batch with and without the
// matrix (tile) kernels, on one goroutine, and reports the fastest time of
// each and their ratio ("speedup"), like BenchmarkMatVecSpeedup.
func BenchmarkMatMulTiles(b *testing.B) {
	with := tensor.DefaultKernels()
	without := tensor.DefaultKernels()
	without.Q8_0Mat, without.Q4_0Mat, without.Q5_0Mat, without.Q4_KMat, without.Q5_KMat = nil, nil, nil, nil, nil
	r := rand.New(rand.NewPCG(45, 46))
	for _, tc := range []struct {
		typ            tensor.Type
		rows, cols, nx int
	}{
		{tensor.Q8_0, 896, 896, 1}, {tensor.Q8_0, 896, 896, 8}, {tensor.Q8_0, 896, 896, 64},
		{tensor.Q8_0, 4864, 896, 64}, {tensor.Q4_0, 4864, 896, 64}, {tensor.Q5_0, 4864, 896, 64},
		{tensor.Q4_K, 896, 4864, 1}, {tensor.Q4_K, 2048, 4864, 1},
		{tensor.Q4_K, 896, 4864, 64}, {tensor.Q5_K, 896, 4864, 64},
	} {
		xt, _ := tensor.VecDotType(tc.typ)
		w := randomWeights(r, tc.typ, tc.rows*tc.cols, scaleRandom)
		var x []byte
		for range tc.nx {
			x = append(x, randomActs(r, xt, tc.cols, scaleRandom, false)...)
		}
		y := make([]float32, tc.rows*tc.nx)
		b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", tc.typ, tc.rows, tc.cols, tc.nx), func(b *testing.B) {
			if with.MatFunc(tc.typ) == nil {
				b.Skip("no matrix kernel")
			}
			best := [2]time.Duration{1 << 62, 1 << 62}
			for b.Loop() {
				for i, k := range []*tensor.Kernels{with, without} {
					start := time.Now()
					if err := k.MatMul(nil, tc.typ, tc.cols, w, x, tc.nx, y); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			b.ReportMetric(float64(best[0].Microseconds()), "tiles-µs")
			b.ReportMetric(float64(best[1].Microseconds()), "dots-µs")
			b.ReportMetric(float64(tc.rows)*float64(tc.cols)*float64(tc.nx)/best[0].Seconds()/1e9, "tiles-GMAC/s")
			b.ReportMetric(float64(best[1])/float64(best[0]), "speedup")
		})
	}
}
