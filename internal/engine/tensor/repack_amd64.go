//go:build amd64 && !purego

package tensor

import "sync"

// repackTile is the signature of the generated tiles of the repacked
// layouts (asm/repack.go): groups·8 rows (a multiple of the tile's
// groups) of w times C vectors of x, into y[c*ystride+r]; scratch holds
// 2·n/32 words for one vector, 10·C·n/32 for more.
type repackTile func(n int, w []byte, x []byte, xstride int, y []float32, ystride int, groups int, scratch []uint32)

// repackTiles are the VNNI tiles of a repacked layout: by[c] computes
// 8 rows × c vectors (c = 1..4 and 8).
//
// One vector (decode) goes through the 8×1 tile, one group after another,
// a single sequential stream of weights with no software prefetch. A
// 16×1 tile (two groups per step, two streams, the activation loads
// shared) was slower on DRAM-resident weights whatever its prefetch
// (BenchmarkRepackedDecodeRows-style alternated runs, one goroutine,
// ~300 MB of copies, GB/s of 16 rows against 8): with PREFETCHNTA of the
// next pair of groups 0.85-1.0 times, with none 0.44-0.96, with
// PREFETCHNTA or PREFETCHT0 1 or 4 KiB ahead in each stream 0.55-1.06;
// the 8×1 tile without prefetch streamed fastest (Q4_0x8 18.5-24.9 GB/s,
// Q8_0x8 21.5-23.3; with PREFETCHNTA of the next group 16.3-18.9 and
// 16.7-25.6).
type repackTiles struct {
	bsize int // bytes of a row-block of the row-major type
	xsize int // bytes of an activation block: sizeQ8_0, or sizeQ8_1 for Q4_1x8 and Q5_1x8
	by    [9]repackTile
	// far[c] is by[c] that prefetches the weights, for a call's first c
	// vectors of rows whose group (eight rows) has more than farGroup
	// bytes (asm/repack.go).
	far      [9]repackTile
	farGroup int
	// maxC is the most vectors a tile takes at once: 8; the tests lower
	// it to run every tile.
	maxC int
}

var (
	tilesQ4_0x8VNNI = &repackTiles{
		bsize:    sizeQ4_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ4_0x8_8x1VNNI, tileQ4_0x8_8x2VNNI, tileQ4_0x8_8x3VNNI, tileQ4_0x8_8x4VNNI, 8: tileQ4_0x8_8x8VNNI},
		far:      [9]repackTile{2: tileQ4_0x8_8x2FarVNNI, tileQ4_0x8_8x3FarVNNI, tileQ4_0x8_8x4FarVNNI, 8: tileQ4_0x8_8x8FarVNNI},
		farGroup: farGroupBytes,
		maxC:     8,
	}
	tilesQ5_0x8VNNI = &repackTiles{
		bsize:    sizeQ5_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ5_0x8_8x1VNNI, tileQ5_0x8_8x2VNNI, tileQ5_0x8_8x3VNNI, tileQ5_0x8_8x4VNNI, 8: tileQ5_0x8_8x8VNNI},
		far:      [9]repackTile{3: tileQ5_0x8_8x3FarVNNI, tileQ5_0x8_8x4FarVNNI, 8: tileQ5_0x8_8x8FarVNNI},
		farGroup: farGroupBytes,
		maxC:     8,
	}
	tilesQ8_0x8VNNI = &repackTiles{
		bsize:    sizeQ8_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ8_0x8_8x1VNNI, tileQ8_0x8_8x2VNNI, tileQ8_0x8_8x3VNNI, tileQ8_0x8_8x4VNNI, 8: tileQ8_0x8_8x8VNNI},
		far:      [9]repackTile{3: tileQ8_0x8_8x3FarVNNI, tileQ8_0x8_8x4FarVNNI, 8: tileQ8_0x8_8x8FarVNNI},
		farGroup: farGroupBytes,
		maxC:     8,
	}
	tilesQ4_1x8VNNI = &repackTiles{
		bsize:    sizeQ4_1,
		xsize:    sizeQ8_1,
		by:       [9]repackTile{nil, tileQ4_1x8_8x1VNNI, tileQ4_1x8_8x2VNNI, tileQ4_1x8_8x3VNNI, tileQ4_1x8_8x4VNNI, 8: tileQ4_1x8_8x8VNNI},
		far:      [9]repackTile{3: tileQ4_1x8_8x3FarVNNI, tileQ4_1x8_8x4FarVNNI, 8: tileQ4_1x8_8x8FarVNNI},
		farGroup: farGroupBytes,
		maxC:     8,
	}
	tilesQ5_1x8VNNI = &repackTiles{
		bsize:    sizeQ5_1,
		xsize:    sizeQ8_1,
		by:       [9]repackTile{nil, tileQ5_1x8_8x1VNNI, tileQ5_1x8_8x2VNNI, tileQ5_1x8_8x3VNNI, tileQ5_1x8_8x4VNNI, 8: tileQ5_1x8_8x8VNNI},
		far:      [9]repackTile{3: tileQ5_1x8_8x3FarVNNI, tileQ5_1x8_8x4FarVNNI, 8: tileQ5_1x8_8x8FarVNNI},
		farGroup: farGroupBytes,
		maxC:     8,
	}
)

