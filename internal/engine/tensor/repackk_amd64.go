//go:build amd64 && !purego

package tensor

// q4kTiles are the Q4_Kx8 VNNI tiles: by[c] computes 8 rows × c vectors
// (c = 1..4 and 8; asm/repackk.go).
type q4kTiles struct {
	by [9]tileFunc
	// maxC is the most vectors a tile takes at once: 8; the tests lower
	// it to run every tile.
	maxC int
}

var tilesQ4_Kx8VNNI = &q4kTiles{
	by:   [9]tileFunc{nil, tileQ4_Kx8_8x1VNNI, tileQ4_Kx8_8x2VNNI, tileQ4_Kx8_8x3VNNI, tileQ4_Kx8_8x4VNNI, 8: tileQ4_Kx8_8x8VNNI},
	maxC: 8,
}

// matQ4_Kx8VNNI is the Q4_Kx8 MatFunc of the avx512vnni table (see
// q4kTiles.mat).
func matQ4_Kx8VNNI(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ4_Kx8VNNI.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// mat is the Q4_Kx8 MatFunc: each call takes as many of the vectors left
// as the largest tile of at most maxC vectors does (8, 4, 3, 2 or 1; 8×1
// is decode's; like every repacked tile it does not prefetch, see
// asm/repackk.go).
func (t *q4kTiles) mat(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	checkQ4_Kx8(n, rows, nx, w, wstride, x, xstride, y, ystride)
	if rows == 0 || nx == 0 {
		return
	}
	for i := 0; i < nx; {
		k := min(nx-i, t.maxC)
		for t.by[k] == nil {
			k--
		}
		t.by[k](n, w, wstride, x[i*xstride:], xstride, y[i*ystride:], ystride, rows)
		i += k
	}
}
