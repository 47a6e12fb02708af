//go:build amd64 && !purego

package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomQ4Kx8 returns rows×n random Q4_K weights repacked to Q4_Kx8
// (fp16 d and dmin normal, or NaN/Inf in one block when special is set;
// with allF every quant byte 0xff).
func randomQ4Kx8(r *rand.Rand, rows, n int, allF, special bool) []byte {
	rb := n / QK_K * sizeQ4_K
	src := make([]byte, rows*rb)
	for i := range src {
		src[i] = byte(r.Uint32())
		if allF {
			src[i] = 0xff
		}
	}
	for off := 0; off < len(src); off += sizeQ4_K {
		put16(src[off:], FP32ToFP16(float32(r.NormFloat64())))
		put16(src[off+2:], FP32ToFP16(float32(r.NormFloat64()*0.1)))
	}
	if special {
		put16(src[3*rb/2:], FP32ToFP16(float32(math.NaN())))
		put16(src[(rows-1)*rb+2:], FP32ToFP16(float32(math.Inf(-1))))
	}
	w := make([]byte, len(src))
	if err := Repack(Q4_K, rows, n, w, src); err != nil {
		panic(err)
	}
	return w
}

// q4kx8Case returns randomQ4Kx8's weights and nx Q8_K vectors at xstride
// bytes, their quants random int8 with -128 and 127 mixed in (ext: all
// of them -128 or 127) and their bsums consistent.
func q4kx8Case(r *rand.Rand, rows, n, nx, xstride int, allF, ext, special bool) (w, x []byte) {
	w = randomQ4Kx8(r, rows, n, allF, special)
	xrb := n / QK_K * sizeQ8_K
	x = make([]byte, (nx-1)*xstride+xrb)
	for c := range nx {
		for b := range n / QK_K {
			blk := x[c*xstride+b*sizeQ8_K:][:sizeQ8_K]
			le.PutUint32(blk, math.Float32bits(float32(r.NormFloat64()*0.01)))
			q := blk[4 : 4+QK_K]
			for i := range q {
				v := int8(r.IntN(256) - 128)
				if ext || r.IntN(8) == 0 {
					v = -128
					if r.IntN(2) == 0 {
						v = 127
					}
				}
				q[i] = byte(v)
			}
			for j := range QK_K / 16 {
				var s int16
				for _, v := range q[16*j : 16*j+16] {
					s += int16(int8(v))
				}
				le.PutUint16(blk[4+QK_K+2*j:], uint16(s))
			}
		}
	}
	return w, x
}

// TestQ4_Kx8AVX2Tiles checks each Q4_Kx8 AVX2 tile (and those that
// prefetch) on its own against the
// pure-Go MatFunc, bit for bit, for 8 to 40 rows, rows of one to five
// super-blocks, strides larger than a vector or an output, extreme
// activations (-128, 127), all-15 nibbles and NaN/Inf scales; outputs
// outside the tile must stay untouched.
func TestQ4_Kx8AVX2Tiles(t *testing.T) {
	if !hasAVX2FMA() {
		t.Skip("the CPU has no AVX2, FMA and F16C")
	}
	r := rand.New(rand.NewPCG(15, 16))
	type sized struct {
		C    int
		tile tileFunc
	}
	var tiles []sized
	for C, tile := range tilesQ4_Kx8AVX2.by {
		if tile != nil {
			tiles = append(tiles, sized{C, tile})
		}
	}
	for C, tile := range tilesQ4_Kx8AVX2.far {
		if tile != nil {
			tiles = append(tiles, sized{C, tile})
		}
	}
	for _, tc := range tiles {
		C, tile := tc.C, tc.tile
		for _, rows := range []int{8, 16, 24, 40} {
			for _, n := range []int{256, 1280} {
				for _, tc := range []struct {
					name               string
					allF, ext, special bool
				}{{"random", false, false, false}, {"all15", true, true, false}, {"extreme", false, true, false}, {"special", false, false, true}} {
					rb, xrb := n/QK_K*sizeQ4_K, n/QK_K*sizeQ8_K
					xstride, ystride := xrb+13, rows+3
					w, x := q4kx8Case(r, rows, n, C, xstride, tc.allF, tc.ext, tc.special)
					got, want := make([]float32, C*ystride), make([]float32, C*ystride)
					for i := range got {
						got[i], want[i] = -1.5, -1.5
					}
					tile(n, w, rb, x, xstride, got, ystride, rows)
					matQ4_Kx8Go(n, rows, C, w, rb, x, xstride, want, ystride)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("8×%d tile, %s, %d rows of %d: y[%d] = %v, pure Go %v", C, tc.name, rows, n, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestQ4_Kx8AVX2Mat checks the Q4_Kx8 AVX2 MatFunc against the pure-Go
// one, bit for bit, for 1 to 11 vectors, taking at most 4, 3, 2 or 1 at
// a time, the first ones through the tiles that prefetch or not (so that
// every tile and leftover path runs), with strides larger
// than a vector or an output; outputs outside the tile must stay
// untouched.
func TestQ4_Kx8AVX2Mat(t *testing.T) {
	if !hasAVX2FMA() {
		t.Skip("the CPU has no AVX2, FMA and F16C")
	}
	r := rand.New(rand.NewPCG(17, 18))
	const rows, n, maxNX = 24, 512, 11
	rb, xrb := n/QK_K*sizeQ4_K, n/QK_K*sizeQ8_K
	xstride, ystride := xrb+5, rows+1
	w, x := q4kx8Case(r, rows, n, maxNX, xstride, false, false, false)
	var vcs []struct{ maxC, farGroup int }
	for _, maxC := range []int{4, 3, 2, 1} {
		vcs = append(vcs, struct{ maxC, farGroup int }{maxC, farGroupBytes}, struct{ maxC, farGroup int }{maxC, -1})
	}
	for _, vc := range vcs {
		maxC := vc.maxC
		tiles := *tilesQ4_Kx8AVX2
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
