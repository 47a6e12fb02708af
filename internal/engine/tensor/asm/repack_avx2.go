package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 tiles of the repacked layouts Q4_0x8, Q5_0x8 and Q8_0x8, for CPUs
// without AVX-512 VNNI: the design of repack.go (one int32 lane per row,
// the activation dword of chunk j broadcast to all eight rows, the scales
// of eight rows applied with one vector multiply, the same scratch of
// (d_x, -o·Σx) per block and vector, the same float operations and so
// bit-identical results), with VEX-encoded AVX2 instructions only
// (registers Y0-Y15) in place of VPDPBUSD:
//
//   - Q4_0x8: VPMADDUBSW of the unsigned nibbles q (≤ 15) by the
//     broadcast signed activation dword gives int16 pairs of at most
//     2·15·128 = 3840 in magnitude, so the eight of a block (four chunks,
//     low and high nibbles) add up in int16 exactly (≤ 30720 < 32767)
//     with VPADDW; one VPMADDWD with int16 ones per block and vector
//     widens them to the int32 lane of each row, Σq·x, onto which the
//     block's -8·Σx is added.
//   - Q5_0x8: as Q4_0x8 with each half-chunk's fifth bits spread from
//     their 32-bit mask to bytes (VPSHUFB, VPAND, VPCMPEQB, as the
//     row-major Q5_0 kernels do) and 16 of them ORed in; the values
//     (≤ 31) allow only a chunk's two VPMADDUBSW in int16, so each chunk
//     is widened with VPMADDWD and added in int32. Against the row-major
//     Q5_0 tiles (BenchmarkRepackedAVX2, two runs; ...AVX2DRAM, three, on
//     huge pages): in cache 1.53-1.98 times (1 to 8 vectors), on DRAM
//     1.50-1.89 times at one goroutine and 1.23-1.56 at two. With one
//     or two vectors the spreading constants, the 16s and the int16 ones
//     stay in registers (as memory operands they were five loads per
//     half-chunk): one vector in cache 20.4-20.7 → 25.1-25.6 GB/s
//     (×1.24-1.25, old and new binaries alternated, three runs); four
//     vectors, which keep them in memory, unchanged.
//   - Q4_1x8 and Q5_1x8: as Q4_0x8 and Q5_0x8 without the offset, plus
//     m_w·s_x per block (see repack.go); one vector in cache 25-45 GB/s
//     against 0.65-0.70 for the pure-Go kernels Q4_1 and Q5_1 had;
//   - Q8_0x8: the stored bytes are u = w+128; w = u XOR 0x80 is signed.
//     VPMADDUBSW(u, x) could saturate (2·255·127 > 32767), so, as the
//     row-major Q8_0 kernels do, the products are |w|·sign(x, w)
//     (VPABSB once per chunk, VPSIGNB per chunk and vector): |w| ≤ 128
//     and |x| ≤ 127 (QuantizeActivations), at most 2·128·127 = 32512 per
//     pair, exact, but two pairs could overflow int16, so each chunk is
//     widened (VPMADDWD with ones) and added in int32 (VPADDD). The sum
//     is Σw·x itself: no offset correction.
//
// Measured against the avx2 table's row-major tiles on the same matrices,
// alternated (BenchmarkRepackedAVX2, BenchmarkRepackedAVX2DRAM: six runs,
// medians and ranges; Zen 4, 2 vCPUs, another helper benchmarking too):
//
//   - in cache, one goroutine: Q4_0x8 one vector 76-79 GMAC/s against
//     23-31 (2.48 times 896×896, 3.37 times 896×4864), 4 and 8 vectors
//     116-118 against 42 (2.76-2.85); Q8_0x8 one vector 52-53 against
//     27-31 (1.67, 1.94), 4 and 8 vectors 64-66 against 44 (1.44-1.50);
//   - one vector on ~300 MB of DRAM-resident copies on transparent huge
//     pages: Q4_0x8 28.0 and 29.7 GB/s against 12.3 and 16.2 at one
//     goroutine (2.27, 1.83 times; 896×4864, 4864×896), 18.4 and 23.1
//     against 12.3 and 13.3 at two (1.53, 1.73); Q8_0x8 28.3 and 29.6
//     against 24.5 and 27.0 at one (1.17, 1.10), but 19.3 and 25.6
//     against 22.2 and 25.2 at two (0.88, range 0.59-0.94, on 896×4864;
//     1.05 on 4864×896), as with the VNNI tiles (repack.go). PREFETCHT0
//     of the group-block 1 or 4 KiB ahead in the 8×1 tile did not help
//     (0.76-0.83 and 0.86-0.90 at two goroutines on 896×4864, slower at
//     one), so the avx2 table takes Q4_0x8 only.
//
// The 8×3 and 8×4 tiles (and Q4_0x8's 8×2, see farTile) have Far
// variants that prefetch the weights widePrefetch bytes ahead, as the
// VNNI ones do; MatMul gives them a call's first vectors of rows whose
// groups exceed 10 KiB (the later passes find the chunk in L2). Eight
// vectors on ~300 MB of DRAM-resident copies
// (BenchmarkRepackedBatchDRAM, the avx2 table, three alternated runs):
// Q4_0x8 896×4864 at 4.5-4.7 GB/s without against 6.1-6.5 with at one
// goroutine, 7.0-7.8 against 7.9-10.0 at two, ffn_down over gate/up (the
// same bytes) 1.44-1.51 times the time without, 1.07-1.11 with; Q4_Kx8
// (repackk_avx2.go) 5.1 against 6.3-6.5 and 7.8-8.7 against 9.5-9.8.
//
// Signature (as the VNNI tiles'):
//
//	func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)

