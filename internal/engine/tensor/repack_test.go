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
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q8_0} {
		rt, ok := tensor.Repacked(typ)
		if !ok {
			t.Fatalf("Repacked(%v) = false", typ)
		}
		for _, sh := range [][2]int{{8, 32}, {16, 64}, {24, 896}, {0, 32}} {
			rows, n := sh[0], sh[1]
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
		{"no layout", tensor.Repack(tensor.Q4_K, 8, 256, make([]byte, 8*144), make([]byte, 8*144)), tensor.ErrUnsupported},
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
	for _, typ := range []tensor.Type{tensor.Q4_0x8, tensor.Q8_0x8} {
		if typ.Valid() {
			t.Errorf("%v.Valid() = true; no file may hold a repacked layout", typ)
		}
		if err := tensor.Dequantize(typ, make([]byte, 18), make([]float32, 32)); err == nil {
			t.Errorf("Dequantize(%v) accepted a repacked row", typ)
		}
	}
	if got := fmt.Sprint(tensor.Q4_0x8, tensor.Q8_0x8); got != "Q4_0x8 Q8_0x8" {
		t.Errorf("names %q", got)
	}
}

// TestRepackedMatFunc checks every table's repacked kernels against the
// reference kernels on the row-major matrix, bit for bit, for every scale
// mode, a range of rows (whole groups) and vectors, strides larger than a
// vector or an output, and through MatMul on two goroutines; outputs
// outside the product must stay untouched.
func TestRepackedMatFunc(t *testing.T) {
	ref := tensor.ReferenceKernels()
	checked := 0
	for _, k := range tensor.KernelSets() {
		for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q8_0} {
			rt, _ := tensor.Repacked(typ)
			mf := k.MatFunc(rt)
			if mf == nil {
				t.Logf("%s: no %v kernel", k.Name, rt)
				continue
			}
			t.Run(fmt.Sprintf("%s/%v", k.Name, rt), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(typ), 9))
				for _, mode := range []scaleMode{scaleRandom, scaleOne, scaleZero, scaleNaN, scaleInf, scaleEdge} {
					for _, n := range []int{32, 64, 224, 896} {
						for _, sh := range [][2]int{{8, 1}, {16, 1}, {24, 2}, {40, 3}, {8, 4}, {16, 5}, {24, 8}, {8, 9}} {
							rows, nx := sh[0], sh[1]
							w := randomMatrix(r, typ, rows, n, mode)
							p := make([]byte, len(w))
							if err := tensor.Repack(typ, rows, n, p, w); err != nil {
								t.Fatal(err)
							}
							rb, xrb := mustRows(typ, n), mustRows(tensor.Q8_0, n)
							xstride, ystride := xrb+int(mode), rows+int(mode)%3
							x := make([]byte, (nx-1)*xstride+xrb)
							for i := range nx {
								copy(x[i*xstride:], randomActs(r, tensor.Q8_0, n, mode, mode == scaleRandom))
								if mode == scaleEdge {
									setEdgeActScales(r, tensor.Q8_0, x[i*xstride:i*xstride+xrb])
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
				// MatMul splits 160 rows of 896 into chunks of whole groups.
				const rows, n, nx = 160, 896, 3
				w := randomMatrix(r, typ, rows, n, scaleRandom)
				p := make([]byte, len(w))
				if err := tensor.Repack(typ, rows, n, p, w); err != nil {
					t.Fatal(err)
				}
				var x []byte
				for range nx {
					x = append(x, randomActs(r, tensor.Q8_0, n, scaleRandom, false)...)
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
