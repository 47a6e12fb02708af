package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The kernels of AttendGroup: the attention of up to eight query heads
// that share a KV head, for one token, in three passes over a score
// buffer laid out position-major with eight lanes per position (lane h is
// head h), so that each key and value row is read once for all the heads
// and no pass needs a horizontal sum beyond the one per key row:
//
//   - groupDotsAVX512: the scaled scores of all the heads against each
//     key row;
//   - softmaxLanesAVX2: softmax down each lane;
//   - groupRowsAVX512: the probability-weighted sums of the value rows,
//     all the heads' outputs in ZMM accumulators, each row's weights
//     taken by embedded-broadcast memory operands.
//
// They use EVEX-encoded instructions (ZMM registers, Y16-Y31, broadcasts:
// AVX512F and AVX512VL, and AVX512DQ for VXORPS on them) except
// softmaxLanesAVX2.
//
// The cache of a layer is usually cold in decoding (the layer's weights
// streamed through the caches since its last use), and the rows of one
// KV head are no sequential stream when the cache interleaves several KV
// heads, so the kernels prefetch into L2 (PREFETCHT1): groupDotsAVX512
// the first prefetchRows key rows before its loop and then the row
// prefetchRows ahead; softmaxLanesAVX2, which reads no memory of its
// own, every value row; groupRowsAVX512 the row prefetchRows ahead too.
// Measured with BenchmarkAttentionCold on Zen 4 (time against the
// per-head kernels' in the same runs, one goroutine, alternated builds):
// 16 rows ahead into L1 (PREFETCHT0) 62-73 µs a layer, PREFETCHNTA 69-86,
// 32 ahead into L2 51-53 (0.61-0.62); the values' prefetch in the softmax
// 0.55-0.62 against 0.66-0.88 without; 64 ahead 0.556-0.601 against
// 0.572-0.735 for 32, 128 no better; the first rows' prefetch 0.54-0.68
// against 0.58-0.72 (0.58-0.63 against 0.66-0.72 on two goroutines).
const prefetchRows = 64

