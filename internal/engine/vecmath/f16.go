package vecmath

import "math"

// FromF16 sets dst[i] to the IEEE binary16 value whose bits are src[i],
// widened to float32, for every i < len(dst); src must be at least as
// long as dst. The conversion is exact (binary16 subnormals become normal
// float32s, infinities stay infinities) except that NaNs become quiet
// NaNs: the top ten payload bits are kept and the quiet bit set, as the
// F16C instruction VCVTPH2PS does.
func FromF16(dst []float32, src []uint16) {
	src = src[:len(dst)]
	body := len(dst) &^ 7
	if useAsm && body > 0 {
		fromF16AVX2(dst[:body], src[:body])
		dst, src = dst[body:], src[body:]
	}
	fromF16Go(dst, src)
}

// ToF16 sets dst[i] to src[i] rounded to IEEE binary16, to nearest with
// ties to even, for every i < len(dst); src must be at least as long as
// dst. Magnitudes from 65520 up become infinities, those up to 2^-25
// (half the least subnormal) signed zeros, those between binary16
// subnormals; NaNs stay NaNs, quiet, with the sign and the top nine bits
// of the float32 payload, as the F16C instruction VCVTPS2PH does.
func ToF16(dst []uint16, src []float32) {
	src = src[:len(dst)]
	body := len(dst) &^ 7
	if useAsm && body > 0 {
		toF16AVX2(dst[:body], src[:body])
		dst, src = dst[body:], src[body:]
	}
	toF16Go(dst, src)
}

func fromF16Go(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = f16to32(h)
	}
}

func toF16Go(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = f32to16(f)
	}
}

// f16to32 widens the binary16 value h to float32, as FromF16 does.
func f16to32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f && mant != 0: // NaN: keep the payload, quiet
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp == 0x1f: // infinity
		return math.Float32frombits(sign | 0x7f800000)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
	// Zero or subnormal: mant·2^-24, a normal float32 (or zero) that
	// the product gives exactly.
	v := float32(mant) * 0x1p-24
	return math.Float32frombits(sign | math.Float32bits(v))
}

// f32to16 rounds f to binary16 as ToF16 does.
func f32to16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b &^ (1 << 31)
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x47800000: // 2^16 and up (and infinity)
		return sign | 0x7c00
	case a >= 0x38800000: // 2^-14 and up: a normal binary16, or 2^16
		// Rebias the exponent from 127 to 15 and drop 13 mantissa
		// bits, rounding to nearest even; a carry out of the
		// mantissa increments the exponent, up to infinity.
		a -= (127 - 15) << 23
		a += 0xfff + (a>>13)&1
		return sign | uint16(a>>13)
	}
	// Below 2^-14: a multiple of 2^-24 (a subnormal, zero or 2^-14),
	// f·2^24 rounded to an integer; the product is exact in float64.
	m := math.RoundToEven(float64(math.Float32frombits(a)) * 0x1p24)
	return sign | uint16(m)
}

// AttendGroupF16 is AttendGroup with the keys and values stored as IEEE
// binary16 bit patterns (strides kstride and vstride in elements, as are
// the row widths): its results are bit for bit those of AttendGroup on the
// rows widened exactly to float32 (FromF16), on every path; scratch must
// hold AttendScratch(n, heads, len(out)/heads) floats.
//
// With AVX-512 (and the shapes AttendGroup needs for it) its kernels
// widen each row with VCVTPH2PS as they load it, with AttendGroup's
// arithmetic and order and its prefetching as many rows ahead. Otherwise
// it takes the rows in blocks (a multiple of eight rows, so that the
// score kernel's blocks of rows are those of AttendGroup's per-head
// calls), each block for up to eight heads in turn while it is in L1:
// with AVX2, FMA and F16C and widths that are multiples of 8, kernels
// that widen as they load, and Dots, Softmax and AddWeightedRows'
// arithmetic; otherwise each block widened into a buffer on the stack
// and Dots, Softmax and AddWeightedRows themselves. Every head's
// weighted sum still adds the rows in order, so the results are those of
// the per-head path.
func AttendGroupF16(out, q []float32, keys, vals []uint16, scratch []float32, n, heads, kstride, vstride int, scale float32) {
	checkAttend(out, q, keys, vals, scratch, n, heads, kstride, vstride)
	if n == 0 {
		clear(out)
		return
	}
	attendSegments(out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, attendPartF16)
}

// AttendGroupF16Part is AttendGroupPart over binary16 rows: bit for bit
// AttendGroupPart on the rows widened to float32.
func AttendGroupF16Part(out, q []float32, keys, vals []uint16, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32) {
	checkPart(out, q, keys, vals, scratch, n, heads, kstride, vstride, stats)
	attendPartF16(out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, stats)
}

