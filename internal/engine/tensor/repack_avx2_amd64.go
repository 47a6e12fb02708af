//go:build amd64 && !purego

package tensor

// The AVX2 tiles of the repacked layouts (asm/repack_avx2.go), for the
// avx2 table: the MatFunc is repackTiles.mat, as with the VNNI tiles.
var (
	tilesQ4_0x8AVX2 = &repackTiles{
		bsize:    sizeQ4_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ4_0x8_8x1AVX2, tileQ4_0x8_8x2AVX2, tileQ4_0x8_8x3AVX2, tileQ4_0x8_8x4AVX2},
		far:      [9]repackTile{2: tileQ4_0x8_8x2FarAVX2, tileQ4_0x8_8x3FarAVX2, tileQ4_0x8_8x4FarAVX2},
		farGroup: farGroupBytes,
		maxC:     4,
	}
	tilesQ5_0x8AVX2 = &repackTiles{
		bsize:    sizeQ5_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ5_0x8_8x1AVX2, tileQ5_0x8_8x2AVX2, tileQ5_0x8_8x3AVX2, tileQ5_0x8_8x4AVX2},
		far:      [9]repackTile{3: tileQ5_0x8_8x3FarAVX2, tileQ5_0x8_8x4FarAVX2},
		farGroup: farGroupBytes,
		maxC:     4,
	}
	tilesQ4_1x8AVX2 = &repackTiles{
		bsize:    sizeQ4_1,
		xsize:    sizeQ8_1,
		by:       [9]repackTile{nil, tileQ4_1x8_8x1AVX2, tileQ4_1x8_8x2AVX2, tileQ4_1x8_8x3AVX2, tileQ4_1x8_8x4AVX2},
		far:      [9]repackTile{3: tileQ4_1x8_8x3FarAVX2, tileQ4_1x8_8x4FarAVX2},
		farGroup: farGroupBytes,
		maxC:     4,
	}
	tilesQ5_1x8AVX2 = &repackTiles{
		bsize:    sizeQ5_1,
		xsize:    sizeQ8_1,
		by:       [9]repackTile{nil, tileQ5_1x8_8x1AVX2, tileQ5_1x8_8x2AVX2, tileQ5_1x8_8x3AVX2, tileQ5_1x8_8x4AVX2},
		far:      [9]repackTile{3: tileQ5_1x8_8x3FarAVX2, tileQ5_1x8_8x4FarAVX2},
		farGroup: farGroupBytes,
		maxC:     4,
	}
	tilesQ8_0x8AVX2 = &repackTiles{
		bsize:    sizeQ8_0,
		xsize:    sizeQ8_0,
		by:       [9]repackTile{nil, tileQ8_0x8_8x1AVX2, tileQ8_0x8_8x2AVX2, tileQ8_0x8_8x3AVX2, tileQ8_0x8_8x4AVX2},
		far:      [9]repackTile{3: tileQ8_0x8_8x3FarAVX2, tileQ8_0x8_8x4FarAVX2},
		farGroup: farGroupBytes,
		maxC:     4,
	}
)

// tilesQ4_Kx8AVX2 are the Q4_Kx8 AVX2 tiles (asm/repackk_avx2.go): by[c]
// computes 8 rows × c vectors, c = 1..4; the MatFunc is q4kTiles.mat, as
// with the VNNI tiles.
var tilesQ4_Kx8AVX2 = &q4kTiles{
	size:     sizeQ4_K,
	by:       [9]tileFunc{nil, tileQ4_Kx8_8x1AVX2, tileQ4_Kx8_8x2AVX2, tileQ4_Kx8_8x3AVX2, tileQ4_Kx8_8x4AVX2},
	far:      [9]tileFunc{3: tileQ4_Kx8_8x3FarAVX2, tileQ4_Kx8_8x4FarAVX2},
	farGroup: farGroupBytes,
	maxC:     4,
}

// matQ4_Kx8AVX2 is the Q4_Kx8 MatFunc of the AVX2 tiles (see q4kTiles.mat).
func matQ4_Kx8AVX2(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ4_Kx8AVX2.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// tilesQ6_Kx8AVX2 are the Q6_Kx8 AVX2 tiles (asm/repackq6.go): by[c]
// computes 8 rows × c vectors, c = 1, 2 and 4.
var tilesQ6_Kx8AVX2 = &q4kTiles{
	size: sizeQ6_K,
	by:   [9]tileFunc{nil, tileQ6_Kx8_8x1AVX2, tileQ6_Kx8_8x2AVX2, 4: tileQ6_Kx8_8x4AVX2},
	maxC: 4,
}

// matQ6_Kx8AVX2 is the Q6_Kx8 MatFunc of the AVX2 tiles (see q4kTiles.mat).
func matQ6_Kx8AVX2(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ6_Kx8AVX2.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}

// tilesQ5_Kx8AVX2 are the Q5_Kx8 AVX2 tiles (asm/repackk_avx2.go): by[c]
// computes 8 rows × c vectors, c = 1, 2 and 4.
var tilesQ5_Kx8AVX2 = &q4kTiles{
	size: sizeQ5_K,
	by:   [9]tileFunc{nil, tileQ5_Kx8_8x1AVX2, tileQ5_Kx8_8x2AVX2, 4: tileQ5_Kx8_8x4AVX2},
	maxC: 4,
}

// matQ5_Kx8AVX2 is the Q5_Kx8 MatFunc of the AVX2 tiles (see q4kTiles.mat).
func matQ5_Kx8AVX2(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	tilesQ5_Kx8AVX2.mat(n, rows, nx, w, wstride, x, xstride, y, ystride)
}