// fifthOperands returns orFifthBits' q5Spread, q5Bits and 16s (c16), loaded
// into registers if inReg, else as memory operands.
func fifthOperands(inReg bool, c16 Mem) (spread, bits, sixteen Op) {
	return inRegister(inReg, q5Spread), inRegister(inReg, q5Bits), inRegister(inReg, c16)
}

// inRegister returns m loaded into a new YMM register if inReg, else m.
func inRegister(inReg bool, m Mem) Op {
	if !inReg {
		return m
	}
	r := YMM()
	VMOVDQU(m, r)
	return r
}

// orFifthBits ORs 16 into the bytes of q whose bit is set in the 32-bit
// mask at m (bit i for byte i): the mask broadcast, spread to one byte per
// bit (VPSHUFB by spread, VPAND and VPCMPEQB by bits: 0xff where set) and
// kept as 16 (VPAND by sixteen). spread, bits and sixteen are q5Spread,
// q5Bits and 16s, in registers or memory.
func orFifthBits(m Mem, q VecVirtual, spread, bits, sixteen Op) {
	mb := YMM()
	VPBROADCASTD(m, mb)
	VPSHUFB(spread, mb, mb)
	VPAND(bits, mb, mb)
	VPCMPEQB(bits, mb, mb)
	VPAND(sixteen, mb, mb)
	VPOR(mb, q, q)
}

// widenAdd widens the int16 pairs of b to int32 sums and sets acc to
// them (first) or adds them to it; b is clobbered.
func widenAdd(b, acc VecVirtual, first bool) { widenAddOnes(onesWMem, b, acc, first) }

// widenAddOnes is widenAdd with the int16 ones taken from ones (a
// register or onesWMem).
func widenAddOnes(ones Op, b, acc VecVirtual, first bool) {
	if first {
		VPMADDWD(ones, b, acc)
		return
	}
	VPMADDWD(ones, b, b)
	VPADDD(b, acc, acc)
}

func repackTileNameAVX2(t repackType, C int, far bool) string {
	f := ""
	if far {
		f = "Far"
	}
	return fmt.Sprintf("tile%sx8_8x%d%sAVX2", t.name, C, f)
}

// genRepackAVX2 generates the AVX2 tiles of Q4_0x8, Q5_0x8 and Q8_0x8.
func genRepackAVX2() {
	m0f := byteMem("b0f_rpavx2", 0x0f)
	m08 := byteMem("b08_rpavx2", 8)
	m80 := byteMem("b80_rpavx2", 0x80)
	m10 := byteMem("b10_rpavx2", 0x10)
	for _, t := range []repackType{
		{name: "Q4_0", bsize: sizeQ4_0, chunks: 4, offset: 8},
		{name: "Q5_0", bsize: sizeQ5_0, chunks: 4, offset: 16, fifth: true},
		{name: "Q8_0", bsize: sizeQ8_0, chunks: 8, offset: 0x80},
		{name: "Q4_1", bsize: sizeQ4_1, chunks: 4, min: true},
		{name: "Q5_1", bsize: sizeQ5_1, chunks: 4, offset: 16, fifth: true, min: true},
	} {
		off := m08
		if t.fifth {
			off = m10
		}
		for C := 1; C <= 4; C++ {
			genRepackTileAVX2(t, C, false, m0f, off, m80)
			if farTile(t, C) {
				genRepackTileAVX2(t, C, true, m0f, off, m80)
			}
		}
	}
}

