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

// block32Dot generates a dot product over 32-value blocks with Q8_0
// activations. setup emits the constants the kernel needs (before the
// loop) and returns unpack, which returns the 32 signed weight bytes of the
// block at wm in a YMM register. Four blocks are processed per iteration, each into its
// own float accumulator: acc += (d_w·d_x) · float(int32 pair sums).
func block32Dot(name, doc string, wsize int, setup func() func(wm Mem) VecVirtual) {
	TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
	Doc(doc)
	n, w, x := dotParams()
	SHRQ(U8(5), n)
	wm, xm := Mem{Base: w}, Mem{Base: x}
	ones := onesW()
	unpack := setup()
	acc := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	zero(acc...)

	block := func(u int, acc VecVirtual) {
		q := unpack(wm.Offset(u * wsize))
		p := signedDot(q, xm.Offset(u*sizeQ8_0+2), ones)
		VCVTDQ2PS(p, p)
		dw := halfBroadcast(wm.Offset(u * wsize))
		dx := halfBroadcast(xm.Offset(u * sizeQ8_0))
		VMULPS(dx, dw, dw)
		VFMADD231PS(dw, p, acc)
	}

	Label(name + "_loop4")
	CMPQ(n, U32(4))
	JL(LabelRef(name + "_loop1"))
	for u := range acc {
		block(u, acc[u])
	}
	ADDQ(U32(4*wsize), w)
	ADDQ(U32(4*sizeQ8_0), x)
	SUBQ(U32(4), n)
	JMP(LabelRef(name + "_loop4"))

	Label(name + "_loop1")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	block(0, acc[0])
	ADDQ(U32(wsize), w)
	ADDQ(U32(sizeQ8_0), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop1"))

	Label(name + "_done")
	s := sumPS(acc)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

func genQ8_0() {
	block32Dot("dotQ8_0AVX2", "dotQ8_0AVX2 is dotQ8_0Q8_0 with AVX2 and FMA.", sizeQ8_0, func() func(Mem) VecVirtual {
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
	block32Dot("dotQ4_0AVX2", "dotQ4_0AVX2 is dotQ4_0Q8_0 with AVX2 and FMA.", sizeQ4_0, func() func(Mem) VecVirtual {
		m0f, m8 := byteConst(0x0f), byteConst(8)
		return func(wm Mem) VecVirtual {
			q := nibbles(wm.Offset(2), m0f)
			VPSUBB(m8, q, q)
			return q
		}
	})
}

func genQ5_0() {
	block32Dot("dotQ5_0AVX2", "dotQ5_0AVX2 is dotQ5_0Q8_0 with AVX2 and FMA.", sizeQ5_0, func() func(Mem) VecVirtual {
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
