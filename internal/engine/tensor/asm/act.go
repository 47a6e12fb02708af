package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// genActQ8_0 generates the Q8_0 activation quantizer, the AVX2 form of the
// package's actQ8 (without sums): per block of 32 values amax = max|x|, d
// = amax/127 stored as fp16 (VCVTPS2PH rounds to nearest even, like
// FP32ToFP16), id = 127/amax (0 when amax is 0) and q = x·id rounded to
// nearest even (VCVTPS2DQ under Go's default MXCSR), each step in float32
// as in Go, so the bytes are identical. The maximum is taken on the bit
// patterns of |x|, which order like the values for non-negative floats; a
// block whose largest pattern is an infinity or a NaN stops the kernel,
// which returns false for the caller to quantize the row in Go (whose max
// and conversions define those cases).
func genActQ8_0() {
	const name = "quantQ8_0AVX2"
	TEXT(name, NOSPLIT, "func(x []float32, dst []byte) bool")
	Pragma("noescape")
	Doc(name+" encodes x (a multiple of 32 values) as Q8_0 activations into dst",
		"exactly as actQ8 does, or returns false, leaving dst partly written,",
		"if x holds an infinity or a NaN.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	SHRQ(U8(5), n)
	dst := Load(Param("dst").Base(), GP64())
	ok := GP8()

	absMask, c127, perm := YMM(), XMM(), YMM()
	t := GP32()
	MOVL(U32(0x7fffffff), t)
	VMOVD(t, absMask.AsX())
	VPBROADCASTD(absMask.AsX(), absMask)
	MOVL(U32(0x42fe0000), t) // 127.0
	VMOVD(t, c127)
	VMOVDQU(packPerm, perm)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_ok"))
	v := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for i, r := range v {
		VMOVUPS(Mem{Base: x, Disp: 32 * i}, r)
	}
	a := []VecVirtual{YMM(), YMM()}
	VANDPS(absMask, v[0], a[0])
	VANDPS(absMask, v[1], a[1])
	VPMAXSD(a[1], a[0], a[0])
	VANDPS(absMask, v[2], a[1])
	VPMAXSD(a[1], a[0], a[0])
	VANDPS(absMask, v[3], a[1])
	VPMAXSD(a[1], a[0], a[0])
	m, u := XMM(), XMM()
	VEXTRACTI128(U8(1), a[0], m)
	VPMAXSD(m, a[0].AsX(), m)
	VPSHUFD(U8(0x4e), m, u)
	VPMAXSD(u, m, m)
	VPSHUFD(U8(0xb1), m, u)
	VPMAXSD(u, m, m)
	bits := GP32()
	VMOVD(m, bits)
	CMPL(bits, U32(0x7f800000))
	JAE(LabelRef(name + "_bad"))
	TESTL(bits, bits)
	JE(LabelRef(name + "_zero"))

	// d = amax/127 as fp16; id = 127/amax.
	d, id := XMM(), XMM()
	VDIVSS(c127, m, d)
	VCVTPS2PH(U8(0), d, d)
	VPEXTRW(U8(0), d, Mem{Base: dst})
	VDIVSS(m, c127, id)
	idy := YMM()
	VBROADCASTSS(id, idy)
	for _, r := range v {
		VMULPS(idy, r, r)
		VCVTPS2DQ(r, r)
	}
	VPACKSSDW(v[1], v[0], v[0])
	VPACKSSDW(v[3], v[2], v[2])
	VPACKSSWB(v[2], v[0], v[0])
	VPERMD(v[0], perm, v[0])
	VMOVDQU(v[0], Mem{Base: dst, Disp: 2})
	JMP(LabelRef(name + "_next"))

	Label(name + "_zero")
	z := YMM()
	VPXOR(z, z, z)
	MOVW(U16(0), Mem{Base: dst})
	VMOVDQU(z, Mem{Base: dst, Disp: 2})

	Label(name + "_next")
	ADDQ(U32(128), x)
	ADDQ(U32(sizeQ8_0), dst)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))

	returnOK(name, ok)
}

// packPerm reorders the dwords of VPACKSSDW+VPACKSSWB output (four bytes
// of each source per 128-bit lane) into source order.
var packPerm Mem

