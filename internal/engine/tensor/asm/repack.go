package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 VNNI tiles of the repacked layouts Q4_0x8, Q5_0x8 and
// Q8_0x8 (see repack.go in package tensor). A group of eight rows stores, per block
// of 32 values, the rows' eight fp16 scales and then 32-byte chunks in
// which byte 4r+k of chunk j is row r's byte 4j+k: one VPDPBUSD of a
// chunk (unsigned weight bytes) with the activation block's dword j
// broadcast (an embedded-broadcast memory operand) adds four products to
// each row's own int32 lane, so a block of eight rows is 8 VPDPBUSD into
// one register, with no horizontal sums, and the eight scales are
// converted and multiplied at once.
//
// Every row's float work is exactly the pure-Go kernels' (dotQ4_0Q8_0,
// dotQ8_0Q8_0), block by block in order, in lanes:
//
//	prod = d_w · d_x                 (VMULPS, d_w the first operand)
//	t    = float32(sumi) · prod      (VCVTDQ2PS, VMULPS)
//	sum  = sum + t                   (VADDPS; sum starts at +0)
//
// with no FMA, so every result is bit-identical to the reference. The
// integer sums are exact, in any order: the unsigned weight bytes u = w+o
// (Q4_0x8: the nibble q, o = 8; Q8_0x8: w+128) times the activations x,
// accumulated onto -o·Σx of the activation block.
//
// Q5_0x8 is Q4_0x8 with o = 16 and a fifth bit per value: each half of
// a chunk (the low or the high nibbles) has a 32-bit mask in the
// group-block, one bit per byte of the chunk, which KMOVD loads into a
// mask register so that one merge-masked VPADDB adds 16 to exactly the
// bytes whose value has it (AVX512BW); the rest is Q4_0x8's. Against
// the row-major Q5_0 tiles (AVX2, the only ones Q5_0 had), one
// goroutine, in cache (BenchmarkRepacked, two runs): 896×896 one vector
// 13.6 → 38.0 GB/s of weights (×2.8), 896×4864 10.7 → 37.4 (×3.5),
// four vectors ×3.3-3.4, eight ×4.1-4.2. The 16s then came from memory
// at each VPADDB and each half-chunk's mask from its own KMOVD: ten
// loads per chunk besides the chunk's and the broadcasts. With the 16s
// in a register and one KMOVQ per chunk (KSHIFTRQ for the high half),
// old and new test binaries alternated, three runs each, fastest call:
// one vector 37.2-38.1 → 45.2-46.5 GB/s (×1.19-1.25), four vectors
// 19.3-20.2 → 22.0-22.4 (×1.11-1.13), eight 12.0-12.3 → 12.5-12.6
// (×1.03-1.04).
//
// Q4_1x8 and Q5_1x8 are Q4_0x8 and Q5_0x8 with no offset (the values
// are q, weight d·q + m) and the rows' mins after their scales; their
// activations are Q8_1, whose block sum s_x the tile keeps in place of
// -o·Σx, and each block adds, as dotQ4_1Q8_1 does,
//
//	t   = float32(sumi)·(d_w·d_x) + m_w·s_x   (VMULPS, VMULPS, VADDPS)
//	sum = sum + t                              (VADDPS)
//
// Q4_1 and Q5_1 had only pure-Go kernels; against them, one goroutine,
// in cache (BenchmarkRepacked, 200 iterations): one vector 0.65-0.70 GB/s
// of weights → 34-59 (Q5_1x8, Q4_1x8), eight vectors ×123-144.
//
// -o·Σx and d_x (as float32) depend only on the activation block, so a
// tile works them out once per call for its vectors, before the rows,
// into a scratch buffer the caller provides ((d_x, -o·Σx) per block and
// vector, vectors of a block adjacent), and loads them per block with
// broadcasts. With more than one vector the tile copies the blocks'
// quants there too, after their (d_x, -o·Σx) (40·C bytes a block), and
// takes them from there: one stream of activations instead of C.
//
// A tile computes G groups of eight rows at a time times C vectors (C ≤
// 4, or 8); only G = 1 is generated: with one vector, G = 2 (two streams of
// weights sharing the activation loads) streamed DRAM-resident weights
// slower whatever the prefetch (see repackTiles in package tensor), and
// these tiles do not prefetch (but for the Far variants that long rows
// take, see widePrefetch): a group is one sequential stream, which the
// hardware prefetcher follows. The signature:
//
//	func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)
//
// y[c*ystride+8g+r] for groups·8 rows (groups a multiple of G) and c < C;
// the groups are contiguous in w (n/32 blocks each), scratch holds
// 2·n/32 words for one vector, 10·C·n/32 for more.

