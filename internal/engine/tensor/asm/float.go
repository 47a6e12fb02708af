package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// floatDot generates a dot product of n elements of esize bytes each, with
// four eight-lane FMA accumulators over 32 elements per iteration, then
// eight at a time, then one at a time. load8 converts eight elements at m
// into a YMM register; load1 converts one element into lane 0 of an XMM
// register.
func floatDot(name, doc string, esize int, load8 func(m Mem) VecVirtual, load1 func(m Mem) VecVirtual) {
	TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
	Pragma("noescape")
	Doc(doc)
	n, w, x := dotParams()
	wm, xm := Mem{Base: w}, Mem{Base: x}
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zero(acc...)

	Label(name + "_loop32")
	CMPQ(n, U32(32))
	JL(LabelRef(name + "_loop8"))
	for i := range acc {
		a := load8(wm.Offset(8 * esize * i))
		b := load8(xm.Offset(8 * esize * i))
		VFMADD231PS(b, a, acc[i])
	}
	ADDQ(U32(32*esize), w)
	ADDQ(U32(32*esize), x)
	SUBQ(U32(32), n)
	JMP(LabelRef(name + "_loop32"))

	Label(name + "_loop8")
	CMPQ(n, U32(8))
	JL(LabelRef(name + "_tail"))
	a := load8(wm)
	b := load8(xm)
	VFMADD231PS(b, a, acc[0])
	ADDQ(U32(8*esize), w)
	ADDQ(U32(8*esize), x)
	SUBQ(U32(8), n)
	JMP(LabelRef(name + "_loop8"))

	Label(name + "_tail")
	s := sumPS(acc)
	Label(name + "_loop1")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	a1 := load1(wm)
	b1 := load1(xm)
	VFMADD231SS(b1, a1, s)
	ADDQ(U32(esize), w)
	ADDQ(U32(esize), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop1"))

	Label(name + "_done")
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func genF32() {
	floatDot("dotF32AVX2", "dotF32AVX2 is dotF32 with AVX2 and FMA.", 4,
		func(m Mem) VecVirtual {
			y := YMM()
			VMOVUPS(m, y)
			return y
		},
		func(m Mem) VecVirtual {
			t := XMM()
			VMOVSS(m, t)
			return t
		})
}

func genF16() {
	floatDot("dotF16AVX2", "dotF16AVX2 is dotF16 with F16C conversions and FMA.", 2,
		func(m Mem) VecVirtual {
			y := YMM()
			VCVTPH2PS(m, y)
			return y
		},
		halfScalar)
}

func genBF16() {
	floatDot("dotBF16AVX2", "dotBF16AVX2 is dotBF16 with AVX2 and FMA.", 2,
		func(m Mem) VecVirtual {
			y := YMM()
			VPMOVZXWD(m, y)
			VPSLLD(U8(16), y, y)
			return y
		},
		func(m Mem) VecVirtual {
			r := GP32()
			MOVWLZX(m, r)
			SHLL(U8(16), r)
			t := XMM()
			VMOVD(r, t)
			return t
		})
}

// genSum generates the streaming read used to measure memory bandwidth: the
// sum of the 64-bit words of p, whose length must be a multiple of 256.
func genSum() {
	TEXT("sumWordsAVX2", NOSPLIT, "func(p []byte) uint64")
	Pragma("noescape")
	Doc("sumWordsAVX2 returns the wrapping sum of the little-endian uint64",
		"words of p, reading 256 bytes per iteration; len(p) must be a",
		"multiple of 256.")
	p := Load(Param("p").Base(), GP64())
	n := Load(Param("p").Len(), GP64())
	pm := Mem{Base: p}
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zero(acc...)
	Label("sum_loop")
	CMPQ(n, U32(256))
	JL(LabelRef("sum_done"))
	for i := 0; i < 8; i++ {
		VPADDQ(pm.Offset(32*i), acc[i%4], acc[i%4])
	}
	ADDQ(U32(256), p)
	SUBQ(U32(256), n)
	JMP(LabelRef("sum_loop"))
	Label("sum_done")
	VPADDQ(acc[1], acc[0], acc[0])
	VPADDQ(acc[3], acc[2], acc[2])
	VPADDQ(acc[2], acc[0], acc[0])
	t := XMM()
	VEXTRACTI128(U8(1), acc[0], t)
	VPADDQ(acc[0].AsX(), t, t)
	u := XMM()
	VPSHUFD(U8(0x4e), t, u)
	VPADDQ(u, t, t)
	r := GP64()
	VMOVQ(t, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// genAxpy generates y += a·x over float32 slices (n = len(y); the caller
// makes sure x is at least as long): 32 elements per iteration in four YMM
// registers, then eight, then one, each element with one fused
// multiply-add.
func genAxpy() {
	TEXT("axpyF32AVX2", NOSPLIT, "func(a float32, x, y []float32)")
	Pragma("noescape")
	Doc("axpyF32AVX2 adds a·x[i] to y[i] for every i < len(y), with FMA.")
	x := Load(Param("x").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	n := Load(Param("y").Len(), GP64())
	as := Load(Param("a"), XMM())
	a := YMM()
	VBROADCASTSS(as, a)
	xm, ym := Mem{Base: x}, Mem{Base: y}

	Label("axpy_loop32")
	CMPQ(n, U32(32))
	JL(LabelRef("axpy_loop8"))
	v := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for i := range v {
		VMOVUPS(ym.Offset(32*i), v[i])
	}
	for i := range v {
		VFMADD231PS(xm.Offset(32*i), a, v[i])
	}
	for i := range v {
		VMOVUPS(v[i], ym.Offset(32*i))
	}
	ADDQ(U32(128), x)
	ADDQ(U32(128), y)
	SUBQ(U32(32), n)
	JMP(LabelRef("axpy_loop32"))

	Label("axpy_loop8")
	CMPQ(n, U32(8))
	JL(LabelRef("axpy_loop1"))
	w := YMM()
	VMOVUPS(ym, w)
	VFMADD231PS(xm, a, w)
	VMOVUPS(w, ym)
	ADDQ(U32(32), x)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JMP(LabelRef("axpy_loop8"))

	Label("axpy_loop1")
	CMPQ(n, U32(0))
	JE(LabelRef("axpy_done"))
	s := XMM()
	VMOVSS(ym, s)
	VFMADD231SS(xm, as, s)
	VMOVSS(s, ym)
	ADDQ(U32(4), x)
	ADDQ(U32(4), y)
	DECQ(n)
	JMP(LabelRef("axpy_loop1"))

	Label("axpy_done")
	VZEROUPPER()
	RET()
}