func genPackPerm() {
	packPerm = GLOBL("packperm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
}

// genActQ8_K generates the Q8_K activation quantizer, the AVX2 form of
// actQ8_K: per block of 256 values, mx = the first value of largest
// magnitude, iscale = -127/mx, q = min(127, x·iscale rounded to nearest
// even), the sums of each 16 q as int16, and d = 1/iscale as float32; an
// all-zero block is all zeros. As in genActQ8_0, every step is the float32
// operation Go does, so the bytes are identical, and a block holding an
// infinity or a NaN stops the kernel, which returns false.
func genActQ8_K() {
	const name = "quantQ8_KAVX2"
	TEXT(name, NOSPLIT, "func(x []float32, dst []byte) bool")
	Pragma("noescape")
	Doc(name+" encodes x (a multiple of 256 values) as Q8_K activations into dst",
		"exactly as actQ8_K does, or returns false, leaving dst partly written,",
		"if x holds an infinity or a NaN.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	SHRQ(U8(8), n)
	dst := Load(Param("dst").Base(), GP64())
	ok := GP8()

	absMask, perm := YMM(), YMM()
	t := GP32()
	MOVL(U32(0x7fffffff), t)
	VMOVD(t, absMask.AsX())
	VPBROADCASTD(absMask.AsX(), absMask)
	VMOVDQU(packPerm, perm)

	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_ok"))

	// The largest |x| bit pattern.
	m := []VecVirtual{YMM(), YMM()}
	for i := 0; i < 32; i++ {
		a := YMM()
		VANDPS(Mem{Base: x, Disp: 32 * i}, absMask, a)
		if i < 2 {
			VMOVDQA(a, m[i])
		} else {
			VPMAXSD(a, m[i%2], m[i%2])
		}
	}
	VPMAXSD(m[1], m[0], m[0])
	h, u := XMM(), XMM()
	VEXTRACTI128(U8(1), m[0], h)
	VPMAXSD(h, m[0].AsX(), h)
	VPSHUFD(U8(0x4e), h, u)
	VPMAXSD(u, h, h)
	VPSHUFD(U8(0xb1), h, u)
	VPMAXSD(u, h, h)
	bits := GP32()
	VMOVD(h, bits)
	CMPL(bits, U32(0x7f800000))
	JAE(LabelRef(name + "_bad"))
	TESTL(bits, bits)
	JE(LabelRef(name + "_zero"))

	// mx: the first value whose |x| has that pattern.
	amax := YMM()
	VPBROADCASTD(h, amax)
	i, p := GP64(), GP64()
	XORQ(i, i)
	Label(name + "_find")
	a := YMM()
	VANDPS(Mem{Base: x, Index: i, Scale: 4}, absMask, a)
	VPCMPEQD(amax, a, a)
	mask := GP32()
	VMOVMSKPS(a, mask)
	TESTL(mask, mask)
	JNE(LabelRef(name + "_found"))
	ADDQ(U32(8), i)
	JMP(LabelRef(name + "_find"))
	Label(name + "_found")
	BSFL(mask, mask)
	ADDQ(mask.As64(), i)
	MOVQ(i, p)
	mx := XMM()
	VMOVSS(Mem{Base: x, Index: p, Scale: 4}, mx)

	// iscale = -127/mx; d = 1/iscale.
	c := GP32()
	iscale, d, k := XMM(), XMM(), XMM()
	MOVL(U32(0xc2fe0000), c) // -127.0
	VMOVD(c, k)
	VDIVSS(mx, k, iscale)
	MOVL(U32(0x3f800000), c) // 1.0
	VMOVD(c, k)
	VDIVSS(iscale, k, d)
	VMOVSS(d, Mem{Base: dst})
	isy, c127, zero, m80 := YMM(), YMM(), YMM(), YMM()
	VBROADCASTSS(iscale, isy)
	MOVL(U32(127), c)
	VMOVD(c, c127.AsX())
	VPBROADCASTD(c127.AsX(), c127)
	VPXOR(zero, zero, zero)
	MOVL(U32(0x80808080), c)
	VMOVD(c, m80.AsX())
	VPBROADCASTD(m80.AsX(), m80)

	for g := 0; g < 8; g++ {
		v := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
		for j, r := range v {
			VMULPS(Mem{Base: x, Disp: 128*g + 32*j}, isy, r)
			VCVTPS2DQ(r, r)
			VPMINSD(c127, r, r)
		}
		VPACKSSDW(v[1], v[0], v[0])
		VPACKSSDW(v[3], v[2], v[2])
		VPACKSSWB(v[2], v[0], v[0])
		VPERMD(v[0], perm, v[0])
		VMOVDQU(v[0], Mem{Base: dst, Disp: 4 + 32*g})
		// Sums of 16: VPSADBW of q+128 against zero sums each 8 bytes.
		VPXOR(m80, v[0], v[0])
		VPSADBW(zero, v[0], v[0])
		s := YMM()
		VPSHUFD(U8(0x4e), v[0], s)
		VPADDQ(s, v[0], v[0])
		lo, hi := GP64(), GP64()
		VMOVQ(v[0].AsX(), lo)
		VEXTRACTI128(U8(1), v[0], s.AsX())
		VMOVQ(s.AsX(), hi)
		SUBQ(U32(16*128), lo)
		SUBQ(U32(16*128), hi)
		MOVW(lo.As16(), Mem{Base: dst, Disp: 260 + 4*g})
		MOVW(hi.As16(), Mem{Base: dst, Disp: 262 + 4*g})
	}
	JMP(LabelRef(name + "_next"))

	Label(name + "_zero")
	z := YMM()
	VPXOR(z, z, z)
	for off := 0; off+32 <= sizeQ8_K; off += 32 {
		VMOVDQU(z, Mem{Base: dst, Disp: off})
	}
	VMOVDQU(z, Mem{Base: dst, Disp: sizeQ8_K - 32})

	Label(name + "_next")
	ADDQ(U32(4*256), x)
	ADDQ(U32(sizeQ8_K), dst)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))

	returnOK(name, ok)
}

// returnOK emits the two exits of a quantizer: label name_ok returns true,
// name_bad false (the row holds an infinity or a NaN), through ok.
func returnOK(name string, ok Register) {
	for _, exit := range []struct {
		label string
		v     uint8
	}{{"_ok", 1}, {"_bad", 0}} {
		Label(name + exit.label)
		MOVB(U8(exit.v), ok)
		VZEROUPPER()
		Store(ok, ReturnIndex(0))
		RET()
	}
}
