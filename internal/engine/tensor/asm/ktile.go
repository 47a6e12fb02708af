package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The Q4_K decode tile computes four weight rows times one activation
// vector per pass over the vector's super-blocks. Its integer sums are the
// one-row kernel's (genK4): the same exact int32s Σ scale·(q·x) and Σ
// min·bsum per row and super-block, whatever the order they are added in.
// What it shares among the rows is the rest of the super-block's work,
// which in the one-row kernel costs about as much as the products:
//
//   - the sums of the activation block (VPHADDW of the bsums) and its
//     scale dy are loaded once for the four rows;
//   - the eight int32 lanes of the four rows' sums are reduced together
//     (a VPHADDD tree lands row r's sum in lane r of one XMM register), as
//     are the four rows' Σ min·bsum;
//   - the float arithmetic of the four rows runs as the four lanes of
//     packed XMM operations, in the one-row kernel's order and with its
//     operand order (which decides which NaN comes out):
//     sum += float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins).
//     Lane-wise IEEE operations give the scalar ones' results, so every
//     row's result is bit-identical to dotQ4_KAVX2's.
//
// The 6-bit scales and mins are unpacked per row in general-purpose
// registers as k4Scales does, but kept as bytes: VPSHUFB with a zero
// high byte (k4ByteShuf) broadcasts a scale as int16 straight from them.

// k4ByteShuf[i] broadcasts byte i of each 128-bit lane, zero-extended to
// an int16, to every word of the register.
var k4ByteShuf [8]Mem

// k4HalfPerm gathers words 0, 2, 4, 6 then 1, 3, 5, 7: the d then the dmin
// of four rows whose (d, dmin) pairs are in dwords 0..3.
var k4HalfPerm Mem

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

