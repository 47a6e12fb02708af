//go:build !amd64 || purego

package tensor

// simdKernels returns nil: there are no assembly kernels for this
// platform, or the purego build tag asks for none.
func simdKernels() *Kernels { return nil }

// sumWords returns the wrapping sum of the little-endian 64-bit words of
// p, whose length is a multiple of 256, as a streaming read.
func sumWords(p []byte) uint64 { return sumWordsGo(p) }
