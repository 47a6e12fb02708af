package tensor

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTypeTraits(t *testing.T) {
	type row struct {
		Name      string
		BlockSize int
		TypeSize  int
	}
	tests := []struct {
		typ  Type
		want row
	}{
		{F32, row{"F32", 1, 4}},
		{F16, row{"F16", 1, 2}},
		{Q4_0, row{"Q4_0", 32, 18}},
		{Q4_1, row{"Q4_1", 32, 20}},
		{Q5_0, row{"Q5_0", 32, 22}},
		{Q5_1, row{"Q5_1", 32, 24}},
		{Q8_0, row{"Q8_0", 32, 34}},
		{Q8_1, row{"Q8_1", 32, 36}},
		{Q2_K, row{"Q2_K", 256, 84}},
		{Q3_K, row{"Q3_K", 256, 110}},
		{Q4_K, row{"Q4_K", 256, 144}},
		{Q5_K, row{"Q5_K", 256, 176}},
		{Q6_K, row{"Q6_K", 256, 210}},
		{Q8_K, row{"Q8_K", 256, 292}},
		{IQ2_XXS, row{"IQ2_XXS", 256, 66}},
		{IQ2_XS, row{"IQ2_XS", 256, 74}},
		{IQ3_XXS, row{"IQ3_XXS", 256, 98}},
		{IQ1_S, row{"IQ1_S", 256, 50}},
		{IQ4_NL, row{"IQ4_NL", 32, 18}},
		{IQ3_S, row{"IQ3_S", 256, 110}},
		{IQ2_S, row{"IQ2_S", 256, 82}},
		{IQ4_XS, row{"IQ4_XS", 256, 136}},
		{I8, row{"I8", 1, 1}},
		{I16, row{"I16", 1, 2}},
		{I32, row{"I32", 1, 4}},
		{I64, row{"I64", 1, 8}},
		{F64, row{"F64", 1, 8}},
		{IQ1_M, row{"IQ1_M", 256, 56}},
		{BF16, row{"BF16", 1, 2}},
		{TQ1_0, row{"TQ1_0", 256, 54}},
		{TQ2_0, row{"TQ2_0", 256, 66}},
		{MXFP4, row{"MXFP4", 32, 17}},
		{Type(4), row{"Type(4)", 0, 0}},
		{Type(31), row{"Type(31)", 0, 0}},
		{Type(1000), row{"Type(1000)", 0, 0}},
	}
	for _, tc := range tests {
		got := row{tc.typ.String(), tc.typ.BlockSize(), tc.typ.TypeSize()}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%d (-want +got):\n%s", uint32(tc.typ), d)
		}
		if tc.typ.Valid() != (tc.want.BlockSize != 0) {
			t.Errorf("%v.Valid() = %v", tc.typ, tc.typ.Valid())
		}
	}
}

