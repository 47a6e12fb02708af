package vecmath

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// f16Value is the value of the binary16 bits h, computed from its fields
// in float64 (independently of f16to32), for h not a NaN.
func f16Value(h uint16) float64 {
	exp, mant := int(h>>10)&0x1f, float64(h&0x3ff)
	var v float64
	switch exp {
	case 0x1f:
		v = math.Inf(1)
	case 0:
		v = math.Ldexp(mant, -24)
	default:
		v = math.Ldexp(1024+mant, exp-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func isF16NaN(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }

// refToF16 rounds f to binary16 by searching the ordered positive
// binary16 values (their bits order them) for its neighbours and
// comparing twice f with their sum: the nearest, ties to the even bits;
// 65536 counts as the value after 65504, so that what rounds past it
// becomes infinity. NaNs give 0x7e00 with f's sign (the caller checks
// them apart).
func refToF16(f float32) uint16 {
	var sign uint16
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	if f != f {
		return sign | 0x7e00
	}
	a := math.Abs(float64(f))
	val := func(h uint16) float64 {
		if h == 0x7c00 {
			return 65536
		}
		return f16Value(h)
	}
	if a >= 65536 {
		return sign | 0x7c00
	}
	// The largest h with val(h) <= a.
	h := uint16(sort.Search(0x7c01, func(i int) bool { return val(uint16(i)) > a }) - 1)
	lo := val(h)
	if lo == a {
		return sign | h
	}
	switch mid := lo + val(h+1); {
	case 2*a < mid:
		return sign | h
	case 2*a > mid || h&1 == 1:
		return sign | (h + 1)
	}
	return sign | h
}

func TestFromF16(t *testing.T) {
	src := make([]uint16, 1<<16+3)
	for i := range 1 << 16 {
		src[i] = uint16(i)
	}
	// Three past the end of dst, and a tail of 5 after the last eight.
	dst := make([]float32, 1<<16+5)
	dst[1<<16+3], dst[1<<16+4] = 42, 43
	FromF16(dst[:1<<16+3], src)
	if dst[1<<16+3] != 42 || dst[1<<16+4] != 43 {
		t.Errorf("FromF16 wrote past the end of dst")
	}
	goPath := make([]float32, len(src))
	fromF16Go(goPath, src)
	for i := range 1 << 16 {
		h := uint16(i)
		got := dst[i]
		if math.Float32bits(got) != math.Float32bits(goPath[i]) {
			t.Errorf("FromF16(%#04x) = %#08x, pure Go %#08x", h, math.Float32bits(got), math.Float32bits(goPath[i]))
		}
		if isF16NaN(h) {
			// Quiet, with the sign and the payload.
			want := uint32(h&0x8000)<<16 | 0x7fc00000 | uint32(h&0x3ff)<<13
			if math.Float32bits(got) != want {
				t.Errorf("FromF16(%#04x) = %#08x, want the NaN %#08x", h, math.Float32bits(got), want)
			}
			continue
		}
		if want := f16Value(h); float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Errorf("FromF16(%#04x) = %v, want %v", h, got, want)
		}
	}
}

// toF16Inputs are float32s around every rounding decision of ToF16: each
// binary16 value and each midpoint between neighbours (the ties), with the
// four float32s on either side, both signs; float32 specials; and random
// bit patterns.
func toF16Inputs() []float32 {
	var in []float32
	near := func(v float64) {
		b := math.Float32bits(float32(v)) // exact: v has at most 12 significant bits
		for d := -4; d <= 4; d++ {
			if int64(b)+int64(d) < 0 {
				continue
			}
			x := math.Float32frombits(uint32(int64(b) + int64(d)))
			in = append(in, x, -x)
		}
	}
	for h := uint16(0); h < 0x7c00; h++ {
		near(f16Value(h))
		hi := 65536.0
		if h+1 < 0x7c00 {
			hi = f16Value(h + 1)
		}
		near((f16Value(h) + hi) / 2)
	}
	inf := float32(math.Inf(1))
	in = append(in, 0, float32(math.Copysign(0, -1)), inf, -inf, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.Float32frombits(0x007fffff),
		65504, 65519.996, 65520, -65520, 65536, 1e10, 0x1p-25, 0x1p-24, 0x1.8p-25, 0x1.000002p-25, 0x1p-14,
		math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001),
		math.Float32frombits(0xff800001), math.Float32frombits(0x7fbfffff), math.Float32frombits(0x7fffffff),
		math.Float32frombits(0x7f802000), math.Float32frombits(0xffa5a5a5))
	r := rand.New(rand.NewPCG(21, 22))
	for range 1 << 18 {
		in = append(in, math.Float32frombits(r.Uint32()))
	}
	return in
}

func TestToF16(t *testing.T) {
	in := toF16Inputs()
	n := len(in) &^ 7
	n -= 3 // a tail after the last eight
	got := make([]uint16, n+1)
	got[n] = 0xabcd
	ToF16(got[:n], in)
	if got[n] != 0xabcd {
		t.Errorf("ToF16 wrote past the end of dst")
	}
	goPath := make([]uint16, n)
	toF16Go(goPath, in)
	var bad int
	for i, f := range in[:n] {
		if got[i] != goPath[i] {
			t.Errorf("ToF16(%v = %#08x) = %#04x, pure Go %#04x", f, math.Float32bits(f), got[i], goPath[i])
			bad++
		}
		want := refToF16(f)
		if f != f {
			// Quiet, with the sign and the top payload bits.
			want |= uint16(math.Float32bits(f)>>13) & 0x3ff
		}
		if got[i] != want {
			t.Errorf("ToF16(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got[i], want)
			bad++
		}
		if bad > 20 {
			t.Fatal("too many errors")
		}
	}
}

// TestF16RoundTrip checks that every binary16 value but the NaNs comes
// back from float32 unchanged, and NaNs as quiet NaNs.
func TestF16RoundTrip(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	f := make([]float32, len(src))
	FromF16(f, src)
	back := make([]uint16, len(src))
	ToF16(back, f)
	for i, h := range src {
		want := h
		if isF16NaN(h) {
			want |= 0x200
		}
		if back[i] != want {
			t.Errorf("ToF16(FromF16(%#04x)) = %#04x, want %#04x", h, back[i], want)
		}
	}
}

// The binary16 specials that the attention tests mix into the rows:
// zeros, subnormals, the least normal; the values also get the largest
// finite values, the keys only moderate ones (16), which keep the
// softmax from collapsing onto one position.
var (
	f16KeySpecials = []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400, 0x8400, 0x4bff, 0xcbff}
	f16ValSpecials = append([]uint16{0x7bff, 0xfbff, 0x3c00, 0xbc00}, f16KeySpecials...)
)

// randF16 returns n binary16 values of random floats in (-scale, scale),
// about one in sixteen replaced by one of specials.
func randF16(r *rand.Rand, n int, scale float32, specials []uint16) []uint16 {
	h := make([]uint16, n)
	ToF16(h, randFloats(r, n, scale))
	for i := range h {
		if r.IntN(16) == 0 {
			h[i] = specials[r.IntN(len(specials))]
		}
	}
	return h
}

// groupCasesF16 adds to groupCases shapes whose rows do not fit eight to
// attendWidened's stack buffer, shapes whose blocks there (a multiple of
// eight rows) are not a power of two, and strides that are odd or much
// larger than the widths.
var groupCasesF16 = append(append([]groupCase(nil), groupCases...),
	groupCase{20, 320, 320, 336, 320}, groupCase{9, 272, 16, 272, 17},
	groupCase{45, 96, 96, 96, 96}, groupCase{70, 104, 48, 104, 48},
	groupCase{37, 64, 64, 1000, 333}, groupCase{2048, 64, 64, 128, 128})

// randCache returns random binary16 key and value rows for c (with
// f16KeySpecials and f16ValSpecials among them) and the same widened.
func randCache(r *rand.Rand, c groupCase) (keys, vals []uint16, keys32, vals32 []float32) {
	keys = randF16(r, (c.n-1)*c.kstride+c.dk, 2, f16KeySpecials)
	vals = randF16(r, (c.n-1)*c.vstride+c.dv, 2, f16ValSpecials)
	keys32, vals32 = make([]float32, len(keys)), make([]float32, len(vals))
	fromF16Go(keys32, keys)
	fromF16Go(vals32, vals)
	return keys, vals, keys32, vals32
}

func TestAttendGroupF16(t *testing.T) { checkAttendGroupF16(t) }

// checkAttendGroupF16 checks AttendGroupF16, on whichever path the
// dispatch flags select, against AttendGroup on the same rows widened:
// bit for bit.
func checkAttendGroupF16(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range groupCasesF16 {
		for heads := 1; heads <= 10; heads++ {
			if c.n > 600 && heads != 7 {
				continue
			}
			q := randFloats(r, heads*c.dk, 2)
			keys, vals, keys32, vals32 := randCache(r, c)
			scale := float32(1 / math.Sqrt(float64(c.dk)))
			scratch := make([]float32, AttendScratch(c.n, heads, c.dv))
			want := make([]float32, heads*c.dv)
			AttendGroup(want, q, keys32, vals32, scratch, c.n, heads, c.kstride, c.vstride, scale)
			got := randFloats(r, heads*c.dv+1, 1)
			got[heads*c.dv] = 42
			clear(scratch)
			AttendGroupF16(got[:heads*c.dv], q, keys, vals, scratch, c.n, heads, c.kstride, c.vstride, scale)
			if got[heads*c.dv] != 42 {
				t.Errorf("%+v heads=%d: wrote past the end of out", c, heads)
			}
			if d := cmp.Diff(float32Bits(want), float32Bits(got[:heads*c.dv])); d != "" {
				t.Errorf("%+v heads=%d: vs AttendGroup on the widened rows, bits (-want +got):\n%s", c, heads, d)
			}
			if d := cmp.Diff(float32Bits(want), float32Bits(bySegments(q, keys, vals, c.n, heads, c.dv, c.kstride, c.vstride, scale, AttendGroupF16Part))); d != "" {
				t.Errorf("%+v heads=%d: by segments (-whole +segments):\n%s", c, heads, d)
			}
		}
	}
}

func TestAttendGroupF16Edges(t *testing.T) {
	out := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	AttendGroupF16(out, make([]float32, 16), nil, nil, nil, 0, 1, 16, 8, 1)
	if d := cmp.Diff(make([]float32, 8), out); d != "" {
		t.Errorf("no positions: out (-want +got):\n%s", d)
	}
	// One position: every head's output is the value row.
	vals := []uint16{0x3c00, 0xc000, 0x0001, 0x8000, 0x7bff, 0x0400, 0x3555, 0xb800, 9, 9}
	out = make([]float32, 3*8)
	AttendGroupF16(out, make([]float32, 3*4), make([]uint16, 4), vals, make([]float32, AttendScratch(1, 3, 8)), 1, 3, 4, 10, 0.5)
	want := make([]float32, 8)
	fromF16Go(want, vals)
	for h := range 3 {
		if d := cmp.Diff(want, out[h*8:(h+1)*8]); d != "" {
			t.Errorf("one position, head %d (-want +got):\n%s", h, d)
		}
	}
	tests := []panicCase{
		{"heads 0", func() { AttendGroupF16(make([]float32, 8), make([]float32, 8), nil, nil, nil, 0, 0, 8, 8, 1) }},
		{"q not heads rows", func() {
			AttendGroupF16(make([]float32, 32), make([]float32, 31), make([]uint16, 64), make([]uint16, 64), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
		{"scratch short", func() {
			AttendGroupF16(make([]float32, 32), make([]float32, 32), make([]uint16, 64), make([]uint16, 64), make([]float32, 31), 4, 2, 16, 16, 1)
		}},
		{"keys short", func() {
			AttendGroupF16(make([]float32, 32), make([]float32, 32), make([]uint16, 63), make([]uint16, 64), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
		{"values short", func() {
			AttendGroupF16(make([]float32, 32), make([]float32, 32), make([]uint16, 64), make([]uint16, 63), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
		{"key stride", func() {
			AttendGroupF16(make([]float32, 32), make([]float32, 32), make([]uint16, 64), make([]uint16, 64), make([]float32, 32), 4, 2, 15, 16, 1)
		}},
	}
	expectPanics(t, tests)
}
