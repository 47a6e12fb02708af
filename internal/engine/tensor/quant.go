package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantize converts the float32 values in src to type t, writing exactly
// t.RowBytes(len(src)) bytes to dst. len(src) must be a whole number of
// blocks. For the quantized types the bytes are identical to those of ggml's
// reference quantizers (quantize_row_*_ref, which llama-quantize uses when
// no importance matrix is given).
//
// Supported types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
//
// Products that feed a sum are rounded explicitly (float32(a*b)) so that
// the compiler cannot fuse them into FMA instructions (it does on arm64 and
// with GOAMD64=v3), which would change the rounding and so the bytes.
func Quantize(t Type, src []float32, dst []byte) error {
	var fn func([]float32, []byte)
	switch t {
	case F32:
		fn = quantF32
	case F16:
		fn = quantF16
	case BF16:
		fn = quantBF16
	case Q4_0:
		fn = quantQ4_0
	case Q5_0:
		fn = quantQ5_0
	case Q4_1:
		fn = quantQ4_1
	case Q5_1:
		fn = quantQ5_1
	case Q8_0:
		fn = quantQ8_0
	case Q4_K:
		fn = quantQ4_K
	case Q5_K:
		fn = quantQ5_K
	case Q6_K:
		fn = quantQ6_K
	default:
		if !t.Valid() {
			return fmt.Errorf("quantize: %w: %v", ErrUnknownType, t)
		}
		return fmt.Errorf("quantize: %w: %v", ErrUnsupported, t)
	}
	want, err := t.RowBytes(len(src))
	if err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	if len(dst) != want {
		return fmt.Errorf("quantize: %w: %d values of %v need %d bytes, have %d", ErrBadLength, len(src), t, want, len(dst))
	}
	fn(src, dst)
	return nil
}

// CanQuantize reports whether Quantize supports t.
func CanQuantize(t Type) bool {
	switch t {
	case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K:
		return true
	}
	return false
}

func put16(b []byte, v uint16) { binary.LittleEndian.PutUint16(b, v) }

func quantF32(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func quantF16(src []float32, dst []byte) {
	for i, v := range src {
		put16(dst[2*i:], FP32ToFP16(v))
	}
}

func quantBF16(src []float32, dst []byte) {
	for i, v := range src {
		put16(dst[2*i:], FP32ToBF16(v))
	}
}

// abs32 is fabsf.
func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// roundAway is C's roundf: round half away from zero.
func roundAway(x float32) float32 { return float32(math.Round(float64(x))) }

// toInt converts like a C float-to-int cast: truncation toward zero. Go
// gives an implementation-defined value (and no panic) for NaN and out of
// range inputs, where C has undefined behaviour.
func toInt(x float32) int32 { return int32(x) }

// nearestInt rounds to the nearest integer, ties to even, the way ggml's
// nearest_int does (by adding 1.5*2^23 in float32 and reading the
// mantissa). It is meant for |x| <= 2^22; outside that range it returns a
// wrong but harmless value, like ggml.
func nearestInt(x float32) int32 {
	v := float32(x) + 12582912 // float32(x): callers pass products; do not fuse
	i := int32(math.Float32bits(v))
	return (i & 0x007fffff) - 0x00400000
}

// quantQ8_0 follows quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d).
func quantQ8_0(src []float32, dst []byte) {
	for len(src) > 0 {
		x := src[:qk8_0]
		b := dst[:sizeQ8_0]
		var amax float32
		for _, v := range x {
			if a := abs32(v); !(amax > a) {
				amax = a // MAX(amax, a) as ggml's macro picks it
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, FP32ToFP16(d))
		for j, v := range x {
			b[2+j] = byte(int8(toInt(roundAway(v * id))))
		}
		src, dst = src[qk8_0:], dst[sizeQ8_0:]
	}
}

// signedMaxScale is the scale d = max/div of quantize_row_q4_0_ref and
// q5_0_ref, max being the value of x of largest magnitude (the first of
// equals, with its sign), and its inverse id (0 for d = 0).
func signedMaxScale(x []float32, div float32) (d, id float32) {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, mx = a, v
		}
	}
	d = mx / div
	if d != 0 {
		id = 1 / d
	}
	return d, id
}

