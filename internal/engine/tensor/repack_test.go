package tensor_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// randomMatrix returns rows × n random weights of type typ, row-major.
func randomMatrix(r *rand.Rand, typ tensor.Type, rows, n int, mode scaleMode) []byte {
	rb := mustRows(typ, n)
	w := make([]byte, rows*rb)
	for i := range rows {
		copy(w[i*rb:], randomWeights(r, typ, n, mode))
	}
	return w
}

// TestRepackRoundTrip checks that UnpackRow gives back every row Repack
// was given, and that a group takes the bytes of its eight rows.
func TestRepackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		rt, ok := tensor.Repacked(typ)
		if !ok {
			t.Fatalf("Repacked(%v) = false", typ)
		}
		for _, sh := range [][2]int{{8, 32}, {16, 64}, {24, 896}, {0, 32}} {
			rows, n := sh[0], sh[1]
			if typ.BlockSize() == tensor.QK_K {
				n *= 8 // 256, 512, 7168, 256
			}
			w := randomMatrix(r, typ, rows, n, scaleRandom)
			p := make([]byte, len(w))
			if err := tensor.Repack(typ, rows, n, p, w); err != nil {
				t.Fatalf("Repack(%v, %d×%d): %v", typ, rows, n, err)
			}
			rb := mustRows(typ, n)
			if rows > 0 && string(p) == string(w) {
				t.Fatalf("%v %d×%d: repacked bytes equal the row-major ones", typ, rows, n)
			}
			got := make([]byte, rb)
			for i := range rows {
				if err := tensor.UnpackRow(rt, n, p, i, got); err != nil {
					t.Fatalf("UnpackRow(%v, row %d): %v", rt, i, err)
				}
				if want := w[i*rb : (i+1)*rb]; string(got) != string(want) {
					t.Fatalf("%v %d×%d: row %d unpacks to %x, want %x", typ, rows, n, i, got, want)
				}
			}
			// Whole groups are the same byte ranges in both layouts.
			if rows >= 16 {
				part := make([]byte, 8*rb)
				if err := tensor.Repack(typ, 8, n, part, w[8*rb:16*rb]); err != nil {
					t.Fatal(err)
				}
				if string(part) != string(p[8*rb:16*rb]) {
					t.Fatalf("%v %d×%d: group 1 repacked alone differs", typ, rows, n)
				}
			}
		}
	}
}

