package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 tiles of Q4_Kx8 (tensor.Q4_Kx8, repackk.go), for CPUs without
// AVX-512 VNNI: the design of the VNNI tiles (repackk.go: one int32 or
// float32 lane per row, the activation dword of each chunk broadcast to
// the eight rows, the scales and mins unpacked to bytes on the stack, the
// same float operations and so bit-identical results) in VEX-encoded
// AVX2 instructions only (registers Y0-Y15):
//
//   - each 32-byte chunk is split into its low nibbles (AND 0x0f) and its
//     high ones (shifted right by 4, AND 0x0f; masking with 0xf0 as the
//     VNNI tile does would give 16 times the nibble, and VPMADDUBSW's
//     pairs of up to 2·240·128 would saturate int16). VPMADDUBSW of the
//     nibbles (≤ 15) by the broadcast activation dword gives int16 pairs
//     of at most 2·15·128 = 3840 in magnitude, so the eight chunks of a
//     sub-block add up in int16 exactly (≤ 30720 < 32767) with VPADDW;
//   - one VPMADDWD per sub-block and vector then both widens the pairs of
//     each row and multiplies them by the row's scale, the scales of the
//     sub-block's eight rows being put into both int16 of each row's
//     dword (VPBROADCASTQ of the sub-block's eight scale bytes, VPSHUFB):
//     sc·(p0+p1) in int32, exact, with no VPMULLD;
//   - sumMins is, per pair of sub-blocks, VPMADDWD of the rows' min pairs
//     (VPMOVZXBW) by the vector's broadcast pair of sub-block sums,
//     added with VPADDD (AVX2 has no VPDPWSSD);
//   - the float arithmetic is the VNNI tile's: VMULPS, VSUBPS, VADDPS in
//     dotQ4_KQ8_K's order, no FMA.
//
// The 8×4 tile keeps 12 accumulators (low and high sub-block, sumi) in
// registers, so its float sums (and the 8×3 tile's) live on the stack
// and its nibble mask is a memory operand.
//
// Measured against the avx2 table's row-major Q4_KMat (its 2×1 AVX2
// decode tile, the four-vector kernel row by row) on the same matrices,
// alternated in one loop (BenchmarkQ4_Kx8AVX2, BenchmarkQ4_Kx8AVX2DRAM:
// -count 6; medians, ranges in parentheses; ratio: median of the runs'
// ratios of best times), Zen 4 (EPYC, 2 vCPUs), the lead possibly
// benchmarking on the same machine; weight GB/s per call:
//
//	                           Q4_K (row-major)   Q4_Kx8 AVX2        ratio
//	896×1792, 1 vector, cache  21.2 (21.1-21.2)   48.4 (48.0-48.8)   2.29 (2.27-2.31)
//	896×4864, 1 vector, cache  22.6 (22.6-22.6)   48.3 (48.1-48.4)   2.13 (2.13-2.14)
//	896×4864, 4 vectors        6.9 (5.9-6.9)      17.7 (14.1-17.9)   2.55 (2.37-2.60)
//	896×4864, 8 vectors        3.4 (2.9-3.4)      8.7 (7.1-8.8)      2.54 (2.46-2.55)
//
// and one vector on ~300 MB of DRAM-resident copies on transparent huge
// pages (both layouts), GB/s of weights:
//
//	896×4864, 1 goroutine      15.6 (9.6-20.3)    17.3 (15.6-28.6)   1.42 (1.09-1.62)
//	896×4864, 2 goroutines     11.5 (9.8-15.3)    17.7 (15.4-24.2)   1.61 (1.38-1.85)
//	4864×1792, 1 goroutine     19.2 (18.4-19.7)   29.4 (28.8-30.1)   1.53 (1.50-1.59)
//	4864×1792, 2 goroutines    14.6 (11.3-15.3)   24.6 (20.4-25.6)   1.74 (1.62-2.06)
//
// so the avx2 table takes Q4_Kx8 (kernels_amd64.go).
//
// Signature (as the VNNI tiles'):
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)