func TestRowBytes(t *testing.T) {
	tests := []struct {
		typ     Type
		n       int
		want    int
		wantErr error
	}{
		{F32, 0, 0, nil},
		{F32, 7, 28, nil},
		{F16, 3, 6, nil},
		{BF16, 64, 128, nil},
		{Q8_0, 64, 68, nil},
		{Q4_0, 32, 18, nil},
		{Q4_K, 512, 288, nil},
		{Q6_K, 256, 210, nil},
		{Q8_0, 31, 0, ErrBadLength},
		{Q4_K, 128, 0, ErrBadLength},
		{F32, -1, 0, ErrBadLength},
		{F32, maxInt, 0, ErrBadLength},
		{Type(5), 32, 0, ErrUnknownType},
	}
	for _, tc := range tests {
		got, err := tc.typ.RowBytes(tc.n)
		if got != tc.want || !errors.Is(err, tc.wantErr) {
			t.Errorf("%v.RowBytes(%d) = %d, %v; want %d, %v", tc.typ, tc.n, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := F64.Bytes(math.MaxUint64 / 4); !errors.Is(err, ErrBadLength) {
		t.Errorf("F64.Bytes overflow: err = %v", err)
	}
	if got, err := Q8_0.Bytes(1 << 40); err != nil || got != 34<<35 {
		t.Errorf("Q8_0.Bytes(2^40) = %d, %v", got, err)
	}
}

func TestFP16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		f := FP16ToFP32(uint16(h))
		if f != f { // NaN
			if back := FP32ToFP16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Errorf("NaN %#04x -> %#04x, not a NaN", h, back)
			}
			continue
		}
		if back := FP32ToFP16(f); back != uint16(h) {
			t.Errorf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

func TestFP16Values(t *testing.T) {
	tests := []struct {
		f float32
		h uint16
	}{
		{0, 0},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},
		{65520, 0x7c00}, // rounds up to infinity
		{65519.99, 0x7bff},
		{float32(math.Inf(-1)), 0xfc00},
		{1.0 / (1 << 24), 0x0001},    // smallest subnormal
		{1.0 / (1 << 25), 0x0000},    // half of it: tie to even (0)
		{1.5 / (1 << 24), 0x0002},    // 1.5 ulp: tie to even (2)
		{2.5 / (1 << 24), 0x0002},    // tie to even
		{0.00006103515625, 0x0400},   // smallest normal
		{1023.0 / (1 << 24), 0x03ff}, // largest subnormal
		{1.0009765625, 0x3c01},       // 1 + 2^-10
		{1.00048828125, 0x3c00},      // 1 + 2^-11: tie to even
		{1.00146484375, 0x3c02},      // 1 + 3*2^-11: tie to even
		{1e-10, 0},
	}
	for _, tc := range tests {
		if got := FP32ToFP16(tc.f); got != tc.h {
			t.Errorf("FP32ToFP16(%g) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
}

// TestFP16Rounding checks FP32ToFP16 against the definition of rounding to
// nearest, ties to even, on random float32 values in F16's range.
func TestFP16Rounding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		f := math.Float32frombits(r.Uint32())
		if f != f || math.Abs(float64(f)) >= 65520 {
			continue
		}
		h := FP32ToFP16(f)
		got := float64(FP16ToFP32(h))
		// The neighbours of h in the direction of f's magnitude.
		for _, nb := range []uint16{h + 1, h - 1} {
			if nb&0x7fff >= 0x7c00 || (h&0x7fff == 0 && nb == h-1) {
				continue
			}
			other := float64(FP16ToFP32(nb))
			dg, do := math.Abs(got-float64(f)), math.Abs(other-float64(f))
			if do < dg || (do == dg && h&1 == 1) {
				t.Fatalf("FP32ToFP16(%g) = %#04x (%g), but %#04x (%g) is nearer or the even tie", f, h, got, nb, other)
			}
		}
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		f float32
		h uint16
	}{
		{1, 0x3f80},
		{-1, 0xbf80},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81},
		{math.Float32frombits(0x7f7fffff), 0x7f80}, // rounds to infinity
		{float32(math.Inf(1)), 0x7f80},
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN becomes quiet
	}
	for _, tc := range tests {
		if got := FP32ToBF16(tc.f); got != tc.h {
			t.Errorf("FP32ToBF16(%#08x) = %#04x, want %#04x", math.Float32bits(tc.f), got, tc.h)
		}
	}
	for h := range 1 << 16 {
		f := BF16ToFP32(uint16(h))
		if f == f && FP32ToBF16(f) != uint16(h) {
			t.Errorf("BF16 %#04x does not round trip", h)
		}
	}
}

// TestDequantizeBlocks decodes hand-made blocks whose values are easy to
// work out from the format descriptions.
func TestDequantizeBlocks(t *testing.T) {
	seq := func(n int, f func(i int) float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	one, half := []byte{0x00, 0x3c}, []byte{0x00, 0x38} // f16 1.0, 0.5
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	rep := func(b byte, n int) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = b
		}
		return out
	}
	q4 := make([]byte, 16) // low nibble j, high nibble 15-j
	for j := range q4 {
		q4[j] = byte(j) | byte(15-j)<<4
	}
	i8 := make([]byte, 32)
	for j := range i8 {
		i8[j] = byte(int8(j - 16))
	}
	tests := []struct {
		name string
		typ  Type
		src  []byte
		want []float32
	}{
		{"F32", F32, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, []float32{1, -2}},
		{"F16", F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}, []float32{1, -2, 1.0 / (1 << 24)}},
		{"BF16", BF16, []byte{0x80, 0x3f, 0x00, 0xc0}, []float32{1, -2}},
		{"Q8_0", Q8_0, cat(half, i8), seq(32, func(i int) float32 { return float32(i-16) * 0.5 })},
		{"Q4_0", Q4_0, cat(one, q4), seq(32, func(i int) float32 {
			if i < 16 {
				return float32(i - 8)
			}
			return float32(15 - (i - 16) - 8)
		})},
		{"Q4_1", Q4_1, cat(half, one, q4), seq(32, func(i int) float32 {
			if i < 16 {
				return float32(i)*0.5 + 1
			}
			return float32(15-(i-16))*0.5 + 1
		})},
		// qh: every value has its fifth bit set.
		{"Q5_0", Q5_0, cat(one, rep(0xff, 4), q4), seq(32, func(i int) float32 {
			if i < 16 {
				return float32(i + 16 - 16)
			}
			return float32(15 - (i - 16) + 16 - 16)
		})},
		{"Q5_1", Q5_1, cat(one, half, []byte{0x01, 0, 0, 0}, rep(0, 16)), seq(32, func(i int) float32 {
			if i == 0 {
				return 16.5
			}
			return 0.5
		})},
		// Q4_K: d=1, dmin=0.5, all scales 1 and mins 2 (sub-blocks 0-3 from
		// bytes 0-7, 4-7 from the nibbles of bytes 8-11), nibbles all 3
		// (low) and 5 (high). value = 1*1*q - 0.5*2.
		{"Q4_K", Q4_K, cat(one, half, rep(1, 4), rep(2, 4), rep(0x21, 4), rep(0x53, 128)), seq(256, func(i int) float32 {
			if i%64 < 32 {
				return 3 - 1
			}
			return 5 - 1
		})},
		// Q5_K: as Q4_K with qh bits set only for sub-block 1 (bit 1).
		{"Q5_K", Q5_K, cat(one, half, rep(1, 4), rep(2, 4), rep(0x21, 4), rep(0x02, 32), rep(0x53, 128)), seq(256, func(i int) float32 {
			switch {
			case i < 32:
				return 3 - 1
			case i < 64:
				return 5 + 16 - 1
			case i%64 < 32:
				return 3 - 1
			}
			return 5 - 1
		})},
		// Q6_K: ql all 0x21 (low nibble 1, high 2), qh all 0 → q-32 in
		// {1-32, 2-32}, scales i+1, d=0.5.
		{"Q6_K", Q6_K, cat(rep(0x21, 128), rep(0, 64), seq8(16), half), seq(256, func(i int) float32 {
			n, l := i/128, i%128
			q := float32(1 - 32)
			if l >= 64 {
				q = 2 - 32
			}
			is := 8*n + (l%32)/16 + 2*(l/32)
			return 0.5 * float32(is+1) * q
		})},
	}
	for _, tc := range tests {
		got := make([]float32, len(tc.want))
		if err := Dequantize(tc.typ, tc.src, got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func seq8(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i + 1)
	}
	return out
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"dequant unknown", Dequantize(Type(4), nil, nil), ErrUnknownType},
		{"dequant unsupported", Dequantize(IQ2_XXS, nil, nil), ErrUnsupported},
		{"dequant partial block", Dequantize(Q8_0, make([]byte, 34), make([]float32, 31)), ErrBadLength},
		{"dequant short src", Dequantize(Q8_0, make([]byte, 33), make([]float32, 32)), ErrBadLength},
		{"dequant long src", Dequantize(F32, make([]byte, 12), make([]float32, 2)), ErrBadLength},
		{"quant unknown", Quantize(Type(99), nil, nil), ErrUnknownType},
		{"quant unsupported", Quantize(Q2_K, nil, nil), ErrUnsupported},
		{"quant partial block", Quantize(Q4_K, make([]float32, 255), make([]byte, 144)), ErrBadLength},
		{"quant Q5_K short dst", Quantize(Q5_K, make([]float32, 256), make([]byte, 175)), ErrBadLength},
		{"quant short dst", Quantize(Q6_K, make([]float32, 256), make([]byte, 209)), ErrBadLength},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if err := Dequantize(Q4_K, nil, nil); err != nil {
		t.Errorf("empty dequantize: %v", err)
	}
	for _, typ := range []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K} {
		if !CanDequantize(typ) {
			t.Errorf("CanDequantize(%v) = false", typ)
		}
	}
	if CanDequantize(Q2_K) || CanQuantize(Q2_K) {
		t.Error("CanDequantize(Q2_K) or CanQuantize(Q2_K) = true")
	}
}

