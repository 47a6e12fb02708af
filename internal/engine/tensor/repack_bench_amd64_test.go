//go:build amd64 && !purego

package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkRepacked alternates, on one goroutine with the avx512vnni
// table, MatMul of a row-major Q4_0, Q5_0, Q8_0, Q4_1 or Q5_1 matrix (the
// VNNI row-major tiles; Q5_0's AVX2 ones; Q4_1's and Q5_1's pure-Go
// DotFunc) and of the same matrix repacked (Q4_0x8, Q5_0x8, Q8_0x8,
// Q4_1x8, Q5_1x8), data in
// cache, and reports each one's GMAC/s and weight GB/s of its fastest
// call and their ratio ("speedup", repacked over row-major).
//
//	go test -run '^$' -bench 'Repacked$' -count 6 ./internal/engine/tensor/
func BenchmarkRepacked(b *testing.B) {
	k := vnniKernelSet(b)
	benchRepacked(b, k, k)
}

// benchRepacked is BenchmarkRepacked with the row-major Q4_0, Q5_0 and
// Q8_0 products of table rowMajor against the repacked ones of table
// repacked (where it has them).
func benchRepacked(b *testing.B, rowMajor, repacked *tensor.Kernels) {
	r := rand.New(rand.NewPCG(65, 66))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q8_0, tensor.Q4_1, tensor.Q5_1} {
		rt, _ := tensor.Repacked(typ)
		if repacked.MatFunc(rt) == nil {
			continue
		}
		xt, _ := tensor.VecDotType(typ)
		for _, s := range []struct{ rows, cols, nx int }{
			{896, 896, 1}, {896, 4864, 1}, {896, 896, 4}, {896, 896, 8}, {896, 4864, 4}, {896, 4864, 8},
		} {
			w := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			rw := make([]byte, len(w))
			if err := tensor.Repack(typ, s.rows, s.cols, rw, w); err != nil {
				b.Fatal(err)
			}
			var x []byte
			for range s.nx {
				x = append(x, randomActs(r, xt, s.cols, scaleRandom, false)...)
			}
			y := make([]float32, s.rows*s.nx)
			b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", typ, s.rows, s.cols, s.nx), func(b *testing.B) {
				best := [2]time.Duration{1 << 62, 1 << 62}
				for b.Loop() {
					for i, c := range []struct {
						k *tensor.Kernels
						t tensor.Type
						w []byte
					}{{rowMajor, typ, w}, {repacked, rt, rw}} {
						start := time.Now()
						if err := c.k.MatMul(nil, c.t, s.cols, c.w, x, s.nx, y); err != nil {
							b.Fatal(err)
						}
						best[i] = min(best[i], time.Since(start))
					}
				}
				macs := float64(s.rows) * float64(s.cols) * float64(s.nx)
				b.ReportMetric(macs/best[0].Seconds()/1e9, "rowmajor-GMAC/s")
				b.ReportMetric(macs/best[1].Seconds()/1e9, "repacked-GMAC/s")
				b.ReportMetric(float64(len(w))/best[0].Seconds()/1e9, "rowmajor-GB/s")
				b.ReportMetric(float64(len(w))/best[1].Seconds()/1e9, "repacked-GB/s")
				b.ReportMetric(float64(best[0])/float64(best[1]), "speedup")
			})
		}
	}
}

