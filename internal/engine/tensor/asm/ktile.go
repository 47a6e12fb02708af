package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Q4_K decode tiles compute two weight rows times one activation
// vector, two super-blocks at a time: four (row, block) pairs, the lanes
// of the code below (k4Terms). Their integer sums are the one-row kernel's
// (genK4): the same exact int32s Σ scale·(q·x) and Σ min·bsum per row and
// super-block, whatever the order they are added in. What the lanes share
// is the rest of a super-block's work, which in the one-row kernel costs
// about as much as the products:
//
//   - the eight int32 lanes of the four pairs' sums are reduced together
//     (a VPHADDD tree lands pair k's sum in lane k of one XMM register), as
//     are the four Σ min·bsum;
//   - the float arithmetic of the four pairs runs as the four lanes of
//     packed XMM operations, with the one-row kernel's operations and
//     operand order (which decides which NaN comes out):
//     term = float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins).
//     Lane-wise IEEE operations give the scalar ones' results;
//   - the activation block of the two rows (its 256 values in registers,
//     the VPHADDW of its sums) is loaded once for both.
//
// Each row then adds its terms to its sum in block order (sum += term of
// block b, then of block b+1), as the one-row kernel does, so every result
// is bit-identical to dotQ4_KAVX2's.
//
// The 6-bit scales and mins are unpacked per (row, block) in
// general-purpose registers as k4Scales does, but kept as bytes: VPSHUFB
// with a zero high byte (k4ByteShuf) broadcasts a scale as int16 straight
// from them.
//
// The VNNI tile is the same with VPDPWSSD (int16 pairs times the scale,
// added to the int32 lanes; AVX512_VNNI, EVEX-encoded) for each
// VPMADDWD+VPADDD pair. It stays within the sixteen registers the
// VEX-only instructions here (VPHADDD, VPHADDW) can name.

// k4ByteShuf[i] broadcasts byte i of each 128-bit lane, zero-extended to
// an int16, to every word of the register.
var k4ByteShuf [8]Mem

// k4HalfPerm gathers words 0, 2, 4, 6 then 1, 3, 5, 7: the d then the dmin
// of four blocks whose (d, dmin) pairs are in dwords 0..3.
var k4HalfPerm Mem

// genKTileConstants emits the read-only constants of the Q4_K tiles.
func genKTileConstants() {
	for i := range k4ByteShuf {
		k4ByteShuf[i] = GLOBL(fmt.Sprintf("k4bshuf%d", i), RODATA|NOPTR)
		for j := 0; j < 32; j += 2 {
			DATA(j, U8(i))
			DATA(j+1, U8(0x80))
		}
	}
	k4HalfPerm = GLOBL("k4halfperm", RODATA|NOPTR)
	for j, w := range []int{0, 2, 4, 6, 1, 3, 5, 7} {
		DATA(2*j, U8(2*w))
		DATA(2*j+1, U8(2*w+1))
	}
}

// k4ScaleBytes unpacks the 12 packed bytes at m (6-bit scales and mins of
// a Q4_K block) into two general-purpose registers of eight bytes each,
// as k4Scales does.
func k4ScaleBytes(m Mem) (scales, mins GPVirtual) {
	a0, a1, a2 := GP64(), GP64(), GP64()
	MOVL(m, a0.As32())
	MOVL(m.Offset(4), a1.As32())
	MOVL(m.Offset(8), a2.As32())
	hi := func(nib, top GPVirtual, shift uint8) GPVirtual {
		r, t := GP64(), GP64()
		MOVL(nib.As32(), r.As32())
		if shift > 0 {
			SHRL(U8(shift), r.As32())
		}
		ANDL(U32(0x0f0f0f0f), r.As32())
		MOVL(top.As32(), t.As32())
		SHRL(U8(6), t.As32())
		ANDL(U32(0x03030303), t.As32())
		SHLL(U8(4), t.As32())
		ORL(t.As32(), r.As32())
		return r
	}
	sHi := hi(a2, a0, 0)
	mHi := hi(a2, a1, 4)
	ANDL(U32(0x3f3f3f3f), a0.As32())
	ANDL(U32(0x3f3f3f3f), a1.As32())
	SHLQ(U8(32), sHi)
	ORQ(sHi, a0)
	SHLQ(U8(32), mHi)
	ORQ(mHi, a1)
	return a0, a1
}