// attendPartF16 is AttendGroupF16Part on checked arguments with n > 0.
func attendPartF16(out, q []float32, keys, vals []uint16, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32) {
	dk, dv := len(q)/heads, len(out)/heads
	if groupKernels(dk, dv) {
		s := scratch[:8*n]
		var st [16]float32
		for h0 := 0; h0 < heads; h0 += 8 {
			nh := min(8, heads-h0)
			groupDotsF16AVX512(s, q[h0*dk:(h0+nh)*dk], keys, dk, kstride, nh, scale)
			softmaxLanesF16AVX2(s, vals, vstride, dv, st[:])
			groupRowsF16AVX512(out[h0*dv:(h0+nh)*dv], s, vals, dv, vstride, nh)
			laneStats(stats[2*h0:], st[:], nh)
		}
		return
	}
	if directF16(dk) && directF16(dv) {
		attendBlocks(nil, out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, stats)
		return
	}
	var stack [widenFloats]float32
	buf := stack[:]
	if w := 8 * max(dk, dv); w > len(buf) {
		buf = make([]float32, w)
	}
	attendBlocks(buf, out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, stats)
}

// directF16 reports whether rows of d binary16 values go to the AVX2
// kernels that widen as they load (dotsF16AVX2, addWeightedRowsF16AVX2).
func directF16(d int) bool { return useAsm && d%8 == 0 && d > 0 }

// widenFloats is the size of AttendGroupF16's buffer on the stack, and
// sets the size of attendBlocks' blocks: 32 rows of 64 values, or eight
// of 256.
const widenFloats = 2048

// attendBlocks is AttendGroupF16Part without AVX-512: for up to eight heads
// at a time, the scores of each head go to its n floats of scratch, a
// block of key rows at a time, then Softmax, then the weighted sums, a
// block of value rows at a time. Rows that directF16 does not take are
// widened into buf, which must hold eight rows of them. Each head's
// segment statistics (see AttendGroupPart) go to stats.
func attendBlocks(buf, out, q []float32, keys, vals []uint16, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32) {
	dk, dv := len(q)/heads, len(out)/heads
	kb, vb := blockRows(widenFloats, dk, n), blockRows(widenFloats, dv, n)
	if buf != nil {
		kb, vb = blockRows(len(buf), dk, n), blockRows(len(buf), dv, n)
	}
	for h0 := 0; h0 < heads; h0 += 8 {
		nh := min(8, heads-h0)
		for j0 := 0; j0 < n; j0 += kb {
			m := min(kb, n-j0)
			rows := keys[j0*kstride:]
			if !directF16(dk) {
				widenRows(buf[:m*dk], rows, kstride, dk)
			}
			for i := range nh {
				h := h0 + i
				s, qh := scratch[i*n+j0:i*n+j0+m], q[h*dk:(h+1)*dk]
				if directF16(dk) {
					dotsF16AVX2(s, qh, rows, kstride, scale)
				} else {
					Dots(s, qh, buf[:m*dk], dk, scale)
				}
			}
		}
		for i := range nh {
			h := h0 + i
			stats[2*h], stats[2*h+1] = softmax(scratch[i*n : (i+1)*n])
		}
		clear(out[h0*dv : (h0+nh)*dv])
		for j0 := 0; j0 < n; j0 += vb {
			m := min(vb, n-j0)
			rows := vals[j0*vstride:]
			if !directF16(dv) {
				widenRows(buf[:m*dv], rows, vstride, dv)
			}
			for i := range nh {
				h := h0 + i
				o, p := out[h*dv:(h+1)*dv], scratch[i*n+j0:i*n+j0+m]
				if directF16(dv) {
					addWeightedRowsF16AVX2(o, p, rows, vstride)
				} else {
					AddWeightedRows(o, p, buf[:m*dv], dv)
				}
			}
		}
	}
}

// blockRows is how many rows of d values attendBlocks takes at a time
// for size floats of buffer: a multiple of eight, at least eight (which
// a buffer must hold), or all n if d is 0.
func blockRows(size, d, n int) int {
	if d == 0 {
		return n
	}
	return max(8, size/d&^7)
}

// widenRows widens len(dst)/d rows of d binary16 values, stride apart
// in src, into dst, one after the other.
func widenRows(dst []float32, src []uint16, stride, d int) {
	if d == 0 {
		return
	}
	for r := range len(dst) / d {
		FromF16(dst[r*d:(r+1)*d], src[r*stride:])
	}
}
