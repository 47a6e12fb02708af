package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkQ4_Kx8 runs the fastest table's Q4_Kx8 MatFunc on a repacked
// 896×4864 matrix (ffn_down of a 0.5B model, 2.45 MB, in L3... mostly)
// against its row-major Q4_K MatFunc on the same matrix, with 1, 4 and 8
// vectors, one goroutine; the two sub-benchmarks of a shape run one after
// the other, so -count interleaves them. SetBytes is the weight bytes.
//
//	go test -run '^$' -bench 'Q4_Kx8$' -count 6 ./internal/engine/tensor/
func BenchmarkQ4_Kx8(b *testing.B) { benchKx8(b, tensor.Q4_K, []int{1, 4, 8}) }

// BenchmarkQ6_Kx8 is BenchmarkQ4_Kx8 for Q6_K and its Q6_Kx8 MatFunc,
// with 1, 4, 8 and 64 vectors.
//
//	go test -run '^$' -bench 'Q6_Kx8$' -count 6 ./internal/engine/tensor/
func BenchmarkQ6_Kx8(b *testing.B) { benchKx8(b, tensor.Q6_K, []int{1, 4, 8, 64}) }

// BenchmarkQ5_Kx8 is BenchmarkQ4_Kx8 for Q5_K and its Q5_Kx8 MatFunc.
//
//	go test -run '^$' -bench 'Q5_Kx8$' -count 6 ./internal/engine/tensor/
func BenchmarkQ5_Kx8(b *testing.B) { benchKx8(b, tensor.Q5_K, []int{1, 4, 8, 64}) }

// benchKx8 is BenchmarkQ4_Kx8 for typ (Q4_K, Q5_K or Q6_K) with nxs
// vectors.
func benchKx8(b *testing.B, typ tensor.Type, nxs []int) {
	benchKx8With(b, tensor.DefaultKernels(), typ, nxs)
}

// benchKx8With is benchKx8 with the kernels of table k.
func benchKx8With(b *testing.B, k *tensor.Kernels, typ tensor.Type, nxs []int) {
	rt, _ := tensor.Repacked(typ)
	if k.MatFunc(rt) == nil || k.MatFunc(typ) == nil {
		b.Skipf("no %v kernels in the %s table", rt, k.Name)
	}
	const rows, n = 896, 4864
	r := rand.New(rand.NewPCG(31, 32))
	w := randomMatrix(r, typ, rows, n, scaleRandom)
	p := make([]byte, len(w))
	if err := tensor.Repack(typ, rows, n, p, w); err != nil {
		b.Fatal(err)
	}
	rb, xrb := mustRows(typ, n), mustRows(tensor.Q8_K, n)
	for _, nx := range nxs {
		var x []byte
		for range nx {
			x = append(x, randomActs(r, tensor.Q8_K, n, scaleRandom, false)...)
		}
		y := make([]float32, rows*nx)
		for _, c := range []struct {
			name string
			mf   tensor.MatFunc
			w    []byte
		}{{typ.String(), k.MatFunc(typ), w}, {rt.String(), k.MatFunc(rt), p}} {
			b.Run(fmt.Sprintf("nx=%d/%s", nx, c.name), func(b *testing.B) {
				b.SetBytes(int64(len(w)))
				for b.Loop() {
					c.mf(n, rows, nx, c.w, rb, x, xrb, y, rows)
				}
			})
		}
	}
}

// BenchmarkQ4_Kx8DRAM streams 128 distinct copies of a 896×4864 Q4_K
// matrix (314 MB, more than any cache) through MatMul with one vector, as
// decode does, row-major through Q4_KMat and repacked through Q4_Kx8Mat,
// at 1 and 2 goroutines. One iteration is one pass over the copies;
// matvec-GB/s is the weight bandwidth of the mean pass.
//
//	go test -run '^$' -bench 'Q4_Kx8DRAM' -count 6 ./internal/engine/tensor/
func BenchmarkQ4_Kx8DRAM(b *testing.B) {
	k := tensor.DefaultKernels()
	if k.Q4_Kx8Mat == nil || k.Q4_KMat == nil {
		b.Skip("no Q4_Kx8 kernels in the " + k.Name + " table")
	}
	const rows, n, mats = 896, 4864, 128
	r := rand.New(rand.NewPCG(33, 34))
	one := randomMatrix(r, tensor.Q4_K, rows, n, scaleRandom)
	packed := make([]byte, len(one))
	if err := tensor.Repack(tensor.Q4_K, rows, n, packed, one); err != nil {
		b.Fatal(err)
	}
	x := randomActs(r, tensor.Q8_K, n, scaleRandom, false)
	y := make([]float32, rows)
	for _, threads := range []int{1, 2} {
		for _, c := range []struct {
			typ tensor.Type
			src []byte
		}{{tensor.Q4_K, one}, {tensor.Q4_Kx8, packed}} {
			b.Run(fmt.Sprintf("threads=%d/%v", threads, c.typ), func(b *testing.B) {
				ws := make([][]byte, mats)
				for i := range ws {
					ws[i] = append([]byte(nil), c.src...)
				}
				g := tensor.Goroutines(threads)
				for b.Loop() {
					for _, w := range ws {
						if err := k.MatMul(g, c.typ, n, w, x, 1, y); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(mats*len(one))*float64(b.N)/b.Elapsed().Seconds()/1e9, "matvec-GB/s")
			})
		}
	}
}
