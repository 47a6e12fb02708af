//go:build amd64 && !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestQ4_Kx8Tiles checks each Q4_Kx8 VNNI tile (and those that prefetch)
// on its own against the
// pure-Go MatFunc, bit for bit, for 8 to 40 rows, rows longer than a few
// super-blocks and strides larger than a vector or an output.
func TestQ4_Kx8Tiles(t *testing.T) {
	if !hasVNNI() {
		t.Skip("the CPU lacks AVX-512 VNNI: no Q4_Kx8 tiles to check")
	}
	r := rand.New(rand.NewPCG(5, 6))
	type sized struct {
		C    int
		tile tileFunc
	}
	var tiles []sized
	for C, tile := range tilesQ4_Kx8VNNI.by {
		if tile != nil {
			tiles = append(tiles, sized{C, tile})
		}
	}
	for C, tile := range tilesQ4_Kx8VNNI.far {
		if tile != nil {
			tiles = append(tiles, sized{C, tile})
		}
	}
	for _, tc := range tiles {
		C, tile := tc.C, tc.tile
		for _, rows := range []int{8, 16, 24, 40} {
			for _, n := range []int{256, 1280} {
				rb, xrb := n/QK_K*sizeQ4_K, n/QK_K*sizeQ8_K
				w := randomQ4Kx8(r, rows, n, false, false)
				xstride, ystride := xrb+13, rows+3
				x := make([]byte, (C-1)*xstride+xrb)
				v := make([]float32, n)
				for c := range C {
					for i := range v {
						v[i] = float32(r.NormFloat64())
					}
					if err := QuantizeActivations(Q8_K, v, x[c*xstride:c*xstride+xrb]); err != nil {
						t.Fatal(err)
					}
				}
				got, want := make([]float32, (C-1)*ystride+rows), make([]float32, (C-1)*ystride+rows)
				tile(n, w, rb, x, xstride, got, ystride, rows)
				matQ4_Kx8Go(n, rows, C, w, rb, x, xstride, want, ystride)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("8×%d tile, %d rows of %d: y[%d] = %v, pure Go %v", C, rows, n, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestQ4_Kx8VNNIMat checks the Q4_Kx8 MatFunc of the avx512vnni table
// against the pure-Go one, bit for bit, for 1 to 17 vectors, taking at
// most 8, 4, 3, 2 or 1 at a time, the first ones through the tiles that
// prefetch or not (so that every tile and leftover path runs), with strides larger than a vector or an output; outputs outside
// the tile must stay untouched.
func TestQ4_Kx8VNNIMat(t *testing.T) {
	if !hasVNNI() {
		t.Skip("the CPU lacks AVX-512 VNNI: no Q4_Kx8 tiles to check")
	}
	r := rand.New(rand.NewPCG(7, 8))
	const rows, n, maxNX = 24, 512, 17
	rb, xrb := n/QK_K*sizeQ4_K, n/QK_K*sizeQ8_K
	w := randomQ4Kx8(r, rows, n, false, false)
	xstride, ystride := xrb+5, rows+1
	x := make([]byte, (maxNX-1)*xstride+xrb)
	v := make([]float32, n)
	for c := range maxNX {
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		if err := QuantizeActivations(Q8_K, v, x[c*xstride:c*xstride+xrb]); err != nil {
			t.Fatal(err)
		}
	}
	var vcs []struct{ maxC, farGroup int }
	for _, maxC := range []int{8, 4, 3, 2, 1} {
		vcs = append(vcs, struct{ maxC, farGroup int }{maxC, farGroupBytes}, struct{ maxC, farGroup int }{maxC, -1})
	}
	for _, vc := range vcs {
		maxC := vc.maxC
		tiles := *tilesQ4_Kx8VNNI
		tiles.maxC, tiles.farGroup = maxC, vc.farGroup
		for nx := 1; nx <= maxNX; nx++ {
			got, want := make([]float32, nx*ystride), make([]float32, nx*ystride)
			for i := range got {
				got[i], want[i] = -1.5, -1.5
			}
			tiles.mat(n, rows, nx, w, rb, x, xstride, got, ystride)
			matQ4_Kx8Go(n, rows, nx, w, rb, x, xstride, want, ystride)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("maxC=%d farGroup=%d, %d vectors: y[%d] = %v, pure Go %v", maxC, vc.farGroup, nx, i, got[i], want[i])
				}
			}
		}
	}
}
