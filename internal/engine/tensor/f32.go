package tensor

// DotF32s returns Σ a[i]·b[i] over i < len(a) of two float32 slices; b
// must be at least as long as a. With AVX2 it runs the F32 dot kernel
// (eight-lane FMA accumulators, so the rounding differs from a sequential
// sum by a few ulps), otherwise a pure-Go loop summing in float64. The
// result depends only on the values, never on where they are stored.
func DotF32s(a, b []float32) float32 {
	b = b[:len(a)]
	if len(a) == 0 {
		return 0
	}
	if useSIMDFloat {
		return dotF32AVX2Slices(a, b)
	}
	return dotF32Go(a, b)
}

// AxpyF32 adds a·x[i] to y[i] for every i < len(y); x must be at least as
// long as y. With AVX2 each element takes one fused multiply-add.
func AxpyF32(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	if len(y) == 0 {
		return
	}
	if useSIMDFloat {
		axpyF32SIMD(a, x, y)
		return
	}
	for i := range y {
		y[i] += float32(a * x[i])
	}
}

// dotF32Go is the portable DotF32s, with two float64 accumulators.
func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1 float64
	i := 0
	for ; i+1 < len(a); i += 2 {
		s0 += float64(a[i] * b[i])
		s1 += float64(a[i+1] * b[i+1])
	}
	if i < len(a) {
		s0 += float64(a[i] * b[i])
	}
	return float32(s0 + s1)
}
