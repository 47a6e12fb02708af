//go:build amd64 && !purego

package tensor

import "sync"

// repackTile is the signature of the generated tiles of the repacked
// layouts (asm/repack.go): groups·8 rows (a multiple of the tile's
// groups) of w times C vectors of x, into y[c*ystride+r]; scratch holds
// 2·C·n/32 words.
type repackTile func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)

// repackTiles are the VNNI tiles of a repacked layout: by[c] computes
// 8 rows × c vectors (c = 1..4), g2x1 16 rows × one vector.
type repackTiles struct {
	bsize int
	by    [5]repackTile
	g2x1  repackTile
	// maxC is the most vectors a tile takes at once (4; the tests lower
	// it to run every tile), decode16 selects the 16×1 tile for one
	// vector.
	maxC     int
	decode16 bool
}

var (
	tilesQ4_0x8VNNI = &repackTiles{
		bsize: sizeQ4_0,
		by:    [5]repackTile{nil, tileQ4_0x8_8x1VNNI, tileQ4_0x8_8x2VNNI, tileQ4_0x8_8x3VNNI, tileQ4_0x8_8x4VNNI},
		g2x1:  tileQ4_0x8_16x1VNNI, maxC: 4, decode16: true,
	}
	tilesQ8_0x8VNNI = &repackTiles{
		bsize: sizeQ8_0,
		by:    [5]repackTile{nil, tileQ8_0x8_8x1VNNI, tileQ8_0x8_8x2VNNI, tileQ8_0x8_8x3VNNI, tileQ8_0x8_8x4VNNI},
		g2x1:  tileQ8_0x8_16x1VNNI, maxC: 4, decode16: true,
	}
)

// repackScratchWords is the scratch a MatFunc call of the repacked tiles
// keeps on the stack: enough for four vectors of 8192 values.
const repackScratchWords = 2 * 4 * 8192 / 32

// repackScratch holds the scratch of rows longer than that.
var repackScratch = sync.Pool{New: func() any { return new([]uint32) }}

// mat is the MatFunc of the layout: vectors maxC at a time, the rest
// through the tile of as many vectors, one vector through the 16×1 tile
// (and 8×1 for a group left over).
func (t *repackTiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	if n%32 != 0 || rows%repackRows != 0 {
		panic("tensor: repacked matrix kernel size is not whole blocks and groups")
	}
	nb := n / 32
	checkMat(rows, nx, w, wstride, nb*t.bsize, x, xstride, nb*sizeQ8_0, y, ystride)
	if rows > 0 && wstride != nb*t.bsize {
		panic("tensor: repacked matrix rows must be contiguous")
	}
	if rows == 0 || nx == 0 {
		return
	}
	groups := rows / repackRows
	need := 2 * min(nx, t.maxC) * nb
	var buf [repackScratchWords]uint32
	scratch := buf[:]
	if need > len(buf) {
		p := repackScratch.Get().(*[]uint32)
		if cap(*p) < need {
			*p = make([]uint32, need)
		}
		defer repackScratch.Put(p)
		scratch = (*p)[:need]
	}
	i := 0
	for ; i+t.maxC <= nx && t.maxC > 1; i += t.maxC {
		t.by[t.maxC](n, w, x[i*xstride:], xstride, y[i*ystride:], ystride, groups, scratch)
	}
	if k := nx - i; k > 1 && t.maxC > 1 {
		t.by[k](n, w, x[i*xstride:], xstride, y[i*ystride:], ystride, groups, scratch)
		return
	}
	for ; i < nx; i++ {
		xi, yi := x[i*xstride:], y[i*ystride:]
		g := 0
		if t.decode16 {
			if g = groups &^ 1; g > 0 {
				t.g2x1(n, w, xi, xstride, yi, ystride, g, scratch)
			}
		}
		if g < groups {
			t.by[1](n, w[g*repackRows*wstride:], xi, xstride, yi[g*repackRows:], ystride, groups-g, scratch)
		}
	}
}
