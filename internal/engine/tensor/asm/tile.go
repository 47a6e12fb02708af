package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The 32-value block kernels (Q8_0, Q4_0, Q5_0 weights with Q8_0
// activations) all compute a dot product the same way, so that every
// kernel of a type gives bit-identical results whatever the tile it runs
// in:
//
//	acc = 0 (eight float32 lanes)
//	for each block: acc = fma(d_w·d_x, float(int32 lane sums), acc)
//	result = ((a0+a4)+(a1+a5)) + ((a2+a6)+(a3+a7))
//
// where the eight int32 lane sums of a block are each the exact sum of
// four products w·x (VPMADDUBSW, then VPMADDWD with ones; see tileBlock),
// for activations in -127..127 as QuantizeActivations makes them. A tile
// kernel computes R weight rows × C activation vectors with one
// accumulator per (row, vector) pair; each weight block is unpacked and
// its scale converted once for the C vectors, each activation block loaded
// and its scale converted once for the R rows.
//
// The old one-row kernels kept two accumulators (even and odd blocks) per
// row; one per pair is enough now that a tile has several independent
// FMA chains, and it is what the 1×1 kernel (DotFunc) does too.

// block32Type describes a 32-value block weight type for the tile
// generator.
type block32Type struct {
	name  string
	wsize int
	// setup emits the constants the unpacking needs (before the loops)
	// and returns unpack, which returns the 32 signed weight bytes of the
	// block at wm in a register, and the operand the signs of the
	// activations are taken from: the register itself, or (Q8_0) the
	// weight bytes in memory, which saves a register.
	setup func() func(wm Mem) (q VecVirtual, sign Op)
	// mode says how the signed products are formed (see tileBlock);
	// offset, with mode offset, is a 32-byte constant of the value o.
	mode   weightMode
	offset Mem
	// decodeRows is the height R of the one-vector (decode) tile, R×1;
	// ntaDecode makes that tile prefetch the next rows with PREFETCHNTA
	// rather than PREFETCHT0 (see the prefetch in genTile).
	decodeRows int
	ntaDecode  bool
}

// weightMode is how a tile kernel multiplies weight and activation bytes.
type weightMode int

const (
	signW  weightMode = iota // |w| times x with w's signs
	offset                   // unsigned q times x, minus offset·x
)

// onesWMem is a 32-byte constant of int16 ones, used as a memory operand
// of VPMADDWD so that it takes no register.
var onesWMem Mem

func genOnes() {
	onesWMem = GLOBL("onesw", RODATA|NOPTR)
	for j := 0; j < 32; j += 2 {
		DATA(j, U16(1))
	}
}

// tileBlock emits the work of one block for R rows at wm[r] and C vectors
// at xm[c], accumulating into acc[r][c]. It picks the loop order that needs
// fewer registers: vectors held across rows (rows outer) or rows held
// across vectors (vectors outer). The instructions each pair goes through
// are the same either way.
//
// The int32 lane sums are exact in every mode (no VPMADDUBSW pair can
// saturate), so the modes agree bit for bit:
//
//   - signW (Q8_0): VPMADDUBSW(|w|, sign(x, w)), as ggml does.
//   - offset (Q4_0, Q5_0): the unpacked weights are unsigned, q, and the
//     value is q-o (o = 8 or 16): VPMADDUBSW(q, x) - VPMADDUBSW(o, x), the
//     second once per vector, which saves the sign operation per pair.
//
// With one vector and several rows, the rows' fp16 scales are converted
// together and multiplied by the vector's at once; each row then takes
// its product from a lane (VPERMILPS). With several vectors, their scales
// are converted together and each row multiplies them by its own at once;
// each pair takes its product from a lane (1.04-1.12 times faster than a
// multiplication per pair, BenchmarkMatMulKernelSets). The product is the
// same float32 as the per-pair multiplication of the 1×1 tile.
func tileBlock(t block32Type, unpack func(Mem) (VecVirtual, Op), wm, xm []Mem, acc [][]VecVirtual) {
	R, C := len(wm), len(xm)
	laneScales := C == 1 && R > 1
	// vecLanes: several vectors, whose scales are converted together; each
	// row multiplies them by its own at once, and each pair takes its
	// product from a lane (VPERMILPS) rather than multiplying its own,
	// which moves the work from the multiplier ports to a shuffle port.
	vecLanes := C > 1
	var dx4 VecVirtual
	if vecLanes {
		dx4 = halves4(xm)
	}
	type rowState struct {
		q, dw VecVirtual // dw nil with laneScales, d_w·d_x0..3 with vecLanes
		sign  Op
		r     int
	}
	loadRow := func(r int) rowState {
		q, sign := unpack(wm[r])
		if t.mode == signW {
			aq := YMM()
			VPSIGNB(q, q, aq) // |w|; the signs go onto the activations
			q = aq
		}
		var dw VecVirtual
		if !laneScales {
			dw = halfBroadcast(wm[r])
		}
		if vecLanes {
			VMULPS(dx4, dw, dw) // d_w·d_x0..3 in both halves
		}
		return rowState{q, dw, sign, r}
	}
	type vecState struct {
		x, dx VecVirtual // x: the activations (signW) or o·pair sums (offset); dx nil with vecLanes
		m     Mem
		c     int
	}
	loadVec := func(c int) vecState {
		x := YMM()
		switch t.mode {
		case signW:
			VMOVDQU(xm[c].Offset(2), x)
		case offset:
			VMOVDQU(t.offset, x)
			VPMADDUBSW(xm[c].Offset(2), x, x)
		}
		var dx VecVirtual
		if !vecLanes {
			dx = halfBroadcast(xm[c])
		}
		return vecState{x, dx, xm[c].Offset(2), c}
	}
	var sw VecVirtual // laneScales: d_w[r]·d_x in lane r of each half
	pair := func(rs rowState, vs vecState, a VecVirtual) {
		p := YMM()
		switch t.mode {
		case signW:
			VPSIGNB(rs.sign, vs.x, p)
			VPMADDUBSW(p, rs.q, p)
		case offset:
			VPMADDUBSW(vs.m, rs.q, p)
			VPSUBW(vs.x, p, p)
		}
		VPMADDWD(onesWMem, p, p)
		VCVTDQ2PS(p, p)
		s := YMM()
		switch {
		case laneScales:
			VPERMILPS(U8(0x55*rs.r), sw, s)
		case vecLanes:
			VPERMILPS(U8(0x55*vs.c), rs.dw, s)
		default:
			VMULPS(vs.dx, rs.dw, s)
		}
		VFMADD231PS(s, p, a)
	}
	if C <= R {
		vs := make([]vecState, C)
		for c := range vs {
			vs[c] = loadVec(c)
		}
		if laneScales {
			sw = halves4(wm)
			VMULPS(vs[0].dx, sw, sw)
		}
		for r := 0; r < R; r++ {
			rs := loadRow(r)
			for c := 0; c < C; c++ {
				pair(rs, vs[c], acc[r][c])
			}
		}
		return
	}
	rs := make([]rowState, R)
	for r := range rs {
		rs[r] = loadRow(r)
	}
	for c := 0; c < C; c++ {
		vs := loadVec(c)
		for r := 0; r < R; r++ {
			pair(rs[r], vs, acc[r][c])
		}
	}
}

// halves4 returns the fp16 values at ms (at most 4) as float32 in lanes
// 0..3 of both halves of a YMM register. They are gathered in
// general-purpose registers, which the vector work leaves idle.
func halves4(ms []Mem) VecVirtual {
	t, u := GP64(), GP64()
	MOVWQZX(ms[0], t)
	for k := 1; k < len(ms); k++ {
		MOVWQZX(ms[k], u)
		SHLQ(U8(16*k), u)
		ORQ(u, t)
	}
	x := XMM()
	VMOVQ(t, x)
	VPBROADCASTQ(x, x)
	y := YMM()
	VCVTPH2PS(x, y)
	return y
}

// reduceAcc sums the eight lanes of acc into lane 0 of the returned XMM
// register: ((a0+a4)+(a1+a5)) + ((a2+a6)+(a3+a7)).
func reduceAcc(acc VecVirtual) VecVirtual {
	t := XMM()
	VEXTRACTF128(U8(1), acc, t)
	VADDPS(acc.AsX(), t, t)
	VHADDPS(t, t, t)
	VHADDPS(t, t, t)
	return t
}

// genBlock32Dot generates the DotFunc kernel of t: the 1×1 tile.
func genBlock32Dot(t block32Type) {
	name := "dot" + t.name + "AVX2"
	TEXT(name, NOSPLIT, "func(n int, w, x []byte) float32")
	Pragma("noescape")
	Doc(name + " is dot" + t.name + "Q8_0 with AVX2 and FMA.")
	n, w, x := dotParams()
	SHRQ(U8(5), n)
	unpack := t.setup()
	acc := YMM()
	zero(acc)
	Label(name + "_loop")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_done"))
	tileBlock(t, unpack, []Mem{{Base: w}}, []Mem{{Base: x}}, [][]VecVirtual{{acc}})
	ADDQ(U32(t.wsize), w)
	ADDQ(U32(sizeQ8_0), x)
	DECQ(n)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_done")
	s := reduceAcc(acc)
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// tileName is the name of the R×C tile kernel of type typ.
func tileName(typ string, R, C int) string { return fmt.Sprintf("tile%s_%dx%dAVX2", typ, R, C) }

// strided returns the addresses base + i·stride for i < k (k ≤ 4), using
// s3 = 3·stride for i = 3.
func strided(base, stride, s3 Register, k int) []Mem {
	m := []Mem{{Base: base}, {Base: base, Index: stride, Scale: 1}, {Base: base, Index: stride, Scale: 2}, {Base: base, Index: s3, Scale: 1}}
	return m[:k]
}

// stridedY loads the ystride parameter and returns the output addresses
// of C vectors from y: y, y+ystride, ... (past four vectors, from y4 =
// y + 4·ystride). Tiles load ystride at the store, not with the other
// parameters, to leave the registers to the loops.
func stridedY(y Register, C int) []Mem {
	if C == 1 {
		return []Mem{{Base: y}}
	}
	ys := Load(Param("ystride"), GP64())
	SHLQ(U8(2), ys)
	var ys3 Register
	if C > 3 {
		ys3 = GP64()
		LEAQ(Mem{Base: ys, Index: ys, Scale: 2}, ys3)
	}
	m := strided(y, ys, ys3, min(C, 4))
	if C > 4 {
		y4 := GP64()
		LEAQ(Mem{Base: y, Index: ys, Scale: 4}, y4)
		m = append(m, strided(y4, ys, ys3, C-4)...)
	}
	return m
}

// genTile generates the R×C tile kernel of t:
//
//	func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)
//
// It computes y[c*ystride+r] = dot(n, w[r*wstride:], x[c*xstride:]) for r <
// rows and c < C, R rows at a time: rows must be a multiple of R. R is 1,
// 2 or 4, C ≤ 4.
func genTile(t block32Type, R, C int) {
	if R != 1 && R != 2 && R != 4 {
		panic("unsupported tile height")
	}
	name := tileName(t.name, R, C)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets y[c*ystride+r] to dot%sAVX2(n, w[r*wstride:], x[c*xstride:]),", name, t.name),
		fmt.Sprintf("bit-identical to it, for r < rows and c < %d; rows must be a multiple of %d.", C, R))
	var unpack func(Mem) (VecVirtual, Op)
	tileLoops(name, R, C, t.wsize, C == 1 && t.ntaDecode, tileBody{
		setup:  func() { unpack = t.setup() },
		zero:   func(acc []VecVirtual) { zero(acc...) },
		block:  func(wm, xm []Mem, acc [][]VecVirtual) { tileBlock(t, unpack, wm, xm, acc) },
		reduce: reduceAcc,
	})
}

// tileBody is what a tile kernel does inside the loops tileLoops emits.
type tileBody struct {
	setup  func()                                 // before the loops: constants
	zero   func(acc []VecVirtual)                 // clears accumulators
	block  func(wm, xm []Mem, acc [][]VecVirtual) // one block of R rows × C vectors
	reduce func(acc VecVirtual) VecVirtual        // sums a pair's lanes into lane 0
}

// tileLoops emits the loops of the R×C tile kernel called name, with the
// signature of genTile's: over groups of R rows, and within a group over
// the blocks of the rows (wsize bytes of weights, one Q8_0 block of each
// vector), prefetching the next group; it stores each (row, vector)
// pair's reduced accumulator. nta selects PREFETCHNTA over PREFETCHT0.
func tileLoops(name string, R, C, wsize int, nta bool, b tileBody) {
	w := Load(Param("w").Base(), GP64())
	ws := Load(Param("wstride"), GP64())
	var ws3 Register
	if R == 4 {
		ws3 = GP64()
		LEAQ(Mem{Base: ws, Index: ws, Scale: 2}, ws3)
	}
	y := Load(Param("y").Base(), GP64())
	var xs, xs3 Register
	if C > 1 {
		xs = Load(Param("xstride"), GP64())
		if C > 3 {
			xs3 = GP64()
			LEAQ(Mem{Base: xs, Index: xs, Scale: 2}, xs3)
		}
	}
	rows := Load(Param("rows"), GP64())
	// Several rows at once are several interleaved streams, which the
	// hardware prefetchers follow badly (here at least): pf walks through
	// the next group of R rows in address order (rows are contiguous in
	// MatMul) while this group is computed, at the rate its blocks are
	// consumed. Prefetches past the end of w are harmless. The decode tile
	// of a type with ntaDecode prefetches non-temporally.
	//
	// Measured on a 144 MiB matrix of 952-byte rows (decode's output head)
	// with one vector: without it the 4×1 tile ran at a third of the speed of
	// the 1×1 one, with it at about the same speed or faster.
	//
	// Measured again on DRAM-resident Q8_0 weights (272 MiB of 952-byte rows,
	// 296 MiB of 5168-byte rows, and the 408 MiB of a 0.5B model's decode
	// step, one goroutine): the 2×1 tile with the next pair of rows prefetched
	// streams 952-byte rows at 27-29 GB/s (0.88-0.91 of
	// MeasureBandwidthThreads), against 21-24 GB/s for the 4×1 and 1×1 tiles;
	// the decode step's matrices ran 1.06-1.18 times faster with it than with
	// 4×1. PREFETCHNTA gained a few percent over PREFETCHT0 there. No variant
	// beat the 1×1 tile on 5168-byte rows by more than the noise (4×1 with T0
	// ran at 0.7 times; 2×1 and 3×1 tiles, T1 hints, unrolling by two blocks:
	// 0.9-1.05), so the Go side keeps the 1×1 tile for long rows. Prefetching
	// 512 B-4 KiB ahead in the 1×1 tile did not help, nor did prefetching each
	// row of a 2×1 or 4×1 tile ahead instead of the next group (a third of
	// the speed). Q4_0 and Q5_0 unpack more per byte and are compute-bound
	// (12-16 GB/s): there the 4×1 tile, which shares the activations among
	// more rows, stays 1.06-1.14 times faster than 2×1.
	var pf Register
	if R > 1 {
		pf = GP64()
		LEAQ(Mem{Base: w, Index: ws, Scale: uint8(R)}, pf)
	}
	b.setup()
	acc := make([][]VecVirtual, R)
	for r := range acc {
		acc[r] = make([]VecVirtual, C)
		for c := range acc[r] {
			acc[r][c] = YMM()
		}
	}

	Label(name + "_rows")
	CMPQ(rows, U32(0))
	JE(LabelRef(name + "_done"))
	for r := range acc {
		b.zero(acc[r])
	}
	n := Load(Param("n"), GP64())
	SHRQ(U8(5), n)
	wp := GP64()
	MOVQ(w, wp)
	xp := Load(Param("x").Base(), GP64())
	wm := strided(wp, ws, ws3, R)
	xm := strided(xp, xs, xs3, C)

	Label(name + "_blocks")
	CMPQ(n, U32(0))
	JE(LabelRef(name + "_store"))
	if pf != nil {
		for off := 0; off < R*wsize; off += 64 {
			if nta {
				PREFETCHNTA(Mem{Base: pf, Disp: off})
			} else {
				PREFETCHT0(Mem{Base: pf, Disp: off})
			}
		}
		ADDQ(U32(R*wsize), pf)
	}
	b.block(wm, xm, acc)
	ADDQ(U32(wsize), wp)
	ADDQ(U32(sizeQ8_0), xp)
	DECQ(n)
	JMP(LabelRef(name + "_blocks"))

	Label(name + "_store")
	ym := stridedY(y, C)
	for r := range acc {
		for c := range acc[r] {
			s := b.reduce(acc[r][c])
			VMOVSS(s, ym[c].Offset(4*r))
		}
	}
	LEAQ(Mem{Base: w, Index: ws, Scale: uint8(R)}, w)
	ADDQ(U32(4*R), y)
	SUBQ(U32(R), rows)
	JMP(LabelRef(name + "_rows"))

	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// tileShapes are the R×C tiles generated for every 32-value block type
// besides its decode tile (decodeRows×1): batched shapes, with the one-row
// shapes that finish rows left over.
var tileShapes = [][2]int{{1, 1}, {2, 4}, {1, 4}}

// block32Kernels generates the DotFunc and the tile kernels of t.
func block32Kernels(t block32Type) {
	genBlock32Dot(t)
	genTile(t, t.decodeRows, 1)
	for _, s := range tileShapes {
		genTile(t, s[0], s[1])
	}
}