// genQ4_KTile generates tileQ4_K_4x1AVX2:
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)
//
// which sets y[r] = dotQ4_KAVX2(n, w[r*wstride:], x) for r < rows, four
// rows at a time (rows must be a multiple of 4).
//
// Like genTile's decode tiles it prefetches the next four rows with
// PREFETCHNTA while it computes these (rows are contiguous in MatMul;
// prefetches past the end of w are harmless): four interleaved row streams
// are followed badly by the hardware prefetchers. Measured on 896×4864
// matrices (2736-byte rows), one goroutine, interleaved with the one-row
// kernel called row by row, on a shared machine: in L3 the tile runs 1.31
// times faster with or without the prefetch and 1.33 times with the
// activations of each group of 64 values held in two registers rather than
// read by every row's VPMADDUBSW; rotating through 118 MB of such matrices
// (DRAM) it ran at 0.46-0.55 times the one-row kernel's speed without the
// prefetch, 0.78-1.03 with it (1.05-1.14 by the fastest runs), and 0.74-0.86
// when prefetching two groups ahead. In decode (BenchmarkDecodeEnv, 0.5B
// Q4_K model, one thread) the prefetching tile gave 77 tokens/s against 72
// (medians of six interleaved runs, which scattered by ±8 %), the tile
// without prefetch 52-59.
//
// Not kept: a 1×1 tile computing four consecutive blocks of a row at a
// time (lanes are blocks; their terms added in order), which streams one
// row sequentially: 1.08-1.16 times the one-row kernel in L3, 1.05-1.09 in
// DRAM, decode no faster than the one-row kernel.
func genQ4_KTile() {
	const R = 4
	genKTileConstants()
	name := fmt.Sprintf("tileQ4_K_%dx1AVX2", R)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(name+" sets y[r] to dotQ4_KAVX2(n, w[r*wstride:], x), bit-identical to it,",
		fmt.Sprintf("for r < rows; rows must be a multiple of %d.", R))
	w := Load(Param("w").Base(), GP64())
	ws := Load(Param("wstride"), GP64())
	ws3 := GP64()
	LEAQ(Mem{Base: ws, Index: ws, Scale: 2}, ws3)
	y := Load(Param("y").Base(), GP64())
	rows := Load(Param("rows"), GP64())
	m0f := byteConst(0x0f)
	pf := GP64()
	LEAQ(Mem{Base: w, Index: ws, Scale: R}, pf)

	Label(name + "_rows")
	CMPQ(rows, U32(0))
	JE(LabelRef(name + "_done"))
	sum := XMM()
	VXORPS(sum, sum, sum)
	n := Load(Param("n"), GP64())
	SHRQ(U8(8), n)
	wp := GP64()
	MOVQ(w, wp)
	xp := Load(Param("x").Base(), GP64())
	wm := strided(wp, ws, ws3, R)
	xm := Mem{Base: xp}

	Label(name + "_blocks")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	for off := 0; off < R*sizeQ4_K; off += 64 {
		PREFETCHNTA(Mem{Base: pf, Disp: off})
	}
	ADDQ(U32(R*sizeQ4_K), pf)
	k4Block4(wm, xm, m0f, sum)
	ADDQ(U32(sizeQ4_K), wp)
	ADDQ(U32(sizeQ8_K), xp)
	DECQ(n)
	JMP(LabelRef(name + "_blocks"))

	Label(name + "_store")
	VMOVUPS(sum, Mem{Base: y})
	LEAQ(Mem{Base: w, Index: ws, Scale: R}, w)
	ADDQ(U32(4*R), y)
	SUBQ(U32(R), rows)
	JMP(LabelRef(name + "_rows"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// k4Block4 adds to lane r of sum the term
// float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins) of the
// Q4_K block at wm[r] (r < 4) with the Q8_K block at xm.
func k4Block4(wm []Mem, xm Mem, m0f, sum VecVirtual) {
	const R = 4
	// Each row's scales (bytes 0..7) and mins (8..15) in both 128-bit
	// lanes.
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
		xs := []VecVirtual{YMM(), YMM()}
		VMOVDQU(xm.Offset(4+64*g), xs[0])
		VMOVDQU(xm.Offset(4+64*g+32), xs[1])
		for r := range sumi {
			lo, hi := YMM(), YMM()
			VMOVDQU(wm[r].Offset(16+32*g), lo)
			VPSRLW(U8(4), lo, hi)
			VPAND(m0f, lo, lo)
			VPAND(m0f, hi, hi)
			for i, q := range []VecVirtual{lo, hi} {
				VPMADDUBSW(xs[i], q, q)
				s := YMM()
				VPSHUFB(k4ByteShuf[2*g+i], sy[r], s)
				VPMADDWD(s, q, q)
				VPADDD(q, sumi[r], sumi[r])
			}
		}
	}
	// Row r's Σ scale·(q·x) to lane r: each VPHADDD level halves the
	// lanes per row, and the last step adds the two 128-bit lanes.
	VPHADDD(sumi[1], sumi[0], sumi[0])
	VPHADDD(sumi[3], sumi[2], sumi[2])
	VPHADDD(sumi[2], sumi[0], sumi[0])
	si := XMM()
	VEXTRACTI128(U8(1), sumi[0], si)
	VPADDD(sumi[0].AsX(), si, si)
	VCVTDQ2PS(si, si)

	// Σ min·bsum: sub-block j of 32 values covers sums 2j and 2j+1, whose
	// sum bh holds in word j of both lanes. The mins are taken after the
	// products (from sy), which keeps the loop above within 16 registers.
	bh, bt := YMM(), YMM()
	VBROADCASTI128(xm.Offset(260), bh)
	VBROADCASTI128(xm.Offset(276), bt)
	VPHADDW(bt, bh, bh)
	// Rows 0 and 2 (low and high lane), then 1 and 3.
	mm := []VecVirtual{YMM(), YMM()}
	for i := range mm {
		m := XMM()
		VPUNPCKHQDQ(sy[i+2].AsX(), sy[i].AsX(), m)
		VPMOVZXBW(m, mm[i])
		VPMADDWD(bh, mm[i], mm[i])
	}
	// Lanes: rows 0, 0, 1, 1 (low), 2, 2, 3, 3 (high); then 0, 1 (low),
	// 2, 3 (high) after one more level, and the low qword of each lane.
	mins := mm[0]
	VPHADDD(mm[1], mins, mins)
	VPHADDD(mins, mins, mins)
	VPERMQ(U8(0x08), mins, mins)
	VCVTDQ2PS(mins.AsX(), mins.AsX())

	// The rows' d and dmin: (d, dmin) of row r in dword r, then the four
	// d in words 0..3 and the four dmin in words 4..7, as float32 in one
	// YMM register, times dy. The operand order of each operation is
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
	VBROADCASTSS(xm, dy)
	VMULPS(dd, dy, dd)
	d, dm := dd.AsX(), XMM()
	VEXTRACTF128(U8(1), dd, dm)
	VMULPS(si, d, d)
	VMULPS(mins.AsX(), dm, dm)
	VSUBPS(dm, d, d)
	VADDPS(d, sum, sum)
}
