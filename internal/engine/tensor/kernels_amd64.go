//go:build amd64 && !purego

package tensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run ./asm -out dot_amd64.s -stubs dot_amd64.go -pkg tensor

// simdKernels returns the fastest of simdKernelSets, or nil.
func simdKernels() *Kernels {
	sets := simdKernelSets()
	if len(sets) == 0 {
		return nil
	}
	return sets[len(sets)-1]
}

// simdKernelSets returns the assembly kernel tables this CPU (and OS) can
// run, slowest first: "avx2" if it has AVX2, FMA and F16C (with the
// pure-Go kernels for the types they do not cover, Q4_1 and Q5_1), then
// "avx512vnni", the same with the VNNI tiles for Q8_0, Q4_0 and Q4_K
// matrices and the repacked layouts Q4_0x8, Q5_0x8, Q8_0x8 (repack_amd64.go),
// Q4_Kx8, Q5_Kx8 and Q6_Kx8,
// if it also has AVX-512 VNNI (hasVNNI).
//
// x/sys/cpu only reports AVX, AVX2 and AVX-512 when the OS saves the
// registers (XGETBV), so no separate OS check is needed.
func simdKernelSets() []*Kernels {
	if !hasAVX2FMA() {
		return nil
	}
	k := avx2Kernels()
	sets := []*Kernels{k}
	if hasVNNI() {
		v := *k
		v.Name = "avx512vnni"
		v.Q8_0Mat = tilesQ8_0VNNI.mat
		v.Q4_0Mat = tilesQ4_0VNNI.mat
		v.Q4_KMat = kTiles{dotQ4_KAVX2, dotQ4_Kx4AVX2, tileQ4_K_2x1VNNI, sizeQ4_K}.mat
		v.Q4_0x8Mat = tilesQ4_0x8VNNI.mat
		v.Q5_0x8Mat = tilesQ5_0x8VNNI.mat
		v.Q4_1x8Mat = tilesQ4_1x8VNNI.mat
		v.Q5_1x8Mat = tilesQ5_1x8VNNI.mat
		v.Q8_0x8Mat = tilesQ8_0x8VNNI.mat
		v.Q4_Kx8Mat = matQ4_Kx8VNNI
		v.Q5_Kx8Mat = matQ5_Kx8VNNI
		v.Q6_Kx8Mat = matQ6_Kx8VNNI
		sets = append(sets, &v)
	}
	return sets
}

// avx2Kernels returns the AVX2 kernel table.
func avx2Kernels() *Kernels {
	k := ReferenceKernels()
	k.Name = "avx2"
	k.F32, k.F16, k.BF16 = dotF32AVX2, dotF16AVX2, dotBF16AVX2
	k.Q8_0, k.Q4_0, k.Q5_0 = dotQ8_0AVX2, dotQ4_0AVX2, dotQ5_0AVX2
	k.Q4_K, k.Q5_K, k.Q6_K = dotQ4_KAVX2, dotQ5_KAVX2, dotQ6_KAVX2
	k.Q8_0Mat = tilesQ8_0.mat
	k.Q4_0Mat = tilesQ4_0.mat
	k.Q5_0Mat = tilesQ5_0.mat
	k.Q4_KMat = kTiles{dotQ4_KAVX2, dotQ4_Kx4AVX2, tileQ4_K_2x1AVX2, sizeQ4_K}.mat
	k.Q5_KMat = kTiles{dotQ5_KAVX2, dotQ5_Kx4AVX2, nil, sizeQ5_K}.mat
	// Q6_K (no repacked layout): four vectors per unpacked row, for
	// prefill (the Q6_K ffn_down of Q4_K_M files).
	k.Q6_KMat = kTiles{dotQ6_KAVX2, dotQ6_Kx4AVX2, nil, sizeQ6_K}.mat
	// Q4_0x8 through its AVX2 tiles (repack_avx2_amd64.go), which beat
	// the row-major ones in cache and on DRAM-resident weights at 1 and 2
	// goroutines. Q8_0x8's AVX2 tiles (tilesQ8_0x8AVX2) beat them in
	// cache and at one goroutine but not at two on 896×4864 (see
	// asm/repack_avx2.go), so this table does not repack Q8_0. Q4_Kx8
	// through its AVX2 tiles, which beat Q4_KMat in cache (1, 4 and 8
	// vectors) and on DRAM-resident weights at 1 and 2 goroutines (see
	// asm/repackk_avx2.go).
	k.Q4_0x8Mat = tilesQ4_0x8AVX2.mat
	k.Q8_0x8Mat = nil
	// Q5_0x8 through its AVX2 tiles, which beat the row-major Q5_0 ones
	// in cache (1.5-2.0 times, 1 to 8 vectors) and on DRAM-resident
	// weights (BenchmarkRepackedAVX2DRAM, three runs: 1.50-1.89 times at
	// one goroutine, 1.23-1.56 at two).
	k.Q5_0x8Mat = tilesQ5_0x8AVX2.mat
	k.Q4_Kx8Mat = matQ4_Kx8AVX2
	// Q6_Kx8 through its AVX2 tiles (asm/repackq6.go): in cache 1.21-1.31
	// times the row-major MatFunc (BenchmarkQ6_Kx8AVX2), from DRAM at two
	// goroutines 0.91-0.98 of the bandwidth probe against 0.80-0.82.
	k.Q6_Kx8Mat = matQ6_Kx8AVX2
	// Q5_Kx8 through its AVX2 tiles (asm/repackk_avx2.go): in cache
	// 1.48-1.53 times the row-major MatFunc, prefill of a Q5_K_M file
	// ×1.6.
	k.Q5_Kx8Mat = matQ5_Kx8AVX2
	// Q4_1 and Q5_1 (the Q5_K_M files' fallback for rows that are not
	// whole super-blocks) have no row-major assembly, only their
	// repacked tiles.
	k.Q4_1x8Mat, k.Q5_1x8Mat = tilesQ4_1x8AVX2.mat, tilesQ5_1x8AVX2.mat
	return k
}

