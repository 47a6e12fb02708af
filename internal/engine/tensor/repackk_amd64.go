//go:build amd64 && !purego

package tensor

// q4kTiles are the Q4_Kx8 (or Q5_Kx8, Q6_Kx8) tiles: by[c] computes 8
// rows × c vectors (c = 1..4 and 8 for Q4_Kx8's VNNI tiles, 1, 2 and 4 for
// Q5_Kx8's, asm/repackk.go; 1, 2 and 4 for Q6_Kx8's, asm/repackq6.go).
type q4kTiles struct {
	// size is the bytes of a block of the row-major type (sizeQ4_K,
	// sizeQ5_K or sizeQ6_K).
	size int
	by   [9]tileFunc
	// far[c] is by[c] that prefetches the weights, for a call's first c
	// vectors of rows whose group (eight rows) has more than farGroup
	// bytes (asm/repackk.go).
	far      [9]tileFunc
	farGroup int
	// maxC is the most vectors a tile takes at once: 8; the tests lower
	// it to run every tile.
	maxC int
}

var tilesQ4_Kx8VNNI = &q4kTiles{
	size:     sizeQ4_K,
	by:       [9]tileFunc{nil, tileQ4_Kx8_8x1VNNI, tileQ4_Kx8_8x2VNNI, tileQ4_Kx8_8x3VNNI, tileQ4_Kx8_8x4VNNI, 8: tileQ4_Kx8_8x8VNNI},
	far:      [9]tileFunc{3: tileQ4_Kx8_8x3FarVNNI, tileQ4_Kx8_8x4FarVNNI, 8: tileQ4_Kx8_8x8FarVNNI},
	farGroup: farGroupBytes,
	maxC:     8,
}

// tilesQ6_Kx8VNNI are the Q6_Kx8 VNNI tiles (asm/repackq6.go).
var tilesQ6_Kx8VNNI = &q4kTiles{
	size: sizeQ6_K,
	by:   [9]tileFunc{nil, tileQ6_Kx8_8x1VNNI, tileQ6_Kx8_8x2VNNI, 4: tileQ6_Kx8_8x4VNNI},
	maxC: 4,
}

// tilesQ5_Kx8VNNI are the Q5_Kx8 VNNI tiles (asm/repackk.go).
var tilesQ5_Kx8VNNI = &q4kTiles{
	size: sizeQ5_K,
	by:   [9]tileFunc{nil, tileQ5_Kx8_8x1VNNI, tileQ5_Kx8_8x2VNNI, 4: tileQ5_Kx8_8x4VNNI},
	maxC: 4,
}

// matQ5_Kx8VNNI is the Q5_Kx8 MatFunc of the avx512vnni table.
func matQ5_Kx8VNNI(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ5_Kx8VNNI.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// matQ6_Kx8VNNI is the Q6_Kx8 MatFunc of the avx512vnni table.
func matQ6_Kx8VNNI(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ6_Kx8VNNI.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// matQ4_Kx8VNNI is the Q4_Kx8 MatFunc of the avx512vnni table (see
// q4kTiles.mat).
func matQ4_Kx8VNNI(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ4_Kx8VNNI.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// mat is the Q4_Kx8 (Q6_Kx8) MatFunc: each call takes as many of the vectors left
// as the largest tile of at most maxC vectors does (8, 4, 3, 2 or 1; 8×1
// is decode's, which does not prefetch, see asm/repackk.go; a call's
// first 3, 4 or 8 vectors of long rows go through the tiles that do).
func (t *q4kTiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	checkKx8(n, rows, nx, w, wstride, x, xstride, y, ystride, t.size)
	if rows == 0 || nx == 0 {
		return
	}
	for i := 0; i < nx; {
		k := min(nx-i, t.maxC)
		for t.by[k] == nil {
			k--
		}
		tile := t.by[k]
		if i == 0 && t.far[k] != nil && n/QK_K*t.size*8 > t.farGroup {
			tile = t.far[k]
		}
		tile(n, w, wstride, x[i*xstride:], xstride, y[i*ystride:], ystride, rows)
		i += k
	}
}
