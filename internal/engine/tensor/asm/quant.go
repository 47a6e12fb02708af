package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Block sizes in bytes.
const (
	sizeQ8_0 = 34
	sizeQ4_0 = 18
	sizeQ5_0 = 22
	sizeQ4_K = 144
	sizeQ5_K = 176
	sizeQ6_K = 210
	sizeQ8_K = 292
)

// block32Acc is the number of float accumulators of the 32-value block
// kernels. The multi-row kernels keep that many per row, so it must be
// small enough for four rows to fit in the sixteen YMM registers with their
// temporaries; two are enough to hide the FMA latency behind the rest of a
// block's work.
const block32Acc = 2

// block32Dot generates a dot product over 32-value blocks with Q8_0
// activations, of one weight row with rows activation rows (1 or 4). setup
// emits the constants the kernel needs (before the loop) and returns
// unpack, which returns the 32 signed weight bytes of the block at wm in a
// YMM register.
//
// Each row keeps block32Acc float accumulators, block b going into
// accumulator b mod block32Acc (a final odd block into the first):
// acc += (d_w·d_x) · float(int32 pair sums). Every row of the multi-row
// kernel goes through exactly the instructions of the one-row kernel, in
// the same order, so their results are bit-identical; the multi-row kernel
// only unpacks and scales each weight block once for all its rows.
//
// The one-row kernel has the DotFunc signature; the four-row one is
// func(n int, w, x []byte, stride int, dst *[4]float32), with activation row
// r at x[r*stride:], its result stored in dst[r].
func block32Dot(name string, doc []string, rows, wsize int, setup func() func(wm Mem) VecVirtual) {
	if rows == 1 {
		TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
		Pragma("noescape")
	} else {
		TEXT(name, NOSPLIT, "func(n int, w, x []byte, stride int, dst *[4]float32)")
		Pragma("noescape")
	}
	Doc(doc...)
	n, w, x := dotParams()
	SHRQ(U8(5), n)
	wm := Mem{Base: w}
	xm := []Mem{{Base: x}}
	if rows > 1 {
		stride := Load(Param("stride"), GP64())
		s3 := GP64()
		LEAQ(Mem{Base: stride, Index: stride, Scale: 2}, s3)
		xm = append(xm, Mem{Base: x, Index: stride, Scale: 1}, Mem{Base: x, Index: stride, Scale: 2}, Mem{Base: x, Index: s3, Scale: 1})
	}
	ones := onesW()
	unpack := setup()
	acc := make([][]VecVirtual, rows)
	for r := range acc {
		for range block32Acc {
			acc[r] = append(acc[r], YMM())
		}
		zero(acc[r]...)
	}

	block := func(u, a int) {
		q := unpack(wm.Offset(u * wsize))
		aq := YMM()
		VPSIGNB(q, q, aq) // |w|; the signs go onto the activations
		dw := halfBroadcast(wm.Offset(u * wsize))
		for r, m := range xm {
			p := YMM()
			VMOVDQU(m.Offset(u*sizeQ8_0+2), p)
			VPSIGNB(q, p, p)
			VPMADDUBSW(p, aq, p)
			VPMADDWD(ones, p, p)
			VCVTDQ2PS(p, p)
			dx := halfBroadcast(m.Offset(u * sizeQ8_0))
			VMULPS(dx, dw, dx)
			VFMADD231PS(dx, p, acc[r][a])
		}
	}

	Label(name + "_loopN")
	CMPQ(n, U32(block32Acc))
	JL(LabelRef(name + "_loop1"))
	for u := range block32Acc {
		block(u, u)
	}
	ADDQ(U32(block32Acc*wsize), w)
	ADDQ(U32(block32Acc*sizeQ8_0), x)
	SUBQ(U32(block32Acc), n)
	JMP(LabelRef(name + "_loopN"))

	Label(name + "_loop1")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	block(0, 0)
	ADDQ(U32(wsize), w)
	ADDQ(U32(sizeQ8_0), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop1"))

	Label(name + "_done")
	if rows == 1 {
		s := sumPS(acc[0])
		VZEROUPPER()
		Store(s, ReturnIndex(0))
		RET()
		return
	}
	dst := Load(Param("dst"), GP64())
	for r := range acc {
		s := sumPS(acc[r])
		VMOVSS(s, Mem{Base: dst, Disp: 4 * r})
	}
	VZEROUPPER()
	RET()
}

// block32Kernels generates the one-row and the four-row kernel of a
// 32-value block type.
func block32Kernels(typ string, wsize int, setup func() func(wm Mem) VecVirtual) {
	one := "dot" + typ + "AVX2"
	block32Dot(one, []string{one + " is dot" + typ + "Q8_0 with AVX2 and FMA."}, 1, wsize, setup)
	four := "dot" + typ + "x4AVX2"
	block32Dot(four, []string{four + " is " + one + " of one weight row with four activation",
		"rows, the r-th at x[r*stride:], into dst[r]; bit-identical to four calls of it."}, 4, wsize, setup)
}

func genQ8_0() {
	block32Kernels("Q8_0", sizeQ8_0, func() func(Mem) VecVirtual {
		return func(wm Mem) VecVirtual {
			q := YMM()
			VMOVDQU(wm.Offset(2), q)
			return q
		}
	})
}

// nibbles loads 16 bytes at m and returns their 32 low and high nibbles:
// the low nibbles in bytes 0..15, the high ones in bytes 16..31.
func nibbles(m Mem, m0f VecVirtual) VecVirtual {
	lo, hi := XMM(), XMM()
	VMOVDQU(m, lo)
	VPSRLW(U8(4), lo, hi)
	q := YMM()
	VINSERTI128(U8(1), hi, lo.AsY(), q)
	VPAND(m0f, q, q)
	return q
}

func genQ4_0() {
	block32Kernels("Q4_0", sizeQ4_0, func() func(Mem) VecVirtual {
		m0f, m8 := byteConst(0x0f), byteConst(8)
		return func(wm Mem) VecVirtual {
			q := nibbles(wm.Offset(2), m0f)
			VPSUBB(m8, q, q)
			return q
		}
	})
}

func genQ5_0() {
	block32Kernels("Q5_0", sizeQ5_0, func() func(Mem) VecVirtual {
		m0f, mf0 := byteConst(0x0f), byteConst(0xf0)
		return func(wm Mem) VecVirtual {
			q := nibbles(wm.Offset(6), m0f)
			// Spread the 32 high bits to 32 bytes: 0xff where set.
			h := YMM()
			VPBROADCASTD(wm.Offset(2), h)
			VPSHUFB(q5Spread, h, h)
			VPAND(q5Bits, h, h)
			VPCMPEQB(q5Bits, h, h)
			// value-16 is nibble-16 without the bit and nibble with it;
			// as a signed byte, nibble-16 is nibble | 0xf0.
			VPANDN(mf0, h, h)
			VPOR(h, q, q)
			return q
		}
	})
}