// genGroupDots emits the scores kernel: for each key row j, s[8j+h] =
// scale · q_h·row_j for h < heads (q_h = q[h·d:], rows stride floats
// apart) and 0 in the lanes from heads to 8. Every head has its own
// eight-lane accumulator per row (lane l adds the products of the dims ≡
// l mod 8 in order, with FMAs), and a row's eight accumulators are
// reduced together with the tree of dotsAVX2's eight-row blocks, so each
// score is rounded exactly as dotsAVX2 rounds a row of such a block,
// whatever heads is. Rows go two at a time (then one), each dim vector of
// q loaded once for both: the two rows' chains of FMAs hide each other's
// latency.
//
// With e = f16, the rows are binary16 (groupDotsF16AVX512): each eight
// dims of a row are widened to float32 with VCVTPH2PS, which is exact, in
// place of the load, so the scores are those of the float32 kernel on the
// widened rows bit for bit; strides and prefetch distances are in rows, so
// the bytes ahead halve.
func genGroupDots(e elem) {
	name := "groupDots" + e.infix + "AVX512"
	TEXT(name, NOSPLIT, "func(s, q []float32, rows []"+e.goType+", d, stride, heads int, scale float32)")
	Pragma("noescape")
	Doc(name+" sets s[8j+h] = scale · Σ_k q[h·d+k]·"+e.of("rows[j·stride+k]"),
		"(k < d) for j < len(s)/8 and h < heads, and s[8j+h] = 0 for h ≥ heads;",
		"heads is 1 to 8, d a positive multiple of 8, len(s) a positive multiple",
		"of 8 and rows long enough.")
	sp := Load(Param("s").Base(), GP64())
	n := Load(Param("s").Len(), GP64())
	SHRQ(U8(3), n)
	qb := Load(Param("q").Base(), GP64())
	rp := Load(Param("rows").Base(), GP64())
	d := Load(Param("d"), GP64())
	sb := Load(Param("stride"), GP64())
	SHLQ(U8(e.shift), sb)
	heads := Load(Param("heads"), GP64())
	scs := Load(Param("scale"), XMM())
	sc := YMM()
	VBROADCASTSS(scs, sc)
	pf := GP64() // the prefetch offset, prefetchRows rows in bytes
	IMUL3Q(U8(prefetchRows), sb, pf)
	var rw Register // a row in bytes
	if e.shift != 2 {
		rw = GP64()
		MOVQ(d, rw)
		SHLQ(U8(e.shift), rw)
	}
	dq := d // a head of q in bytes
	SHLQ(U8(2), dq)
	if e.shift == 2 {
		rw = dq
	}
	d3 := GP64()
	LEAQ(Mem{Base: dq, Index: dq, Scale: 2}, d3)

	// The first rows, up to prefetchRows, which the loop does not
	// prefetch.
	{
		j, a, off := GP64(), GP64(), GP64()
		MOVQ(n, j)
		CMPQ(j, U8(prefetchRows))
		JLE(LabelRef("gdots_warm"))
		MOVQ(U32(prefetchRows), j)
		Label("gdots_warm")
		MOVQ(rp, a)
		Label("gdots_warm_row")
		XORQ(off, off)
		Label("gdots_warm_line")
		PREFETCHT1(Mem{Base: a, Index: off, Scale: 1})
		ADDQ(U8(64), off)
		CMPQ(off, rw)
		JL(LabelRef("gdots_warm_line"))
		ADDQ(sb, a)
		DECQ(j)
		JNE(LabelRef("gdots_warm_row"))
	}

	for nh := 1; nh <= 8; nh++ {
		CMPQ(heads, U8(nh))
		JE(LabelRef(fmt.Sprintf("gdots%d", nh)))
	}
	JMP(LabelRef("gdots_done"))
	for nh := 1; nh <= 8; nh++ {
		Label(fmt.Sprintf("gdots%d", nh))
		for _, rb := range []int{2, 1} {
			name := fmt.Sprintf("gdots%d_r%d", nh, rb)
			Label(name)
			CMPQ(n, U8(rb))
			JL(LabelRef(name + "_end"))
			acc := make([][]VecVirtual, rb)
			for r := range acc {
				acc[r] = make([]VecVirtual, 8)
				for h := range nh {
					acc[r][h] = YMM()
					VXORPS(acc[r][h], acc[r][h], acc[r][h])
				}
			}
			// The lines of the rows prefetchRows ahead (no fault past
			// the end).
			pa := make([]Register, rb)
			for r := range rb {
				pa[r] = GP64()
				LEAQ(Mem{Base: rp, Index: pf, Scale: 1}, pa[r])
				if r > 0 {
					ADDQ(sb, pa[r])
				}
			}
			off := GP64()
			XORQ(off, off)
			Label(name + "_pf")
			for r := range rb {
				PREFETCHT1(Mem{Base: pa[r], Index: off, Scale: 1})
			}
			ADDQ(U8(64), off)
			CMPQ(off, rw)
			JL(LabelRef(name + "_pf"))

			q, q3, a, k := GP64(), GP64(), GP64(), GP64()
			MOVQ(qb, q)
			LEAQ(Mem{Base: qb, Index: d3, Scale: 1}, q3)
			MOVQ(rp, a)
			MOVQ(dq, k)
			Label(name + "_k")
			kv := make([]VecVirtual, rb)
			for r := range rb {
				kv[r] = YMM()
				m := Mem{Base: a}
				if r > 0 {
					m = Mem{Base: a, Index: sb, Scale: 1}
				}
				e.load(m, kv[r])
			}
			// Head h's dims at q + h·dq, from q or q3 = q + 3·dq.
			qh := []Mem{
				{Base: q}, {Base: q, Index: dq, Scale: 1}, {Base: q, Index: dq, Scale: 2},
				{Base: q3}, {Base: q, Index: dq, Scale: 4}, {Base: q3, Index: dq, Scale: 2},
				{Base: q3, Index: d3, Scale: 1}, {Base: q3, Index: dq, Scale: 4},
			}
			for h := range nh {
				if rb == 1 {
					VFMADD231PS(qh[h], kv[0], acc[0][h])
					continue
				}
				qv := YMM()
				VMOVUPS(qh[h], qv)
				for r := range rb {
					VFMADD231PS(qv, kv[r], acc[r][h])
				}
			}
			ADDQ(U8(32), q)
			ADDQ(U8(32), q3)
			ADDQ(U8(8<<e.shift), a)
			SUBQ(U8(32), k)
			JNE(LabelRef(name + "_k"))

			for r := range rb {
				if nh < 8 {
					z := YMM()
					VXORPS(z, z, z)
					for h := nh; h < 8; h++ {
						acc[r][h] = z
					}
				}
				t := reduce8(acc[r])
				VMULPS(sc, t, t)
				VMOVUPS(t, Mem{Base: sp}.Offset(32*r))
			}
			ADDQ(U8(32*rb), sp)
			if rb == 1 {
				ADDQ(sb, rp)
			} else {
				LEAQ(Mem{Base: rp, Index: sb, Scale: uint8(rb)}, rp)
			}
			SUBQ(U8(rb), n)
			JMP(LabelRef(name))
			Label(name + "_end")
		}
		JMP(LabelRef("gdots_done"))
	}
	Label("gdots_done")
	VZEROUPPER()
	RET()
}