// Measured against the row-major VNNI tiles (tile.go, vnni.go) on the
// same matrices, the avx512vnni table's MatMul alternated between the two
// layouts, one goroutine, Zen 4, medians of 6 runs of each one's fastest
// call (BenchmarkRepacked, BenchmarkRepackedDRAM):
//
//   - one vector, in cache: Q4_0x8 75-80 GMAC/s against 42-44 (1.77-1.84
//     times; 896×896 and 896 rows of 4864), Q8_0x8 71-76 against 36-37
//     (1.98-2.05 times);
//   - 4 and 8 vectors, in cache: Q4_0x8 132-136 GMAC/s against 59-60
//     (2.24-2.31 times), Q8_0x8 131-134 against 63-66 (2.0-2.1 times);
//   - one vector on ~300 MB of DRAM-resident weights: one goroutine,
//     Q4_0x8 20.3-22.2 GB/s against 18.4-18.8 (1.10-1.19 times), Q8_0x8
//     21.5-24.8 against 20.5-25.2 (0.99-1.06); two goroutines slower than
//     the row-major tiles (0.66-0.92 times: Q4_0x8 12.2-15.1 GB/s against
//     14.9-16.3, Q8_0x8 14.1-18.7 against 21.5-24.2), not yet understood
//     (MatMul's chunks of ~64 KiB are a single group of long rows, each
//     started cold and with its own per-call pass over the activations).

// The 8×8 tile (eight vectors per pass over a group-block: each chunk
// loaded, and its nibbles unpacked, once for eight vectors; eight
// accumulators and eight float sums live, the scale products d_w·d_x
// worked out after the integer sums, when fewer registers are live)
// against the 8×4 tile twice, the avx512vnni MatFunc with at most 8 or 4
// vectors at a time alternated in one process, one goroutine, in cache,
// Zen 4 at ~3.6 GHz, -count 6, medians (ranges) of each one's fastest
// call (BenchmarkRepackedTiles):
//
//	                      8×4 GMAC/s           8×8 GMAC/s           ratio
//	Q4_0x8 896×896,  8    139.4 (139.3-139.4)  158.0 (157.8-158.2)  1.134 (1.132-1.135)
//	Q4_0x8 896×896,  64   138.8 (138.8-138.9)  157.6 (157.6-157.7)  1.135 (1.135-1.136)
//	Q4_0x8 896×4864, 8    136.5 (136.2-136.5)  155.4 (155.3-155.5)  1.139 (1.138-1.141)
//	Q4_0x8 896×4864, 64   135.6 (134.5-136.0)  154.6 (154.0-155.0)  1.142 (1.139-1.145)
//	Q8_0x8 896×896,  8    138.8 (138.6-138.9)  157.6 (157.4-157.9)  1.137 (1.135-1.137)
//	Q8_0x8 896×896,  64   136.0 (135.6-136.1)  155.3 (154.9-155.5)  1.142 (1.142-1.143)
//	Q8_0x8 896×4864, 8    135.8 (135.7-135.9)  154.5 (154.4-154.6)  1.138 (1.137-1.139)
//	Q8_0x8 896×4864, 64   134.2 (132.3-134.4)  152.5 (152.2-152.7)  1.137 (1.136-1.151)
//
// The limit is the two FP pipes VPDPBUSD and VMULPS share (a
// micro-benchmark: 8 independent VPDPBUSD 4.0 cycles, with 4 VMULPS
// added 6.0, with 2 VCVTDQ2PS, 2 VADDPS, a VPANDD and a VPSRLW added
// 4.5): per group-block and vector 8 VPDPBUSD and 2 VMULPS (d_w·d_x and
// float32(sumi)·prod, both needed for bit-identity), 10 of them, 5
// cycles, 185 GMAC/s at 3.6 GHz; the 8×8 tile runs at ~85% of it, the
// 8×4 at ~75% (Q8_0x8, with no nibbles to unpack, runs as fast as
// Q4_0x8). Two accumulators per vector in the 8×8 tile (the low and
// high nibbles apart, halving the VPDPBUSD chains, VPADDD after) made
// no difference (158.3 against 158.4 GMAC/s, Q4_0x8 896×896, 8 vectors).

