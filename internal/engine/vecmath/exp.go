package vecmath

import "math"

// The constants of the exp approximation, shared with the generator
// (asm/main.go), which must use the same values.
const (
	expHi = 89.0   // above: +Inf (e^88.73 overflows float32)
	expLo = -104.0 // below: 0 (e^-103.98 is half the least subnormal)
	log2e = 1.44269504088896341
	// ln2 = expC1 - expC2 to about 2^-33; expC1 has 9 significant bits so
	// that n·expC1 is exact for the n here.
	expC1 = 0.693359375
	expC2 = -2.12194440e-4
	// e^r ≈ 1 + r + r²·(((((P0·r + P1)·r + P2)·r + P3)·r + P4)·r + P5) on
	// |r| ≤ ln2/2 (Cephes expf).
	expP0 = 1.9875691500e-4
	expP1 = 1.3981999507e-3
	expP2 = 8.3334519073e-3
	expP3 = 4.1665795894e-2
	expP4 = 1.6666665459e-1
	expP5 = 5.0000001201e-1
)

var negInf = float32(math.Inf(-1))

// exp32 is the scalar form of the vector exp: the same operations in the
// same order, with fma32 where the assembly fuses.
func exp32(x float32) float32 {
	if x != x {
		return x
	}
	t := min(max(x, expLo), expHi)
	n := float32(math.RoundToEven(float64(t * log2e)))
	r := t - n*expC1 // exact product: fused or not, one rounding
	r = fma32(-n, expC2, r)
	z := r * r
	p := fma32(expP0, r, expP1)
	p = fma32(p, r, expP2)
	p = fma32(p, r, expP3)
	p = fma32(p, r, expP4)
	p = fma32(p, r, expP5)
	p = fma32(p, z, r)
	p++
	ni := int32(n)
	n1 := ni >> 1
	n2 := ni - n1
	p *= math.Float32frombits(uint32(n1+127) << 23)
	return p * math.Float32frombits(uint32(n2+127)<<23)
}

// fma32 returns a·b+c rounded to float32 through a float64 fused
// multiply-add: a·b is exact in float64, so this differs from a float32
// FMA only when rounding the float64 sum to float32 rounds twice, which
// is rare and off by one ulp.
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// silu32 returns x/(1+e^-x) with exp32.
func silu32(x float32) float32 {
	return x / (1 + exp32(-x))
}

func expGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = exp32(v)
	}
}

func swigluGo(g, u []float32) {
	u = u[:len(g)]
	for i, x := range g {
		g[i] = silu32(x) * u[i]
	}
}

// expSumGo sets x[i] = e^(x[i]-m) and returns their sum in float64.
func expSumGo(x []float32, m float32) float64 {
	var sum float64
	for i, v := range x {
		e := exp32(v - m)
		x[i] = e
		sum += float64(e)
	}
	return sum
}

func dotsGo(dst, q, rows []float32, stride int, scale float32) {
	for j := range dst {
		row := rows[j*stride : j*stride+len(q)]
		var s0, s1 float32
		k := 0
		for ; k+1 < len(q); k += 2 {
			s0 += q[k] * row[k]
			s1 += q[k+1] * row[k+1]
		}
		if k < len(q) {
			s0 += q[k] * row[k]
		}
		dst[j] = (s0 + s1) * scale
	}
}

func addWeightedRowsGo(out, p, rows []float32, stride int) {
	for j, w := range p {
		row := rows[j*stride : j*stride+len(out)]
		for k, v := range row {
			out[k] = fma32(w, v, out[k])
		}
	}
}