// reduce8 returns the eight sums of the lanes of acc[0..7] in a new
// register, lane i holding acc[i]'s, with the tree of dotsAVX2's
// eight-row blocks (VHADDPS of pairs, again of those, then the low and
// high halves added), built from EVEX-encodable instructions (VHADDPS
// and VPERM2F128 have none, and the registers may be Y16-Y31):
// VHADDPS(b, a) is VADDPS of VSHUFPS 0x88 and 0xDD of a and b.
func reduce8(acc []VecVirtual) VecVirtual {
	hadd := func(b, a VecVirtual) VecVirtual {
		e, o := YMM(), YMM()
		VSHUFPS(U8(0x88), b, a, e)
		VSHUFPS(U8(0xdd), b, a, o)
		VADDPS(o, e, e)
		return e
	}
	t := make([]VecVirtual, 4)
	for i := range t {
		t[i] = hadd(acc[2*i+1], acc[2*i])
	}
	u0 := hadd(t[1], t[0]) // rows 0-3: low lane halves, high lane halves
	u1 := hadd(t[3], t[2]) // rows 4-7
	lo, hi := YMM(), YMM()
	VSHUFF32X4(U8(0), u1, u0, lo) // low 128 bits of u0, then of u1
	VSHUFF32X4(U8(3), u1, u0, hi) // high 128 bits of u0, then of u1
	VADDPS(hi, lo, lo)
	return lo
}

