//go:build amd64 && linux && !purego

package tensor_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// BenchmarkRepackedAVX2 is BenchmarkRepacked with the avx2 table: its
// row-major tiles (Q4_0Mat, Q8_0Mat) against the AVX2 repacked tiles
// (AVX2RepackedKernels: Q8_0x8's too, which the table does not use),
// alternated, data in cache, one goroutine.
//
//	go test -run '^$' -bench 'RepackedAVX2$' -count 6 ./internal/engine/tensor/
func BenchmarkRepackedAVX2(b *testing.B) {
	benchRepacked(b, avx2KernelSet(b), tensor.AVX2RepackedKernels())
}

// hugeCopies returns count copies of one in a fresh anonymous mapping,
// moved to transparent huge pages as the model moves repacked weights
// (MADV_HUGEPAGE, then MADV_COLLAPSE 32 MiB at a time; both advice), and
// the AnonHugePages of the process afterwards.
func hugeCopies(b *testing.B, one []byte, count int) ([][]byte, string) {
	const huge = 2 << 20
	size := (len(one)*count + huge - 1) / huge * huge
	m, err := syscall.Mmap(-1, 0, size+huge, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Munmap(m) })
	off := 0
	if a := int(uintptrOf(m) % huge); a != 0 {
		off = huge - a
	}
	buf := m[off : off+size]
	_ = syscall.Madvise(buf, syscall.MADV_HUGEPAGE)
	ws := make([][]byte, count)
	for i := range ws {
		ws[i] = buf[i*len(one) : (i+1)*len(one) : (i+1)*len(one)]
		copy(ws[i], one)
	}
	const madvCollapse = 25
	for lo := 0; lo < size; lo += 32 << 20 {
		if syscall.Madvise(buf[lo:min(lo+32<<20, size)], madvCollapse) == syscall.EINVAL {
			break
		}
	}
	return ws, anonHuge()
}

// anonHuge returns the AnonHugePages line of /proc/self/smaps_rollup.
func anonHuge() string {
	s, _ := os.ReadFile("/proc/self/smaps_rollup")
	for _, l := range bytes.Split(s, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("AnonHugePages:")) {
			return string(bytes.Join(bytes.Fields(l), []byte(" ")))
		}
	}
	return "AnonHugePages: unknown"
}

