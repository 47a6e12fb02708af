package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 VNNI tiles of Q8_0 and Q4_0 compute exactly what the AVX2
// tiles do (tile.go), bit for bit, with fewer instructions per (row,
// vector) pair, for activation bytes in -127..127 as QuantizeActivations
// makes them (the AVX2 tiles' VPSIGNB cannot negate -128; these take any
// byte exactly):
//
//   - VPDPBUSD multiplies unsigned by signed bytes and sums each four
//     products into an int32 lane, which VPMADDUBSW then VPMADDWD did in
//     two steps. Its unsigned operand is the weights plus an offset o,
//     unpacked once per weight block (Q8_0: w XOR 0x80 = w+128; Q4_0: the
//     nibbles q, whose weight is q-8, the upper half scaled by 16; see
//     hiScale), its signed one the activations x,
//     and it accumulates onto -o·(x0+x1+x2+x3) per lane, worked out once
//     per activation block; the lane is then Σ w·x exactly (16 times it in
//     Q4_0's upper half), the same int32 as the AVX2 tiles' lane.
//   - The products of the rows' and vectors' scales, d_w·d_x, are
//     multiplied four at a time (a row's with the four vectors', or the
//     rows' with the one vector's) and each pair takes its own from its
//     lane with VPERMILPS, where the AVX2 tiles of four vectors multiply
//     per pair. Storing the products on the stack for FMAs with an
//     embedded broadcast instead ran 1.16 times slower, separate
//     VBROADCASTSS loads 1.25 times.
//   - The activation blocks of the tile are loaded into registers once
//     per block; as memory operands of every pair's VPDPBUSD the tiles
//     ran 1.3 times slower (load-bound).
//
// They need AVX512F, AVX512VL, AVX512BW (VPBROADCASTW into the upper
// sixteen registers) and AVX512_VNNI, and
// work on YMM registers, all 32 of which the EVEX encoding reaches, so a
// 4×4 tile keeps its 16 accumulators in registers. Every instruction here
// has an EVEX form (no VPSIGNB, VPMADDUBSW or VHADDPS), so the register
// allocator may use any register.
//
// Measured against the AVX2 tiles (BenchmarkMatMulKernelSets, one
// goroutine, Zen 4, data in cache): with 8 or 64 vectors Q8_0 1.48-1.52
// times faster (62-66 against 42-43 GMAC/s; 1.66-1.69 against the AVX2
// tiles before they took their scale products from lanes too, 37-39),
// Q4_0 1.46 times (58 against 40); with one vector Q8_0 1.18 times (rows of
// 896), Q4_0 1.39 times (41 against 30 GMAC/s).

// vnniType describes a 32-value block weight type for the VNNI tiles.
type vnniType struct {
	name  string
	wsize int
	// unpack returns the 32 weights of the block at wm as unsigned bytes
	// w+o, o being the offset whose 32 bytes offset holds.
	unpack func(wm Mem, off VecVirtual) VecVirtual
	offset Mem
	// hiScale, if set, is a 32-byte float32 constant by which the scale
	// products are multiplied: unpack then returns the upper 16 weights
	// times 16 (see genVNNI's Q4_0) and offset holds 16·o there, so the
	// int32 lanes of the upper half are 16 times the exact sums, and the
	// products 1/16 of d_w·d_x. Both are exact (the lanes stay below
	// 2^24; a product of two fp16 values is far from float32's subnormal
	// range), so each FMA adds exactly the same product as before and the
	// results stay bit-identical.
	hiScale *Mem
	// decodeRows is the height R of the one-vector tile, R×1. Q8_0
	// streams its rows from memory fastest two at a time (see genTile),
	// Q4_0 four at a time. An 8×1 Q4_0 tile, which shares the activation
	// block's scale and correction among eight rows, ran 1.15 times the
	// 4×1 one in cache and 1.05 times on 300 MB of DRAM-resident rows at
	// one goroutine (equal at two), but decoding the Q4_K test model was
	// no faster with it (medians of four alternated runs: 62 against 68
	// tokens/s at one thread, 98 against 103 at two), so it was left out.
	decodeRows int
}