// genSoftmaxLanes emits softmax down each of the eight lanes of n rows
// (lane l: s[8j+l] for j < n), each lane as Softmax computes it on its
// own: the lane's maximum m, e = exp(x-m) (expPS, as in expSumAVX2) with
// the float64 sum of the e in row order (as in Softmax's pure-Go path),
// then e·float32(1/sum); it also writes each lane's m and float32(sum)
// to stats, with which AttendGroup merges the segments of long caches
// (see MergeAttention). The pass of the exponentials, which touches no memory beyond s, also
// prefetches row j of the values into L2 at position j, so that they
// come from memory while it computes rather than while groupRows waits.
// With e = f16 (softmaxLanesF16AVX2) the rows it prefetches are binary16;
// the arithmetic is the same.
func genSoftmaxLanes(el elem) {
	name := "softmaxLanes" + el.infix + "AVX2"
	TEXT(name, NOSPLIT, "func(s []float32, next []"+el.goType+", stride, width int, stats []float32)")
	Pragma("noescape")
	Doc(name+" replaces each lane l of s (s[8j+l] for j < len(s)/8)",
		"by its softmax and sets stats[l] to the lane's maximum and stats[8+l]",
		"to its sum of exponentials, rounded to float32; len(s) must be a",
		"positive multiple of 8 and stats hold 16 floats. It prefetches the",
		"first width "+el.word+" of rows stride "+el.word+" apart from next into L2,",
		"one row per row of s; width must be positive.")
	sb := Load(Param("s").Base(), GP64())
	nb := Load(Param("s").Len(), GP64())
	SHRQ(U8(3), nb)
	vp := Load(Param("next").Base(), GP64())
	vs := Load(Param("stride"), GP64())
	SHLQ(U8(el.shift), vs)
	vw := Load(Param("width"), GP64())
	SHLQ(U8(el.shift), vw)

	p, n := GP64(), GP64()
	m := YMM()
	VBROADCASTSS(sNegInf, m)
	MOVQ(sb, p)
	MOVQ(nb, n)
	Label("sml_max")
	VMAXPS(Mem{Base: p}, m, m)
	ADDQ(U8(32), p)
	DECQ(n)
	JNE(LabelRef("sml_max"))

	s0, s1 := YMM(), YMM()
	VXORPD(s0, s0, s0)
	VXORPD(s1, s1, s1)
	MOVQ(sb, p)
	MOVQ(nb, n)
	Label("sml_exp")
	off := GP64()
	XORQ(off, off)
	Label("sml_pf")
	PREFETCHT1(Mem{Base: vp, Index: off, Scale: 1})
	ADDQ(U8(64), off)
	CMPQ(off, vw)
	JL(LabelRef("sml_pf"))
	ADDQ(vs, vp)
	x := YMM()
	VMOVUPS(Mem{Base: p}, x)
	VSUBPS(m, x, x)
	e := expPS(x)
	VMOVUPS(e, Mem{Base: p})
	lo, hi := YMM(), YMM()
	h := XMM()
	VCVTPS2PD(e.AsX(), lo)
	VEXTRACTF128(U8(1), e, h)
	VCVTPS2PD(h, hi)
	VADDPD(lo, s0, s0)
	VADDPD(hi, s1, s1)
	ADDQ(U8(32), p)
	DECQ(n)
	JNE(LabelRef("sml_exp"))

	st := Load(Param("stats").Base(), GP64())
	VMOVUPS(m, Mem{Base: st})
	{
		l, h := XMM(), XMM()
		VCVTPD2PSY(s0, l)
		VCVTPD2PSY(s1, h)
		VMOVUPS(l, Mem{Base: st, Disp: 32})
		VMOVUPS(h, Mem{Base: st, Disp: 48})
	}
	one := YMM()
	VBROADCASTSD(sOnePD, one)
	VDIVPD(s0, one, s0)
	VDIVPD(s1, one, s1)
	il, ih := XMM(), XMM()
	VCVTPD2PSY(s0, il)
	VCVTPD2PSY(s1, ih)
	inv := YMM()
	VINSERTF128(U8(1), ih, il.AsY(), inv)
	MOVQ(sb, p)
	MOVQ(nb, n)
	Label("sml_scale")
	y := YMM()
	VMULPS(Mem{Base: p}, inv, y)
	VMOVUPS(y, Mem{Base: p})
	ADDQ(U8(32), p)
	DECQ(n)
	JNE(LabelRef("sml_scale"))
	VZEROUPPER()
	RET()
}

