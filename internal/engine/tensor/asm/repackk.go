package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Q4_Kx8 tiles multiply eight interleaved Q4_K rows (tensor.Q4_Kx8,
// repackk.go) with C Q8_K activation vectors, C = 1..4 and 8, in AVX-512 VNNI
// instructions on YMM registers, one int32 or float32 lane per row, so
// that no sum is ever reduced across lanes:
//
//   - per (group, super-block), the 64 scales and 64 mins are unpacked
//     from their 96 bytes with nine whole-register operations to one byte
//     each on the stack (SC, MN; see tensor.Q4_Kx8), and zero-extended
//     from there per sub-block: the scales of sub-block j to eight int32
//     (VPMOVZXBD), the mins of sub-blocks 2i and 2i+1 to int16 pairs
//     (VPMOVZXBW), for all C vectors;
//   - each 32-byte chunk of nibbles is masked twice, once for the low
//     nibbles and once (0xf0) for the high ones, which are thus 16 times
//     their value, and multiplied through VPDPBUSD with the activation
//     dword of each vector as an embedded broadcast: lane r gains four
//     products of row r. A sub-block's eight chunks land in one int32
//     lane per row, exact (at most 8·4·240·127 < 2^20 in magnitude); the
//     high sub-block's is shifted right by 4 (exact), both are multiplied
//     by the rows' scales (VPMULLD) and summed: sumi of each row;
//   - sumMins of each row is four VPDPWSSD of the rows' min pairs with a
//     broadcast pair of the vector's sub-block sums (its 16 bsums summed
//     in pairs with VPMADDWD and packed to int16 with VPACKSSDW, exact
//     for sums of at most 32·127);
//   - the float arithmetic is dotQ4_KQ8_K's, lane-wise:
//     sum += float32(float32(dy*d)*float32(sumi)) - float32(float32(dy*dmin)*float32(sumMins))
//     with VMULPS, VSUBPS and VADDPS (no FMA), d and dmin being the
//     eight rows' (VCVTPH2PS): every result is bit-identical to the
//     pure-Go kernel.
//
// Every instruction has an EVEX form, so the register allocator may use
// all 32 YMM registers (the 8×4 tile keeps 8 sub-block accumulators, 4
// sums of scaled products, 4 float sums and the nibble registers live in
// its inner loop).
//
// Measured against the avx512vnni table's row-major Q4_K MatFunc
// (Q4_KMat: the 2×1 VNNI decode tile, the four-vector AVX2 kernel row by
// row), one goroutine, Zen 4 (2 vCPUs), another helper benchmarking on the
// same machine; six rounds of the two alternated (BenchmarkQ4_Kx8,
// BenchmarkQ4_Kx8DRAM, one process per round), medians (ratios: median
// of the rounds' ratios, and their range):
//
//	896×4864 (2.45 MB)        Q4_K             Q4_Kx8           ratio
//	1 vector, in cache        153 µs 16.0 GB/s  52 µs 47.3 GB/s  2.68 (2.46-3.09)
//	4 vectors, in cache       428 µs            120 µs           3.47 (3.32-3.82)
//	8 vectors, in cache       877 µs            254 µs           3.26 (3.19-4.14)
//	1 vector, 314 MB DRAM     15.9 GB/s         20.2 GB/s        1.27 (1.13-1.63)
//	  the same, 2 goroutines  10.1 GB/s         15.2 GB/s        1.40 (1.03-2.11)
//
// (the DRAM passes spread widely, 9-23 GB/s, with the other benchmark's
// load; two goroutines ran slower than one for both layouts here).
//
// Unlike the row-major decode tiles, the 8×1 tile does not prefetch: a
// repacked matrix is one sequential stream, which the hardware
// prefetchers follow. Measured on 128 copies of a repacked 896×4864
// matrix (314 MB, DRAM-resident), one goroutine, medians of three passes
// on a machine another benchmark shared: no prefetch 20.7 GB/s; the
// next group's super-block (one group, 21.9 KB, ahead) with PREFETCHNTA
// 15.0, with PREFETCHT0 15.1; 2, 4 or 8 super-blocks ahead with
// PREFETCHNTA 17.4, 15.0, 13.2, 4 ahead with PREFETCHT0 11.7. In cache
// (one copy) too no prefetch ran at 35-41 GB/s against 28-33 with the
// next group's. Loading each chunk once and masking it twice in registers
// ran at 40.7-41.9 GB/s against 35.1-40.7 for two masks with memory
// operands (kept, if within the noise); taking the scales and mins
// straight from memory without unpacking them (wrong results, timing
// only) was no faster than the stack round trip (39.1-42.2).

// The 8×8 tile (genTileQ4_Kx8Wide: one sub-block at a time, each chunk
// loaded, masked and, for the high nibbles, shifted once for eight
// vectors) against the 8×4 tile twice, the avx512vnni MatFunc with at
// most 8 or 4 vectors at a time alternated in one process, one
// goroutine, in cache, Zen 4 at ~3.6 GHz, -count 6, medians (ranges) of
// each one's fastest call (BenchmarkRepackedTiles):
//
//	                      8×4 GMAC/s           8×8 GMAC/s           ratio
//	896×1024, 8 vectors   168.0 (167.7-168.2)  171.7 (171.6-171.9)  1.022 (1.021-1.024)
//	896×1024, 64          167.2 (167.0-167.5)  170.8 (170.7-170.9)  1.022 (1.020-1.023)
//	896×4864, 8           163.0 (162.8-163.1)  168.9 (168.9-168.9)  1.037 (1.035-1.038)
//	896×4864, 64          161.4 (161.2-161.5)  167.3 (167.2-167.4)  1.036 (1.036-1.037)
//
// Less than Q4_0x8's 8×8 gains, as the 8×4 tile is already close to the
// limit of the two FP pipes VPDPBUSD, VPMULLD, VPDPWSSD and VMULPS share
// (per super-block and vector 64 VPDPBUSD, 8 VPMULLD, 4 VPDPWSSD, 3
// VMULPS: ~188 GMAC/s at 3.6 GHz if VPMULLD takes one slot); the
// unpacking it amortizes was little of the time.

// The 8×8 tile's Far variant (the 8×3 and 8×4 tiles have one too, see
// farTileK), which MatMul takes for a call's first vectors when a group
// has more than 10 KiB (tensor's farGroupBytes), prefetches
// (PREFETCHNTA) the super-block widePrefetchK bytes ahead: a decode step
// of eight sequences streams ffn_down's 896×4864 Q4_Kx8 from DRAM in
// 146-164 µs a call with it (three of four runs 146) against 178-180
// without (2 goroutines, 300 MB of copies; 2 KiB ahead 150-154); its eight vectors' 44 KB of Q8_K
// blocks a row are more than the L1. Tried and left out: the 8×8 tile
// over column segments of 2 to 8 super-blocks of every group of a chunk
// (the sums carried in y, the next group's segment prefetched), so that
// a segment's activations stay in L1: 1.00-1.32 times the time of the
// Far tile in one process, alternated (the weights then come in runs of
// a few KB); and the 8×4 tile twice (its four vectors fit L1): 1.22.
const widePrefetchK = 4096

// farTileK reports whether the 8×C Q4_Kx8 tile has a Far variant: C of
// 3, 4 and 8 (measured with farTile's in repack.go).
func farTileK(C int) bool { return C >= 3 }

// k8 layout offsets (tensor.Q4_Kx8), and Q5_Kx8's masks and size.
const (
	k8Dmin   = 16
	k8A      = 32
	k8Quants = 128
	k8Size   = 8 * sizeQ4_K
	k5Masks  = k8Quants + 32*32
	k5Size   = 8 * sizeQ5_K
)

// genQ4_Kx8 generates the Q4_Kx8 VNNI tiles tileQ4_Kx8_8xCVNNI, C = 1..4
// and 8.
func genQ4_Kx8() {
	c3f, cc0, c0f, cf0 := byteMem("b3f_k8", 0x3f), byteMem("bc0_k8", 0xc0), byteMem("b0f_k8", 0x0f), byteMem("bf0_k8", 0xf0)
	for C := 1; C <= 4; C++ {
		genTileQ4_Kx8(C, false, c3f, cc0, c0f, cf0)
		if farTileK(C) {
			genTileQ4_Kx8(C, true, c3f, cc0, c0f, cf0)
		}
	}
	genTileQ4_Kx8Wide(8, false, c3f, cc0, c0f)
	genTileQ4_Kx8Wide(8, true, c3f, cc0, c0f)
	genQ4_Kx8AVX2(c3f, cc0, c0f)
	c10 := byteMem("b10_k5", 0x10)
	for _, C := range []int{1, 2, 4} {
		genTileK5x8(C, c3f, cc0, c0f, c10)
	}
}

// genTileQ4_Kx8Wide generates the 8×C tile for C of 5 to 8, with the
// signature of genTileQ4_Kx8's. Eight vectors' sub-block accumulators
// for both halves of a chunk, their sumi and their float sums would be
// 32 registers, so it takes one sub-block at a time: the eight chunks'
// low nibbles for sub-block 2i, then (each chunk loaded again, shifted
// right by 4 and masked) their high nibbles for sub-block 2i+1, into one
// accumulator per vector, multiplied by the rows' scales and added to
// sumi; the rest is genTileQ4_Kx8's.
//
// If far, it prefetches the weights widePrefetchK bytes ahead.
func genTileQ4_Kx8Wide(C int, far bool, c3f, cc0, c0f Mem) {
	name := fmt.Sprintf("tileQ4_Kx8_8x%dVNNI", C)
	if far {
		name = fmt.Sprintf("tileQ4_Kx8_8x%dFarVNNI", C)
	}
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[c*ystride+r] to the product of row r of the Q4_Kx8 matrix w",
		"(rows of wstride bytes, contiguous) with the Q8_K vector at x[c*xstride:],",
		fmt.Sprintf("bit-identical to dotQ4_KQ8_K, for r < rows (a multiple of 8) and c < %d.", C))
	local := AllocLocal(128 + 32*C)
	sc, mn := local, local.Offset(64)
	pairs := func(c int) Mem { return local.Offset(128 + 32*c) }

	a := loadKx8Args(C)
	w, xs, rows := a.w, a.xs, a.rows
	xs3 := GP64()
	LEAQ(Mem{Base: xs, Index: xs, Scale: 2}, xs3)
	m0f := YMM()
	VMOVDQU64(c0f, m0f)
	fsum := make([]VecVirtual, C)
	for c := range fsum {
		fsum[c] = YMM()
	}

	Label(name + "_rows")
	CMPQ(rows, U32(0))
	JE(LabelRef(name + "_done"))
	for _, f := range fsum {
		VPXORD(f, f, f)
	}
	n := Load(Param("n"), GP64())
	SHRQ(U8(8), n)
	wp := GP64()
	MOVQ(w, wp)
	xp := Load(Param("x").Base(), GP64())
	// Vector c at xp + c·xstride, past four at x4 = xp + 4·xstride.
	x4 := GP64()
	LEAQ(Mem{Base: xp, Index: xs, Scale: 4}, x4)
	xv := append(strided(xp, xs, xs3, 4), strided(x4, xs, xs3, C-4)...)
	xm := func(c, off int) Mem { return xv[c].Offset(off) }

	Label(name + "_blocks")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	if far {
		prefetchAhead(wp, widePrefetchK, k8Size)
	}
	{
		ra, rb, rc, t, u := YMM(), YMM(), YMM(), YMM(), YMM()
		VMOVDQU64(Mem{Base: wp, Disp: k8A}, ra)
		VMOVDQU64(Mem{Base: wp, Disp: k8A + 32}, rb)
		VMOVDQU64(Mem{Base: wp, Disp: k8A + 64}, rc)
		VPANDD(c3f, ra, t)
		VMOVDQU64(t, sc)
		VPANDD(c3f, rb, t)
		VMOVDQU64(t, mn)
		VPANDD(cc0, ra, t)
		VPSRLW(U8(2), t, t)
		VPTERNLOGD(U8(0xf8), c0f, rc, t)
		VMOVDQU64(t, sc.Offset(32))
		VPANDD(cc0, rb, t)
		VPSRLW(U8(2), t, t)
		VPSRLW(U8(4), rc, u)
		VPTERNLOGD(U8(0xf8), c0f, u, t)
		VMOVDQU64(t, mn.Offset(32))
	}
	for c := 0; c < C; c++ {
		s := YMM()
		VMOVDQU64(xm(c, 4+256), s)
		VPMADDWD(onesWMem, s, s)
		VPACKSSDW(s, s, s)
		VMOVDQU64(s, pairs(c))
	}
	acc, sumi := make([]VecVirtual, C), make([]VecVirtual, C)
	for c := range acc {
		acc[c], sumi[c] = YMM(), YMM()
	}
	for sb := 0; sb < 8; sb++ {
		g, hi := sb/2, sb%2
		for c := 0; c < C; c++ {
			VPXORD(acc[c], acc[c], acc[c])
		}
		for k := 0; k < 8; k++ {
			q := Mem{Base: wp, Disp: k8Quants + 32*(8*g+k)}
			v := YMM()
			if hi == 0 {
				VPANDD(q, m0f, v)
			} else {
				VPSRLW(U8(4), q, v)
				VPANDD(m0f, v, v)
			}
			for c := 0; c < C; c++ {
				VPDPBUSD_BCST(xm(c, 4+64*g+32*hi+4*k), v, acc[c])
			}
		}
		sl := YMM()
		VPMOVZXBD(sc.Offset(8*sb), sl)
		for c := 0; c < C; c++ {
			if sb == 0 {
				VPMULLD(sl, acc[c], sumi[c])
			} else {
				VPMULLD(sl, acc[c], acc[c])
				VPADDD(acc[c], sumi[c], sumi[c])
			}
		}
	}
	q4Kx8VNNIBlockSum(wp, mn, pairs, xm, sumi, acc, fsum) // acc is free again: the mins
	ADDQ(U32(k8Size), wp)
	ADDQ(U32(sizeQ8_K), xp)
	ADDQ(U32(sizeQ8_K), x4)
	DECQ(n)
	JMP(LabelRef(name + "_blocks"))

	a.storeRows(name, fsum)

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// q4Kx8VNNIBlockSum ends a VNNI Q4_Kx8 block: it adds to fsum[c] the
// block's d·dy·sumi[c] - dmin·dy·(mins of MN paired with vector c's
// sub-block sums), dy at xm(c, 0). mins is free scratch of len(fsum).
func q4Kx8VNNIBlockSum(wp Register, mn Mem, pairs func(int) Mem, xm func(c, off int) Mem, sumi, mins, fsum []VecVirtual) {
	for c := range fsum {
		VPXORD(mins[c], mins[c], mins[c])
	}
	for i, off := range []int{0, 4, 16, 20} {
		m := YMM()
		VPMOVZXBW(mn.Offset(16*i), m)
		for c := range fsum {
			VPDPWSSD_BCST(pairs(c).Offset(off), m, mins[c])
		}
	}
	d, dm := YMM(), YMM()
	VCVTPH2PS(Mem{Base: wp}, d)
	VCVTPH2PS(Mem{Base: wp, Disp: k8Dmin}, dm)
	for c := range fsum {
		dy, t1, t2 := YMM(), YMM(), YMM()
		VBROADCASTSS(xm(c, 0), dy)
		VMULPS(d, dy, t1) // dy*d
		VCVTDQ2PS(sumi[c], sumi[c])
		VMULPS(sumi[c], t1, t1)
		VMULPS(dm, dy, t2) // dy*dmin
		VCVTDQ2PS(mins[c], mins[c])
		VMULPS(mins[c], t2, t2)
		VSUBPS(t2, t1, t1)
		VADDPS(t1, fsum[c], fsum[c])
	}
}

// kx8Args are the argument registers of the Q4_Kx8 and Q6_Kx8 tiles
// (genTileQ4_Kx8's signature): the weights and the bytes of a group of
// eight rows, the outputs and their stride in bytes, the vectors' stride
// (none for one vector) and the rows left.
type kx8Args struct{ w, gs, y, ys, xs, rows Register }

// loadKx8Args loads the arguments of a tile of C vectors.
func loadKx8Args(C int) kx8Args {
	var a kx8Args
	a.w = Load(Param("w").Base(), GP64())
	a.gs = Load(Param("wstride"), GP64())
	SHLQ(U8(3), a.gs) // bytes per group of eight rows
	a.y = Load(Param("y").Base(), GP64())
	a.ys = Load(Param("ystride"), GP64())
	SHLQ(U8(2), a.ys)
	if C > 1 {
		a.xs = Load(Param("xstride"), GP64())
	}
	a.rows = Load(Param("rows"), GP64())
	return a
}

// kx8Loop is a tile's state in its loop over the super-blocks of a group
// of eight rows: the super-blocks left, the weights, and the vectors'
// current blocks (xv; x1 is the second vector's, nil for one vector).
type kx8Loop struct {
	n, wp, xp, x1 Register
	xv            []Mem
}

// xm is vector c's current block at offset off.
func (l kx8Loop) xm(c, off int) Mem { return l.xv[c].Offset(off) }

// beginRows emits the start of a tile's loop over groups of eight rows
// (name_rows, which ends at name_done after the last group), zero (the
// group's float sums), and the start of its loop over the group's
// super-blocks (name_blocks, which ends at name_store after the last).
func (a kx8Args) beginRows(name string, C int, zero func()) kx8Loop {
	Label(name + "_rows")
	CMPQ(a.rows, U32(0))
	JE(LabelRef(name + "_done"))
	zero()
	var l kx8Loop
	l.n = Load(Param("n"), GP64())
	SHRQ(U8(8), l.n)
	l.wp = GP64()
	MOVQ(a.w, l.wp)
	l.xp = Load(Param("x").Base(), GP64())
	l.x1, l.xv = stridedX1(l.xp, a.xs, C)

	Label(name + "_blocks")
	CMPQ(l.n, U32(0))
	JE(LabelRef(name + "_store"))
	return l
}

// nextBlock emits the step to the next super-block (size bytes of
// weights) and the jump back to name_blocks.
func (l kx8Loop) nextBlock(name string, size int) {
	ADDQ(U32(size), l.wp)
	ADDQ(U32(sizeQ8_K), l.xp)
	if l.x1 != nil {
		ADDQ(U32(sizeQ8_K), l.x1)
	}
	DECQ(l.n)
	JMP(LabelRef(name + "_blocks"))
}

// storeRows emits the end of a tile's loop over groups of eight rows:
// name_store, each vector's eight sums in fsum to y, and the step to the
// next group (name_rows).
func (a kx8Args) storeRows(name string, fsum []VecVirtual) {
	Label(name + "_store")
	a.storeSums(name, fsum)
}

// endRows emits the end of a tile over groups of eight rows: the step to
// the next super-block (size bytes, see nextBlock), storeRows with the
// sums that sums returns (called after the label: the AVX2 tiles load
// them from the stack there), and name_done.
func (a kx8Args) endRows(name string, l kx8Loop, size int, sums func() []VecVirtual) {
	l.nextBlock(name, size)
	Label(name + "_store")
	a.storeSums(name, sums())
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// storeSums is storeRows after its label.
func (a kx8Args) storeSums(name string, fsum []VecVirtual) {
	yp := GP64()
	MOVQ(a.y, yp)
	for c, f := range fsum {
		VMOVUPS(f, Mem{Base: yp})
		if c < len(fsum)-1 {
			ADDQ(a.ys, yp)
		}
	}
	ADDQ(a.gs, a.w)
	ADDQ(U32(32), a.y)
	SUBQ(U32(8), a.rows)
	JMP(LabelRef(name + "_rows"))
}

// stridedX1 returns x1 = xp + xstride (nil if k = 1), set here, and the
// addresses of k ≤ 4 vectors xstride apart from xp: xp, x1, xp+2·xstride,
// x1+2·xstride. It takes x1 in place of strided's 3·xstride, and x1 moves
// with xp.
func stridedX1(xp, xs Register, k int) (Register, []Mem) {
	if k == 1 {
		return nil, []Mem{{Base: xp}}
	}
	x1 := GP64()
	LEAQ(Mem{Base: xp, Index: xs, Scale: 1}, x1)
	m := []Mem{{Base: xp}, {Base: x1}, {Base: xp, Index: xs, Scale: 2}, {Base: x1, Index: xs, Scale: 2}}
	return x1, m[:k]
}

// genTileQ4_Kx8 generates the 8×C tile:
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)
//
// which sets y[c*ystride+r] to the product of row r of the Q4_Kx8 matrix w
// (groups of eight rows of wstride bytes each, contiguous) with the Q8_K
// vector at x[c*xstride:], for r < rows (a multiple of 8) and c < C. If
// far, it prefetches the weights widePrefetchK bytes ahead.
func genTileQ4_Kx8(C int, far bool, c3f, cc0, c0f, cf0 Mem) {
	name := fmt.Sprintf("tileQ4_Kx8_8x%dVNNI", C)
	if far {
		name = fmt.Sprintf("tileQ4_Kx8_8x%dFarVNNI", C)
	}
	genTileKx8(name, "Q4_K", C, far, c3f, cc0, c0f, cf0)
}

// genTileK5x8 generates the 8×C tile of Q5_Kx8 (tensor.Q5_Kx8): the
// Q4_Kx8 tile with the high nibbles shifted down (VPSRLW, VPANDD) rather
// than kept 16 times their value, and 16 added to each value whose fifth
// bit is set: one KMOVQ of the chunk's two masks, a merge-masked VPADDB of
// 16s (c10's bytes, in a register) into the low nibbles, KSHIFTRQ by 32
// and another into the high ones (as the Q5_0x8 tiles, repack.go). The
// products stay exact in the int32 lanes (at most 8·4·31·127 a
// sub-block). Against the avx512vnni table's row-major Q5_K MatFunc
// (Q5_KMat, the AVX2 kernels), one goroutine, in cache, 896×4864,
// BenchmarkQ5_Kx8 -count 3: one vector 17.5-17.8 → 40.6-41.6 GB/s
// (×2.3-2.4), 4 vectors ×2.76, 8 ×2.8-2.9, 64 ×2.84. Eight vectors take
// the 8×4 tile twice (no Wide tile). cerulean bench on a 1B Q5_K_M file
// (2048 wide), repacked against --no-repack, two rounds each at ~55-67
// GB/s: prefill 79-80 → 216 tokens/s, decode ÷ sustained bound 0.48-0.49
// → 0.70 (one round at 53 GB/s; the other ran at 33 GB/s: 0.885).
func genTileK5x8(C int, c3f, cc0, c0f, c10 Mem) {
	genTileKx8(fmt.Sprintf("tileQ5_Kx8_8x%dVNNI", C), "Q5_K", C, false, c3f, cc0, c0f, c10)
}

// genTileKx8 generates the 8×C tile named name of Q4_Kx8 (base "Q4_K";
// cf0 the 0xf0 bytes) or Q5_Kx8 ("Q5_K"; cf0 the 16s).
func genTileKx8(name, base string, C int, far bool, c3f, cc0, c0f, cf0 Mem) {
	fifth := base == "Q5_K"
	size := k8Size
	if fifth {
		size = k5Size
	}
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[c*ystride+r] to the product of row r of the "+base+"x8 matrix w",
		"(rows of wstride bytes, contiguous) with the Q8_K vector at x[c*xstride:],",
		fmt.Sprintf("bit-identical to dot%sQ8_K, for r < rows (a multiple of 8) and c < %d.", base, C))
	// Stack: SC (64 bytes), MN (64), then the sub-block sum pairs of each
	// vector (32 bytes each).
	local := AllocLocal(128 + 32*C)
	sc, mn := local, local.Offset(64)
	pairs := func(c int) Mem { return local.Offset(128 + 32*c) }

	a := loadKx8Args(C)
	m0f, mf0 := YMM(), YMM()
	VMOVDQU64(c0f, m0f)
	VMOVDQU64(cf0, mf0)
	fsum := make([]VecVirtual, C)
	for c := range fsum {
		fsum[c] = YMM()
	}

	l := a.beginRows(name, C, func() {
		for _, f := range fsum {
			VPXORD(f, f, f)
		}
	})
	wp, xm := l.wp, l.xm
	if far {
		prefetchAhead(wp, widePrefetchK, k8Size)
	}
	// Scales and mins to bytes: SC[i] = A[i]&63, SC[32+i] = C[i]&15 |
	// (A[i]>>6)<<4; MN likewise from B and C's high nibbles.
	{
		ra, rb, rc, t, u := YMM(), YMM(), YMM(), YMM(), YMM()
		VMOVDQU64(Mem{Base: wp, Disp: k8A}, ra)
		VMOVDQU64(Mem{Base: wp, Disp: k8A + 32}, rb)
		VMOVDQU64(Mem{Base: wp, Disp: k8A + 64}, rc)
		VPANDD(c3f, ra, t)
		VMOVDQU64(t, sc)
		VPANDD(c3f, rb, t)
		VMOVDQU64(t, mn)
		VPANDD(cc0, ra, t)
		VPSRLW(U8(2), t, t)              // bits 4-5, the rest zero
		VPTERNLOGD(U8(0xf8), c0f, rc, t) // t | rc&0x0f
		VMOVDQU64(t, sc.Offset(32))
		VPANDD(cc0, rb, t)
		VPSRLW(U8(2), t, t)
		VPSRLW(U8(4), rc, u)
		VPTERNLOGD(U8(0xf8), c0f, u, t) // t | (rc>>4)&0x0f
		VMOVDQU64(t, mn.Offset(32))
	}
	// Each vector's sub-block sums, paired as int16: dwords 0, 1, 4, 5
	// hold the pairs of sub-blocks (0, 1), (2, 3), (4, 5), (6, 7).
	for c := 0; c < C; c++ {
		s := YMM()
		VMOVDQU64(xm(c, 4+256), s)
		VPMADDWD(onesWMem, s, s)
		VPACKSSDW(s, s, s)
		VMOVDQU64(s, pairs(c))
	}
	accL, accH, sumi := make([]VecVirtual, C), make([]VecVirtual, C), make([]VecVirtual, C)
	for c := range accL {
		accL[c], accH[c], sumi[c] = YMM(), YMM(), YMM()
	}
	for g := 0; g < 4; g++ {
		for c := 0; c < C; c++ {
			VPXORD(accL[c], accL[c], accL[c])
			VPXORD(accH[c], accH[c], accH[c])
		}
		for k := 0; k < 8; k++ {
			q := Mem{Base: wp, Disp: k8Quants + 32*(8*g+k)}
			qr, lo, hi := YMM(), YMM(), YMM()
			VMOVDQU64(q, qr)
			VPANDD(qr, m0f, lo)
			if fifth {
				VPSRLW(U8(4), qr, hi)
				VPANDD(m0f, hi, hi)
				kl, kh := K(), K()
				KMOVQ(Mem{Base: wp, Disp: k5Masks + 8*(8*g+k)}, kl)
				VPADDB(mf0, lo, kl, lo) // mf0: the 16s
				KSHIFTRQ(U8(32), kl, kh)
				VPADDB(mf0, hi, kh, hi)
			} else {
				VPANDD(qr, mf0, hi) // 16 times the nibble
			}
			for c := 0; c < C; c++ {
				VPDPBUSD_BCST(xm(c, 4+64*g+4*k), lo, accL[c])
				VPDPBUSD_BCST(xm(c, 4+64*g+32+4*k), hi, accH[c])
			}
		}
		sl, sh := YMM(), YMM()
		VPMOVZXBD(sc.Offset(8*(2*g)), sl)
		VPMOVZXBD(sc.Offset(8*(2*g+1)), sh)
		for c := 0; c < C; c++ {
			if !fifth {
				VPSRAD(U8(4), accH[c], accH[c])
			}
			VPMULLD(sl, accL[c], accL[c])
			VPMULLD(sh, accH[c], accH[c])
			if g == 0 {
				VPADDD(accL[c], accH[c], sumi[c])
			} else {
				VPADDD(accL[c], sumi[c], sumi[c])
				VPADDD(accH[c], sumi[c], sumi[c])
			}
		}
	}
	q4Kx8VNNIBlockSum(wp, mn, pairs, xm, sumi, accL, fsum) // accL is free again: the mins
	a.endRows(name, l, size, func() []VecVirtual { return fsum })
}