// TestRepackErrors checks the refusals of Repack, UnpackRow and MatMul on
// repacked layouts, and that no file type is a repacked layout.
func TestRepackErrors(t *testing.T) {
	q := make([]byte, 8*18)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"no layout", tensor.Repack(tensor.Q3_K, 8, 256, make([]byte, 8*110), make([]byte, 8*110)), tensor.ErrUnsupported},
		{"Q5_K rows", tensor.Repack(tensor.Q5_K, 4, 256, make([]byte, 4*176), make([]byte, 4*176)), tensor.ErrBadLength},
		{"unpack Q5_K short", tensor.UnpackRow(tensor.Q5_Kx8, 256, make([]byte, 7*176), 0, make([]byte, 176)), tensor.ErrBadLength},
		{"Q4_K cols", tensor.Repack(tensor.Q4_K, 8, 128, make([]byte, 8*72), make([]byte, 8*72)), tensor.ErrBadLength},
		{"Q4_K rows", tensor.Repack(tensor.Q4_K, 4, 256, make([]byte, 4*144), make([]byte, 4*144)), tensor.ErrBadLength},
		{"unpack Q4_K short", tensor.UnpackRow(tensor.Q4_Kx8, 256, make([]byte, 7*144), 0, make([]byte, 144)), tensor.ErrBadLength},
		{"unpack Q4_K dst", tensor.UnpackRow(tensor.Q4_Kx8, 256, make([]byte, 8*144), 0, make([]byte, 143)), tensor.ErrBadLength},
		{"rows", tensor.Repack(tensor.Q4_0, 7, 32, q[:7*18], q[:7*18]), tensor.ErrBadLength},
		{"cols", tensor.Repack(tensor.Q4_0, 8, 33, q, q), tensor.ErrBadLength},
		{"short src", tensor.Repack(tensor.Q4_0, 8, 32, q, q[:18]), tensor.ErrBadLength},
		{"short dst", tensor.Repack(tensor.Q4_0, 8, 32, q[:18], q), tensor.ErrBadLength},
		{"unpack row-major", tensor.UnpackRow(tensor.Q4_0, 32, q, 0, make([]byte, 18)), tensor.ErrUnsupported},
		{"unpack row", tensor.UnpackRow(tensor.Q4_0x8, 32, q, 8, make([]byte, 18)), tensor.ErrBadLength},
		{"unpack negative", tensor.UnpackRow(tensor.Q4_0x8, 32, q, -1, make([]byte, 18)), tensor.ErrBadLength},
		{"unpack dst", tensor.UnpackRow(tensor.Q4_0x8, 32, q, 0, make([]byte, 17)), tensor.ErrBadLength},
		{"unpack short", tensor.UnpackRow(tensor.Q4_0x8, 32, q[:7*18], 0, make([]byte, 18)), tensor.ErrBadLength},
		{"matmul rows", tensor.ReferenceKernels().MatMul(nil, tensor.Q4_0x8, 32, q[:4*18], make([]byte, 34), 1, make([]float32, 4)), tensor.ErrBadLength},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	for _, typ := range []tensor.Type{tensor.Q4_0x8, tensor.Q5_0x8, tensor.Q4_1x8, tensor.Q5_1x8, tensor.Q8_0x8, tensor.Q4_Kx8, tensor.Q5_Kx8, tensor.Q6_Kx8} {
		if typ.Valid() {
			t.Errorf("%v.Valid() = true; no file may hold a repacked layout", typ)
		}
		if err := tensor.Dequantize(typ, make([]byte, 18), make([]float32, 32)); err == nil {
			t.Errorf("Dequantize(%v) accepted a repacked row", typ)
		}
	}
	if xt, ok := tensor.VecDotType(tensor.Q4_Kx8); !ok || xt != tensor.Q8_K {
		t.Errorf("VecDotType(Q4_Kx8) = %v, %v", xt, ok)
	}
	if tensor.Q4_Kx8.BlockSize() != 256 || tensor.Q4_Kx8.TypeSize() != 144 || tensor.RepackRows(tensor.Q4_Kx8) != 8 {
		t.Errorf("Q4_Kx8: block %d, %d bytes, groups of %d", tensor.Q4_Kx8.BlockSize(), tensor.Q4_Kx8.TypeSize(), tensor.RepackRows(tensor.Q4_Kx8))
	}
	if xt, ok := tensor.VecDotType(tensor.Q5_Kx8); !ok || xt != tensor.Q8_K {
		t.Errorf("VecDotType(Q5_Kx8) = %v, %v", xt, ok)
	}
	if tensor.Q5_Kx8.BlockSize() != 256 || tensor.Q5_Kx8.TypeSize() != 176 || tensor.RepackRows(tensor.Q5_Kx8) != 8 {
		t.Errorf("Q5_Kx8: block %d, %d bytes, groups of %d", tensor.Q5_Kx8.BlockSize(), tensor.Q5_Kx8.TypeSize(), tensor.RepackRows(tensor.Q5_Kx8))
	}
	if xt, ok := tensor.VecDotType(tensor.Q5_1x8); !ok || xt != tensor.Q8_1 {
		t.Errorf("VecDotType(Q5_1x8) = %v, %v", xt, ok)
	}
	if got := fmt.Sprint(tensor.Q4_0x8, tensor.Q5_0x8, tensor.Q4_1x8, tensor.Q5_1x8, tensor.Q8_0x8, tensor.Q4_Kx8, tensor.Q5_Kx8, tensor.Q6_Kx8); got != "Q4_0x8 Q5_0x8 Q4_1x8 Q5_1x8 Q8_0x8 Q4_Kx8 Q5_Kx8 Q6_Kx8" {
		t.Errorf("names %q", got)
	}
}

