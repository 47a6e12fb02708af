//go:build amd64 && !purego

package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// avx2KernelSet returns the avx2 table of KernelSets, or skips t.
func avx2KernelSet(t testing.TB) *tensor.Kernels {
	if !tensor.HasAVX2FMA() {
		t.Skip("the CPU has no AVX2, FMA and F16C")
	}
	for _, k := range tensor.KernelSets() {
		if k.Name == "avx2" {
			return k
		}
	}
	t.Fatal("no avx2 kernel table on a CPU with AVX2")
	return nil
}

// TestRepackedAVX2Identical checks every tile path of the AVX2 kernels of
// Q4_0x8 and Q8_0x8 (RepackAVX2Variants: at most 4, 3, 2 and 1 vectors
// per call, so 1 to 9 vectors run every tile and every leftover) bit for
// bit against the reference DotFunc of the row-major type on every row,
// with the cases of TestRepackedVNNIIdentical (random, edge scales,
// ±127 activations, every weight byte value, NaN, Inf, padded strides);
// outputs outside the tile must stay untouched.
func TestRepackedAVX2Identical(t *testing.T) {
	avx2KernelSet(t)
	r := rand.New(rand.NewPCG(71, 72))
	ref := tensor.ReferenceKernels()
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q8_0} {
		rt, _ := tensor.Repacked(typ)
		variants := tensor.RepackAVX2Variants(rt)
		if len(variants) != 4 {
			t.Fatalf("%v: %d AVX2 variants", rt, len(variants))
		}
		dot := ref.Func(typ)
		for _, n := range []int{32, 64, 96, 256, 896} {
			for _, tc := range []struct {
				name string
				mode scaleMode
				ext  bool // activations ±127
				all  bool // weight bytes 0..255 in turn
				pad  int
			}{
				{"random", scaleRandom, false, false, 0},
				{"random-padded", scaleRandom, false, false, 7},
				{"edge", scaleEdge, false, false, 3},
				{"extreme", scaleOne, true, false, 0},
				{"unit", scaleOne, false, true, 34},
				{"allbytes-extreme", scaleOne, true, true, 1},
				{"nan", scaleNaN, false, false, 0},
				{"inf", scaleInf, false, false, 0},
			} {
				for _, rows := range []int{8, 16, 40} {
					rb := mustRows(typ, n)
					w := randomWeights(r, typ, rows*n, tc.mode)
					if tc.all {
						for i := range w {
							if i%rb >= 2 {
								w[i] = byte(i * 7)
							}
						}
					}
					rw := repackedCase(t, r, typ, rows, n, w)
					xrb := mustRows(tensor.Q8_0, n)
					xstride := xrb + tc.pad
					const maxNX = 9
					x := make([]byte, (maxNX-1)*xstride+xrb)
					for i := range maxNX {
						copy(x[i*xstride:], randomActs(r, tensor.Q8_0, n, tc.mode, tc.ext))
						if tc.mode == scaleEdge {
							setEdgeActScales(r, tensor.Q8_0, x[i*xstride:i*xstride+xrb])
						}
					}
					want := make([][]float32, maxNX)
					for i := range want {
						want[i] = make([]float32, rows)
						for row := range rows {
							want[i][row] = dot(n, w[row*rb:(row+1)*rb], x[i*xstride:i*xstride+xrb])
						}
					}
					for nx := 1; nx <= maxNX; nx++ {
						ystride := rows + tc.pad%5
						y := make([]float32, (nx-1)*ystride+rows+1)
						const sentinel = -12345.5
						for i := range y {
							y[i] = sentinel
						}
						for _, v := range variants {
							v.Mat(n, rows, nx, rw, rb, x, xstride, y, ystride)
							for i := range nx {
								for row := range rows {
									g := y[i*ystride+row]
									if !sameFloat(g, want[i][row]) {
										t.Fatalf("%v n=%d %s %dx%d %s: row %d vector %d: %v (%#08x), reference %v (%#08x)",
											rt, n, tc.name, rows, nx, v.Name, row, i, g, math.Float32bits(g), want[i][row], math.Float32bits(want[i][row]))
									}
									y[i*ystride+row] = sentinel
								}
							}
							for i, g := range y {
								if g != sentinel {
									t.Fatalf("%v n=%d %s %dx%d %s: y[%d] = %v written outside the outputs", rt, n, tc.name, rows, nx, v.Name, i, g)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRepackedAVX2MatMul checks MatMul of the avx2 table with the AVX2
// repacked tiles (AVX2RepackedKernels, Q8_0x8's included) on repacked
// weights, with two goroutines (chunks of whole groups), against the
// reference table on the row-major weights, bit for bit.
func TestRepackedAVX2MatMul(t *testing.T) {
	avx2KernelSet(t)
	k := tensor.AVX2RepackedKernels()
	ref := tensor.ReferenceKernels()
	r := rand.New(rand.NewPCG(73, 74))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q8_0} {
		rt, _ := tensor.Repacked(typ)
		for _, s := range []struct{ rows, cols, nx int }{
			{8, 32, 1}, {40, 256, 3}, {896, 896, 1}, {896, 896, 5}, {136, 4864, 1}, {264, 4864, 8}, {24, 9216, 6},
		} {
			w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			rw := repackedCase(t, r, typ, s.rows, s.cols, w)
			var x []byte
			for range s.nx {
				x = append(x, randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)...)
			}
			got, want := make([]float32, s.rows*s.nx), make([]float32, s.rows*s.nx)
			if err := k.MatMul(tensor.Goroutines(2), rt, s.cols, rw, x, s.nx, got); err != nil {
				t.Fatal(err)
			}
			if err := ref.MatMul(nil, typ, s.cols, w, x, s.nx, want); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if !sameFloat(got[i], want[i]) {
					t.Fatalf("%v %dx%d nx=%d: y[%d] (vector %d row %d) = %v, reference %v", rt, s.rows, s.cols, s.nx, i, i/s.rows, i%s.rows, got[i], want[i])
				}
			}
		}
	}
}
