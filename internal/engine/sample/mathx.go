package sample

import "math"

// exp32 returns e**x in float32 for x <= 0 (positive arguments are computed
// too but lose accuracy and overflow above about 88). It is the Cephes expf
// algorithm: x = n·ln2 + r with |r| <= ln2/2, a degree-7 polynomial for e**r
// and 2**n by exponent arithmetic. Its relative error is within about
// 2e-7 of math.Exp.
//
// Every product is rounded explicitly (float32(...)) so that no compiler may
// fuse a multiply and an add: the result is bit-for-bit the same on every
// platform, which seeded sampling depends on. Arguments below about -87.3
// (including -Inf) give 0; x must not be NaN.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	if x < -87.33654 {
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	z := float32(x * log2e)
	var n int32
	if z < 0 {
		n = -int32(-z + 0.5)
	} else {
		n = int32(z + 0.5)
	}
	fn := float32(n)
	r := x - float32(fn*c1)
	r -= float32(fn * c2)
	r2 := float32(r * r)
	p := float32(1.9875691500e-4*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	p = float32(p*r2) + r + 1
	// 2**n for n in [-126, 127] is a normal float32; below that, build it in
	// two steps so the result underflows gracefully to a subnormal.
	if n < -126 {
		p = float32(p * 0x1p-64)
		n += 64
	}
	return float32(p * math.Float32frombits(uint32(n+127)<<23))
}
