// Command asm generates the AVX2/FMA kernels of package vecmath
// (vec_amd64.s and its Go stubs vec_amd64.go) with avo. Run it through go
// generate in the vecmath directory:
//
//	go run ./asm -out vec_amd64.s -stubs vec_amd64.go -pkg vecmath
//
// The kernels trust their arguments: the exported wrappers in vecmath
// check lengths and strides before calling them. Element-wise kernels
// work on eight float32 lanes at a time and finish the last len%8 values
// with one masked load and store (VMASKMOVPS), so every element goes
// through the same instruction sequence.
package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")
	genConstants()
	genExp()
	genSwiGLU()
	genMax()
	genExpSum()
	genScale()
	genDots(f32)
	genAddWeightedRows(f32)
	genGroupDots(f32)
	genSoftmaxLanes(f32)
	genGroupRows(f32)
	genFromF16()
	genToF16()
	genDots(f16)
	genAddWeightedRows(f16)
	genGroupDots(f16)
	genSoftmaxLanes(f16)
	genGroupRows(f16)
	Generate()
}

// The constants of the exp approximation; they must match exp32 in
// exp.go bit for bit.
const (
	expHi  = 89.0
	expLo  = -104.0
	log2e  = 1.44269504088896341
	expC1  = 0.693359375
	expC2  = -2.12194440e-4
	expP0  = 1.9875691500e-4
	expP1  = 1.3981999507e-3
	expP2  = 8.3334519073e-3
	expP3  = 4.1665795894e-2
	expP4  = 1.6666665459e-1
	expP5  = 5.0000001201e-1
	expOne = 1.0
)

// Read-only constants, set up by genConstants. The vector ones hold eight
// copies so that they can be the memory operand of a YMM instruction.
var (
	cLog2e, cC1, cC2, cOne, cSign Mem
	cP                            [6]Mem
	cBias                         Mem
	// sHi and sLo are single float32s for VBROADCASTSS.
	sHi, sLo, sNegInf Mem
	// sOnePD is the float64 1 for VBROADCASTSD.
	sOnePD Mem
	// tailMask holds eight all-ones words and eight zero words: the 32
	// bytes at word 8-r select the first r lanes.
	tailMask Mem
)

func vec32(name string, bits uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(bits))
	}
	return m
}

func vecF(name string, v float32) Mem { return vec32(name, math.Float32bits(v)) }

func scalarF(name string, v float32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	DATA(0, U32(math.Float32bits(v)))
	return m
}