// genQ4_Kx8AVX2 generates the Q4_Kx8 AVX2 tiles tileQ4_Kx8_8xCAVX2, C =
// 1..4, with the byte constants 0x3f, 0xc0 and 0x0f of genQ4_Kx8.
func genQ4_Kx8AVX2(c3f, cc0, c0f Mem) {
	// dup: VPSHUFB of eight scale bytes (in each 128-bit lane) to the
	// int16 pair (sc(r), sc(r)) at dword r.
	dup := GLOBL("k8dupw_avx2", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		r := i / 4 % 8
		if i%2 == 1 {
			DATA(i, U8(0x80))
		} else {
			DATA(i, U8(r))
		}
	}
	for C := 1; C <= 4; C++ {
		genTileQ4_Kx8AVX2(C, false, c3f, cc0, c0f, dup)
		if farTileK(C) {
			genTileQ4_Kx8AVX2(C, true, c3f, cc0, c0f, dup)
		}
	}
	c10 := byteMem("b10_k5avx2", 0x10)
	for _, C := range []int{1, 2, 4} {
		genTileKx8AVX2(fmt.Sprintf("tileQ5_Kx8_8x%dAVX2", C), "Q5_K", C, false, c3f, cc0, c0f, dup, c10)
	}
}

// genTileQ4_Kx8AVX2 generates the 8×C AVX2 tile, prefetching the weights
// widePrefetchK bytes ahead if far.
// avx2Sums are the float sums of an AVX2 tile's vectors, one YMM each:
// in registers (regs) for few vectors, otherwise on the stack at mem(c).
type avx2Sums struct {
	regs []VecVirtual
	mem  func(c int) Mem
	n    int
}

// newAVX2Sums returns the sums of C vectors, in registers if inReg.
func newAVX2Sums(inReg bool, C int, mem func(c int) Mem) avx2Sums {
	s := avx2Sums{mem: mem, n: C}
	if inReg {
		s.regs = make([]VecVirtual, C)
		for c := range s.regs {
			s.regs[c] = YMM()
		}
	}
	return s
}

// zero sets the sums to +0.
func (s avx2Sums) zero() {
	if s.regs != nil {
		for _, f := range s.regs {
			VPXOR(f, f, f)
		}
		return
	}
	z := YMM()
	VPXOR(z, z, z)
	for c := range s.n {
		VMOVDQU(z, s.mem(c))
	}
}

// add adds p to vector c's sum.
func (s avx2Sums) add(c int, p VecVirtual) {
	if s.regs != nil {
		VADDPS(p, s.regs[c], s.regs[c])
		return
	}
	f := YMM()
	VMOVUPS(s.mem(c), f)
	VADDPS(p, f, f)
	VMOVUPS(f, s.mem(c))
}

// load returns the sums in registers, loading them from the stack if they
// live there.
func (s avx2Sums) load() []VecVirtual {
	if s.regs != nil {
		return s.regs
	}
	fs := make([]VecVirtual, s.n)
	for c := range fs {
		fs[c] = YMM()
		VMOVUPS(s.mem(c), fs[c])
	}
	return fs
}

func genTileQ4_Kx8AVX2(C int, far bool, c3f, cc0, c0f, dup Mem) {
	name := fmt.Sprintf("tileQ4_Kx8_8x%dAVX2", C)
	if far {
		name = fmt.Sprintf("tileQ4_Kx8_8x%dFarAVX2", C)
	}
	genTileKx8AVX2(name, "Q4_K", C, far, c3f, cc0, c0f, dup, Mem{})
}

