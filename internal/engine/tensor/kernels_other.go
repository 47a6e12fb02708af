//go:build !amd64 || purego

package tensor

// simdKernels returns nil: there are no assembly kernels for this
// platform, or the purego build tag asks for none.
func simdKernels() *Kernels { return nil }

// simdKernelSets returns none.
func simdKernelSets() []*Kernels { return nil }

// sumWords returns the wrapping sum of the little-endian 64-bit words of
// p, whose length is a multiple of 256, as a streaming read.
func sumWords(p []byte) uint64 { return sumWordsGo(p) }

// useSIMDFloat is false: DotF32s and AxpyF32 run in pure Go.
const useSIMDFloat = false

func dotF32AVX2Slices(a, b []float32) float32 { return dotF32Go(a, b) }

func axpyF32SIMD(a float32, x, y []float32) {
	for i := range y {
		y[i] += float32(a * x[i])
	}
}

// encodeQ8_0 encodes x as Q8_0 activations (actQ8 without sums).
func encodeQ8_0(x []float32, dst []byte) { actQ8(x, dst, false) }

// encodeQ8_K encodes x as Q8_K activations.
func encodeQ8_K(x []float32, dst []byte) { actQ8_K(x, dst) }
