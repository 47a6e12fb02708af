package tensor

import "math"

// FP16ToFP32 converts an IEEE 754 binary16 value to float32. The conversion
// is exact for every input, including subnormals, infinities and NaNs (the
// NaN payload is kept).
func FP16ToFP32(h uint16) float32 {
	const shiftedExp = 0x7c00 << 13 // binary16 exponent mask, moved to float32's
	o := uint32(h&0x7fff) << 13     // exponent and mantissa in place
	exp := o & shiftedExp
	o += (127 - 15) << 23 // rebias the exponent
	switch exp {
	case shiftedExp: // Inf or NaN: the exponent must be all ones
		o += (128 - 16) << 23
	case 0: // zero or subnormal: renormalise with one float subtraction
		o += 1 << 23
		o = math.Float32bits(math.Float32frombits(o) - math.Float32frombits(113<<23))
	}
	return math.Float32frombits(o | uint32(h&0x8000)<<16)
}

// FP32ToFP16 converts a float32 to IEEE 754 binary16, rounding to nearest
// with ties to even, as ggml (and the F16C instruction VCVTPS2PH) does.
// Values too large become infinities; NaNs stay NaNs.
func FP32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff

	if exp == 0xff { // Inf or NaN
		if mant == 0 {
			return sign | 0x7c00
		}
		// Keep the top payload bits, and make sure the result stays a
		// (quiet) NaN.
		return sign | 0x7c00 | 0x200 | uint16(mant>>13)
	}
	e := exp - 127 + 15
	if e >= 0x1f { // overflow
		return sign | 0x7c00
	}
	if e <= 0 {
		// Result is subnormal in binary16 (or rounds to zero).
		if e < -10 {
			return sign
		}
		m := mant | 0x800000 // implicit bit
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rest := m & (1<<shift - 1)
		q := m >> shift
		if rest > half || (rest == half && q&1 == 1) {
			q++ // may carry into the smallest normal: that encoding is right
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | mant>>13
	rest := mant & 0x1fff
	if rest > 0x1000 || (rest == 0x1000 && q&1 == 1) {
		q++ // a carry into the exponent is correct, up to infinity
	}
	return sign | uint16(q)
}

// BF16ToFP32 converts a bfloat16 value to float32 exactly.
func BF16ToFP32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// FP32ToBF16 converts a float32 to bfloat16, rounding to nearest with ties
// to even, and turning NaNs into quiet NaNs, as ggml does.
func FP32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 64
	}
	return uint16((b + (0x7fff + (b>>16)&1)) >> 16)
}