// tileFunc is the signature of the generated tile kernels, which compute
// R×C dot products at a time (R rows, C vectors): y[c*ystride+r] for r <
// rows, a multiple of R, and c < C.
type tileFunc func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)

// block32Tiles are the tile kernels of a 32-value block type (Q8_0
// activations): R×1 for one vector (2×1 for Q8_0, 4×1 for Q4_0 and
// Q5_0), 4×4 (VNNI only; nil otherwise) and 2×4 for four, and the one-row
// kernels for the rows left over.
type block32Tiles struct {
	wsize, r                     int
	tRx1, t1x1, t4x4, t2x4, t1x4 tileFunc
	// longRow is the row length in bytes above which one-vector products
	// use the 1×1 tile rather than R×1; 0 means never. Measured on
	// DRAM-resident Q8_0 rows of 4864 values (BenchmarkMatVecDRAM, one
	// goroutine): the AVX2 2×1 tile did not beat the 1×1 one there, the
	// VNNI 2×1 tile streams them 1.21 times faster than its 1×1 (28.2
	// against 23.3 GB/s; 1.30 times in cache), and the VNNI Q4_0 4×1 tile
	// 1.34 times (13.3 against 9.9 GB/s, medians of 11 interleaved passes;
	// 1.09 times with two goroutines).
	longRow int
}

var (
	tilesQ8_0     = &block32Tiles{sizeQ8_0, 2, tileQ8_0_2x1AVX2, tileQ8_0_1x1AVX2, nil, tileQ8_0_2x4AVX2, tileQ8_0_1x4AVX2, 2048}
	tilesQ4_0     = &block32Tiles{sizeQ4_0, 4, tileQ4_0_4x1AVX2, tileQ4_0_1x1AVX2, nil, tileQ4_0_2x4AVX2, tileQ4_0_1x4AVX2, 2048}
	tilesQ5_0     = &block32Tiles{sizeQ5_0, 4, tileQ5_0_4x1AVX2, tileQ5_0_1x1AVX2, nil, tileQ5_0_2x4AVX2, tileQ5_0_1x4AVX2, 2048}
	tilesQ8_0VNNI = &block32Tiles{sizeQ8_0, 2, tileQ8_0_2x1VNNI, tileQ8_0_1x1VNNI, tileQ8_0_4x4VNNI, tileQ8_0_2x4VNNI, tileQ8_0_1x4VNNI, 0}
	tilesQ4_0VNNI = &block32Tiles{sizeQ4_0, 4, tileQ4_0_4x1VNNI, tileQ4_0_1x1VNNI, tileQ4_0_4x4VNNI, tileQ4_0_2x4VNNI, tileQ4_0_1x4VNNI, 0}
)

// mat is the MatFunc of the type: vectors four at a time through the 4×4
// and 2×4 tiles, the rest one at a time through the R×1 tiles (1×1 for
// rows longer than longRow).
func (t *block32Tiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	if n%32 != 0 {
		panic("tensor: matrix kernel length is not a whole number of blocks")
	}
	checkMat(rows, nx, w, wstride, n/32*t.wsize, x, xstride, n/32*sizeQ8_0, y, ystride)
	if rows == 0 {
		return
	}
	i := 0
	for ; i+4 <= nx; i += 4 {
		xi, yi := x[i*xstride:], y[i*ystride:]
		r := 0
		if t.t4x4 != nil {
			if r4 := rows &^ 3; r4 > 0 {
				t.t4x4(n, w, wstride, xi, xstride, yi, ystride, r4)
				r = r4
			}
		}
		if r2 := (rows - r) &^ 1; r2 > 0 {
			t.t2x4(n, w[r*wstride:], wstride, xi, xstride, yi[r:], ystride, r2)
			r += r2
		}
		if r < rows {
			t.t1x4(n, w[r*wstride:], wstride, xi, xstride, yi[r:], ystride, rows-r)
		}
	}
	// Rows of one vector at a time stream from memory: groups of short
	// rows stream faster than one row after another; long rows do too with
	// the VNNI tiles, not with the AVX2 ones (see longRow).
	r := rows - rows%t.r
	if t.longRow > 0 && n/32*t.wsize > t.longRow {
		r = 0
	}
	for ; i < nx; i++ {
		xi, yi := x[i*xstride:], y[i*ystride:]
		if r > 0 {
			t.tRx1(n, w, wstride, xi, xstride, yi, ystride, r)
		}
		if r < rows {
			t.t1x1(n, w[r*wstride:], wstride, xi, xstride, yi[r:], ystride, rows-r)
		}
	}
}