// TestRepackedMatFunc checks every table's repacked kernels against the
// reference kernels on the row-major matrix, bit for bit, for every scale
// mode, a range of rows (whole groups) and vectors, strides larger than a
// vector or an output, and through MatMul on two goroutines; outputs
// outside the product must stay untouched. Q4_K also gets weights of the
// largest magnitude (every nibble, scale and min 63 or 15) with
// activations of ±127, the extremes of the integer sums.
func TestRepackedMatFunc(t *testing.T) {
	ref := tensor.ReferenceKernels()
	checked := 0
	for _, k := range tensor.KernelSets() {
		for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
			rt, _ := tensor.Repacked(typ)
			mf := k.MatFunc(rt)
			if mf == nil {
				t.Logf("%s: no %v kernel", k.Name, rt)
				continue
			}
			xt, _ := tensor.VecDotType(typ)
			lengths := []int{32, 64, 224, 896}
			if typ.BlockSize() == tensor.QK_K {
				lengths = []int{256, 512, 1792}
			}
			modes := []scaleMode{scaleRandom, scaleOne, scaleZero, scaleNaN, scaleInf, scaleEdge}
			if typ.BlockSize() == tensor.QK_K {
				modes = append(modes, scaleMax)
			}
			t.Run(fmt.Sprintf("%s/%v", k.Name, rt), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(typ), 9))
				for _, mode := range modes {
					for _, n := range lengths {
						for _, sh := range [][2]int{{8, 1}, {16, 1}, {24, 2}, {40, 3}, {8, 4}, {16, 5}, {24, 8}, {8, 9}, {32, 6}, {16, 7}} {
							rows, nx := sh[0], sh[1]
							var w []byte
							if mode == scaleMax {
								w = maxK(r, typ, rows, n)
							} else {
								w = randomMatrix(r, typ, rows, n, mode)
							}
							p := make([]byte, len(w))
							if err := tensor.Repack(typ, rows, n, p, w); err != nil {
								t.Fatal(err)
							}
							rb, xrb := mustRows(typ, n), mustRows(xt, n)
							xstride, ystride := xrb+int(mode), rows+int(mode)%3
							x := make([]byte, (nx-1)*xstride+xrb)
							for i := range nx {
								am := mode
								if mode == scaleMax {
									am = scaleRandom
								}
								copy(x[i*xstride:], randomActs(r, xt, n, am, mode == scaleRandom || mode == scaleMax))
								if mode == scaleEdge {
									setEdgeActScales(r, xt, x[i*xstride:i*xstride+xrb])
								}
							}
							const sentinel = -12345.5
							y := make([]float32, (nx-1)*ystride+rows+1)
							for i := range y {
								y[i] = sentinel
							}
							mf(n, rows, nx, p, rb, x, xstride, y, ystride)
							checked++
							for i := range nx {
								for row := range rows {
									want := ref.Func(typ)(n, w[row*rb:(row+1)*rb], x[i*xstride:i*xstride+xrb])
									if g := y[i*ystride+row]; !sameFloat(g, want) {
										t.Fatalf("mode %d n=%d %dx%d: row %d vector %d: %v, reference %v", mode, n, rows, nx, row, i, g, want)
									}
									y[i*ystride+row] = sentinel
								}
							}
							for i, v := range y {
								if v != sentinel {
									t.Fatalf("mode %d n=%d %dx%d: y[%d] = %v written outside the outputs", mode, n, rows, nx, i, v)
								}
							}
						}
					}
				}
				// MatMul splits 160 rows into chunks of whole groups.
				rows, n, nx := 160, 896, 3
				if typ.BlockSize() == tensor.QK_K {
					rows, n, nx = 160, 4864, 5
				}
				w := randomMatrix(r, typ, rows, n, scaleRandom)
				p := make([]byte, len(w))
				if err := tensor.Repack(typ, rows, n, p, w); err != nil {
					t.Fatal(err)
				}
				var x []byte
				for range nx {
					x = append(x, randomActs(r, xt, n, scaleRandom, false)...)
				}
				got, want := make([]float32, rows*nx), make([]float32, rows*nx)
				if err := k.MatMul(tensor.Goroutines(2), rt, n, p, x, nx, got); err != nil {
					t.Fatal(err)
				}
				if err := ref.MatMul(nil, typ, n, w, x, nx, want); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if !sameFloat(got[i], want[i]) {
						t.Fatalf("MatMul: output %d = %v, row-major reference %v", i, got[i], want[i])
					}
				}
			})
		}
	}
	if checked == 0 {
		t.Error("no table has repacked kernels")
	}
}

// scaleMax, in TestRepackedMatFunc, asks for maxK's weights.
const scaleMax scaleMode = 100

// maxK returns rows × n weights of typ (Q4_K, Q5_K or Q6_K) whose values
// and scales are of the largest magnitude, with random fp16 d (and dmin):
// Q4_K every nibble 15 and every 6-bit scale and min 63, Q5_K so and every
// fifth bit set (31); Q6_K every value 0 (-32) and every int8 scale -128.
func maxK(r *rand.Rand, typ tensor.Type, rows, n int) []byte {
	w := randomMatrix(r, typ, rows, n, scaleRandom)
	switch typ {
	case tensor.Q4_K, tensor.Q5_K:
		size := mustRows(typ, tensor.QK_K)
		for off := 0; off < len(w); off += size {
			for i := 4; i < size; i++ {
				w[off+i] = 0xff
			}
		}
	case tensor.Q6_K:
		for off := 0; off < len(w); off += 210 {
			for i := range 208 {
				w[off+i] = 0
				if i >= 192 {
					w[off+i] = 0x80
				}
			}
		}
	}
	return w
}

// BenchmarkRepack measures Repack on a matrix of 896 rows of 4864 values
// (ffn_down of a 0.5B model), in bytes of weights per second.
func BenchmarkRepack(b *testing.B) {
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		b.Run(typ.String(), func(b *testing.B) {
			const rows, n = 896, 4864
			w := randomMatrix(rand.New(rand.NewPCG(1, 2)), typ, rows, n, scaleRandom)
			p := make([]byte, len(w))
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				if err := tensor.Repack(typ, rows, n, p, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