// genQ4_KTile generates tileQ4_K_2x1AVX2 and tileQ4_K_2x1VNNI:
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)
//
// which set y[r] = dotQ4_KAVX2(n, w[r*wstride:], x) for r < rows, two rows
// at a time (rows must be even).
//
// Like genTile's Q8_0 decode tile they prefetch the next group of rows with
// PREFETCHNTA while they compute this one (rows are contiguous in MatMul;
// prefetches past the end of w are harmless): several interleaved row
// streams are followed badly by the hardware prefetchers. Measured on
// 896×4864 matrices (2736-byte rows), one goroutine, interleaved with the
// one-row kernel called row by row, on a machine another benchmark shared
// (ratios to the one-row kernel, medians of 400 calls; the low DRAM
// figures are from runs while the other benchmark loaded memory most):
//
//	                              in L3       DRAM (118 MB rotated)
//	4 rows × 1 block, AVX2       1.28-1.33   0.80-1.05
//	4 rows × 1 block, VNNI       1.39-1.43   0.80-1.09
//	2 rows × 2 blocks, AVX2      1.23-1.24   0.86-1.10
//	2 rows × 2 blocks, VNNI      1.30-1.31   0.90-1.13
//
// (by the fastest calls, 1.1-1.4 in DRAM for all four). Without the
// prefetch the 4×1 tile ran at 0.46-0.55 in DRAM and the 2×1 one at
// 0.44-0.49; prefetching two groups ahead (0.74-1.04), each row of the next
// group at the block being computed (0.67-0.96) or with PREFETCHT1
// (0.70-0.77) was worse. The two-row tile is kept for its DRAM figures,
// which are what decode sees: its weights do not fit in the caches. In
// decode itself (BenchmarkDecodeEnv, 0.5B Q4_K model, one thread) the
// differences between the one-row kernel and either tile were within the
// noise of the shared machine (±15 % in tokens/s and in the kernel's
// share of the CPU profile).
//
// Also tried: a 1×1 tile of four consecutive blocks of a row per step,
// which streams one row sequentially: 1.08-1.16 in L3, 1.05-1.09 in DRAM.
func genQ4_KTile() {
	genKTileConstants()
	genQ4_KTile2("AVX2", false)
	genQ4_KTile2("VNNI", true)
}