// farGroupBytes is the size of a group of eight rows above which a
// call's first vectors go through the tiles that prefetch the weights
// (far; asm/repack.go's farTile says which widths have them). Measured with
// eight vectors on DRAM-resident weights (BenchmarkRepackedBatchDRAM and
// a sweep of shapes of the same bytes, 2 goroutines): the prefetch sped
// Q8_0x8 rows of 1,280 values (10.9 KB a group) up 1.07-1.08 times, of
// 1,536 1.23-1.26 times, and not at 1,152 (9.8 KB: 0.95-0.99); it slowed Q4_Kx8
// rows of 1,024 (4.6 KB a group) 0.91-0.96 times and sped 4,864 (21.9
// KB) 1.10-1.15 times; the AVX2 8×4 ones (asm/repack_avx2.go) sped
// 896×4864 up 1.1-1.4 times. Only a call's first pass takes them: the
// passes after it find the chunk's weights in L2 (prefill), where
// the Q4_Kx8 tile's prefetches cost 2-3 % in cache
// (BenchmarkRepackedTiles, 896×4864) and slowed a 128-vector product
// 0.91-0.95 times.
const farGroupBytes = 10 << 10

// repackScratch holds the tiles' scratch buffers (*[]uint32). A buffer
// on the stack would escape (the tiles are called through func values),
// costing an allocation per call: 58 MB per decode step of the Q8_0 test
// model, most of its time at two threads spent in the garbage collector.
var repackScratch = sync.Pool{New: func() any { return new([]uint32) }}

// mat is the MatFunc of the layout: each call takes as many of the
// vectors left as the largest tile of at most maxC vectors does (8, 4,
// 3, 2, or 1: 8×1 for decode).
func (t *repackTiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	if n%32 != 0 || rows%repackRows != 0 {
		panic("tensor: repacked matrix kernel size is not whole blocks and groups")
	}
	nb := n / 32
	checkMat(rows, nx, w, wstride, nb*t.bsize, x, xstride, nb*t.xsize, y, ystride)
	if rows > 0 && wstride != nb*t.bsize {
		panic("tensor: repacked matrix rows must be contiguous")
	}
	if rows == 0 || nx == 0 {
		return
	}
	groups := rows / repackRows
	need := 2 * nb
	if nx > 1 {
		need = 10 * min(nx, t.maxC) * nb
	}
	p := repackScratch.Get().(*[]uint32)
	if cap(*p) < need {
		*p = make([]uint32, need)
	}
	scratch := (*p)[:need]
	for i := 0; i < nx; {
		k := min(nx-i, t.maxC)
		for t.by[k] == nil {
			k--
		}
		tile := t.by[k]
		if i == 0 && t.far[k] != nil && nb*8*t.bsize > t.farGroup {
			tile = t.far[k]
		}
		tile(n, w, x[i*xstride:], xstride, y[i*ystride:], ystride, groups, scratch)
		i += k
	}
	repackScratch.Put(p)
}
