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
	sizeQ4_1 = 20
	sizeQ5_1 = 24
	sizeQ8_1 = 36
	sizeQ4_K = 144
	sizeQ5_K = 176
	sizeQ6_K = 210
	sizeQ8_K = 292
)

func genQ8_0() {
	block32Kernels(block32Type{name: "Q8_0", wsize: sizeQ8_0, decodeRows: 2, ntaDecode: true, setup: func() func(Mem) (VecVirtual, Op) {
		return func(wm Mem) (VecVirtual, Op) {
			q := YMM()
			VMOVDQU(wm.Offset(2), q)
			return q, wm.Offset(2)
		}
	}})
}

// byteMem returns a 32-byte read-only constant with every byte set to v,
// for use as a memory operand.
func byteMem(name string, v uint8) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for j := 0; j < 32; j++ {
		DATA(j, U8(v))
	}
	return m
}

// nibbles loads 16 bytes at m and returns their 32 low and high nibbles:
// the low nibbles in bytes 0..15, the high ones in bytes 16..31.
func nibbles(m Mem, m0f Op) VecVirtual {
	lo, hi := XMM(), XMM()
	VMOVDQU(m, lo)
	VPSRLW(U8(4), lo, hi)
	q := YMM()
	VINSERTI128(U8(1), hi, lo.AsY(), q)
	VPAND(m0f, q, q)
	return q
}

func genQ4_0() {
	m0f, m8 := byteMem("b0f_q4", 0x0f), byteMem("b08_q4", 8)
	block32Kernels(block32Type{name: "Q4_0", wsize: sizeQ4_0, decodeRows: 4, mode: offset, offset: m8, setup: func() func(Mem) (VecVirtual, Op) {
		return func(wm Mem) (VecVirtual, Op) {
			q := nibbles(wm.Offset(2), m0f) // the value is q-8
			return q, q
		}
	}})
}

func genQ5_0() {
	m0f, m10 := byteMem("b0f_q5", 0x0f), byteMem("b10_q5", 0x10)
	block32Kernels(block32Type{name: "Q5_0", wsize: sizeQ5_0, decodeRows: 4, mode: offset, offset: m10, setup: func() func(Mem) (VecVirtual, Op) {
		return func(wm Mem) (VecVirtual, Op) {
			q := nibbles(wm.Offset(6), m0f)
			// The value is (nibble | bit<<4) - 16.
			orFifthBits(wm.Offset(2), q, q5Spread, q5Bits, m10)
			return q, q
		}
	}})
}
