package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 VNNI tiles of Q6_Kx8 (repackq6.go in package tensor): per
// super-block of a group of eight rows, for each of its 16 sub-blocks j
// (16 values) and vector c, an int32 lane per row starts at -32·bsum_j
// (the activation sub-block's sum, from the Q8_K block, times the -32 of
// the weights' offset) and gathers four VPDPBUSD of the sub-block's
// values, each put together from a chunk of low nibbles and one of high
// bit pairs as dotQ6_KAVX2 does (see genQ6_K: the low or high nibble, and
// the two bits moved to bits 4 and 5), with the activation dword
// broadcast; then it is multiplied by the rows' int8 scales (VPMOVSXBD,
// VPMULLD) and added to the vector's sumi. The sums are exact, and the
// float work per super-block is dotQ6_KQ8_K's in lanes: float32(d_w·d_x)
// times float32(sumi), added to the row's sum; so the results are
// bit-identical to the reference.
const (
	k6Scales = 16             // after the eight fp16 d
	k6Chunks = k6Scales + 128 // the four quarters of chunks
	k6Size   = 8 * sizeQ6_K   // bytes per group-block
	q8KSums  = 4 + 256        // the int16 sub-block sums of a Q8_K block
)

// genQ6_Kx8 generates the Q6_Kx8 VNNI tiles tileQ6_Kx8_8xCVNNI, C = 1, 2
// and 4 (the MatFunc takes eight vectors as two fours), and the AVX2
// tiles tileQ6_Kx8_8xCAVX2 (genTileQ6_Kx8AVX2), C = 1, 2 and 4.
func genQ6_Kx8() {
	m0f, m30 := byteMem("b0f_k6", 0x0f), byteMem("b30_k6", 0x30)
	for _, C := range []int{1, 2, 4} {
		genTileQ6_Kx8(C, m0f, m30)
	}
	mffff := GLOBL("k6lo16", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(0xffff))
	}
	for _, C := range []int{1, 2, 4} {
		genTileQ6_Kx8AVX2(C, m0f, m30, mffff)
	}
}

// q6ChunkValues emits the values 128h+32t+4m+k (k < 4) of the eight rows
// of the Q6_Kx8 group-block at wp into v (EVEX or, with avx2, VEX
// instructions): the low (t < 2) or high nibble of ql chunk 16h+m (t
// even) or 16h+8+m (t odd), and bits 2t, 2t+1 of qh chunk 8h+m at bits 4
// and 5 (as genQ6_K puts them together). m0f and m30 are 0x0f and 0x30
// in every byte.
func q6ChunkValues(wp Register, h, is, t, m int, m0f, m30 Op, avx2 bool) VecVirtual {
	// Quarter 2h+is: ql chunks 16h+m, then 16h+8+m, then qh chunks 8h+m
	// (m from 4is), 4 of each.
	quarter := k6Chunks + 384*(2*h+is) + 32*(m%4)
	ql := Mem{Base: wp, Disp: quarter}
	if t%2 == 1 {
		ql = Mem{Base: wp, Disp: quarter + 128}
	}
	return q6Build(t, ql, Mem{Base: wp, Disp: quarter + 256}, m0f, m30, avx2)
}

// q6AddSums emits the float work of a super-block, dotQ6_KQ8_K's in
// lanes: float32(d_w·d_x)·float32(sumi[c]) of each vector c (its current
// block at xm(c, 0)), handed to add; sumi is clobbered.
func q6AddSums(wp Register, xm func(c, off int) Mem, sumi []VecVirtual, add func(c int, p VecVirtual)) {
	dw := YMM()
	VCVTPH2PS(Mem{Base: wp}, dw)
	for c := range sumi {
		p := YMM()
		VBROADCASTSS(xm(c, 0), p)
		VMULPS(p, dw, p)
		VCVTDQ2PS(sumi[c], sumi[c])
		VMULPS(sumi[c], p, p)
		add(c, p)
	}
}

// q6NegSums stores -32·bsum_j = -(bsum_j << 5) of the sixteen sub-blocks
// of each of C vectors' current blocks (l) to negSums(c, j), with EVEX or
// (avx2) VEX instructions.
func q6NegSums(l kx8Loop, C int, negSums func(c, j int) Mem, avx2 bool) {
	for c := 0; c < C; c++ {
		zr := YMM()
		if avx2 {
			VPXOR(zr, zr, zr)
		} else {
			VPXORD(zr, zr, zr)
		}
		for half := 0; half < 2; half++ {
			s := YMM()
			VPMOVSXWD(l.xm(c, q8KSums+16*half), s)
			VPSLLD(U8(5), s, s)
			VPSUBD(s, zr, s)
			if avx2 {
				VMOVDQU(s, negSums(c, 8*half))
			} else {
				VMOVDQU64(s, negSums(c, 8*half))
			}
		}
	}
}