// TestQuantizeError quantizes random data and checks dequant(quant(x))
// against error bounds that follow from each format's step size.
func TestQuantizeError(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	const n = 256 * 64
	gauss := make([]float32, n)
	for i := range gauss {
		gauss[i] = float32(r.NormFloat64())
	}
	uniform := make([]float32, n)
	for i := range uniform {
		uniform[i] = float32(r.Float64()*2 - 1)
	}
	zeros := make([]float32, n)
	// maxRel bounds the worst error in a block relative to the block's
	// largest magnitude; rms bounds the overall RMS error relative to the
	// data's RMS.
	tests := []struct {
		typ    Type
		maxRel float64
		rms    float64
	}{
		{F32, 0, 0},
		{F16, 1.0 / 1024, 1.0 / 2048},
		{BF16, 1.0 / 128, 1.0 / 256},
		{Q8_0, 0.5/127 + 1e-3, 0.01},
		{Q4_0, 1.0/8 + 2e-3, 0.12}, // the positive side clamps at 7/8 of the max
		{Q4_K, 0.1, 0.1},
		{Q6_K, 0.03, 0.03},
	}
	for _, data := range []struct {
		name string
		x    []float32
	}{{"gauss", gauss}, {"uniform", uniform}, {"zeros", zeros}} {
		for _, tc := range tests {
			nb, _ := tc.typ.RowBytes(n)
			q := make([]byte, nb)
			if err := Quantize(tc.typ, data.x, q); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, n)
			if err := Dequantize(tc.typ, q, y); err != nil {
				t.Fatal(err)
			}
			bs := max(tc.typ.BlockSize(), 32)
			var se, sx float64
			for b := 0; b < n; b += bs {
				var amax, emax float64
				for i := b; i < b+bs; i++ {
					e := math.Abs(float64(y[i] - data.x[i]))
					amax = max(amax, math.Abs(float64(data.x[i])))
					emax = max(emax, e)
					se += e * e
					sx += float64(data.x[i]) * float64(data.x[i])
				}
				if emax > tc.maxRel*amax {
					t.Errorf("%s %v: block at %d: max error %g > %g × max %g", data.name, tc.typ, b, emax, tc.maxRel, amax)
					break
				}
			}
			if sx > 0 && math.Sqrt(se/sx) > tc.rms {
				t.Errorf("%s %v: relative RMS error %g > %g", data.name, tc.typ, math.Sqrt(se/sx), tc.rms)
			}
			if sx == 0 && se != 0 {
				t.Errorf("%s %v: zeros do not stay zero", data.name, tc.typ)
			}
			t.Logf("%s %v: relative RMS error %.4g", data.name, tc.typ, math.Sqrt(se/max(sx, 1e-300)))
		}
	}
}

func TestNearestInt(t *testing.T) {
	tests := []struct {
		x    float32
		want int32
	}{
		{0, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2},
		{0.49999997, 0}, {3.7, 4}, {-3.7, -4}, {4194303, 4194303}, {-4194303, -4194303},
	}
	for _, tc := range tests {
		if got := nearestInt(tc.x); got != tc.want {
			t.Errorf("nearestInt(%v) = %d, want %d", tc.x, got, tc.want)
		}
	}
}
