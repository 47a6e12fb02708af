package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The k-quant kernels reduce each 256-value super-block to one exact int32
// (or two, with the mins) and then do the block's float arithmetic in
// scalar registers, in the same order as the pure-Go reference. Their
// results are therefore bit-identical to it.
//
// Q8_K activations: d (float32) at 0, 256 int8 at 4, 16 int16 sums of 16
// values at 260. The Q6_K kernel uses those sums (as the Q4_K and Q5_K
// ones do for the mins), so they must be right, as QuantizeActivations
// makes them.

// sumD4 reduces the four int32 lanes of t to lane 0, in place.
func sumD4(t VecVirtual) {
	u := XMM()
	VPSHUFD(U8(0x4e), t, u)
	VPADDD(u, t, t)
	VPSHUFD(U8(0xb1), t, u)
	VPADDD(u, t, t)
}

// k4Scales unpacks the 12 packed bytes at m (6-bit scales and mins of a
// Q4_K or Q5_K block) into two XMM registers of eight int16 each.
func k4Scales(m Mem) (scales, mins VecVirtual) {
	a0, a1, a2 := GP32(), GP32(), GP32()
	MOVL(m, a0)
	MOVL(m.Offset(4), a1)
	MOVL(m.Offset(8), a2)
	// Scales 0..3: low 6 bits of bytes 0..3; mins 0..3: of bytes 4..7.
	// Scales 4..7: low nibbles of bytes 8..11, top bits from the top two
	// bits of bytes 0..3; mins 4..7: high nibbles of bytes 8..11, top
	// bits from bytes 4..7.
	hi := func(nib Register, shift uint8, top Register) Register {
		r, t := GP32(), GP32()
		MOVL(nib, r)
		if shift > 0 {
			SHRL(U8(shift), r)
		}
		ANDL(U32(0x0f0f0f0f), r)
		MOVL(top, t)
		SHRL(U8(6), t)
		ANDL(U32(0x03030303), t)
		SHLL(U8(4), t)
		ORL(t, r)
		return r
	}
	sHi := hi(a2, 0, a0)
	mHi := hi(a2, 4, a1)
	ANDL(U32(0x3f3f3f3f), a0)
	ANDL(U32(0x3f3f3f3f), a1)
	scales, mins = XMM(), XMM()
	VMOVD(a0, scales)
	VPINSRD(U8(1), sHi, scales, scales)
	VPMOVZXBW(scales, scales)
	VMOVD(a1, mins)
	VPINSRD(U8(1), mHi, mins, mins)
	VPMOVZXBW(mins, mins)
	return scales, mins
}

// shiftBit returns src with bit s of every byte moved to bit 4 (other bits
// are garbage; the caller masks with 0x10).
func shiftBit(src VecVirtual, s int) VecVirtual {
	d := YMM()
	switch {
	case s < 4:
		VPSLLW(U8(4-s), src, d)
	case s > 4:
		VPSRLW(U8(s-4), src, d)
	default:
		VMOVDQU(src, d)
	}
	return d
}