// tileNameVNNI is the name of the R×C VNNI tile kernel of t.
func tileNameVNNI(t vnniType, R, C int) string { return fmt.Sprintf("tile%s_%dx%dVNNI", t.name, R, C) }

// vnniKernels generates the VNNI tiles of t: the decode tile, the
// one-row tiles and the batched ones.
func vnniKernels(t vnniType) {
	for _, s := range [][2]int{{t.decodeRows, 1}, {1, 1}, {4, 4}, {2, 4}, {1, 4}} {
		genTileVNNI(t, s[0], s[1])
	}
}

// genVNNI generates the VNNI tiles of Q8_0 and Q4_0.
func genVNNI() {
	vnniKernels(vnniType{name: "Q8_0", wsize: sizeQ8_0, decodeRows: 2, offset: byteMem("b80_vnni", 0x80),
		unpack: func(wm Mem, off VecVirtual) VecVirtual {
			u := YMM()
			VPXORD(wm.Offset(2), off, u) // w XOR 0x80 = w+128
			return u
		}})
	// Q4_0 holds the 32 nibbles of a block in 16 bytes: value j in the low
	// nibble of byte j, value j+16 in its high one. Broadcasting the 16
	// bytes to both halves and masking the low half with 0x0f and the
	// high half with 0xf0 unpacks them in two instructions, one a load,
	// where shifting and inserting took three besides the load; the high
	// half's weights are 16 times too large, which hiScale undoes in the
	// scale products (1.11 times faster for one vector, 1.04 for four).
	mask := GLOBL("b0ff0_vnni", RODATA|NOPTR)
	for j := 0; j < 32; j++ {
		DATA(j, U8(0x0f<<(4*(j/16))))
	}
	off := GLOBL("b0880_vnni", RODATA|NOPTR)
	for j := 0; j < 32; j++ {
		DATA(j, U8(8<<(4*(j/16))))
	}
	sixteenth := GLOBL("f1_16_vnni", RODATA|NOPTR)
	for j := 0; j < 8; j++ {
		v := float32(1)
		if j >= 4 {
			v = 1.0 / 16
		}
		DATA(4*j, F32(v))
	}
	vnniKernels(vnniType{name: "Q4_0", wsize: sizeQ4_0, decodeRows: 4, offset: off, hiScale: &sixteenth,
		unpack: func(wm Mem, _ VecVirtual) VecVirtual {
			q := YMM()
			VBROADCASTI32X4(wm.Offset(2), q)
			VPANDD(mask, q, q) // the weight is q-8 (low half), q/16-8 (high)
			return q
		}})
}

// reduceAccEVEX sums the eight lanes of acc into lane 0 of the returned
// XMM register in the order of reduceAcc, ((a0+a4)+(a1+a5)) +
// ((a2+a6)+(a3+a7)), with instructions that have EVEX forms.
func reduceAccEVEX(acc VecVirtual) VecVirtual {
	t, u := XMM(), XMM()
	VEXTRACTF32X4(U8(1), acc, t)
	VADDPS(acc.AsX(), t, t) // b_i = a_i + a_{i+4}
	VPERMILPS(U8(0xb1), t, u)
	VADDPS(u, t, t) // lane 0: b0+b1, lane 2: b2+b3
	VPERMILPS(U8(0x4e), t, u)
	VADDPS(u, t, t) // lane 0: (b0+b1)+(b2+b3)
	return t
}