// genRepackTileAVX2 generates the 8×C AVX2 tile of t, prefetching the
// weights widePrefetch bytes ahead if far; m08 holds bytes of t's offset
// o (8 for Q4_0, 16 for Q5_0).
func genRepackTileAVX2(t repackType, C int, far bool, m0f, m08, m80 Mem) {
	name := repackTileNameAVX2(t, C, far)
	TEXT(name, NOSPLIT, "func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)")
	Pragma("noescape")
	xt := "Q8_0"
	if t.min {
		xt = "Q8_1"
	}
	Doc(fmt.Sprintf("%s sets y[c*ystride+r] to row r of the %sx8 matrix w times", name, t.name),
		fmt.Sprintf("the %s vector x[c*xstride:], for c < %d and groups·8 rows, in AVX2,", xt, C),
		"bit-identical to matRepackedGo; scratch holds 2·C·n/32 words.")
	q4 := t.chunks == 4

	// Per call: (d_x, -o·Σx) (Q4_0, Q5_0; Q4_1, Q5_1: (d_x, s_x); Q8_0:
	// d_x only) of every block of every vector into scratch.
	sp0 := Load(Param("scratch").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	var xs, xs3 Register
	if C > 1 {
		xs = Load(Param("xstride"), GP64())
		if C > 3 {
			xs3 = GP64()
			LEAQ(Mem{Base: xs, Index: xs, Scale: 2}, xs3)
		}
	}
	{
		var e8, zr VecVirtual
		if q4 && !t.min {
			e8 = YMM()
			VMOVDQU(m08, e8)
			zr = YMM()
			VPXOR(zr, zr, zr)
		}
		n := Load(Param("n"), GP64())
		SHRQ(U8(5), n)
		xp, sp := GP64(), GP64()
		MOVQ(x, xp)
		MOVQ(sp0, sp)
		Label(name + "_pre")
		CMPQ(n, U32(0))
		JE(LabelRef(name + "_main"))
		for c, xm := range strided(xp, xs, xs3, C) {
			if t.min {
				sx := XMM()
				VPBROADCASTW(xm.Offset(2), sx)
				VCVTPH2PS(sx, sx)
				VMOVSS(sx, Mem{Base: sp, Disp: 8*c + 4})
			} else if q4 {
				a := YMM()
				VPMADDUBSW(xm.Offset(2), e8, a) // o·(x0+x1) per word, exact
				VPMADDWD(onesWMem, a, a)
				s := sumD(a)
				VPSUBD(s, zr.AsX(), s) // -o·Σx
				VMOVD(s, Mem{Base: sp, Disp: 8*c + 4})
			}
			h := XMM()
			VPBROADCASTW(xm, h)
			VCVTPH2PS(h, h)
			VMOVSS(h, Mem{Base: sp, Disp: 8 * c})
		}
		ADDQ(U32(t.xsize()), xp)
		ADDQ(U32(8*C), sp)
		DECQ(n)
		JMP(LabelRef(name + "_pre"))
	}

	Label(name + "_main")
	w := Load(Param("w").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	groups := Load(Param("groups"), GP64())
	m0 := YMM() // Q4_0: the nibble mask; Q8_0: 0x80 bytes
	if q4 {
		VMOVDQU(m0f, m0)
	} else {
		VMOVDQU(m80, m0)
	}
	sums := make([]VecVirtual, C)
	for c := range sums {
		sums[c] = YMM()
	}
	// Q5_0x8 with one or two vectors keeps the constants of the fifth
	// bits in registers: as memory operands they were four loads per
	// half-chunk, and the tile is bound by loads.
	inReg := t.fifth && C <= 2
	spread, bits, sixteen := fifthOperands(inReg, m08)
	ones := inRegister(inReg, onesWMem)

	Label(name + "_rows")
	CMPQ(groups, U32(0))
	JE(LabelRef(name + "_done"))
	for _, s := range sums {
		VPXOR(s, s, s)
	}
	n := Load(Param("n"), GP64())
	SHRQ(U8(5), n)
	wp, xp, sp := GP64(), GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(x, xp)
	MOVQ(sp0, sp)
	xm := strided(xp, xs, xs3, C)
	wm := Mem{Base: wp}

	Label(name + "_blocks")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	if far {
		prefetchAhead(wp, widePrefetch, t.groupBlock())
	}
	// acc[c]: Q4_0 the int16 pair sums of the block, Q5_0 and Q8_0 the
	// int32 lanes.
	acc := make([]VecVirtual, C)
	for c := range acc {
		acc[c] = YMM()
	}
	for j := 0; j < t.chunks; j++ {
		cm := wm.Offset(t.quants() + 32*j)
		if q4 {
			lo, hi := YMM(), YMM()
			VMOVDQU(cm, lo)
			VPSRLW(U8(4), lo, hi)
			VPAND(m0, lo, lo)
			VPAND(m0, hi, hi)
			if t.fifth {
				// Q5_0: spread each half's mask to its 32 bytes (0xff
				// where set), keep 16 of it and add it to the nibbles;
				// the values (≤ 31) make pairs of products of up to
				// 2·31·128 = 7936, so a chunk's two (≤ 15872) are added
				// in int16 and then widened, chunk by chunk.
				for h, q := range []VecVirtual{lo, hi} {
					orFifthBits(wm.Offset(t.masks()+8*j+4*h), q, spread, bits, sixteen)
				}
				for c := 0; c < C; c++ {
					b, b2 := YMM(), YMM()
					VPBROADCASTD(xm[c].Offset(t.xq()+4*j), b)
					VPMADDUBSW(b, lo, b)
					VPBROADCASTD(xm[c].Offset(t.xq()+16+4*j), b2)
					VPMADDUBSW(b2, hi, b2)
					VPADDW(b2, b, b)
					widenAddOnes(ones, b, acc[c], j == 0)
				}
				continue
			}
			for c := 0; c < C; c++ {
				for h, q := range []VecVirtual{lo, hi} {
					b := YMM()
					VPBROADCASTD(xm[c].Offset(t.xq()+16*h+4*j), b)
					if j == 0 && h == 0 {
						VPMADDUBSW(b, q, acc[c])
						continue
					}
					VPMADDUBSW(b, q, b)
					VPADDW(b, acc[c], acc[c])
				}
			}
			continue
		}
		sw, aw := YMM(), YMM()
		VPXOR(cm, m0, sw) // w = u XOR 0x80
		VPABSB(sw, aw)
		for c := 0; c < C; c++ {
			b := YMM()
			VPBROADCASTD(xm[c].Offset(2+4*j), b)
			VPSIGNB(sw, b, b)
			VPMADDUBSW(b, aw, b)
			widenAdd(b, acc[c], j == 0)
		}
	}
	dw := YMM()
	VCVTPH2PS(wm, dw)
	for c := 0; c < C; c++ {
		a := acc[c]
		if q4 {
			if !t.fifth {
				VPMADDWD(onesWMem, a, a)
			}
			if !t.min {
				o := YMM()
				VPBROADCASTD(Mem{Base: sp, Disp: 8*c + 4}, o)
				VPADDD(o, a, a) // Σq·x - o·Σx
			}
		}
		p := YMM()
		VBROADCASTSS(Mem{Base: sp, Disp: 8 * c}, p)
		VMULPS(p, dw, p) // d_w·d_x
		VCVTDQ2PS(a, a)
		VMULPS(p, a, a) // float32(sumi)·(d_w·d_x)
		if t.min {
			m := YMM()
			VCVTPH2PS(wm.Offset(16), m) // the rows' mins
			sx := YMM()
			VBROADCASTSS(Mem{Base: sp, Disp: 8*c + 4}, sx)
			VMULPS(sx, m, m) // m_w·s_x
			VADDPS(m, a, a)
		}
		VADDPS(a, sums[c], sums[c])
	}
	ADDQ(U32(t.groupBlock()), wp)
	ADDQ(U32(t.xsize()), xp)
	ADDQ(U32(8*C), sp)
	DECQ(n)
	JMP(LabelRef(name + "_blocks"))

	Label(name + "_store")
	ym := stridedY(y, C)
	for c, s := range sums {
		VMOVUPS(s, ym[c])
	}
	// wp is one group past w.
	MOVQ(wp, w)
	ADDQ(U32(32), y)
	DECQ(groups)
	JMP(LabelRef(name + "_rows"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}