// genTileQ6_Kx8 generates the 8×C tile, with genTileQ4_Kx8's signature:
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)
func genTileQ6_Kx8(C int, m0fMem, m30Mem Mem) {
	name := fmt.Sprintf("tileQ6_Kx8_8x%dVNNI", C)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[c*ystride+r] to the product of row r of the Q6_Kx8 matrix w",
		"(rows of wstride bytes, contiguous) with the Q8_K vector at x[c*xstride:],",
		fmt.Sprintf("bit-identical to dotQ6_KQ8_K, for r < rows (a multiple of 8) and c < %d.", C))
	// Stack: -32·bsum_j of each vector, 16 int32 each.
	local := AllocLocal(64 * C)
	negSums := func(c, j int) Mem { return local.Offset(64*c + 4*j) }

	a := loadKx8Args(C)
	m0f, m30 := YMM(), YMM()
	VMOVDQU64(m0fMem, m0f)
	VMOVDQU64(m30Mem, m30)
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
	q6NegSums(l, C, negSums, false)
	sumi, acc := make([]VecVirtual, C), make([]VecVirtual, C)
	for c := range sumi {
		sumi[c], acc[c] = YMM(), YMM()
		VPXORD(sumi[c], sumi[c], sumi[c])
	}
	for h := 0; h < 2; h++ {
		for is := 0; is < 2; is++ {
			for t := 0; t < 4; t++ {
				j := 8*h + is + 2*t
				for c := 0; c < C; c++ {
					VPBROADCASTD(negSums(c, j), acc[c])
				}
				for m := 4 * is; m < 4*is+4; m++ {
					v := q6ChunkValues(wp, h, is, t, m, m0f, m30, false)
					for c := 0; c < C; c++ {
						VPDPBUSD_BCST(xm(c, 4+128*h+32*t+4*m), v, acc[c])
					}
				}
				sc := YMM()
				VPMOVSXBD(Mem{Base: wp, Disp: k6Scales + 8*j}, sc)
				for c := 0; c < C; c++ {
					VPMULLD(sc, acc[c], acc[c])
					VPADDD(acc[c], sumi[c], sumi[c])
				}
			}
		}
	}
	q6AddSums(wp, xm, sumi, func(c int, p VecVirtual) { VADDPS(p, fsum[c], fsum[c]) })
	a.endRows(name, l, k6Size, func() []VecVirtual { return fsum })
}

// genTileQ6_Kx8AVX2 generates the 8×C AVX2 tile of Q6_Kx8, with
// genTileQ6_Kx8's signature and results, for CPUs without VNNI: each
// chunk's values (≤ 63) times the broadcast activation dword by
// VPMADDUBSW (pairs of at most 2·63·128 = 16128, exact in int16), the
// pairs times the rows' scale, duplicated into both words of its lane,
// by VPMADDWD into int32, added to sumi, which starts each sub-block
// with VPMULLD of the scales and -32·bsum_j. With four vectors the float
// sums live on the stack (16 YMM registers). Against the avx2 table's
// row-major Q6_K MatFunc, one goroutine, in cache (BenchmarkQ6_Kx8AVX2, two
// runs): one vector ×1.31, four ×1.22-1.24, eight ×1.21, 64 ×1.26; from
// DRAM on huge pages at two goroutines (StreamVsProbe with the avx2 table
// and a row-major stream, four runs at ~34 GB/s) 0.91-0.98 of the probe
// against 0.80-0.82.
func genTileQ6_Kx8AVX2(C int, m0fMem, m30Mem, mffff Mem) {
	name := fmt.Sprintf("tileQ6_Kx8_8x%dAVX2", C)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[c*ystride+r] to the product of row r of the Q6_Kx8 matrix w",
		"(rows of wstride bytes, contiguous) with the Q8_K vector at x[c*xstride:],",
		fmt.Sprintf("bit-identical to dotQ6_KQ8_K, for r < rows (a multiple of 8) and c < %d, in AVX2.", C))
	fsumInReg := C <= 2
	// Stack: -32·bsum_j of each vector (64 bytes each), then (C > 2) the
	// float sums (32 bytes each).
	local := AllocLocal(96 * C)
	negSums := func(c, j int) Mem { return local.Offset(64*c + 4*j) }
	fmem := func(c int) Mem { return local.Offset(64*C + 32*c) }

	a := loadKx8Args(C)
	m0f, m30 := inRegister(fsumInReg, m0fMem), inRegister(fsumInReg, m30Mem)
	fsum := newAVX2Sums(fsumInReg, C, fmem)

	l := a.beginRows(name, C, fsum.zero)
	wp, xm := l.wp, l.xm
	q6NegSums(l, C, negSums, true)
	sumi := make([]VecVirtual, C)
	for c := range sumi {
		sumi[c] = YMM()
		VPXOR(sumi[c], sumi[c], sumi[c])
	}
	for h := 0; h < 2; h++ {
		for is := 0; is < 2; is++ {
			for t := 0; t < 4; t++ {
				j := 8*h + is + 2*t
				// The rows' scales as int32 lanes, and as the same
				// int16 in both words of each lane.
				sc, scw := YMM(), YMM()
				VPMOVSXBD(Mem{Base: wp, Disp: k6Scales + 8*j}, sc)
				for c := 0; c < C; c++ {
					o := YMM()
					VPBROADCASTD(negSums(c, j), o)
					VPMULLD(sc, o, o)
					VPADDD(o, sumi[c], sumi[c])
				}
				VPSLLD(U8(16), sc, scw)
				VPAND(mffff, sc, sc)
				VPOR(sc, scw, scw)
				for m := 4 * is; m < 4*is+4; m++ {
					v := q6ChunkValues(wp, h, is, t, m, m0f, m30, true)
					for c := 0; c < C; c++ {
						p := YMM()
						VPBROADCASTD(xm(c, 4+128*h+32*t+4*m), p)
						VPMADDUBSW(p, v, p)
						VPMADDWD(scw, p, p)
						VPADDD(p, sumi[c], sumi[c])
					}
				}
			}
		}
	}
	q6AddSums(wp, xm, sumi, fsum.add)
	a.endRows(name, l, k6Size, fsum.load)
}
