package vecmath

import (
	"math"
	"os"
	"testing"
)

// maxExpRelErr is the documented bound on the relative error of the exp
// approximation for normal results (see the package comment).
const maxExpRelErr = 8.5e-8

func TestExpSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		x, want float32
	}{
		{0, 1},
		{float32(math.Copysign(0, -1)), 1},
		{1, float32(math.E)},
		{-1, float32(1 / math.E)},
		{inf, inf},
		{-inf, 0},
		{89, inf},
		{88.73, inf},
		{1e30, inf},
		{-104, 0},
		{-1e30, 0},
		{-103.98, 0},
		{-103.27, exp64(-103.27)}, // subnormal: 2^-149
		{88.72, exp64(88.72)},
		{-87.33, exp64(-87.33)},
	}
	for _, tt := range tests {
		for name, f := range expFuncs() {
			got := f(tt.x)
			if !closeRel(got, tt.want, maxExpRelErr) {
				t.Errorf("%s(%v) = %v (%#x), want %v (%#x)", name, tt.x, got, math.Float32bits(got), tt.want, math.Float32bits(tt.want))
			}
		}
	}
	for name, f := range expFuncs() {
		if got := f(nan); got == got {
			t.Errorf("%s(NaN) = %v, want NaN", name, got)
		}
	}
}

// exp64 returns e^x in float64, rounded to float32.
func exp64(x float32) float32 { return float32(math.Exp(float64(x))) }

// expFuncs returns the scalar exp of both paths: through the dispatching
// Exp (assembly where available) and the pure-Go exp32.
func expFuncs() map[string]func(float32) float32 {
	return map[string]func(float32) float32{
		"Exp": func(x float32) float32 {
			v := []float32{x}
			Exp(v, v)
			return v[0]
		},
		"exp32": exp32,
	}
}

// closeRel reports whether got is within rel of want relatively, or both
// are the same infinity, or both are zero.
func closeRel(got, want float32, rel float64) bool {
	if got == want {
		return true
	}
	g, w := float64(got), float64(want)
	return math.Abs(g-w) <= rel*math.Abs(w)
}

// floatsIn returns float32 values from lo to hi (same sign region) by
// stepping bit patterns: every step-th float32 of the range, so the sweep
// is dense near zero and sparse in absolute terms far from it.
func floatsIn(lo, hi float32, step uint32) []float32 {
	var out []float32
	add := func(a, b float32) { // 0 <= a <= b
		for u := math.Float32bits(a); u <= math.Float32bits(b); u += step {
			out = append(out, math.Float32frombits(u))
		}
	}
	if lo < 0 {
		n := len(out)
		add(0, -lo)
		for i := n; i < len(out); i++ {
			out[i] = -out[i]
		}
	}
	if hi > 0 {
		add(0, hi)
	}
	return out
}

// expError returns the largest relative error of Exp against float64
// math.Exp over xs whose results are normal float32s, and where.
func expError(xs []float32) (worst float64, at float32) {
	got := make([]float32, len(xs))
	Exp(got, xs)
	for i, x := range xs {
		want := math.Exp(float64(x))
		if want < 0x1p-126 || want > math.MaxFloat32 {
			continue
		}
		if e := math.Abs(float64(got[i])-want) / want; e > worst {
			worst, at = e, x
		}
	}
	return worst, at
}

func TestExpAccuracy(t *testing.T) {
	xs := floatsIn(-87.33, 88.72, 997)
	worst, at := expError(xs)
	t.Logf("max relative error %.3g at %v over %d values", worst, at, len(xs))
	if worst > maxExpRelErr {
		t.Errorf("max relative error %.3g at %v, want <= %.3g", worst, at, maxExpRelErr)
	}
}

// TestExpAccuracyExhaustive checks every float32 with a normal result;
// it takes about a minute, so it runs only with VECMATH_EXHAUSTIVE=1.
func TestExpAccuracyExhaustive(t *testing.T) {
	if os.Getenv("VECMATH_EXHAUSTIVE") == "" {
		t.Skip("set VECMATH_EXHAUSTIVE=1")
	}
	var worst float64
	var at float32
	const chunk = 1 << 20
	buf := make([]float32, 0, chunk)
	flush := func() {
		if w, a := expError(buf); w > worst {
			worst, at = w, a
		}
		buf = buf[:0]
	}
	for u := uint32(0); u < 1<<32-1; u++ {
		x := math.Float32frombits(u)
		if !(x >= -87.34 && x <= 88.73) {
			continue
		}
		buf = append(buf, x)
		if len(buf) == chunk {
			flush()
		}
	}
	flush()
	t.Logf("max relative error %.4g at %v", worst, at)
	if worst > maxExpRelErr {
		t.Errorf("max relative error %.4g at %v, want <= %.3g", worst, at, maxExpRelErr)
	}
}

// TestExpSubnormal checks results below the normal range: off from the
// float64 value by at most the approximation error plus one rounding.
func TestExpSubnormal(t *testing.T) {
	xs := floatsIn(-104, -87.3, 97)
	got := make([]float32, len(xs))
	Exp(got, xs)
	for i, x := range xs {
		want := math.Exp(float64(x))
		if d := math.Abs(float64(got[i]) - want); d > want*maxExpRelErr+0x1p-150 {
			t.Fatalf("Exp(%v) = %g, want %g", x, got[i], want)
		}
	}
}

// ulpDiff returns how many float32 values lie between a and b (both
// finite and of the same sign, or equal).
func ulpDiff(a, b float32) uint32 {
	if a == b || (a != a && b != b) {
		return 0
	}
	ua, ub := math.Float32bits(a), math.Float32bits(b)
	if ua > ub {
		return ua - ub
	}
	return ub - ua
}

// TestExpPathsAgree compares the assembly with the pure-Go exp32 over a
// sweep of the whole domain: they run the same operations, and differ
// only where fma32 rounds twice.
func TestExpPathsAgree(t *testing.T) {
	xs := floatsIn(-110, 95, 1009)
	got := make([]float32, len(xs))
	Exp(got, xs)
	var differ int
	for i, x := range xs {
		want := exp32(x)
		if d := ulpDiff(got[i], want); d > 1 {
			t.Fatalf("Exp(%v) = %v, exp32 = %v: %d ulps apart", x, got[i], want, d)
		} else if d == 1 {
			differ++
		}
	}
	t.Logf("%d of %d values differ by one ulp", differ, len(xs))
}

// TestExpLengths runs every length up to 40, so every tail length of the
// assembly, with dst distinct from src and in place, and checks that
// nothing past len(dst) is written.
func TestExpLengths(t *testing.T) {
	for n := range 41 {
		src := make([]float32, n+8)
		for i := range src {
			src[i] = float32(i)*0.37 - 5
		}
		dst := make([]float32, n+8)
		for i := range dst {
			dst[i] = -7
		}
		Exp(dst[:n], src)
		inPlace := append([]float32(nil), src...)
		Exp(inPlace[:n], inPlace)
		for i := range dst {
			want := float32(-7)
			if i < n {
				want = exp32(src[i])
			}
			if ulpDiff(dst[i], want) > 1 {
				t.Fatalf("n=%d: dst[%d] = %v, want %v", n, i, dst[i], want)
			}
			if i < n && inPlace[i] != dst[i] {
				t.Fatalf("n=%d: in place [%d] = %v, want %v", n, i, inPlace[i], dst[i])
			}
			if i >= n && inPlace[i] != src[i] {
				t.Fatalf("n=%d: in place wrote [%d]", n, i)
			}
		}
	}
}