// genK4 generates the Q4_K (qh < 0) or Q5_K (qh = offset of the high bits)
// kernel.
func genK4(name, doc string, size, qhOff, qsOff int) {
	TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
	Pragma("noescape")
	Doc(doc)
	n, w, x := dotParams()
	SHRQ(U8(8), n)
	wm, xm := Mem{Base: w}, Mem{Base: x}
	m0f := byteConst(0x0f)
	var m10 VecVirtual
	if qhOff >= 0 {
		m10 = byteConst(0x10)
	}
	sum := XMM()
	VXORPS(sum, sum, sum)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))

	scales, mins := k4Scales(wm.Offset(4))
	// Σ mins·bsums: sub-block j of 32 values covers sums 2j and 2j+1.
	bs, bh := YMM(), XMM()
	VMOVDQU(xm.Offset(260), bs)
	VEXTRACTI128(U8(1), bs, bh)
	VPHADDW(bh, bs.AsX(), bh)
	VPMADDWD(mins, bh, bh)
	sumD4(bh)

	sy := YMM()
	VINSERTI128(U8(1), scales, scales.AsY(), sy)
	var qh VecVirtual
	if qhOff >= 0 {
		qh = YMM()
		VMOVDQU(wm.Offset(qhOff), qh)
	}
	sumi := []VecVirtual{YMM(), YMM()}
	zero(sumi...)
	for g := 0; g < 4; g++ {
		lo, hi := YMM(), YMM()
		VMOVDQU(wm.Offset(qsOff+32*g), lo)
		VPSRLW(U8(4), lo, hi)
		VPAND(m0f, lo, lo)
		VPAND(m0f, hi, hi)
		if qhOff >= 0 {
			for i, q := range []VecVirtual{lo, hi} {
				b := shiftBit(qh, 2*g+i)
				VPAND(m10, b, b)
				VPOR(b, q, q)
			}
		}
		for i, q := range []VecVirtual{lo, hi} {
			VPMADDUBSW(xm.Offset(4+64*g+32*i), q, q)
			s := YMM()
			VPSHUFB(k4Shuf[2*g+i], sy, s)
			VPMADDWD(s, q, q)
			VPADDD(q, sumi[i], sumi[i])
		}
	}
	VPADDD(sumi[1], sumi[0], sumi[0])
	si := sumD(sumi[0])
	VCVTDQ2PS(si, si)
	VCVTDQ2PS(bh, bh)

	// sum += float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins)
	dy := XMM()
	VMOVSS(xm, dy)
	d := halfScalar(wm)
	VMULSS(d, dy, d)
	VMULSS(si, d, d)
	dm := halfScalar(wm.Offset(2))
	VMULSS(dm, dy, dm)
	VMULSS(bh, dm, dm)
	VSUBSS(dm, d, d)
	VADDSS(d, sum, sum)

	ADDQ(U32(size), w)
	ADDQ(U32(sizeQ8_K), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_done")
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()
}

func genQ4_K() {
	genK4("dotQ4_KAVX2", "dotQ4_KAVX2 is dotQ4_KQ8_K with AVX2; bit-identical to it.", sizeQ4_K, -1, 16)
	genK4x4("dotQ4_Kx4AVX2", []string{"dotQ4_Kx4AVX2 is dotQ4_KAVX2 of one weight row with four activation",
		"rows, the r-th at x[r*stride:], into dst[r]; bit-identical to it."}, sizeQ4_K, -1, 16)
}

func genQ5_K() {
	genK4("dotQ5_KAVX2", "dotQ5_KAVX2 is dotQ5_KQ8_K with AVX2; bit-identical to it.", sizeQ5_K, 16, 48)
	genK4x4("dotQ5_Kx4AVX2", []string{"dotQ5_Kx4AVX2 is dotQ5_KAVX2 of one weight row with four activation",
		"rows, the r-th at x[r*stride:], into dst[r]; bit-identical to it."}, sizeQ5_K, 16, 48)
}