// genQ4_KTile2 generates the 2×1 tile named by suffix, with VPDPWSSD if
// vnni. Lanes: rows 0 and 1 of block b, then of block b+1; an odd last
// block takes all four lanes (rows 0, 1, 0, 1), of which the first two are
// added to the rows' sums.
func genQ4_KTile2(suffix string, vnni bool) {
	const R = 2
	name := fmt.Sprintf("tileQ4_K_%dx1%s", R, suffix)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[r] to dotQ4_KAVX2(n, w[r*wstride:], x), bit-identical to it,",
		fmt.Sprintf("for r < rows; rows must be a multiple of %d.", R))
	w := Load(Param("w").Base(), GP64())
	ws := Load(Param("wstride"), GP64())
	y := Load(Param("y").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	m0f := byteConst(0x0f)
	pf := GP64()

	Label(name + "_rows")
	CMPQ(rows, U32(0))
	JE(LabelRef(name + "_done"))
	LEAQ(Mem{Base: w, Index: ws, Scale: R}, pf)
	sum := XMM()
	VXORPS(sum, sum, sum)
	n := Load(Param("n"), GP64())
	SHRQ(U8(8), n)
	wp := GP64()
	MOVQ(w, wp)
	xp := Load(Param("x").Base(), GP64())
	w0, w1 := Mem{Base: wp}, Mem{Base: wp, Index: ws, Scale: 1}
	x0 := Mem{Base: xp}

	Label(name + "_pairs")
	CMPQ(n, U32(2))
	JB(LabelRef(name + "_tail"))
	for off := 0; off < 2*R*sizeQ4_K; off += 64 {
		PREFETCHNTA(Mem{Base: pf, Disp: off})
	}
	ADDQ(U32(2*R*sizeQ4_K), pf)
	t := k4Terms([]Mem{w0, w1, w0.Offset(sizeQ4_K), w1.Offset(sizeQ4_K)},
		[]Mem{x0, x0, x0.Offset(sizeQ8_K), x0.Offset(sizeQ8_K)}, m0f, vnni)
	VADDPS(t, sum, sum)
	u := XMM()
	VMOVHLPS(t, t, u)
	VADDPS(u, sum, sum)
	ADDQ(U32(2*sizeQ4_K), wp)
	ADDQ(U32(2*sizeQ8_K), xp)
	SUBQ(U32(2), n)
	JMP(LabelRef(name + "_pairs"))

	Label(name + "_tail")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	t = k4Terms([]Mem{w0, w1, w0, w1}, []Mem{x0, x0, x0, x0}, m0f, vnni)
	VADDPS(t, sum, sum)

	Label(name + "_store")
	VMOVQ(sum, Mem{Base: y})
	LEAQ(Mem{Base: w, Index: ws, Scale: R}, w)
	ADDQ(U32(4*R), y)
	SUBQ(U32(R), rows)
	JMP(LabelRef(name + "_rows"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// k4Terms returns in lane k of an XMM register the term
// float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins) of the
// Q4_K block at wm[k] with the Q8_K block at xm[k], k < 4. Lanes with the
// same activation block next to each other share its loads.
func k4Terms(wm, xm []Mem, m0f VecVirtual, vnni bool) VecVirtual {
	const R = 4
	// Each lane's scales (bytes 0..7) and mins (8..15) in both 128-bit
	// halves of a register.
	sy := make([]VecVirtual, R)
	for r := range sy {
		sc, mn := k4ScaleBytes(wm[r].Offset(4))
		sx := XMM()
		VMOVQ(sc, sx)
		VPINSRQ(U8(1), mn, sx, sx)
		sy[r] = YMM()
		VINSERTI128(U8(1), sx, sx.AsY(), sy[r])
	}
	sumi := make([]VecVirtual, R)
	for r := range sumi {
		sumi[r] = YMM()
	}
	zero(sumi...)
	for g := 0; g < 4; g++ {
		var xs []VecVirtual
		for r := range sumi {
			if r == 0 || xm[r] != xm[r-1] {
				xs = []VecVirtual{YMM(), YMM()}
				VMOVDQU(xm[r].Offset(4+64*g), xs[0])
				VMOVDQU(xm[r].Offset(4+64*g+32), xs[1])
			}
			lo, hi := YMM(), YMM()
			VMOVDQU(wm[r].Offset(16+32*g), lo)
			VPSRLW(U8(4), lo, hi)
			VPAND(m0f, lo, lo)
			VPAND(m0f, hi, hi)
			for i, q := range []VecVirtual{lo, hi} {
				VPMADDUBSW(xs[i], q, q)
				s := YMM()
				VPSHUFB(k4ByteShuf[2*g+i], sy[r], s)
				if vnni {
					VPDPWSSD(s, q, sumi[r])
				} else {
					VPMADDWD(s, q, q)
					VPADDD(q, sumi[r], sumi[r])
				}
			}
		}
	}
	// Lane k's Σ scale·(q·x) to lane k: each VPHADDD level halves the
	// int32s per lane, and the last step adds the two 128-bit halves.
	VPHADDD(sumi[1], sumi[0], sumi[0])
	VPHADDD(sumi[3], sumi[2], sumi[2])
	VPHADDD(sumi[2], sumi[0], sumi[0])
	si := XMM()
	VEXTRACTI128(U8(1), sumi[0], si)
	VPADDD(sumi[0].AsX(), si, si)
	VCVTDQ2PS(si, si)

	// Σ min·bsum: sub-block j of 32 values covers sums 2j and 2j+1, whose
	// sum bh holds in word j (of the activation block of lane k in the low
	// half, of lane k+2 in the high one). The mins are taken after the
	// products (from sy), which keeps the loop above within 16 registers.
	// Lanes 0 and 2 (low and high half), then 1 and 3.
	mm := []VecVirtual{YMM(), YMM()}
	var bh VecVirtual
	for i := range mm {
		if i == 0 || xm[i] != xm[i-1] || xm[i+2] != xm[i+1] {
			bh = YMM()
			bt := YMM()
			if xm[i] == xm[i+2] {
				VBROADCASTI128(xm[i].Offset(260), bh)
				VBROADCASTI128(xm[i].Offset(276), bt)
			} else {
				// Whole-register destinations: avo would keep a
				// register written only in its low half live from the
				// start of the function.
				l, h := XMM(), XMM()
				VMOVDQU(xm[i].Offset(260), l)
				VINSERTI128(U8(1), xm[i+2].Offset(260), l.AsY(), bh)
				VMOVDQU(xm[i].Offset(276), h)
				VINSERTI128(U8(1), xm[i+2].Offset(276), h.AsY(), bt)
			}
			VPHADDW(bt, bh, bh)
		}
		m := XMM()
		VPUNPCKHQDQ(sy[i+2].AsX(), sy[i].AsX(), m)
		VPMOVZXBW(m, mm[i])
		VPMADDWD(bh, mm[i], mm[i])
	}
	// The int32s of lanes 0, 0, 1, 1 (low half), 2, 2, 3, 3 (high); then
	// 0, 1 (low), 2, 3 (high) after one more level, and the low qword of
	// each half.
	mins := mm[0]
	VPHADDD(mm[1], mins, mins)
	VPHADDD(mins, mins, mins)
	VPERMQ(U8(0x08), mins, mins)
	VCVTDQ2PS(mins.AsX(), mins.AsX())

	// The blocks' d and dmin: (d, dmin) of lane k in dword k, then the
	// four d in words 0..3 and the four dmin in words 4..7, as float32 in
	// one YMM register, times dy. The operand order of each operation is
	// genK4's.
	dx := XMM()
	for h := 0; h < 2; h++ {
		d, t := GP64(), GP64()
		MOVL(wm[2*h], d.As32())
		MOVL(wm[2*h+1], t.As32())
		SHLQ(U8(32), t)
		ORQ(t, d)
		if h == 0 {
			VMOVQ(d, dx)
		} else {
			VPINSRQ(U8(1), d, dx, dx)
		}
	}
	VPSHUFB(k4HalfPerm, dx, dx)
	dd, dy := YMM(), YMM()
	VCVTPH2PS(dx, dd)
	if xm[0] == xm[1] && xm[0] == xm[2] && xm[0] == xm[3] {
		VBROADCASTSS(xm[0], dy)
	} else {
		d4 := XMM()
		VMOVSS(xm[0], d4)
		for k := 1; k < 4; k++ {
			VINSERTPS(U8(k<<4), xm[k], d4, d4)
		}
		VINSERTF128(U8(1), d4, d4.AsY(), dy)
	}
	VMULPS(dd, dy, dd)
	d, dm := dd.AsX(), XMM()
	VEXTRACTF128(U8(1), dd, dm)
	VMULPS(si, d, d)
	VMULPS(mins.AsX(), dm, dm)
	VSUBPS(dm, d, d)
	return d.(VecVirtual)
}
