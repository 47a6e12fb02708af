//go:build amd64 && !purego

package tensor_test

import (
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// avx2KernelSet returns the avx2 table of KernelSets, or skips t.
func avx2KernelSet(t testing.TB) *tensor.Kernels {
	if !tensor.HasAVX2FMA() {
		t.Skip("the CPU has no AVX2, FMA and F16C")
	}
	for _, k := range tensor.KernelSets() {
		if k.Name == "avx2" {
			return k
		}
	}
	t.Fatal("no avx2 kernel table on a CPU with AVX2")
	return nil
}

// TestRepackedAVX2Identical checks every tile path of the AVX2 kernels of
// Q4_0x8, Q5_0x8, Q4_1x8, Q5_1x8 and Q8_0x8 (RepackAVX2Variants: at most 4, 3, 2 and 1 vectors
// per call, so 1 to 9 vectors run every tile and every leftover, the
// first through the tiles that prefetch or not) bit for
// bit against the reference DotFunc of the row-major type on every row,
// with the cases of TestRepackedVNNIIdentical (random, edge scales,
// ±127 activations, every weight byte value, NaN, Inf, padded strides);
// outputs outside the tile must stay untouched.
func TestRepackedAVX2Identical(t *testing.T) {
	avx2KernelSet(t)
	variants := func(rt tensor.Type) []tensor.RepackVNNIVariant {
		v := tensor.RepackAVX2Variants(rt)
		if len(v) != 8 {
			t.Fatalf("%v: %d AVX2 variants", rt, len(v))
		}
		return v
	}
	checkRepackedVariants(t, rand.New(rand.NewPCG(71, 72)), []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0}, variants, []int{8, 16, 40}, 9)
}

// TestRepackedAVX2MatMul checks MatMul of the avx2 table with the AVX2
// repacked tiles (AVX2RepackedKernels, Q8_0x8's included) on repacked
// weights, with two goroutines (chunks of whole groups), against the
// reference table on the row-major weights, bit for bit.
func TestRepackedAVX2MatMul(t *testing.T) {
	avx2KernelSet(t)
	checkRepackedMatMul(t, rand.New(rand.NewPCG(73, 74)), tensor.AVX2RepackedKernels(), []tensor.Type{tensor.Q4_0, tensor.Q5_0, tensor.Q4_1, tensor.Q5_1, tensor.Q8_0})
}