// genQ6_K generates the Q6_K kernel. A Q6_K block: 128 bytes of low
// nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales (one per 16
// values) at 192 and d (f16) at 208. The values are q-32 with q in 0..63;
// the kernel multiplies the unsigned q and subtracts 32·Σ scale·bsum once
// per block.
func genQ6_K() {
	const name = "dotQ6_KAVX2"
	TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
	Pragma("noescape")
	Doc("dotQ6_KAVX2 is dotQ6_KQ8_K with AVX2; bit-identical to it when the Q8_K",
		"block sums are right.")
	n, w, x := dotParams()
	SHRQ(U8(8), n)
	wm, xm := Mem{Base: w}, Mem{Base: x}
	m0f, m30 := byteConst(0x0f), byteConst(0x30)
	sum := XMM()
	VXORPS(sum, sum, sum)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	sumi := []VecVirtual{YMM(), YMM()}
	zero(sumi...)
	for h := 0; h < 2; h++ {
		sc := XMM()
		VPMOVSXBW(wm.Offset(192+8*h), sc)
		sy := YMM()
		VINSERTI128(U8(1), sc, sc.AsY(), sy)
		ql0, ql1, qh := YMM(), YMM(), YMM()
		VMOVDQU(wm.Offset(64*h), ql0)
		VMOVDQU(wm.Offset(64*h+32), ql1)
		VMOVDQU(wm.Offset(128+32*h), qh)
		for k := 0; k < 4; k++ {
			q, t := q6Build(k, q6Half(k, ql0, ql1), qh, m0f, m30, true), YMM()
			VPMADDUBSW(xm.Offset(4+128*h+32*k), q, q)
			VPSHUFB(k6Shuf[k], sy, t)
			VPMADDWD(t, q, q)
			VPADDD(q, sumi[k%2], sumi[k%2])
		}
	}
	// The -32 offset: 32·Σ scale[j]·bsum[j].
	s16 := YMM()
	VPMOVSXBW(wm.Offset(192), s16)
	VPMADDWD(xm.Offset(260), s16, s16)
	VPSLLD(U8(5), s16, s16)
	VPADDD(sumi[1], sumi[0], sumi[0])
	VPSUBD(s16, sumi[0], sumi[0])
	si := sumD(sumi[0])
	VCVTDQ2PS(si, si)

	// sum += float32(float32(d*dy) * sumi)
	d := halfScalar(wm.Offset(208))
	dy := XMM()
	VMOVSS(xm, dy)
	VMULSS(dy, d, d)
	VMULSS(si, d, d)
	VADDSS(d, sum, sum)

	ADDQ(U32(sizeQ6_K), w)
	ADDQ(U32(sizeQ8_K), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_done")
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()
}

// q6Build puts together values l+32k of a Q6_K half-block (or of a
// Q6_Kx8 chunk, see q6ChunkValues) into a new register: the low (k < 2) or
// high nibble of ql (ql[l], or ql[l+32] for odd k, in a register or in
// memory), and bits 2k, 2k+1 of qh at bits 4, 5; m0f and m30 hold 0x0f and
// 0x30 in every byte. With avx2 it uses VEX instructions (m0f may then be
// in memory, so ql in memory is loaded first), otherwise EVEX ones.
func q6Build(k int, ql, qh, m0f, m30 Op, avx2 bool) VecVirtual {
	and := func(a, b, c Op) { VPANDD(a, b, c) }
	or := func(a, b, c Op) { VPORD(a, b, c) }
	load := func(a, b Op) { VMOVDQU64(a, b) }
	if avx2 {
		and = func(a, b, c Op) { VPAND(a, b, c) }
		or = func(a, b, c Op) { VPOR(a, b, c) }
		load = func(a, b Op) { VMOVDQU(a, b) }
	}
	_, qlMem := ql.(Mem)
	v, b := YMM(), YMM()
	switch {
	case k >= 2:
		VPSRLW(U8(4), ql, v)
		and(m0f, v, v)
	case avx2 && qlMem:
		load(ql, v)
		and(m0f, v, v)
	case avx2:
		and(m0f, ql, v)
	default:
		and(ql, m0f, v)
	}
	switch k {
	case 0:
		VPSLLW(U8(4), qh, b)
	case 1:
		VPSLLW(U8(2), qh, b)
	case 2:
		load(qh, b)
	case 3:
		VPSRLW(U8(2), qh, b)
	}
	and(m30, b, b)
	or(b, v, v)
	return v
}

// q6Half returns ql0 for even k, else ql1: the low nibbles q6Build takes
// from a half-block held in registers.
func q6Half(k int, ql0, ql1 VecVirtual) VecVirtual {
	if k%2 == 1 {
		return ql1
	}
	return ql0
}

// genQ6_Kx4 generates dotQ6_Kx4AVX2, dotQ6_KAVX2 of one weight row with
// four activation rows (func(n int, w, x []byte, stride int, dst
// *[4]float32), as genK4x4's): each half-block's values are unpacked once
// for the four rows, the integer sums are exact in any order and each
// row's float arithmetic is dotQ6_KAVX2's, in the same order, so every
// result is bit-identical to it. The running sums live in dst. Against the
// one-row kernel per row and vector (BenchmarkQ6_KMat, 896×4864, one
// goroutine, in cache, three runs): 4 vectors 57.1-57.4 GMAC/s against
// 32.9-33.0 (×1.73-1.74), 8 ×1.72, 64 ×1.64-1.65.
func genQ6_Kx4() {
	const name = "dotQ6_Kx4AVX2"
	TEXT(name, NOSPLIT, "func(n int, w, x []byte, stride int, dst *[4]float32)")
	Pragma("noescape")
	Doc("dotQ6_Kx4AVX2 is dotQ6_KAVX2 of one weight row with four activation",
		"rows, the r-th at x[r*stride:], into dst[r]; bit-identical to it.")
	n, w, x, xm, out := x4Params()
	wm := Mem{Base: w}
	m0f, m30 := byteConst(0x0f), byteConst(0x30)
	zeroOut(out)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	sumi := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zero(sumi...)
	for h := 0; h < 2; h++ {
		sc := XMM()
		VPMOVSXBW(wm.Offset(192+8*h), sc)
		sy := YMM()
		VINSERTI128(U8(1), sc, sc.AsY(), sy)
		ql0, ql1, qh := YMM(), YMM(), YMM()
		VMOVDQU(wm.Offset(64*h), ql0)
		VMOVDQU(wm.Offset(64*h+32), ql1)
		VMOVDQU(wm.Offset(128+32*h), qh)
		for k := 0; k < 4; k++ {
			q, t := q6Build(k, q6Half(k, ql0, ql1), qh, m0f, m30, true), YMM()
			VPSHUFB(k6Shuf[k], sy, t) // the scales of these values
			for r, m := range xm {
				p := YMM()
				VPMADDUBSW(m.Offset(4+128*h+32*k), q, p)
				VPMADDWD(t, p, p)
				VPADDD(p, sumi[r], sumi[r])
			}
		}
	}
	s16 := YMM()
	VPMOVSXBW(wm.Offset(192), s16)
	d := halfScalar(wm.Offset(208))
	for r, m := range xm {
		// The -32 offset: 32·Σ scale[j]·bsum[j].
		o := YMM()
		VPMADDWD(m.Offset(260), s16, o)
		VPSLLD(U8(5), o, o)
		VPSUBD(o, sumi[r], sumi[r])
		si := sumD(sumi[r])
		VCVTDQ2PS(si, si)
		// sum += float32(float32(d*dy) * sumi)
		p := XMM()
		VMOVSS(m, p)
		VMULSS(p, d, p)
		VMULSS(si, p, p)
		addOut(out[r], p)
	}
	endX4(name, sizeQ6_K, n, w, x)
}

// x4Params loads the arguments of the four-vector kernels, func(n int, w,
// x []byte, stride int, dst *[4]float32): n in super-blocks, the weights,
// the first vector, the four vectors' blocks (xm, stride apart) and the
// four results (out).
func x4Params() (n, w, x Register, xm []Mem, out []Mem) {
	n, w, x = dotParams()
	SHRQ(U8(8), n)
	stride := Load(Param("stride"), GP64())
	dst := Load(Param("dst"), GP64())
	s3 := GP64()
	LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, s3)
	xm = []Mem{{Base: x}, {Base: x, Index: stride, Scale: 1}, {Base: x, Index: stride, Scale: 2}, {Base: x, Index: s3, Scale: 1}}
	for r := range 4 {
		out = append(out, Mem{Base: dst, Disp: 4 * r})
	}
	return n, w, x, xm, out
}