// quantQ4_0 follows quantize_row_q4_0_ref: the value of largest magnitude
// (with its sign) maps to -8, d = max/-8, q = min(15, trunc(x/d + 8.5)).
func quantQ4_0(src []float32, dst []byte) {
	for len(src) > 0 {
		x := src[:qk4_0]
		b := dst[:sizeQ4_0]
		d, id := signedMaxScale(x, -8)
		put16(b, FP32ToFP16(d))
		for j := range 16 {
			x0 := float32(x[j] * id)
			x1 := float32(x[16+j] * id)
			q0 := min(15, int32(int8(toInt(x0+8.5))))
			q1 := min(15, int32(int8(toInt(x1+8.5))))
			b[2+j] = byte(q0) | byte(q1)<<4
		}
		src, dst = src[qk4_0:], dst[sizeQ4_0:]
	}
}

// quantQ5_0 follows quantize_row_q5_0_ref: as quantQ4_0 with 32 levels,
// d = max/-16, q = min(31, trunc(x/d + 16.5)); the low four bits of value
// j and 16+j share byte j of qs, their fifth bits are bits j and 16+j of
// qh.
func quantQ5_0(src []float32, dst []byte) {
	for len(src) > 0 {
		x := src[:qk5_0]
		b := dst[:sizeQ5_0]
		d, id := signedMaxScale(x, -16)
		put16(b, FP32ToFP16(d))
		var qh uint32
		for j := range 16 {
			x0 := float32(x[j] * id)
			x1 := float32(x[16+j] * id)
			q0 := uint32(min(31, int32(int8(toInt(x0+16.5)))))
			q1 := uint32(min(31, int32(int8(toInt(x1+16.5)))))
			b[6+j] = byte(q0&0x0f) | byte(q1&0x0f)<<4
			qh |= (q0 >> 4 & 1) << j
			qh |= (q1 >> 4 & 1) << (j + 16)
		}
		le.PutUint32(b[2:], qh)
		src, dst = src[qk5_0:], dst[sizeQ5_0:]
	}
}

// minMaxScale returns the minimum of x and the scale that spreads x over
// levels+1 values from it, and its inverse (0 for a zero scale), as
// quantize_row_q4_1_ref and quantize_row_q5_1_ref work them out.
func minMaxScale(x []float32, levels float32) (mn, d, id float32) {
	mn, mx := float32(math.MaxFloat32), float32(-math.MaxFloat32)
	for _, v := range x {
		// Comparisons, as ggml's, not min and max: a NaN is skipped
		// rather than carried into the scale.
		if v < mn {
			mn = v
		}
		if v > mx {
			mx = v
		}
	}
	d = (mx - mn) / levels
	if d != 0 {
		id = 1 / d
	}
	return mn, d, id
}

// quantQ4_1 follows quantize_row_q4_1_ref: per block of 32, d = (max -
// min)/15 and m = min, values j and 16+j in byte j.
func quantQ4_1(src []float32, dst []byte) { quantQ1(src, dst, false) }

// quantQ5_1 follows quantize_row_q5_1_ref: quantQ4_1 with d = (max -
// min)/31 and the fifth bits of values j and 16+j in bits j and 16+j of
// qh.
func quantQ5_1(src []float32, dst []byte) { quantQ1(src, dst, true) }

// quantQ1 is quantQ4_1, or with fifth quantQ5_1.
func quantQ1(src []float32, dst []byte, fifth bool) {
	size, levels, qs := sizeQ4_1, float32(15), 4
	if fifth {
		size, levels, qs = sizeQ5_1, 31, 8
	}
	for len(src) > 0 {
		x := src[:32]
		b := dst[:size]
		mn, d, id := minMaxScale(x, levels)
		put16(b, FP32ToFP16(d))
		put16(b[2:], FP32ToFP16(mn))
		var qh uint32
		for j := range 16 {
			x0 := float32((x[j] - mn) * id)
			x1 := float32((x[16+j] - mn) * id)
			// Q4_1 rounds through int8 and caps at 15, Q5_1 through
			// uint8 (its values cannot exceed 31), as ggml does.
			var q0, q1 uint32
			if fifth {
				q0, q1 = uint32(uint8(toInt(x0+0.5))), uint32(uint8(toInt(x1+0.5)))
			} else {
				q0, q1 = uint32(min(15, uint8(int8(toInt(x0+0.5))))), uint32(min(15, uint8(int8(toInt(x1+0.5)))))
			}
			b[qs+j] = byte(q0&0x0f) | byte(q1&0x0f)<<4
			qh |= (q0 >> 4 & 1) << j
			qh |= (q1 >> 4 & 1) << (j + 16)
		}
		if fifth {
			le.PutUint32(b[4:], qh)
		}
		src, dst = src[32:], dst[size:]
	}
}

