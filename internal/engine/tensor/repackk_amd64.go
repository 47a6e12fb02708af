//go:build amd64 && !purego

package tensor

// matQ4_Kx8VNNI is the Q4_Kx8 MatFunc of the avx512vnni table: vectors
// four at a time through the 8×4 tile, the one to three left over through
// the 8×3, 8×2 or 8×1 tile (8×1 is decode's; like every repacked tile it
// does not prefetch, see asm/repackk.go).
func matQ4_Kx8VNNI(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int) {
	checkQ4_Kx8(n, rows, nx, w, wstride, x, xstride, y, ystride)
	if rows == 0 || nx == 0 {
		return
	}
	i := 0
	for ; i+4 <= nx; i += 4 {
		tileQ4_Kx8_8x4VNNI(n, w, wstride, x[i*xstride:], xstride, y[i*ystride:], ystride, rows)
	}
	if i == nx {
		return
	}
	tile := [...]tileFunc{tileQ4_Kx8_8x1VNNI, tileQ4_Kx8_8x2VNNI, tileQ4_Kx8_8x3VNNI}[nx-i-1]
	tile(n, w, wstride, x[i*xstride:], xstride, y[i*ystride:], ystride, rows)
}
