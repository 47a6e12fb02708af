//go:build amd64 && !purego

package tensor

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

//go:generate go run ./asm -out dot_amd64.s -stubs dot_amd64.go -pkg tensor

// simdKernels returns the AVX2 kernels if this CPU (and OS) supports AVX2,
// FMA and F16C, with the pure-Go ones for the types they do not cover
// (Q4_1, Q5_1), or nil.
//
// x/sys/cpu only reports AVX and AVX2 when the OS saves the YMM registers
// (XGETBV), so no separate OS check is needed.
func simdKernels() *Kernels {
	if !hasAVX2FMA() {
		return nil
	}
	k := ReferenceKernels()
	k.Name = "avx2"
	k.F32, k.F16, k.BF16 = dotF32AVX2, dotF16AVX2, dotBF16AVX2
	k.Q8_0, k.Q4_0, k.Q5_0 = dotQ8_0AVX2, dotQ4_0AVX2, dotQ5_0AVX2
	k.Q4_K, k.Q5_K, k.Q6_K = dotQ4_KAVX2, dotQ5_KAVX2, dotQ6_KAVX2
	k.Q8_0x4, k.Q4_0x4, k.Q5_0x4 = dotQ8_0x4AVX2, dotQ4_0x4AVX2, dotQ5_0x4AVX2
	k.Q4_Kx4, k.Q5_Kx4 = dotQ4_Kx4AVX2, dotQ5_Kx4AVX2
	return k
}

// hasAVX2FMA reports whether the AVX2 kernels can run: they use AVX2, FMA
// and F16C (VCVTPH2PS) instructions.
func hasAVX2FMA() bool {
	return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
}

// sumWords returns the wrapping sum of the little-endian 64-bit words of
// p, whose length is a multiple of 256, as a streaming read.
func sumWords(p []byte) uint64 {
	if hasAVX2FMA() {
		return sumWordsAVX2(p)
	}
	return sumWordsGo(p)
}

// useSIMDFloat selects the AVX2 kernels for DotF32s and AxpyF32.
var useSIMDFloat = hasAVX2FMA()

func dotF32AVX2Slices(a, b []float32) float32 {
	return dotF32AVX2(len(a), f32Bytes(a), f32Bytes(b))
}

func axpyF32SIMD(a float32, x, y []float32) { axpyF32AVX2(a, x, y) }

// f32Bytes views a float32 slice as its little-endian bytes (every
// platform this package supports is little-endian).
func f32Bytes(a []float32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), 4*len(a))
}