// The 8×8 tile copies, per call, its eight vectors' quants into the
// scratch buffer next to their (d_x, -o·Σx), block after block (so do
// the 8×2 to 8×4 tiles), and its Far variant (the 8×3 and 8×4 tiles
// have one too, see farTile), which MatMul takes for a call's first
// vectors when a group has more than 10 KiB (tensor's farGroupBytes),
// prefetches (PREFETCHNTA) the group-block widePrefetch bytes ahead. A
// decode step of eight sequences multiplies eight vectors, and with the
// weights coming from DRAM, long rows streamed at half the speed of
// short ones of the same bytes: 896×4864
// (ffn_down) against 4864×896 (gate/up), Q8_0x8, 2 goroutines, 300 MB
// of copies, 285-315 µs a call against 130-155. Eight vectors' blocks of
// one row are 41 KB there, more than the 32 KB L1, and were nine
// streams (the eight vectors and the scratch) besides the weights'.
// Giving the eight vectors the same activations (wrong results, timing
// only) took it to 168 µs; the copy, one stream, to 238-247; with the
// prefetch as well 190-196, the short rows unchanged (126-143). The
// prefetch distance, alternated in one process: 512 bytes 214-225 µs,
// 2 KiB 190-202, 4 KiB 197-207, 8 KiB 200-214, 16 KiB 218-224;
// PREFETCHT0 at 2 KiB 198-203. What is left (190 against 130) is the
// 41 KB of activations, re-read from L2 for every group of rows.
const widePrefetch = 2048

// farTile reports whether the 8×C tile of t has a Far variant: C of 3,
// 4 and 8, and 2 for Q4_0x8 only. Two to four vectors on DRAM-resident
// 896×4864 weights (BenchmarkRepackedBatchDRAM with 2, 3 and 4 vectors,
// three alternated runs, medians of the Far over the plain tiles' GB/s
// at 1 / 2 goroutines): 3 vectors Q4_0x8 1.25 / 1.21, Q8_0x8 1.16 / 1.07,
// Q4_Kx8 1.17 / 1.01; 4 vectors 1.31 / 1.22, 1.11 / 1.14, 1.31 / 1.15;
// 2 vectors Q4_0x8 1.36 / 1.12, but Q8_0x8 0.86 / 0.94 and Q4_Kx8 0.98 /
// 1.00. The AVX2 tiles (repack_avx2.go, repackk_avx2.go) likewise: 3
// vectors Q4_0x8 1.58 / 1.28, Q4_Kx8 1.38 / 1.07; 2 vectors Q4_0x8 1.28 /
// 1.20, Q4_Kx8 1.06 / 0.90.
func farTile(t repackType, C int) bool {
	return C >= 3 || C == 2 && t.name == "Q4_0"
}