func genConstants() {
	cLog2e = vecF("log2e", log2e)
	cC1 = vecF("expc1", expC1)
	cC2 = vecF("expc2", expC2)
	cOne = vecF("one", expOne)
	cSign = vec32("signbit", 0x80000000)
	for i, p := range []float32{expP0, expP1, expP2, expP3, expP4, expP5} {
		cP[i] = vecF("expp"+string(rune('0'+i)), p)
	}
	cBias = vec32("bias127", 127)
	sHi = scalarF("exphi", expHi)
	sLo = scalarF("explo", expLo)
	sNegInf = scalarF("neginf", float32(math.Inf(-1)))
	sOnePD = GLOBL("onepd", RODATA|NOPTR)
	DATA(0, U64(math.Float64bits(1)))
	tailMask = GLOBL("tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
}

// expPS emits e^x for the eight lanes of x into a new register (x is
// left unchanged). The algorithm is exp32 of exp.go: clamp x to
// [expLo, expHi] (NaN passes: VMINPS and VMAXPS return their second
// source, x, when it is NaN), n = round(x·log2e), r = x - n·ln2 in two
// steps (Cody and Waite), e^r ≈ 1 + r + r²·P(r), then scale by 2^n as
// 2^(n>>1) · 2^(n-n>>1) so that results in the subnormal range round once
// and results past the float32 range overflow to +Inf.
func expPS(x VecVirtual) VecVirtual {
	t, u := YMM(), YMM()
	VBROADCASTSS(sHi, t)
	VMINPS(x, t, t) // t = min(hi, x), x when x is NaN
	VBROADCASTSS(sLo, u)
	VMAXPS(t, u, t) // t = max(lo, t), t when t is NaN

	n := YMM()
	VMULPS(cLog2e, t, n)
	VROUNDPS(U8(0), n, n)   // to nearest even
	VFNMADD231PS(cC1, n, t) // t -= n·C1 (exact product)
	VFNMADD231PS(cC2, n, t) // t -= n·C2: t is r now

	z, p := YMM(), YMM()
	VMULPS(t, t, z)
	VMOVUPS(cP[0], p)
	for i := 1; i < len(cP); i++ {
		VFMADD213PS(cP[i], t, p) // p = p·r + P[i]
	}
	VFMADD213PS(t, z, p) // p = p·r² + r
	VADDPS(cOne, p, p)

	n1, n2 := YMM(), YMM()
	VCVTPS2DQ(n, n2) // n is integral: exact
	VPSRAD(U8(1), n2, n1)
	VPSUBD(n1, n2, n2)
	VPADDD(cBias, n1, n1)
	VPADDD(cBias, n2, n2)
	VPSLLD(U8(23), n1, n1)
	VPSLLD(U8(23), n2, n2)
	VMULPS(n1, p, p)
	VMULPS(n2, p, p)
	return p
}

// mask returns the YMM mask selecting the first rem lanes (0 < rem < 8);
// rem is overwritten.
func mask(rem Register) VecVirtual {
	tbl := GP64()
	LEAQ(tailMask, tbl)
	NEGQ(rem)
	ADDQ(U8(8), rem)
	m := YMM()
	VMOVUPS(Mem{Base: tbl, Index: rem, Scale: 4}, m)
	return m
}

// elementwise emits a loop over n float32 elements, eight at a time, then
// the last n%8 with a masked load and store. For every group it loads
// ins[k] (base pointers, advanced by 32 bytes per group) into registers,
// calls body, which returns the result to store at out (nil to store
// nothing) and may use the mask (nil except for the last partial group).
func elementwise(name string, n Register, ins []Register, out Register, body func(v []VecVirtual, m VecVirtual) VecVirtual) {
	Label(name + "_loop8")
	CMPQ(n, U8(8))
	JL(LabelRef(name + "_tail"))
	v := make([]VecVirtual, len(ins))
	for k, p := range ins {
		v[k] = YMM()
		VMOVUPS(Mem{Base: p}, v[k])
	}
	r := body(v, nil)
	if r != nil {
		VMOVUPS(r, Mem{Base: out})
	}
	for _, p := range ins {
		ADDQ(U8(32), p)
	}
	if out != nil && !contains(ins, out) {
		ADDQ(U8(32), out)
	}
	SUBQ(U8(8), n)
	JMP(LabelRef(name + "_loop8"))

	Label(name + "_tail")
	TESTQ(n, n)
	JE(LabelRef(name + "_done"))
	m := mask(n)
	for k, p := range ins {
		v[k] = YMM()
		VMASKMOVPS(Mem{Base: p}, m, v[k])
	}
	r = body(v, m)
	if r != nil {
		VMASKMOVPS(r, m, Mem{Base: out})
	}
	Label(name + "_done")
}

func contains(rs []Register, r Register) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func genExp() {
	TEXT("expAVX2", NOSPLIT, "func(dst, src []float32)")
	Pragma("noescape")
	Doc("expAVX2 sets dst[i] = e^src[i] for i < len(dst); len(src) >= len(dst).")
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	src := Load(Param("src").Base(), GP64())
	elementwise("exp", n, []Register{src}, dst, func(v []VecVirtual, _ VecVirtual) VecVirtual {
		return expPS(v[0])
	})
	VZEROUPPER()
	RET()
}

func genSwiGLU() {
	TEXT("swigluAVX2", NOSPLIT, "func(g, u []float32)")
	Pragma("noescape")
	Doc("swigluAVX2 sets g[i] = g[i]/(1+e^-g[i]) · u[i] for i < len(g); len(u) >= len(g).")
	g := Load(Param("g").Base(), GP64())
	n := Load(Param("g").Len(), GP64())
	u := Load(Param("u").Base(), GP64())
	elementwise("swiglu", n, []Register{g, u}, g, func(v []VecVirtual, _ VecVirtual) VecVirtual {
		x := v[0]
		nx := YMM()
		VXORPS(cSign, x, nx)
		e := expPS(nx)
		VADDPS(cOne, e, e)
		VDIVPS(e, x, x) // x / (1+e)
		VMULPS(v[1], x, x)
		return x
	})
	VZEROUPPER()
	RET()
}

// genMax generates the maximum of len(x) values, len(x) a positive
// multiple of 8.
func genMax() {
	TEXT("maxAVX2", NOSPLIT, "func(x []float32) float32")
	Pragma("noescape")
	Doc("maxAVX2 returns the largest of x; len(x) must be a positive multiple of 8.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	for _, a := range acc {
		VBROADCASTSS(sNegInf, a)
	}
	Label("max_loop32")
	CMPQ(n, U8(32))
	JL(LabelRef("max_loop8"))
	for i, a := range acc {
		VMAXPS(Mem{Base: x}.Offset(32*i), a, a)
	}
	ADDQ(U8(128), x)
	SUBQ(U8(32), n)
	JMP(LabelRef("max_loop32"))
	Label("max_loop8")
	TESTQ(n, n)
	JE(LabelRef("max_done"))
	VMAXPS(Mem{Base: x}, acc[0], acc[0])
	ADDQ(U8(32), x)
	SUBQ(U8(8), n)
	JMP(LabelRef("max_loop8"))
	Label("max_done")
	VMAXPS(acc[1], acc[0], acc[0])
	VMAXPS(acc[3], acc[2], acc[2])
	VMAXPS(acc[2], acc[0], acc[0])
	t, s := XMM(), XMM()
	VEXTRACTF128(U8(1), acc[0], t)
	VMAXPS(acc[0].AsX(), t, t)
	VPERMILPS(U8(0x4e), t, s)
	VMAXPS(s, t, t)
	VPERMILPS(U8(0xb1), t, s)
	VMAXPS(s, t, t)
	VZEROUPPER()
	Store(t, ReturnIndex(0))
	RET()
}

// genExpSum generates the middle pass of softmax.
func genExpSum() {
	TEXT("expSumAVX2", NOSPLIT, "func(x []float32, m float32) float64")
	Pragma("noescape")
	Doc("expSumAVX2 sets x[i] = e^(x[i]-m) and returns the sum of the new",
		"values, added in float64.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ms := Load(Param("m"), XMM())
	mv := YMM()
	VBROADCASTSS(ms, mv)
	s0, s1 := YMM(), YMM()
	VXORPD(s0, s0, s0)
	VXORPD(s1, s1, s1)
	elementwise("expsum", n, []Register{x}, x, func(v []VecVirtual, m VecVirtual) VecVirtual {
		VSUBPS(mv, v[0], v[0])
		e := expPS(v[0])
		f := e
		if m != nil {
			f = YMM()
			VANDPS(m, e, f)
		}
		lo, hi := YMM(), YMM()
		h := XMM()
		VCVTPS2PD(f.AsX(), lo)
		VEXTRACTF128(U8(1), f, h)
		VCVTPS2PD(h, hi)
		VADDPD(lo, s0, s0)
		VADDPD(hi, s1, s1)
		return e
	})
	VADDPD(s1, s0, s0)
	t, u := XMM(), XMM()
	VEXTRACTF128(U8(1), s0, t)
	VADDPD(s0.AsX(), t, t)
	VPERMILPD(U8(1), t, u)
	VADDSD(u, t, t)
	VZEROUPPER()
	Store(t, ReturnIndex(0))
	RET()
}

func genScale() {
	TEXT("scaleAVX2", NOSPLIT, "func(x []float32, s float32)")
	Pragma("noescape")
	Doc("scaleAVX2 multiplies every x[i] by s.")
	x := Load(Param("x").Base(), GP64())
	n := Load(Param("x").Len(), GP64())
	ss := Load(Param("s"), XMM())
	sv := YMM()
	VBROADCASTSS(ss, sv)
	elementwise("scale", n, []Register{x}, x, func(v []VecVirtual, _ VecVirtual) VecVirtual {
		VMULPS(sv, v[0], v[0])
		return v[0]
	})
	VZEROUPPER()
	RET()
}

// genDots generates dst[j] = scale·Σ_k q[k]·rows[j·stride+k]. Rows go
// eight at a time (then four, then one), each with its own accumulator
// while q is read once per eight floats; the eight sums of a block are
// reduced together with VHADDPS. With e = f16 (dotsF16AVX2) the rows are
// binary16, each eight widened exactly with VCVTPH2PS into a register
// that the FMA takes in place of the memory operand: the same sums.
func genDots(e elem) {
	name := "dots" + e.infix + "AVX2"
	TEXT(name, NOSPLIT, "func(dst, q []float32, rows []"+e.goType+", stride int, scale float32)")
	Pragma("noescape")
	Doc(name+" sets dst[j] = scale · Σ q[k]·"+e.of("rows[j·stride+k]")+" over k < len(q)",
		"for every j < len(dst); len(q) must be a positive multiple of 8 and",
		"rows long enough.")
	dst := Load(Param("dst").Base(), GP64())
	n := Load(Param("dst").Len(), GP64())
	qb := Load(Param("q").Base(), GP64())
	d := Load(Param("q").Len(), GP64())
	rp := Load(Param("rows").Base(), GP64())
	sb := Load(Param("stride"), GP64())
	SHLQ(U8(e.shift), sb)
	s3 := GP64()
	LEAQ(Mem{Base: sb, Index: sb, Scale: 2}, s3)
	scs := Load(Param("scale"), XMM())
	sc := YMM()
	VBROADCASTSS(scs, sc)

	for _, rb := range []int{8, 4, 1} {
		name := "dots" + string(rune('0'+rb))
		Label(name + "_rows")
		CMPQ(n, U8(rb))
		JL(LabelRef(name + "_end"))
		acc := make([]VecVirtual, rb)
		for i := range acc {
			acc[i] = YMM()
			VXORPS(acc[i], acc[i], acc[i])
		}
		q, a, b, k := GP64(), GP64(), GP64(), GP64()
		MOVQ(qb, q)
		MOVQ(rp, a)
		if rb == 8 {
			LEAQ(Mem{Base: rp, Index: sb, Scale: 4}, b)
		}
		MOVQ(d, k)
		Label(name + "_k")
		qv := YMM()
		VMOVUPS(Mem{Base: q}, qv)
		for i := range acc {
			base := a
			if i >= 4 {
				base = b
			}
			var m Mem
			switch i % 4 {
			case 0:
				m = Mem{Base: base}
			case 1:
				m = Mem{Base: base, Index: sb, Scale: 1}
			case 2:
				m = Mem{Base: base, Index: sb, Scale: 2}
			case 3:
				m = Mem{Base: base, Index: s3, Scale: 1}
			}
			if e.f16 {
				k := YMM()
				VCVTPH2PS(m, k)
				VFMADD231PS(k, qv, acc[i])
			} else {
				VFMADD231PS(m, qv, acc[i])
			}
		}
		ADDQ(U8(32), q)
		ADDQ(U8(8<<e.shift), a)
		if rb == 8 {
			ADDQ(U8(8<<e.shift), b)
		}
		SUBQ(U8(8), k)
		JNE(LabelRef(name + "_k"))

		switch rb {
		case 8:
			VHADDPS(acc[1], acc[0], acc[0])
			VHADDPS(acc[3], acc[2], acc[2])
			VHADDPS(acc[5], acc[4], acc[4])
			VHADDPS(acc[7], acc[6], acc[6])
			VHADDPS(acc[2], acc[0], acc[0]) // rows 0-3: low lane halves, high lane halves
			VHADDPS(acc[6], acc[4], acc[4]) // rows 4-7
			lo, hi := YMM(), YMM()
			VPERM2F128(U8(0x20), acc[4], acc[0], lo)
			VPERM2F128(U8(0x31), acc[4], acc[0], hi)
			VADDPS(hi, lo, lo)
			VMULPS(sc, lo, lo)
			VMOVUPS(lo, Mem{Base: dst})
		case 4:
			VHADDPS(acc[1], acc[0], acc[0])
			VHADDPS(acc[3], acc[2], acc[2])
			VHADDPS(acc[2], acc[0], acc[0])
			t := XMM()
			VEXTRACTF128(U8(1), acc[0], t)
			VADDPS(acc[0].AsX(), t, t)
			VMULPS(sc.AsX(), t, t)
			VMOVUPS(t, Mem{Base: dst})
		case 1:
			t := XMM()
			VEXTRACTF128(U8(1), acc[0], t)
			VADDPS(acc[0].AsX(), t, t)
			VHADDPS(t, t, t)
			VHADDPS(t, t, t)
			VMULSS(sc.AsX(), t, t)
			VMOVSS(t, Mem{Base: dst})
		}
		ADDQ(U8(4*rb), dst)
		if rb == 1 {
			ADDQ(sb, rp)
		} else {
			LEAQ(Mem{Base: rp, Index: sb, Scale: uint8(rb)}, rp)
		}
		SUBQ(U8(rb), n)
		JMP(LabelRef(name + "_rows"))
		Label(name + "_end")
	}
	VZEROUPPER()
	RET()
}

// genAddWeightedRows generates out[k] += Σ_j p[j]·rows[j·stride+k]. The
// columns go 64 at a time (eight YMM accumulators that stay in registers
// over all rows), then 32, then 8; every row adds with one FMA per
// element, in row order, exactly as len(p) separate axpy calls would.
// With e = f16 (addWeightedRowsF16AVX2) the rows are binary16, each eight
// widened exactly with VCVTPH2PS before their FMA: the same sums.
func genAddWeightedRows(e elem) {
	name := "addWeightedRows" + e.infix + "AVX2"
	TEXT(name, NOSPLIT, "func(out, p []float32, rows []"+e.goType+", stride int)")
	Pragma("noescape")
	Doc(name+" adds Σ_j p[j]·"+e.of("rows[j·stride+k]")+" to out[k] for every",
		"k < len(out); len(out) must be a multiple of 8, len(p) positive and rows",
		"long enough.")
	out := Load(Param("out").Base(), GP64())
	d := Load(Param("out").Len(), GP64())
	pb := Load(Param("p").Base(), GP64())
	n := Load(Param("p").Len(), GP64())
	rp := Load(Param("rows").Base(), GP64())
	sb := Load(Param("stride"), GP64())
	SHLQ(U8(e.shift), sb)

	for _, w := range []int{8, 4, 1} {
		name := "awr" + string(rune('0'+w))
		Label(name + "_cols")
		CMPQ(d, U8(8*w))
		JL(LabelRef(name + "_end"))
		acc := make([]VecVirtual, w)
		for i := range acc {
			acc[i] = YMM()
			VMOVUPS(Mem{Base: out}.Offset(32*i), acc[i])
		}
		p, a, j := GP64(), GP64(), GP64()
		MOVQ(pb, p)
		MOVQ(rp, a)
		MOVQ(n, j)
		Label(name + "_j")
		pv := YMM()
		VBROADCASTSS(Mem{Base: p}, pv)
		for i := range acc {
			m := Mem{Base: a}.Offset((8 << e.shift) * i)
			if e.f16 {
				v := YMM()
				VCVTPH2PS(m, v)
				VFMADD231PS(v, pv, acc[i])
			} else {
				VFMADD231PS(m, pv, acc[i])
			}
		}
		ADDQ(U8(4), p)
		ADDQ(sb, a)
		DECQ(j)
		JNE(LabelRef(name + "_j"))
		for i := range acc {
			VMOVUPS(acc[i], Mem{Base: out}.Offset(32*i))
		}
		ADDQ(U32(32*w), out)
		ADDQ(U32((8<<e.shift)*w), rp)
		SUBQ(U8(8*w), d)
		JMP(LabelRef(name + "_cols"))
		Label(name + "_end")
	}
	VZEROUPPER()
	RET()
}
