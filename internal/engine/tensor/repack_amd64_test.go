//go:build amd64 && !purego

package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// vnniKernelSet returns the avx512vnni table of KernelSets, or skips t.
func vnniKernelSet(t testing.TB) *tensor.Kernels {
	if !tensor.HasVNNI() {
		t.Skip("the CPU has no AVX-512 VNNI")
	}
	for _, k := range tensor.KernelSets() {
		if k.Name == "avx512vnni" {
			return k
		}
	}
	t.Fatal("no avx512vnni kernel table on a CPU with VNNI")
	return nil
}

// repackedCase builds rows × n weights of the row-major type typ (Q4_0 or
// Q8_0) for mode and returns them with their repacked copy.
func repackedCase(t testing.TB, r *rand.Rand, typ tensor.Type, rows, n int, w []byte) []byte {
	rw := make([]byte, len(w))
	if err := tensor.Repack(typ, rows, n, rw, w); err != nil {
		t.Fatal(err)
	}
	return rw
}

// TestRepackedVNNIIdentical checks every tile path of the VNNI kernels of
// Q4_0x8 and Q8_0x8 (RepackVNNIVariants) bit for bit against the
// reference DotFunc of the row-major type on every row and against the
// pure-Go repacked MatFunc: random, edge (fp16 scales of either sign,
// subnormal, ±65504, infinite, NaN, zero), ±127 activations and every
// weight byte value, 8 to 40 rows, 1 to 17 vectors, strides as MatMul
// passes them and larger ones; outputs outside the tile must stay
// untouched. Bit for bit means the same bits, or NaN for NaN: the sign
// of a NaN from Inf·0 and which of two NaN operands propagates depend on
// operand order, which even the pure-Go kernels do not agree on (the
// row-major reference and the repacked one give 0x7fc00000 and
// 0xffc00000 for the same product), as in TestMatFuncIdentical.
func TestRepackedVNNIIdentical(t *testing.T) {
	vnniKernelSet(t)
	checkRepackedVariants(t, rand.New(rand.NewPCG(61, 62)), []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0}, tensor.RepackVNNIVariants, []int{8, 16, 24, 40}, 17)
}

// checkRepackedVariants runs the cases of TestRepackedVNNIIdentical on
// the tile variants that variants returns of the repacked layouts of
// types (Q4_0, Q5_0, Q4_1, Q5_1, Q8_0), and on
// the reference table's repacked MatFunc, with rows of each count in
// rowCounts and 1 to maxNX vectors.
func checkRepackedVariants(t *testing.T, r *rand.Rand, types []tensor.Type, variants func(tensor.Type) []tensor.RepackVNNIVariant, rowCounts []int, maxNX int) {
	ref := tensor.ReferenceKernels()
	for _, typ := range types {
		rt, _ := tensor.Repacked(typ)
		mats := append([]tensor.RepackVNNIVariant{{Name: "go", Mat: ref.MatFunc(rt)}}, variants(rt)...)
		dot := ref.Func(typ)
		xt, _ := tensor.VecDotType(typ)
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
				for _, rows := range rowCounts {
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
					xrb := mustRows(xt, n)
					xstride := xrb + tc.pad
					x := make([]byte, (maxNX-1)*xstride+xrb)
					for i := range maxNX {
						copy(x[i*xstride:], randomActs(r, xt, n, tc.mode, tc.ext))
						if tc.mode == scaleEdge {
							setEdgeActScales(r, xt, x[i*xstride:i*xstride+xrb])
						}
					}
					// want[i][row]: the reference on the row-major rows.
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
						for _, v := range mats {
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

// TestRepackedVNNIMatMul checks MatMul of the avx512vnni table on
// repacked weights, with two goroutines (chunks of whole groups), against
// the reference table on the row-major weights, bit for bit.
func TestRepackedVNNIMatMul(t *testing.T) {
	checkRepackedMatMul(t, rand.New(rand.NewPCG(63, 64)), vnniKernelSet(t), []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0})
}

// checkRepackedMatMul checks MatMul of table k on the repacked layouts of
// types (Q4_0, Q5_0, Q4_1, Q5_1, Q8_0), with two goroutines, against the reference
// table on the row-major weights, bit for bit.
func checkRepackedMatMul(t *testing.T, r *rand.Rand, k *tensor.Kernels, types []tensor.Type) {
	ref := tensor.ReferenceKernels()
	for _, typ := range types {
		rt, _ := tensor.Repacked(typ)
		xt, _ := tensor.VecDotType(typ)
		for _, s := range []struct{ rows, cols, nx int }{
			{8, 32, 1}, {40, 256, 3}, {896, 896, 1}, {896, 896, 5}, {136, 4864, 1}, {264, 4864, 8}, {24, 9216, 6},
		} {
			t.Run(fmt.Sprintf("%v/%dx%d/nx=%d", rt, s.rows, s.cols, s.nx), func(t *testing.T) {
				w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
				rw := repackedCase(t, r, typ, s.rows, s.cols, w)
				var x []byte
				for range s.nx {
					x = append(x, randomActs(r, xt, s.cols, scaleRandom, false)...)
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
						t.Fatalf("y[%d] (vector %d row %d) = %v, reference %v", i, i/s.rows, i%s.rows, got[i], want[i])
					}
				}
			})
		}
	}
}