// kTiles makes the MatFunc of a k-quant type from its one-row and
// four-vector kernels and, if it has one, its 2×1 decode tile.
type kTiles struct {
	dot   DotFunc
	dot4  func(n int, w []byte, x []byte, stride int, dst *[4]float32)
	t2x1  tileFunc
	wsize int
}

// mat is the MatFunc of the type: vectors four at a time through the
// four-vector kernel row by row, the rest through the decode tile (or
// the one-row kernel where the type has no tile).
func (t kTiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	if n%QK_K != 0 {
		panic("tensor: matrix kernel length is not a whole number of blocks")
	}
	rb, xrb := n/QK_K*t.wsize, n/QK_K*sizeQ8_K
	checkMat(rows, nx, w, wstride, rb, x, xstride, xrb, y, ystride)
	// Vectors up to nb go row by row through the four-vector and one-row
	// kernels, the others through the decode tile.
	nb := nx &^ 3
	if t.t2x1 == nil {
		nb = nx
	}
	var d [4]float32
	for r := 0; r < rows && nb > 0; r++ {
		wr := w[r*wstride : r*wstride+rb]
		i := 0
		for ; i+4 <= nb; i += 4 {
			t.dot4(n, wr, x[i*xstride:(i+3)*xstride+xrb], xstride, &d)
			for j, v := range d {
				y[(i+j)*ystride+r] = v
			}
		}
		for ; i < nb; i++ {
			y[i*ystride+r] = t.dot(n, wr, x[i*xstride:i*xstride+xrb])
		}
	}
	// The vectors left over (decode's single vector): two rows at a time
	// through the decode tile, the row left over through the one-row
	// kernel.
	r2 := rows &^ 1
	for i := nb; i < nx; i++ {
		xi, yi := x[i*xstride:i*xstride+xrb], y[i*ystride:]
		if r2 > 0 {
			t.t2x1(n, w, wstride, xi, xrb, yi, ystride, r2)
		}
		for r := r2; r < rows; r++ {
			yi[r] = t.dot(n, w[r*wstride:r*wstride+rb], xi)
		}
	}
}

// hasVNNI reports whether the VNNI tiles can run: on top of what
// hasAVX2FMA asks, they use EVEX-encoded AVX-512 instructions on YMM
// registers (AVX512F, VL, BW) and VPDPBUSD and VPDPWSSD (AVX512_VNNI).
func hasVNNI() bool {
	x := cpu.X86
	return hasAVX2FMA() && x.HasAVX512F && x.HasAVX512VL && x.HasAVX512BW && x.HasAVX512VNNI
}

// hasAVX2FMA reports whether the AVX2 kernels can run: they use AVX2, FMA
// and F16C (VCVTPH2PS) instructions.
func hasAVX2FMA() bool {
	return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
}

// sumWords returns the wrapping sum of the little-endian 64-bit words of
// p, whose length is a multiple of 256, as a streaming read.
func sumWords(p []byte) uint64 {
	if hasAVX2FMA() {
		return sumWordsAVX2(p)
	}
	return sumWordsGo(p)
}

// encodeQ8_0 encodes x as Q8_0 activations (actQ8 without sums): with AVX2
// when the CPU has it and x is finite, identically.
func encodeQ8_0(x []float32, dst []byte) {
	if useSIMDFloat && quantQ8_0AVX2(x, dst) {
		return
	}
	actQ8(x, dst, false)
}

// encodeQ8_K encodes x as Q8_K activations: with AVX2 when the CPU has it
// and x is finite, identically to actQ8_K.
func encodeQ8_K(x []float32, dst []byte) {
	if useSIMDFloat && quantQ8_KAVX2(x, dst) {
		return
	}
	actQ8_K(x, dst)
}

// useSIMDFloat selects the AVX2 kernels for DotF32s and AxpyF32, and the
// Q8_0 and Q8_K activation quantizers.
var useSIMDFloat = hasAVX2FMA()

func dotF32AVX2Slices(a, b []float32) float32 {
	return dotF32AVX2(len(a), f32Bytes(a), f32Bytes(b))
}

func axpyF32SIMD(a float32, x, y []float32) { axpyF32AVX2(a, x, y) }

// f32Bytes views a float32 slice as its little-endian bytes (every
// platform this package supports is little-endian).
func f32Bytes(a []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), 4*len(a))
}
