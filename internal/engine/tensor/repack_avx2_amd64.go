//go:build amd64 && !purego

package tensor

// The AVX2 tiles of the repacked layouts (asm/repack_avx2.go), for the
// avx2 table: the MatFunc is repackTiles.mat, as with the VNNI tiles.
var (
	tilesQ4_0x8AVX2 = &repackTiles{
		bsize: sizeQ4_0,
		by:    [9]repackTile{nil, tileQ4_0x8_8x1AVX2, tileQ4_0x8_8x2AVX2, tileQ4_0x8_8x3AVX2, tileQ4_0x8_8x4AVX2},
		maxC:  4,
	}
	tilesQ8_0x8AVX2 = &repackTiles{
		bsize: sizeQ8_0,
		by:    [9]repackTile{nil, tileQ8_0x8_8x1AVX2, tileQ8_0x8_8x2AVX2, tileQ8_0x8_8x3AVX2, tileQ8_0x8_8x4AVX2},
		maxC:  4,
	}
)