// prefetchAhead prefetches (PREFETCHNTA) the n bytes at p+dist, a line
// at a time.
func prefetchAhead(p Register, dist, n int) {
	for o := 0; o < n; o += 64 {
		PREFETCHNTA(Mem{Base: p, Disp: dist + o})
	}
}

// repackType describes a repacked layout for the tiles.
type repackType struct {
	name   string
	bsize  int // bytes of one row-block of the row-major type (18, 22 or 34)
	chunks int // 32-byte chunks per group-block (4 or 8)
	offset uint8
	// fifth: Q5_0x8 or Q5_1x8, whose group-blocks hold a mask of the
	// values' fifth bits for each half of each chunk (8 bytes a chunk)
	// between the scales (and mins) and the chunks.
	fifth bool
	// min: Q4_1x8 or Q5_1x8, whose group-blocks hold the rows' fp16
	// mins after their scales, whose values have no offset (offset is
	// then only the 16 added for a fifth bit) and whose activations are
	// Q8_1 (d, s, then the quants).
	min bool
}

// masks is the offset of a group-block's masks (fifth).
func (t repackType) masks() int {
	if t.min {
		return 32
	}
	return 16
}

// quants is the offset of a group-block's first chunk.
func (t repackType) quants() int {
	if t.fifth {
		return t.masks() + 8*t.chunks
	}
	return t.masks()
}

// xsize is the bytes of an activation block (Q8_0 or Q8_1), xq the offset
// of its quants.
func (t repackType) xsize() int {
	if t.min {
		return sizeQ8_1
	}
	return sizeQ8_0
}

func (t repackType) xq() int {
	if t.min {
		return 4
	}
	return 2
}

// groupBlock is the bytes of one group-block: eight rows' scales and
// chunks.
func (t repackType) groupBlock() int { return 8 * t.bsize }

func repackTileName(t repackType, G, C int, far bool) string {
	f := ""
	if far {
		f = "Far"
	}
	return fmt.Sprintf("tile%sx8_%dx%d%sVNNI", t.name, 8*G, C, f)
}

// genRepack generates the tiles of Q4_0x8, Q5_0x8 and Q8_0x8.
func genRepack() {
	m0f, mf0 := byteMem("b0f_rp", 0x0f), byteMem("bf0_rp", 0xf0)
	for _, t := range []repackType{
		{name: "Q4_0", bsize: sizeQ4_0, chunks: 4, offset: 8},
		{name: "Q5_0", bsize: sizeQ5_0, chunks: 4, offset: 16, fifth: true},
		{name: "Q8_0", bsize: sizeQ8_0, chunks: 8, offset: 0x80},
		{name: "Q4_1", bsize: sizeQ4_1, chunks: 4, min: true},
		{name: "Q5_1", bsize: sizeQ5_1, chunks: 4, offset: 16, fifth: true, min: true},
	} {
		var off Mem
		if t.offset != 0 {
			off = byteMem(fmt.Sprintf("b%02x_rp%s", t.offset, t.name), t.offset)
		}
		for _, s := range [][2]int{{1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 8}} {
			genRepackTile(t, s[0], s[1], false, m0f, mf0, off)
			if farTile(t, s[1]) {
				genRepackTile(t, s[0], s[1], true, m0f, mf0, off)
			}
		}
	}
}