// makeQKX2Quants follows ggml's make_qkx2_quants: it chooses a scale and a
// (non-positive) offset for x, quantizes to 0..nmax into L, and returns the
// scale and -offset. It searches nstep+1 candidate scales around the min/max
// fit and keeps the one with the smallest weighted squared error.
func makeQKX2Quants(nmax int32, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	mn, mx := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < mn {
			mn = x[i]
		}
		if x[i] > mx {
			mx = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if mn > 0 {
		mn = 0
	}
	if mx == mn {
		for i := range L[:n] {
			L[i] = 0
		}
		return 0, -mn
	}
	fmax := float32(nmax)
	iscale := fmax / (mx - mn)
	scale = 1 / iscale
	var bestErr float32
	for i, v := range x {
		l := max(0, min(nmax, nearestInt(iscale*(v-mn))))
		L[i] = uint8(l)
		diff := float32(scale*float32(l)) + mn - v
		bestErr += float32(weights[i] * float32(diff*diff))
	}
	if nstep < 1 {
		return scale, -mn
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fmax) / (mx - mn)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := max(0, min(nmax, nearestInt(iscale*(v-mn))))
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i, v := range x {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				mad += float32(weights[i] * float32(diff*diff))
			}
			if mad < bestErr {
				copy(L[:n], Laux[:n])
				bestErr = mad
				scale = thisScale
				mn = thisMin
			}
		}
	}
	return scale, -mn
}

// quantQ4_K follows quantize_row_q4_K_ref: each 32-value sub-block gets a
// scale and min from makeQKX2Quants (weights = rms + |x|), those are
// quantized to 6 bits against the block's largest, and the values are then
// requantized with the rounded scales.
func quantQ4_K(src []float32, dst []byte) { quantK(src, dst, 15, -1, 20) }

// quantQ5_K follows quantize_row_q5_K_ref: quantQ4_K's steps with values
// of 0..31 (their fifth bits in qh) and makeQKX2Quants searching from
// rmin -0.5 in 15 steps.
func quantQ5_K(src []float32, dst []byte) { quantK(src, dst, 31, -0.5, 15) }