// zeroOut sets the four results to +0, where the kernels keep their
// running sums.
func zeroOut(out []Mem) {
	z := GP32()
	XORL(z, z)
	for _, m := range out {
		MOVL(z, m)
	}
}

// addOut adds p to the running sum at out.
func addOut(out Mem, p VecVirtual) {
	sum := XMM()
	VMOVSS(out, sum)
	VADDSS(p, sum, sum)
	VMOVSS(sum, out)
}

// endX4 emits the end of a four-vector kernel's loop over super-blocks
// (size bytes of weights each; n of them left) and its return.
func endX4(name string, size int, n, w, x Register) {
	ADDQ(U32(size), w)
	ADDQ(U32(sizeQ8_K), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// genK4x4 generates the four-row Q4_K (qhOff < 0) or Q5_K kernel:
// func(n int, w, x []byte, stride int, dst *[4]float32), activation row r at
// x[r*stride:], its result in dst[r]. Each super-block's scales, mins and
// weight nibbles are unpacked once for the four rows. The integer sums of
// a row are exact whatever their order, and its float arithmetic is the
// one-row kernel's (genK4), in the same order, so every result is
// bit-identical to the one-row kernel's. The running sums live in dst.
func genK4x4(name string, doc []string, size, qhOff, qsOff int) {
	TEXT(name, NOSPLIT, "func(n int, w, x []byte, stride int, dst *[4]float32)")
	Pragma("noescape")
	Doc(doc...)
	n, w, x, xm, out := x4Params()
	wm := Mem{Base: w}
	m0f := byteConst(0x0f)
	var m10 VecVirtual
	if qhOff >= 0 {
		m10 = byteConst(0x10)
	}
	zeroOut(out)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))

	scales, mins := k4Scales(wm.Offset(4))
	sy := YMM()
	VINSERTI128(U8(1), scales, scales.AsY(), sy)
	var qh VecVirtual
	if qhOff >= 0 {
		qh = YMM()
		VMOVDQU(wm.Offset(qhOff), qh)
	}
	sumi := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zero(sumi...)
	for g := 0; g < 4; g++ {
		lo, hi := YMM(), YMM()
		VMOVDQU(wm.Offset(qsOff+32*g), lo)
		VPSRLW(U8(4), lo, hi)
		VPAND(m0f, lo, lo)
		VPAND(m0f, hi, hi)
		if qhOff >= 0 {
			for i, q := range []VecVirtual{lo, hi} {
				b := shiftBit(qh, 2*g+i)
				VPAND(m10, b, b)
				VPOR(b, q, q)
			}
		}
		for i, q := range []VecVirtual{lo, hi} {
			s := YMM()
			VPSHUFB(k4Shuf[2*g+i], sy, s)
			for r, m := range xm {
				t := YMM()
				VPMADDUBSW(m.Offset(4+64*g+32*i), q, t)
				VPMADDWD(s, t, t)
				VPADDD(t, sumi[r], sumi[r])
			}
		}
	}
	for r, m := range xm {
		bs, bh := YMM(), XMM()
		VMOVDQU(m.Offset(260), bs)
		VEXTRACTI128(U8(1), bs, bh)
		VPHADDW(bh, bs.AsX(), bh)
		VPMADDWD(mins, bh, bh)
		sumD4(bh)
		si := sumD(sumi[r])
		VCVTDQ2PS(si, si)
		VCVTDQ2PS(bh, bh)

		// sum += float32(float32(dy*d)*sumi) - float32(float32(dy*dmin)*sumMins)
		dy := XMM()
		VMOVSS(m, dy)
		d := halfScalar(wm)
		VMULSS(d, dy, d)
		VMULSS(si, d, d)
		dm := halfScalar(wm.Offset(2))
		VMULSS(dm, dy, dm)
		VMULSS(bh, dm, dm)
		VSUBSS(dm, d, d)
		addOut(out[r], d)
	}
	endX4(name, size, n, w, x)
}