// BenchmarkRepackedDRAM is BenchmarkRepacked with one vector on matrices
// totalling about 300 MB (distinct copies of one matrix, in both
// layouts), more than any cache, as decoding streams them, at 1 and 2
// goroutines; one iteration is one pass over all the matrices in each
// layout, alternated. It reports weight GB/s of the fastest pass of each
// and their ratio.
//
//	go test -run '^$' -bench 'RepackedDRAM' -count 6 ./internal/engine/tensor/
func BenchmarkRepackedDRAM(b *testing.B) {
	k := vnniKernelSet(b)
	r := rand.New(rand.NewPCG(67, 68))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q8_0} {
		rt, _ := tensor.Repacked(typ)
		for _, s := range []struct{ rows, cols int }{{896, 4864}, {4864, 896}} {
			one := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			rone := make([]byte, len(one))
			if err := tensor.Repack(typ, s.rows, s.cols, rone, one); err != nil {
				b.Fatal(err)
			}
			mats := 300e6 / len(one)
			ws, rws := make([][]byte, mats), make([][]byte, mats)
			for i := range ws {
				ws[i] = append([]byte(nil), one...) // distinct memory, same values
				rws[i] = append([]byte(nil), rone...)
			}
			x := randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)
			y := make([]float32, s.rows)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%v/%dx%d/threads=%d", typ, s.rows, s.cols, threads), func(b *testing.B) {
					g := tensor.Goroutines(threads)
					best := [2]time.Duration{1 << 62, 1 << 62}
					for b.Loop() {
						for i, c := range []struct {
							t  tensor.Type
							ws [][]byte
						}{{typ, ws}, {rt, rws}} {
							start := time.Now()
							for _, w := range c.ws {
								if err := k.MatMul(g, c.t, s.cols, w, x, 1, y); err != nil {
									b.Fatal(err)
								}
							}
							best[i] = min(best[i], time.Since(start))
						}
					}
					bytes := float64(mats * len(one))
					b.ReportMetric(bytes/best[0].Seconds()/1e9, "rowmajor-GB/s")
					b.ReportMetric(bytes/best[1].Seconds()/1e9, "repacked-GB/s")
					b.ReportMetric(float64(best[0])/float64(best[1]), "speedup")
				})
			}
		}
	}
}

// BenchmarkRepackedTiles alternates, on one goroutine, the avx512vnni
// MatFunc of Q4_0x8, Q8_0x8 and Q4_Kx8 with many vectors (the 8×8 tile) against
// the same MatFunc limited to 4 vectors at a time (the 8×4 tile), data
// in cache, and reports each one's GMAC/s of its fastest call and their
// ratio ("speedup", 8 over 4).
//
//	go test -run '^$' -bench 'RepackedTiles' -count 6 ./internal/engine/tensor/
func BenchmarkRepackedTiles(b *testing.B) {
	vnniKernelSet(b)
	r := rand.New(rand.NewPCG(69, 70))
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q4_K, tensor.Q8_0} {
		rt, _ := tensor.Repacked(typ)
		xt, _ := tensor.VecDotType(typ)
		var mats [2]func(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int)
		for _, v := range tensor.RepackVNNIVariants(rt) {
			switch v.Name {
			case "maxC=4":
				mats[0] = v.Mat
			case "maxC=8":
				mats[1] = v.Mat
			}
		}
		for _, s := range []struct{ rows, cols, nx int }{
			{896, 896, 8}, {896, 896, 64}, {896, 1024, 8}, {896, 1024, 64}, {896, 4864, 8}, {896, 4864, 64},
		} {
			if s.cols%typ.BlockSize() != 0 || s.cols == 1024 && typ != tensor.Q4_K {
				continue // 896 is not whole Q4_K super-blocks, 1024 stands in
			}
			w := randomMatrix(r, typ, s.rows, s.cols, scaleRandom)
			rw := make([]byte, len(w))
			if err := tensor.Repack(typ, s.rows, s.cols, rw, w); err != nil {
				b.Fatal(err)
			}
			var x []byte
			for range s.nx {
				x = append(x, randomActs(r, xt, s.cols, scaleRandom, false)...)
			}
			rb, xrb := mustRows(typ, s.cols), mustRows(xt, s.cols)
			y := make([]float32, s.rows*s.nx)
			b.Run(fmt.Sprintf("%v/%dx%d/nx=%d", rt, s.rows, s.cols, s.nx), func(b *testing.B) {
				best := [2]time.Duration{1 << 62, 1 << 62}
				for b.Loop() {
					for i, mat := range mats {
						start := time.Now()
						mat(s.cols, s.rows, s.nx, rw, rb, x, xrb, y, s.rows)
						best[i] = min(best[i], time.Since(start))
					}
				}
				macs := float64(s.rows) * float64(s.cols) * float64(s.nx)
				b.ReportMetric(macs/best[0].Seconds()/1e9, "by4-GMAC/s")
				b.ReportMetric(macs/best[1].Seconds()/1e9, "by8-GMAC/s")
				b.ReportMetric(float64(best[0])/float64(best[1]), "speedup")
			})
		}
	}
}