// quantK is quantQ4_K (nmax 15) or quantQ5_K (nmax 31), makeQKX2Quants
// taking rmin and nstep.
func quantK(src []float32, dst []byte, nmax int32, rmin float32, nstep int) {
	var (
		L       [QK_K]uint8
		Laux    [32]uint8
		weights [32]float32
		mins    [QK_K / 32]float32
		scales  [QK_K / 32]float32
	)
	size := sizeQ4_K
	if nmax == 31 {
		size = sizeQ5_K
	}
	for len(src) > 0 {
		x := src[:QK_K]
		b := dst[:size]
		var maxScale, maxMin float32
		for j := range QK_K / 32 {
			xs := x[32*j : 32*j+32]
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := float32(math.Sqrt(float64(sumX2 / 32)))
			for l, v := range xs {
				weights[l] = avX + abs32(v)
			}
			scales[j], mins[j] = makeQKX2Quants(nmax, xs, weights[:], L[32*j:32*j+32], Laux[:], rmin, 0.1, nstep)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		sc := b[4:16]
		clear(sc)
		for j := range QK_K / 32 {
			ls := min(63, uint8(nearestInt(invScale*scales[j])))
			lm := min(63, uint8(nearestInt(invMin*mins[j])))
			if j < 4 {
				sc[j] = ls
				sc[j+4] = lm
			} else {
				sc[j+4] = ls&0x0f | (lm&0x0f)<<4
				sc[j-4] |= (ls >> 4) << 6
				sc[j] |= (lm >> 4) << 6
			}
		}
		dh := FP32ToFP16(maxScale / 63)
		mh := FP32ToFP16(maxMin / 63)
		put16(b, dh)
		put16(b[2:], mh)
		df, mf := FP16ToFP32(dh), FP16ToFP32(mh)
		for j := range QK_K / 32 {
			s, m := scaleMinK4(j, sc)
			d := df * float32(s)
			if d == 0 {
				continue
			}
			dm := float32(mf * float32(m))
			for i := range 32 {
				l := nearestInt((x[32*j+i] + dm) / d)
				L[32*j+i] = uint8(max(0, min(nmax, l)))
			}
		}
		qs := b[16:]
		if nmax == 31 {
			// qh, then the low four bits: bit 2(j/64) of qh[l] is the
			// fifth bit of value j+l, bit 2(j/64)+1 that of value j+l+32.
			qh := b[16:48]
			clear(qh)
			qs = b[48:]
			for j := 0; j < QK_K; j += 64 {
				for l := range 32 {
					lo, hi := L[j+l], L[j+l+32]
					qh[l] |= lo>>4<<(j/32) | hi>>4<<(j/32+1)
					L[j+l], L[j+l+32] = lo&15, hi&15
				}
			}
		}
		for j := 0; j < QK_K; j += 64 {
			q := qs[j/2 : j/2+32]
			for l := range 32 {
				q[l] = L[j+l] | L[j+l+32]<<4
			}
		}
		src, dst = src[QK_K:], dst[size:]
	}
}

// groupMaxEps is ggml's GROUP_MAX_EPS: groups whose largest magnitude is
// below it are treated as all zero.
const groupMaxEps = 1e-15

// makeQXQuants follows ggml's make_qx_quants with rmse_type 1 and no
// importance weights (w = x²): it quantizes x to -nmax..nmax-1 (stored
// biased by nmax in L) and returns the scale, refined over 18 candidate
// scales by weighted least squares.
func makeQXQuants(nmax int32, x []float32, L []int8) float32 {
	var mx, amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		for i := range L[:len(x)] {
			L[i] = 0
		}
		return 0
	}
	fmax := float32(nmax)
	iscale := -fmax / mx
	var sumLX, sumL2 float32
	for i, v := range x {
		l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
		L[i] = int8(l + nmax)
		w := v * v
		fl := float32(l)
		sumLX += float32(float32(w*v) * fl)
		sumL2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if sumL2 != 0 {
		scale = sumLX / sumL2
	}
	best := scale * sumLX
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fmax + float32(0.1*float32(is))) / mx
		sumLX, sumL2 = 0, 0
		for _, v := range x {
			l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
			w := v * v
			fl := float32(l)
			sumLX += float32(float32(w*v) * fl)
			sumL2 += float32(float32(w*fl) * fl)
		}
		if sumL2 > 0 && float32(sumLX*sumLX) > float32(best*sumL2) {
			for i, v := range x {
				l := max(-nmax, min(nmax-1, nearestInt(iscale*v)))
				L[i] = int8(l + nmax)
			}
			scale = sumLX / sumL2
			best = scale * sumLX
		}
	}
	return scale
}

// quantQ6_K follows quantize_row_q6_K_ref: a make_qx_quants scale per 16
// values, those scales quantized to int8 against the largest, then the
// values requantized to 6 bits with the rounded scales.
func quantQ6_K(src []float32, dst []byte) {
	var (
		L      [QK_K]int8
		scales [QK_K / 16]float32
	)
	for len(src) > 0 {
		x := src[:QK_K]
		b := dst[:sizeQ6_K]
		var maxScale, maxAbsScale float32
		for ib := range QK_K / 16 {
			s := makeQXQuants(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
			scales[ib] = s
			if a := abs32(s); a > maxAbsScale {
				maxAbsScale, maxScale = a, s
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			src, dst = src[QK_K:], dst[sizeQ6_K:]
			continue
		}
		iscale := -128 / maxScale
		dh := FP32ToFP16(1 / iscale)
		put16(b[208:], dh)
		sc := b[192:208]
		for ib := range QK_K / 16 {
			sc[ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		df := FP16ToFP32(dh)
		for j := range QK_K / 16 {
			d := df * float32(int8(sc[j]))
			if d == 0 {
				continue
			}
			for i := range 16 {
				l := nearestInt(x[16*j+i] / d)
				L[16*j+i] = int8(max(-32, min(31, l)) + 32)
			}
		}
		for n := range 2 {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			LL := L[128*n : 128*n+128]
			for l := range 32 {
				q1 := uint8(LL[l])
				q2 := uint8(LL[l+32])
				q3 := uint8(LL[l+64])
				q4 := uint8(LL[l+96])
				ql[l] = q1&0x0f | (q3&0x0f)<<4
				ql[l+32] = q2&0x0f | (q4&0x0f)<<4
				qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
		src, dst = src[QK_K:], dst[sizeQ6_K:]
	}
}