// genTileVNNI generates the R×C VNNI tile of t, with the signature and
// results of the AVX2 tiles (genTile). R is 1, 2 or 4; C is 1 or 4.
func genTileVNNI(t vnniType, R, C int) {
	if (R != 1 && R != 2 && R != 4) || (C != 1 && C != 4) {
		panic("unsupported VNNI tile shape")
	}
	name := tileNameVNNI(t, R, C)
	TEXT(name, NOSPLIT, "func(n int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int, rows int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the %d×%d tile of %s (see %s) with AVX-512 VNNI,", name, R, C, t.name, tileName(t.name, 2, 4)), "bit-identical to the AVX2 tiles.")
	// The next group of rows is prefetched as in genTile, but with
	// PREFETCHNTA for every decode tile, Q4_0's too (AVX2's Q4_0 tile uses
	// PREFETCHT0): on 300 MB of DRAM-resident Q4_0 rows, interleaved,
	// medians of 11 passes, NTA streamed rows of 896 at 18.4 GB/s against
	// T0's 18.7 with one goroutine and 14.9 against 12.9 with two, rows of
	// 4864 at 13.3 against 12.1 and 12.5 against 11.7.
	var off, zr VecVirtual
	tileLoops(name, R, C, t.wsize, C == 1, tileBody{
		setup: func() {
			off = YMM()
			VMOVDQU64(t.offset, off)
			zr = YMM()
			VPXORD(zr, zr, zr)
		},
		zero: func(acc []VecVirtual) {
			for _, a := range acc {
				VMOVDQA64(zr, a)
			}
		},
		block:  func(wm, xm []Mem, acc [][]VecVirtual) { blockVNNI(t, off, zr, wm, xm, acc) },
		reduce: reduceAccEVEX,
	})
}

// blockVNNI emits the work of one block for R rows at wm[r] and C vectors
// at xm[c] (C is 1 or 4), accumulating into acc[r][c]; off holds the
// offset bytes of t, zr zero.
func blockVNNI(t vnniType, off, zr VecVirtual, wm, xm []Mem, acc [][]VecVirtual) {
	R, C := len(wm), len(xm)
	// Scale products, the same float32 products as VMULPS(d_x, d_w): with
	// one vector, those of all rows in the lanes of one register (rows
	// 0..R-1, both halves); with four, per row as the row comes, those of
	// the four vectors (lanes 0..3, both halves). Each pair takes its own
	// from its lane with VPERMILPS.
	var dx4, s1 VecVirtual
	if C == 1 {
		if R == 1 {
			s1 = halfBroadcast(wm[0])
		} else {
			s1 = halves4(wm)
		}
		VMULPS(halfBroadcast(xm[0]), s1, s1)
		if t.hiScale != nil {
			VMULPS(*t.hiScale, s1, s1)
		}
	} else {
		dx4 = halves4(xm)
		if t.hiScale != nil {
			VMULPS(*t.hiScale, dx4, dx4)
		}
	}
	// Per activation block: -o·(sum of each four bytes).
	corr := make([]VecVirtual, C)
	xv := make([]Op, C)
	for c := range corr {
		xr := YMM()
		VMOVDQU64(xm[c].Offset(2), xr)
		xv[c] = xr
		corr[c] = YMM()
		VMOVDQA64(zr, corr[c])
		VPDPBUSD(xr, off, corr[c])
		VPSUBD(corr[c], zr, corr[c])
	}
	for r := 0; r < R; r++ {
		wu := t.unpack(wm[r], off)
		sr, lane := s1, r // the products of row r and lane of vector c
		if C > 1 {
			sr = halfBroadcast(wm[r])
			VMULPS(dx4, sr, sr)
		}
		for c := 0; c < C; c++ {
			p := YMM()
			VMOVDQA64(corr[c], p)
			VPDPBUSD(xv[c], wu, p)
			VCVTDQ2PS(p, p)
			if C > 1 {
				lane = c
			}
			sc := sr
			if R > 1 || C > 1 {
				sc = YMM()
				VPERMILPS(U8(0x55*lane), sr, sc)
			}
			VFMADD231PS(sc, p, acc[r][c])
		}
	}
}
