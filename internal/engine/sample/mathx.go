package sample

import "math"

// exp32 returns e**x in float32. It is the Cephes expf algorithm:
// x = n·ln2 + r with |r| <= ln2/2, a polynomial for e**r and 2**n by
// exponent arithmetic; its relative error is within about 2e-7 of math.Exp.
// n is rounded with the 1.5·2**23 trick, so the function has no branch but
// the range check.
//
// Arguments below about -87.3 (where the result would leave the normal
// float32 range), -Inf and NaN give 0; arguments above about 88.7 give +Inf.
//
// Every product is rounded explicitly (float32(...)) so that no compiler may
// fuse a multiply and an add: the result is bit-for-bit the same on every
// platform, which seeded sampling depends on.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
		magic = 0x1.8p23 // adding it rounds a float32 below 2**22 to an integer
	)
	if !(x >= -87.33654) {
		return 0
	}
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	t := float32(x*log2e) + magic
	n := int32(math.Float32bits(t)) - int32(math.Float32bits(magic))
	fn := t - magic
	r := x - float32(fn*c1)
	r -= float32(fn * c2)
	r2 := float32(r * r)
	p := float32(1.9875691500e-4*r) + 1.3981999507e-3
	p = float32(p*r) + 8.3334519073e-3
	p = float32(p*r) + 4.1665795894e-2
	p = float32(p*r) + 1.6666665459e-1
	p = float32(p*r) + 5.0000001201e-1
	p = float32(p*r2) + r + 1
	return float32(p * math.Float32frombits(uint32(n+127)<<23))
}
