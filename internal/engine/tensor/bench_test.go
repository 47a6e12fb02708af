package tensor

import (
	"math/rand/v2"
	"testing"
)

// benchTypes are the types Dequantize supports.
var benchTypes = []Type{F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K}

// randomBlocks returns n values' worth of random bytes of type t, with
// every f16 scale made finite so the work is representative.
func randomBlocks(t Type, n int) []byte {
	nb, err := t.RowBytes(n)
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, nb)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	// Quantizing real data gives realistic scales for the types we can
	// quantize; the rest keep random bytes, which is fine for timing.
	if CanQuantize(t) {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		if err := Quantize(t, x, b); err != nil {
			panic(err)
		}
	}
	return b
}

func BenchmarkDequantize(b *testing.B) {
	const n = 4096
	for _, t := range benchTypes {
		b.Run(t.String(), func(b *testing.B) {
			src := randomBlocks(t, n)
			dst := make([]float32, n)
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if err := Dequantize(t, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuantize(b *testing.B) {
	const n = 4096
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, t := range []Type{F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K} {
		b.Run(t.String(), func(b *testing.B) {
			nb, _ := t.RowBytes(n)
			dst := make([]byte, nb)
			b.SetBytes(4 * n)
			for b.Loop() {
				if err := Quantize(t, x, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