// genGroupRows emits the weighted sums: out[h·dv+k] = Σ_j p[8j+h] ·
// rows[j·stride+k] for h < heads, k < dv. The columns go in blocks of w
// ZMM registers (w = 4, or 3 for eight heads, so that the heads·w
// accumulators and the row's w registers fit in the 32), then one ZMM at
// a time; each block runs over all the rows, adding row j with one FMA
// per element and head (the weight an embedded-broadcast operand), in row
// order from zero: exactly what clearing out and calling addWeightedRows
// per head computes. With e = f16 (groupRowsF16AVX512) each sixteen
// values of a row are widened exactly with VCVTPH2PS in place of the
// load, and a block of w registers spans half as many cache lines.
func genGroupRows(e elem) {
	name := "groupRows" + e.infix + "AVX512"
	TEXT(name, NOSPLIT, "func(out, p []float32, rows []"+e.goType+", dv, stride, heads int)")
	Pragma("noescape")
	Doc(name+" sets out[h·dv+k] = Σ_j p[8j+h]·"+e.of("rows[j·stride+k]")+" over",
		"j < len(p)/8 for h < heads and k < dv; heads is 1 to 8, dv a positive",
		"multiple of 16, len(p) a positive multiple of 8 and rows long enough.")
	ob := Load(Param("out").Base(), GP64())
	pb := Load(Param("p").Base(), GP64())
	nb := Load(Param("p").Len(), GP64())
	SHRQ(U8(3), nb)
	rb := Load(Param("rows").Base(), GP64())
	dv := Load(Param("dv"), GP64())
	sb := Load(Param("stride"), GP64())
	SHLQ(U8(e.shift), sb)
	heads := Load(Param("heads"), GP64())
	pf := GP64()
	IMUL3Q(U8(prefetchRows), sb, pf)
	dq := GP64() // a head of out in bytes
	MOVQ(dv, dq)
	SHLQ(U8(2), dq)
	d3 := GP64()
	LEAQ(Mem{Base: dq, Index: dq, Scale: 2}, d3)

	for nh := 1; nh <= 8; nh++ {
		CMPQ(heads, U8(nh))
		JE(LabelRef(fmt.Sprintf("grows%d", nh)))
	}
	JMP(LabelRef("grows_done"))
	for nh := 1; nh <= 8; nh++ {
		Label(fmt.Sprintf("grows%d", nh))
		wmax := 4
		if nh == 8 {
			wmax = 3
		}
		for _, w := range []int{wmax, 1} {
			name := fmt.Sprintf("grows%d_w%d", nh, w)
			Label(name + "_cols")
			CMPQ(dv, U8(16*w))
			JL(LabelRef(name + "_end"))
			acc := make([][]VecVirtual, nh)
			for h := range acc {
				acc[h] = make([]VecVirtual, w)
				for c := range w {
					acc[h][c] = ZMM()
					VXORPS(acc[h][c], acc[h][c], acc[h][c])
				}
			}
			p, a, j := GP64(), GP64(), GP64()
			MOVQ(pb, p)
			MOVQ(rb, a)
			MOVQ(nb, j)
			Label(name + "_j")
			// The block's lines, one per 64 bytes (exactly its lines
			// when the rows are aligned).
			blk := 16 << e.shift // bytes of a register's values
			for c := range (w*blk + 63) / 64 {
				PREFETCHT1(Mem{Base: a, Index: pf, Scale: 1, Disp: 64 * c})
			}
			v := make([]VecVirtual, w)
			for c := range w {
				v[c] = ZMM()
				e.load(Mem{Base: a}.Offset(blk*c), v[c])
			}
			for h := range nh {
				for c := range w {
					VFMADD231PS_BCST(Mem{Base: p}.Offset(4*h), v[c], acc[h][c])
				}
			}
			ADDQ(U8(32), p)
			ADDQ(sb, a)
			DECQ(j)
			JNE(LabelRef(name + "_j"))
			o3 := GP64()
			LEAQ(Mem{Base: ob, Index: d3, Scale: 1}, o3)
			outs := []Mem{
				{Base: ob}, {Base: ob, Index: dq, Scale: 1}, {Base: ob, Index: dq, Scale: 2},
				{Base: o3}, {Base: ob, Index: dq, Scale: 4}, {Base: o3, Index: dq, Scale: 2},
				{Base: o3, Index: d3, Scale: 1}, {Base: o3, Index: dq, Scale: 4},
			}
			for h := range nh {
				for c := range w {
					VMOVUPS(acc[h][c], outs[h].Offset(64*c))
				}
			}
			ADDQ(U32(64*w), ob)
			ADDQ(U32((16<<e.shift)*w), rb)
			SUBQ(U8(16*w), dv)
			JMP(LabelRef(name + "_cols"))
			Label(name + "_end")
		}
		JMP(LabelRef("grows_done"))
	}
	Label("grows_done")
	VZEROUPPER()
	RET()
}