// genTileKx8AVX2 generates the 8×C AVX2 tile named name of Q4_Kx8 (base
// "Q4_K") or Q5_Kx8 ("Q5_K", c10 the 16s). Q5_Kx8's values have their
// fifth bits ORed in as the Q5_0x8 AVX2 tiles do (repack_avx2.go: each
// half-chunk's mask spread to bytes with VPSHUFB, VPAND, VPCMPEQB, 16
// kept with VPAND); up to 31, their VPMADDUBSW pairs (≤ 2·31·128 = 7936)
// add up in int16 for four chunks only (≤ 31744), so each half of a
// sub-block is widened and scaled (VPMADDWD by the scale pairs) on its
// own and added in int32. With one vector the spreading constants stay in
// registers. Against the avx2 table's row-major Q5_K MatFunc, one
// goroutine, in cache, 896×4864 (BenchmarkQ5_Kx8AVX2, -count 3): one
// vector 17.5-17.6 → 26.0-26.1 GB/s (×1.48), 4 vectors ×1.53, 8 ×1.53,
// 64 ×1.51; cerulean bench --kernels avx2 on a 1B Q5_K_M file (2048
// wide), repacked against --no-repack, two rounds each at ~60-67 GB/s:
// prefill 81 → 125-132 tokens/s, decode ÷ sustained bound 0.49-0.58 →
// 0.62-0.64.
func genTileKx8AVX2(name, base string, C int, far bool, c3f, cc0, c0f, dup, c10 Mem) {
	fifth := base == "Q5_K"
	size := k8Size
	if fifth {
		size = k5Size
	}
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[c*ystride+r] to the product of row r of the "+base+"x8 matrix w",
		"(rows of wstride bytes, contiguous) with the Q8_K vector at x[c*xstride:],",
		fmt.Sprintf("bit-identical to dot%sQ8_K, for r < rows (a multiple of 8) and c < %d, in AVX2.", base, C))
	fsumInReg, maskInReg := C <= 2, C <= 3
	if fifth {
		fsumInReg, maskInReg = C <= 1, C <= 2
	}
	// Stack: SC (64 bytes), MN (64), the sub-block sum pairs of each
	// vector (32 bytes each), then (C > 2) the float sums (32 bytes each).
	local := AllocLocal(128 + 64*C)
	sc, mn := local, local.Offset(64)
	pairs := func(c int) Mem { return local.Offset(128 + 32*c) }
	fmem := func(c int) Mem { return local.Offset(128 + 32*C + 32*c) }

	a := loadKx8Args(C)
	m0f := inRegister(maskInReg, c0f)
	fsum := newAVX2Sums(fsumInReg, C, fmem)
	spread, bits, sixteen := fifthOperands(fifth && C == 1, c10)

	l := a.beginRows(name, C, fsum.zero)
	wp, xm := l.wp, l.xm
	if far {
		prefetchAhead(wp, widePrefetchK, k8Size)
	}
	// Scales and mins to bytes: SC[i] = A[i]&63, SC[32+i] = C[i]&15 |
	// (A[i]>>6)<<4; MN likewise from B and C's high nibbles.
	{
		ra, rb, rc, t, u := YMM(), YMM(), YMM(), YMM(), YMM()
		VMOVDQU(Mem{Base: wp, Disp: k8A}, ra)
		VMOVDQU(Mem{Base: wp, Disp: k8A + 32}, rb)
		VMOVDQU(Mem{Base: wp, Disp: k8A + 64}, rc)
		VPAND(c3f, ra, t)
		VMOVDQU(t, sc)
		VPAND(c3f, rb, t)
		VMOVDQU(t, mn)
		VPAND(cc0, ra, t)
		VPSRLW(U8(2), t, t) // bits 4-5, the rest zero
		VPAND(c0f, rc, u)
		VPOR(u, t, t)
		VMOVDQU(t, sc.Offset(32))
		VPAND(cc0, rb, t)
		VPSRLW(U8(2), t, t)
		VPSRLW(U8(4), rc, u)
		VPAND(c0f, u, u)
		VPOR(u, t, t)
		VMOVDQU(t, mn.Offset(32))
	}
	// Each vector's sub-block sums, paired as int16: dwords 0, 1, 4, 5
	// hold the pairs of sub-blocks (0, 1), (2, 3), (4, 5), (6, 7).
	for c := 0; c < C; c++ {
		s := YMM()
		VMOVDQU(xm(c, 4+256), s)
		VPMADDWD(onesWMem, s, s)
		VPACKSSDW(s, s, s)
		VMOVDQU(s, pairs(c))
	}
	accL, accH, sumi := make([]VecVirtual, C), make([]VecVirtual, C), make([]VecVirtual, C)
	for c := range accL {
		accL[c], accH[c], sumi[c] = YMM(), YMM(), YMM()
	}
	// scalePairs returns the scales of sub-blocks 2g and 2g+1 as int16
	// pairs, sc(r) twice in dword r.
	scalePairs := func(g int) (sl, sh VecVirtual) {
		sl, sh = YMM(), YMM()
		VPBROADCASTQ(sc.Offset(8*(2*g)), sl)
		VPSHUFB(dup, sl, sl)
		VPBROADCASTQ(sc.Offset(8*(2*g+1)), sh)
		VPSHUFB(dup, sh, sh)
		return sl, sh
	}
	// flush adds sc·(p0+p1) per row of accL and accH (the int16 pair sums
	// of chunks since the last flush) to sumi, which it sets if first.
	flush := func(sl, sh VecVirtual, first bool) {
		for c := 0; c < C; c++ {
			VPMADDWD(sl, accL[c], accL[c])
			VPMADDWD(sh, accH[c], accH[c])
			if first {
				VPADDD(accL[c], accH[c], sumi[c])
			} else {
				VPADDD(accL[c], sumi[c], sumi[c])
				VPADDD(accH[c], sumi[c], sumi[c])
			}
		}
	}
	// Chunks per int16 sum: all eight of a sub-block (nibbles), or four
	// (five-bit values).
	run := 8
	if fifth {
		run = 4
	}
	for g := 0; g < 4; g++ {
		for k := 0; k < 8; k++ {
			lo, hi := YMM(), YMM()
			VMOVDQU(Mem{Base: wp, Disp: k8Quants + 32*(8*g+k)}, lo)
			VPSRLW(U8(4), lo, hi)
			VPAND(m0f, lo, lo)
			VPAND(m0f, hi, hi)
			if fifth {
				for h, q := range []VecVirtual{lo, hi} {
					orFifthBits(Mem{Base: wp, Disp: k5Masks + 8*(8*g+k) + 4*h}, q, spread, bits, sixteen)
				}
			}
			for c := 0; c < C; c++ {
				for h, q := range []VecVirtual{lo, hi} {
					acc := accL[c]
					if h == 1 {
						acc = accH[c]
					}
					b := YMM()
					VPBROADCASTD(xm(c, 4+64*g+32*h+4*k), b)
					if k%run == 0 {
						VPMADDUBSW(b, q, acc)
						continue
					}
					VPMADDUBSW(b, q, b)
					VPADDW(b, acc, acc)
				}
			}
			if k%run == run-1 {
				// The scale pairs are put together here, not held
				// through the chunks: the 8×4 tile has no register
				// left for them.
				sl, sh := scalePairs(g)
				flush(sl, sh, g == 0 && k < run)
			}
		}
	}
	mins := accL // free again
	for i, off := range []int{0, 4, 16, 20} {
		m := YMM()
		VPMOVZXBW(mn.Offset(16*i), m)
		for c := 0; c < C; c++ {
			p := YMM()
			VPBROADCASTD(pairs(c).Offset(off), p)
			if i == 0 {
				VPMADDWD(p, m, mins[c])
				continue
			}
			VPMADDWD(p, m, p)
			VPADDD(p, mins[c], mins[c])
		}
	}
	d, dm := YMM(), YMM()
	VCVTPH2PS(Mem{Base: wp}, d)
	VCVTPH2PS(Mem{Base: wp, Disp: k8Dmin}, dm)
	for c := 0; c < C; c++ {
		dy, t1, t2 := YMM(), YMM(), YMM()
		VBROADCASTSS(xm(c, 0), dy)
		VMULPS(d, dy, t1) // dy*d
		VCVTDQ2PS(sumi[c], sumi[c])
		VMULPS(sumi[c], t1, t1)
		VMULPS(dm, dy, t2) // dy*dmin
		VCVTDQ2PS(mins[c], mins[c])
		VMULPS(mins[c], t2, t2)
		VSUBPS(t2, t1, t1)
		fsum.add(c, t1)
	}
	a.endRows(name, l, size, fsum.load)
}