// BenchmarkRepackedAVX2DRAM is BenchmarkRepackedDRAM with the avx2 table
// (its row-major tiles against the AVX2 repacked ones, Q8_0x8's too:
// AVX2RepackedKernels), one vector on
// ~300 MB of copies of each layout, at 1 and 2 goroutines, the copies on
// transparent huge pages (hugeCopies) for both layouts.
//
//	go test -run '^$' -bench 'RepackedAVX2DRAM' -count 6 ./internal/engine/tensor/
func BenchmarkRepackedAVX2DRAM(b *testing.B) {
	k := avx2KernelSet(b)
	kr := tensor.AVX2RepackedKernels()
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
			ws, _ := hugeCopies(b, one, mats)
			rws, huge := hugeCopies(b, rone, mats)
			x := randomActs(r, tensor.Q8_0, s.cols, scaleRandom, false)
			y := make([]float32, s.rows)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%v/%dx%d/threads=%d", typ, s.rows, s.cols, threads), func(b *testing.B) {
					b.Log(huge)
					g := tensor.Goroutines(threads)
					best := [2]time.Duration{1 << 62, 1 << 62}
					for b.Loop() {
						for i, c := range []struct {
							k  *tensor.Kernels
							t  tensor.Type
							ws [][]byte
						}{{k, typ, ws}, {kr, rt, rws}} {
							start := time.Now()
							for _, w := range c.ws {
								if err := c.k.MatMul(g, c.t, s.cols, w, x, 1, y); err != nil {
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

// uintptrOf returns the address of p's first byte.
func uintptrOf(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

// BenchmarkQ4_Kx8AVX2 is BenchmarkRepackedAVX2 for Q4_K: the avx2
// table's row-major Q4_KMat against the Q4_Kx8 AVX2 tiles
// (AVX2RepackedKernels), alternated, data in cache, one goroutine.
//
//	go test -run '^$' -bench 'Q4_Kx8AVX2$' -count 6 ./internal/engine/tensor/
func BenchmarkQ4_Kx8AVX2(b *testing.B) {
	k := avx2KernelSet(b)
	kr := tensor.AVX2RepackedKernels()
	r := rand.New(rand.NewPCG(75, 76))
	for _, s := range []struct{ rows, cols, nx int }{
		{896, 896 * 2, 1}, {896, 4864, 1}, {896, 4864, 4}, {896, 4864, 8},
	} {
		w := randomMatrix(r, tensor.Q4_K, s.rows, s.cols, scaleRandom)
		rw := make([]byte, len(w))
		if err := tensor.Repack(tensor.Q4_K, s.rows, s.cols, rw, w); err != nil {
			b.Fatal(err)
		}
		var x []byte
		for range s.nx {
			x = append(x, randomActs(r, tensor.Q8_K, s.cols, scaleRandom, false)...)
		}
		y := make([]float32, s.rows*s.nx)
		b.Run(fmt.Sprintf("%dx%d/nx=%d", s.rows, s.cols, s.nx), func(b *testing.B) {
			best := [2]time.Duration{1 << 62, 1 << 62}
			for b.Loop() {
				for i, c := range []struct {
					k *tensor.Kernels
					t tensor.Type
					w []byte
				}{{k, tensor.Q4_K, w}, {kr, tensor.Q4_Kx8, rw}} {
					start := time.Now()
					if err := c.k.MatMul(nil, c.t, s.cols, c.w, x, s.nx, y); err != nil {
						b.Fatal(err)
					}
					best[i] = min(best[i], time.Since(start))
				}
			}
			b.ReportMetric(float64(len(w))/best[0].Seconds()/1e9, "rowmajor-GB/s")
			b.ReportMetric(float64(len(w))/best[1].Seconds()/1e9, "repacked-GB/s")
			b.ReportMetric(float64(best[0])/float64(best[1]), "speedup")
		})
	}
}

// BenchmarkQ4_Kx8AVX2DRAM is BenchmarkRepackedAVX2DRAM for Q4_K: one
// vector on ~300 MB of huge-page copies of a Q4_K matrix, the avx2
// table's Q4_KMat against the Q4_Kx8 AVX2 tiles, at 1 and 2 goroutines.
//
//	go test -run '^$' -bench 'Q4_Kx8AVX2DRAM' -count 6 ./internal/engine/tensor/
func BenchmarkQ4_Kx8AVX2DRAM(b *testing.B) {
	k := avx2KernelSet(b)
	kr := tensor.AVX2RepackedKernels()
	r := rand.New(rand.NewPCG(77, 78))
	for _, s := range []struct{ rows, cols int }{{896, 4864}, {4864, 896 * 2}} {
		one := randomMatrix(r, tensor.Q4_K, s.rows, s.cols, scaleRandom)
		rone := make([]byte, len(one))
		if err := tensor.Repack(tensor.Q4_K, s.rows, s.cols, rone, one); err != nil {
			b.Fatal(err)
		}
		mats := 300e6 / len(one)
		ws, _ := hugeCopies(b, one, mats)
		rws, huge := hugeCopies(b, rone, mats)
		x := randomActs(r, tensor.Q8_K, s.cols, scaleRandom, false)
		y := make([]float32, s.rows)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%dx%d/threads=%d", s.rows, s.cols, threads), func(b *testing.B) {
				b.Log(huge)
				g := tensor.Goroutines(threads)
				best := [2]time.Duration{1 << 62, 1 << 62}
				for b.Loop() {
					for i, c := range []struct {
						k  *tensor.Kernels
						t  tensor.Type
						ws [][]byte
					}{{k, tensor.Q4_K, ws}, {kr, tensor.Q4_Kx8, rws}} {
						start := time.Now()
						for _, w := range c.ws {
							if err := c.k.MatMul(g, c.t, s.cols, w, x, 1, y); err != nil {
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

// BenchmarkQ6_Kx8AVX2 is BenchmarkQ6_Kx8 with the avx2 table: its
// row-major Q6_K MatFunc against its Q6_Kx8 tiles.
//
//	go test -run '^$' -bench 'Q6_Kx8AVX2$' -count 6 ./internal/engine/tensor/
func BenchmarkQ6_Kx8AVX2(b *testing.B) {
	benchKx8With(b, avx2KernelSet(b), tensor.Q6_K, []int{1, 4, 8, 64})
}

// BenchmarkQ5_Kx8AVX2 is BenchmarkQ5_Kx8 with the avx2 table: its
// row-major Q5_K MatFunc against its Q5_Kx8 tiles.
//
//	go test -run '^$' -bench 'Q5_Kx8AVX2$' -count 6 ./internal/engine/tensor/
func BenchmarkQ5_Kx8AVX2(b *testing.B) {
	benchKx8With(b, avx2KernelSet(b), tensor.Q5_K, []int{1, 4, 8, 64})
}
