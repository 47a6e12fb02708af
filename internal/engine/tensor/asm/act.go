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

	Label(name + "_ok")
	MOVB(U8(1), ok)
	VZEROUPPER()
	Store(ok, ReturnIndex(0))
	RET()

	Label(name + "_bad")
	MOVB(U8(0), ok)
	VZEROUPPER()
	Store(ok, ReturnIndex(0))
	RET()
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