// genRepackTile generates the (8·G)×C tile of t, prefetching the
// weights widePrefetch bytes ahead if far.
func genRepackTile(t repackType, G, C int, far bool, m0f, mf0Mem, offMem Mem) {
	name := repackTileName(t, G, C, far)
	TEXT(name, NOSPLIT, "func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)")
	Pragma("noescape")
	xt := "Q8_0"
	if t.min {
		xt = "Q8_1"
	}
	Doc(fmt.Sprintf("%s sets y[c*ystride+r] to row r of the %sx8 matrix w times", name, t.name),
		fmt.Sprintf("the %s vector x[c*xstride:], for c < %d and groups·8 rows, %d group(s) of 8 at a time,", xt, C, G),
		"bit-identical to matRepackedGo; scratch holds 2·n/32 words for one vector, 10·C·n/32 for more.")

	// Per call: (d_x, -o·Σx) (min: (d_x, s_x)) of every block of every
	// vector into scratch, and with more than one vector the blocks'
	// quants too (interleave).
	interleave := C > 1
	blockScratch := 8 * C
	if interleave {
		blockScratch = 40 * C
	}
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
	// vecs: vectors c < C at base (and, past four, at base4 = base +
	// 4·stride).
	vecs := func(base, base4, stride, stride3 Register) []Mem {
		m := strided(base, stride, stride3, min(C, 4))
		if C > 4 {
			m = append(m, strided(base4, stride, stride3, C-4)...)
		}
		return m
	}
	{
		var off, zr VecVirtual
		if !t.min {
			off, zr = YMM(), YMM()
			VMOVDQU64(offMem, off)
			VPXORD(zr, zr, zr)
		}
		n := Load(Param("n"), GP64())
		SHRQ(U8(5), n)
		xp, sp := GP64(), GP64()
		MOVQ(x, xp)
		MOVQ(sp0, sp)
		var xp4 Register
		if C > 4 {
			xp4 = GP64()
			LEAQ(Mem{Base: xp, Index: xs, Scale: 4}, xp4)
		}
		Label(name + "_pre")
		CMPQ(n, U32(0))
		JE(LabelRef(name + "_main"))
		for c, xm := range vecs(xp, xp4, xs, xs3) {
			h := XMM() // d_x
			VPBROADCASTW(xm, h)
			VCVTPH2PS(h, h)
			VMOVSS(h, Mem{Base: sp, Disp: 8 * c})
			if t.min {
				if interleave {
					q := YMM()
					VMOVDQU64(xm.Offset(t.xq()), q)
					VMOVDQU64(q, Mem{Base: sp, Disp: 8*C + 32*c})
				}
				sx := XMM()
				VPBROADCASTW(xm.Offset(2), sx)
				VCVTPH2PS(sx, sx)
				VMOVSS(sx, Mem{Base: sp, Disp: 8*c + 4})
				continue
			}
			a := YMM()
			VPXORD(a, a, a)
			if interleave {
				q := YMM()
				VMOVDQU64(xm.Offset(2), q)
				VMOVDQU64(q, Mem{Base: sp, Disp: 8*C + 32*c})
				VPDPBUSD(q, off, a) // o·(x0+x1+x2+x3) per lane
			} else {
				VPDPBUSD(xm.Offset(2), off, a)
			}
			s := sumDEVEX(a)
			VPSUBD(s, zr.AsX(), s) // -o·Σx
			VMOVD(s, Mem{Base: sp, Disp: 8*c + 4})
		}
		ADDQ(U32(t.xsize()), xp)
		if C > 4 {
			ADDQ(U32(t.xsize()), xp4)
		}
		ADDQ(U32(blockScratch), sp)
		DECQ(n)
		JMP(LabelRef(name + "_pre"))
	}

	Label(name + "_main")
	w := Load(Param("w").Base(), GP64())
	y := Load(Param("y").Base(), GP64())
	groups := Load(Param("groups"), GP64())
	// gb: the bytes of one group (n/32 group-blocks).
	gb := GP64()
	Load(Param("n"), gb)
	SHRQ(U8(5), gb)
	IMUL3Q(U32(t.groupBlock()), gb, gb)
	var m0, mf0 VecVirtual
	if t.chunks == 4 {
		m0 = YMM()
		VMOVDQU64(m0f, m0)
		if C == 1 && !t.fifth {
			mf0 = YMM()
			VMOVDQU64(mf0Mem, mf0)
		}
	}
	var off16 VecVirtual
	if t.fifth {
		off16 = YMM()
		VMOVDQU64(offMem, off16)
	}
	sums := make([][]VecVirtual, G)
	for g := range sums {
		sums[g] = make([]VecVirtual, C)
		for c := range sums[g] {
			sums[g][c] = YMM()
		}
	}

	Label(name + "_rows")
	CMPQ(groups, U32(0))
	JE(LabelRef(name + "_done"))
	for g := range sums {
		for _, s := range sums[g] {
			VPXORD(s, s, s)
		}
	}
	n := Load(Param("n"), GP64())
	SHRQ(U8(5), n)
	wp, sp := GP64(), GP64()
	MOVQ(w, wp)
	MOVQ(sp0, sp)
	// xm[c]: vector c's current block, xq: its quants' offset there.
	var xp, xp4 Register
	var xm []Mem
	xq := t.xq()
	if interleave {
		xm, xq = make([]Mem, C), 0
		for c := range xm {
			xm[c] = Mem{Base: sp, Disp: 8*C + 32*c}
		}
	} else {
		xp = GP64()
		MOVQ(x, xp)
		if C > 4 {
			xp4 = GP64()
			LEAQ(Mem{Base: xp, Index: xs, Scale: 4}, xp4)
		}
		xm = vecs(xp, xp4, xs, xs3)
	}
	wm := []Mem{{Base: wp}, {Base: wp, Index: gb, Scale: 1}}[:G]

	Label(name + "_blocks")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	if far {
		prefetchAhead(wp, widePrefetch, t.groupBlock())
	}
	// Scale products d_w·d_x per group and vector: here, or with more
	// than four vectors after the integer sums, when fewer registers
	// are live.
	prods := make([][]VecVirtual, G)
	scaleProds := func() {
		for g := range prods {
			dw := YMM()
			VCVTPH2PS(wm[g], dw)
			prods[g] = make([]VecVirtual, C)
			for c := range prods[g] {
				p := YMM()
				VMULPS_BCST(Mem{Base: sp, Disp: 8 * c}, dw, p)
				prods[g][c] = p
			}
		}
	}
	if C <= 4 {
		scaleProds()
	}
	// Integer sums: two chains per pair with one vector (the hi and lo
	// halves, or even and odd chunks), for latency; one with more.
	//
	// The tiles are bound by loads more than by arithmetic: each chunk
	// of Q4_0x8 is loaded once (it was loaded by both the VPANDD of its
	// low nibbles and the VPSRLW of its high ones), and with one vector
	// the high nibbles are only masked (0xf0: 16 times their value, as
	// the Q4_Kx8 tiles take them), their chain shifted right by 4 once a
	// block, which saves the shifts. Old tiles against new, alternated
	// test binaries, one goroutine, in cache (BenchmarkRepacked, GMAC/s
	// of the fastest call, three runs each): 896×896 one vector
	// 81.7-82.3 → 100.5-102.4 (×1.24), 4 vectors 137.6-138.6 →
	// 148.2-148.8 (×1.07), 8 vectors 160.7-161.2 → 168.7-169.8 (×1.05);
	// 896×4864 82.5-83.0 → 103.2-103.9, 136.1 → 147.1-148.7, 156.7-156.9
	// → 165.5-165.7. From DRAM (BenchmarkRepackedDRAM, ~300 MB) the two
	// are within each other's run-to-run range.
	chains := 1
	if C == 1 {
		chains = 2
	}
	acc := make([][][]VecVirtual, G)
	for g := range acc {
		acc[g] = make([][]VecVirtual, C)
		for c := range acc[g] {
			acc[g][c] = make([]VecVirtual, chains)
			a := YMM()
			if t.min {
				VPXORD(a, a, a)
			} else {
				VPBROADCASTD(Mem{Base: sp, Disp: 8*c + 4}, a)
			}
			acc[g][c][0] = a
			if chains > 1 {
				b := YMM()
				VPXORD(b, b, b)
				acc[g][c][1] = b
			}
		}
	}
	for j := 0; j < t.chunks; j++ {
		for g := 0; g < G; g++ {
			cm := wm[g].Offset(t.quants() + 32*j)
			if t.chunks == 4 {
				// One load of the chunk. With one vector the high
				// nibbles stay in place (16 times their value) in a
				// chain of their own, shifted back once a block.
				u, lo, hi := YMM(), YMM(), YMM()
				VMOVDQU64(cm, u)
				VPANDD(u, m0, lo)
				if C == 1 && !t.fifth {
					VPANDD(u, mf0, hi)
				} else {
					VPSRLW(U8(4), u, hi)
					VPANDD(m0, hi, hi)
				}
				if t.fifth {
					// Add 16 (offMem's bytes) to the values whose
					// fifth bit is set, a mask bit per byte.
					kl, kh := K(), K()
					KMOVQ(wm[g].Offset(t.masks()+8*j), kl)
					VPADDB(off16, lo, kl, lo)
					KSHIFTRQ(U8(32), kl, kh)
					VPADDB(off16, hi, kh, hi)
				}
				for c := 0; c < C; c++ {
					VPDPBUSD_BCST(xm[c].Offset(xq+4*j), lo, acc[g][c][0])
					VPDPBUSD_BCST(xm[c].Offset(xq+16+4*j), hi, acc[g][c][chains-1])
				}
			} else {
				u := YMM()
				VMOVDQU64(cm, u)
				for c := 0; c < C; c++ {
					VPDPBUSD_BCST(xm[c].Offset(xq+4*j), u, acc[g][c][j%chains])
				}
			}
		}
	}
	if C > 4 {
		scaleProds()
	}
	for g := 0; g < G; g++ {
		var mw VecVirtual
		if t.min {
			mw = YMM()
			VCVTPH2PS(wm[g].Offset(16), mw) // the rows' mins
		}
		for c := 0; c < C; c++ {
			a := acc[g][c][0]
			if chains > 1 {
				if t.chunks == 4 && !t.fifth {
					VPSRAD(U8(4), acc[g][c][1], acc[g][c][1]) // exact: a sum of multiples of 16
				}
				VPADDD(acc[g][c][1], a, a)
			}
			VCVTDQ2PS(a, a)
			VMULPS(prods[g][c], a, a) // float32(sumi)·(d_w·d_x)
			if t.min {
				m := YMM()
				VMULPS_BCST(Mem{Base: sp, Disp: 8*c + 4}, mw, m) // m_w·s_x
				VADDPS(m, a, a)
			}
			VADDPS(a, sums[g][c], sums[g][c])
		}
	}
	ADDQ(U32(t.groupBlock()), wp)
	if !interleave {
		ADDQ(U32(t.xsize()), xp)
		if C > 4 {
			ADDQ(U32(t.xsize()), xp4)
		}
	}
	ADDQ(U32(blockScratch), sp)
	DECQ(n)
	JMP(LabelRef(name + "_blocks"))

	Label(name + "_store")
	ym := stridedY(y, C)
	for g := range sums {
		for c, s := range sums[g] {
			VMOVUPS(s, ym[c].Offset(32*g))
		}
	}
	// wp is one group past w; G = 2 skips the second group too.
	if G == 2 {
		ADDQ(gb, wp)
	}
	MOVQ(wp, w)
	ADDQ(U32(32*G), y)
	SUBQ(U32(G), groups)
	JMP(LabelRef(name + "_rows"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// sumDEVEX reduces the eight int32 lanes of y to lane 0 of the returned
// XMM register (exactly, with wrap-around), as sumD does, with
// instructions that have EVEX forms.
func sumDEVEX(y VecVirtual) VecVirtual {
	t, u := XMM(), XMM()
	VEXTRACTI32X4(U8(1), y, t)
	VPADDD(y.AsX(), t, t)
	VPSHUFD(U8(0x4e), t, u)
	VPADDD(u, t, t)
	VPSHUFD(U8(0xb1), t, u)
	VPADDD(u, t, t)
	return t
}
