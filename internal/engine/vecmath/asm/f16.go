package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// elem is the element type of the key and value rows that a group kernel
// reads: float32, or IEEE binary16 bit patterns widened on load.
type elem struct {
	goType string // the Go element type of the rows
	infix  string // in the kernel's name after its stem
	word   string // what the doc comments call the elements
	shift  int    // log2 of the element size in bytes
	f16    bool
}

var (
	f32 = elem{goType: "float32", word: "floats", shift: 2}
	f16 = elem{goType: "uint16", infix: "F16", word: "elements", shift: 1, f16: true}
)

// of returns how the doc comments write the float32 value of x.
func (e elem) of(x string) string {
	if e.f16 {
		return "float32(" + x + ")"
	}
	return x
}

// load loads one register's worth of the row at m into v: eight or
// sixteen floats, or as many binary16 values widened with VCVTPH2PS
// (exact; from 16 or 32 bytes).
func (e elem) load(m Mem, v VecVirtual) {
	if e.f16 {
		VCVTPH2PS(m, v)
		return
	}
	VMOVUPS(m, v)
}

// genFromF16 emits the widening of binary16 values to float32 with
// VCVTPH2PS (F16C), sixteen at a time, then eight.
func genFromF16() {
	TEXT("fromF16AVX2", NOSPLIT, "func(dst []float32, src []uint16)")
	Pragma("noescape")
	Doc("fromF16AVX2 sets dst[i] to the binary16 value src[i] widened to float32",
		"(exactly; signaling NaNs become quiet) for i < len(dst); len(dst) must be",
		"a multiple of 8 and len(src) >= len(dst).")
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	src := Load(Param("src").Base(), GP64())
	Label("fromf16_loop16")
	CMPQ(n, U8(16))
	JL(LabelRef("fromf16_loop8"))
	a, b := YMM(), YMM()
	VCVTPH2PS(Mem{Base: src}, a)
	VCVTPH2PS(Mem{Base: src}.Offset(16), b)
	VMOVUPS(a, Mem{Base: dst})
	VMOVUPS(b, Mem{Base: dst}.Offset(32))
	ADDQ(U8(32), src)
	ADDQ(U8(64), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("fromf16_loop16"))
	Label("fromf16_loop8")
	TESTQ(n, n)
	JE(LabelRef("fromf16_done"))
	c := YMM()
	VCVTPH2PS(Mem{Base: src}, c)
	VMOVUPS(c, Mem{Base: dst})
	Label("fromf16_done")
	VZEROUPPER()
	RET()
}

// genToF16 emits the narrowing of float32 values to binary16 with
// VCVTPS2PH (F16C), imm8 0: round to nearest, ties to even, whatever
// MXCSR says; eight at a time.
func genToF16() {
	TEXT("toF16AVX2", NOSPLIT, "func(dst []uint16, src []float32)")
	Pragma("noescape")
	Doc("toF16AVX2 sets dst[i] to src[i] rounded to binary16 (to nearest, ties",
		"to even) for i < len(dst); len(dst) must be a multiple of 8 and",
		"len(src) >= len(dst).")
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	src := Load(Param("src").Base(), GP64())
	Label("tof16_loop")
	TESTQ(n, n)
	JE(LabelRef("tof16_done"))
	v := YMM()
	VMOVUPS(Mem{Base: src}, v)
	VCVTPS2PH(U8(0), v, Mem{Base: dst})
	ADDQ(U8(32), src)
	ADDQ(U8(16), dst)
	SUBQ(U8(8), n)
	JMP(LabelRef("tof16_loop"))
	Label("tof16_done")
	VZEROUPPER()
	RET()
}