// BenchmarkRepackedBatchDRAM multiplies DRAM-resident repacked matrices
// (~300 MB of copies, Q4_0x8, Q8_0x8 and Q4_Kx8, through each assembly
// table that has their tiles) with 2, 3, 4 and 8 activation vectors, as
// a decode step of that many sequences does, and reports the weight GB/s of the
// fastest pass over the copies. The feed-forward shapes of the 0.5B
// model (gate/up 4864×896, down 896×4864; for Q4_K, whose rows are whole
// super-blocks, gate 4256×1024) have the same bytes, so their ratio
// ("down-over-gate" of the times, one run) shows what long rows cost.
//
//	go test -run '^$' -bench 'RepackedBatchDRAM' -count 4 ./internal/engine/tensor/
func BenchmarkRepackedBatchDRAM(b *testing.B) {
	r := rand.New(rand.NewPCG(71, 72))
	const nx = 8
	for _, typ := range []tensor.Type{tensor.Q4_0, tensor.Q8_0, tensor.Q4_K} {
		rt, _ := tensor.Repacked(typ)
		xt, _ := tensor.VecDotType(typ)
		var tables []*tensor.Kernels
		for _, k := range tensor.KernelSets() {
			if k.Name != "go" && k.MatFunc(rt) != nil {
				tables = append(tables, k)
			}
		}
		if len(tables) == 0 {
			continue
		}
		shapes := []struct{ rows, cols int }{{4864, 896}, {896, 4864}}
		if typ == tensor.Q4_K {
			shapes[0] = struct{ rows, cols int }{4256, 1024} // whole super-blocks, the same values
		}
		type mat struct {
			cols int
			ws   [][]byte
			x    []byte
			y    []float32
		}
		var mats []mat
		for _, s := range shapes {
			one := randomWeights(r, typ, s.rows*s.cols, scaleRandom)
			rone := make([]byte, len(one))
			if err := tensor.Repack(typ, s.rows, s.cols, rone, one); err != nil {
				b.Fatal(err)
			}
			m := mat{cols: s.cols, ws: make([][]byte, 300e6/len(one)), y: make([]float32, s.rows*nx)}
			for i := range m.ws {
				m.ws[i] = append([]byte(nil), rone...) // distinct memory, same values
			}
			for range nx {
				m.x = append(m.x, randomActs(r, xt, s.cols, scaleRandom, false)...)
			}
			mats = append(mats, m)
		}
		for _, k := range tables {
			for _, nv := range []int{2, 3, 4, nx} {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%v/nx=%d/threads=%d", k.Name, rt, nv, threads), func(b *testing.B) {
						g := tensor.Goroutines(threads)
						best := make([]time.Duration, len(mats))
						for i := range best {
							best[i] = 1 << 62
						}
						for b.Loop() {
							for i, m := range mats {
								start := time.Now()
								for _, w := range m.ws {
									if err := k.MatMul(g, rt, m.cols, w, m.x[:nv*len(m.x)/nx], nv, m.y[:nv*len(m.y)/nx]); err != nil {
										b.Fatal(err)
									}
								}
								best[i] = min(best[i], time.Since(start))
							}
						}
						for i, name := range []string{"gate", "down"} {
							m := mats[i]
							b.ReportMetric(float64(len(m.ws)*len(m.ws[0]))/best[i].Seconds()/1e9, name+"-GB/s")
						}
						b.ReportMetric(float64(best[1])/float64(len(mats[1].ws))/(float64(best[0])/float64(len(mats[0].ws))), "down-over-gate")
					})
				}
			}
		}
	}
}
