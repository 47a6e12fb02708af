package tensor

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestActQ8_0 checks the Q8_0 activation quantizer of this platform
// (assembly on amd64 with AVX2) against the pure-Go actQ8 byte for byte:
// random values of many magnitudes, all-zero blocks, ties of the rounding,
// subnormals, huge values whose scale overflows fp16, and rows with an
// infinity or a NaN (which the assembly hands back to Go).
func TestActQ8_0(t *testing.T) {
	skipWithoutAsmQuantizers(t)
	r := rand.New(rand.NewPCG(51, 52))
	for trial := range 400 {
		n := 32 * (1 + r.IntN(40))
		x := randomRow(r, n)
		switch trial % 8 {
		case 1:
			clear(x[32*r.IntN(n/32):][:32]) // an all-zero block
		case 2:
			x[r.IntN(n)] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			x[r.IntN(n)] = float32(math.NaN())
		case 4:
			x[r.IntN(n)] = 3e38 // d overflows fp16
		case 5:
			for i := range x[:32] {
				x[i] = 127 * float32(1-2*(i%2)) // amax 127: id 1
			}
		}
		compareEncodings(t, trial, x, 32, 34, encodeQ8_0, func(x []float32, dst []byte) { actQ8(x, dst, false) })
	}
}

// TestActQ8_K is TestActQ8_0 for the Q8_K quantizer (blocks of 256), with
// the largest magnitude reached by values of both signs (the first one
// wins) as a further case.
func TestActQ8_K(t *testing.T) {
	skipWithoutAsmQuantizers(t)
	r := rand.New(rand.NewPCG(55, 56))
	for trial := range 300 {
		n := 256 * (1 + r.IntN(20))
		x := randomRow(r, n)
		switch trial % 8 {
		case 1:
			clear(x[256*r.IntN(n/256):][:256]) // an all-zero block
		case 2:
			x[r.IntN(n)] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			x[r.IntN(n)] = float32(math.NaN())
		case 4:
			x[r.IntN(n)] = 3e38
		case 5, 6:
			b := 256 * r.IntN(n/256)
			i, j := b+r.IntN(256), b+r.IntN(256)
			x[i], x[j] = 1e3, -1e3 // equal magnitudes, both signs
		case 7:
			x[r.IntN(n)] = math.Float32frombits(1) // a block of subnormals at most
		}
		compareEncodings(t, trial, x, 256, 292, encodeQ8_K, actQ8_K)
	}
}

// randomRow returns n activations of one random magnitude: zeros, ties of
// the rounding (after scaling by 127/amax = 1), subnormals and normal
// values.
func randomRow(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	scale := math.Pow(2, float64(r.IntN(200)-100))
	for i := range x {
		switch r.IntN(12) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(r.IntN(255)-127) / 2
		case 2:
			x[i] = math.Float32frombits(r.Uint32() & 0x807fffff) // subnormal
		default:
			x[i] = float32(r.NormFloat64() * scale)
		}
	}
	return x
}

// compareEncodings encodes x with got (into a buffer prefilled with junk)
// and want, blocks of qk values in size bytes, and fails at the first
// block that differs.
func compareEncodings(t *testing.T, trial int, x []float32, qk, size int, got, want func(x []float32, dst []byte)) {
	t.Helper()
	g, w := make([]byte, len(x)/qk*size), make([]byte, len(x)/qk*size)
	for i := range g {
		g[i] = 0xa5
	}
	got(x, g)
	want(x, w)
	for b := range len(x) / qk {
		if gb, wb := g[size*b:size*(b+1)], w[size*b:size*(b+1)]; !bytes.Equal(gb, wb) {
			t.Fatalf("trial %d block %d: %x, want %x (x %v)", trial, b, gb, wb, x[qk*b:qk*(b+1)])
		}
	}
}

func BenchmarkActQ8_K(b *testing.B) {
	x := make([]float32, 4864)
	r := rand.New(rand.NewPCG(57, 58))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	dst := make([]byte, len(x)/256*292)
	for _, tc := range []struct {
		name string
		fn   func([]float32, []byte)
	}{{"default", encodeQ8_K}, {"go", actQ8_K}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				tc.fn(x, dst)
			}
		})
	}
}

func BenchmarkActQ8_0(b *testing.B) {
	x := make([]float32, 4864)
	r := rand.New(rand.NewPCG(53, 54))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	dst := make([]byte, len(x)/32*34)
	for _, tc := range []struct {
		name string
		fn   func([]float32, []byte)
	}{{"default", encodeQ8_0}, {"go", func(x []float32, d []byte) { actQ8(x, d, false) }}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				tc.fn(x, dst)
			}
		})
	}
}

// skipWithoutAsmQuantizers skips a test that compares the assembly
// activation quantizers with the Go ones where there are none: there
// (purego, other platforms, no AVX2) encodeQ8_0 and encodeQ8_K are the Go
// functions themselves, and the comparison could not fail.
func skipWithoutAsmQuantizers(t *testing.T) {
	t.Helper()
	if DefaultKernels().Name == "go" {
		t.Skip("no assembly activation quantizers on this build: encodeQ8_0/encodeQ8_K are the Go ones")
	}
}
