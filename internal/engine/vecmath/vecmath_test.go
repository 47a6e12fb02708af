package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func randFloats(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = (r.Float32()*2 - 1) * scale
	}
	return x
}

// lengths covers every tail length of the eight-lane kernels and a few
// sizes of the model (head dim, positions, FFN width).
var lengths = []int{0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 512, 4864}

func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range lengths {
		g := randFloats(r, n+3, 12)
		u := randFloats(r, n, 3)
		want := make([]float32, len(g))
		goPath := append([]float32(nil), g...)
		for i, x := range g {
			want[i] = x
			if i < n {
				want[i] = float32(float64(x) / (1 + math.Exp(-float64(x))) * float64(u[i]))
			}
		}
		swigluGo(goPath[:n], u)
		SwiGLU(g[:n], u)
		if d := cmp.Diff(want, g, cmpopts.EquateApprox(3e-7, 1e-37)); d != "" {
			t.Errorf("n=%d: SwiGLU vs float64 (-want +got):\n%s", n, d)
		}
		if d := cmp.Diff(goPath, g, cmpopts.EquateApprox(1.2e-7, 0)); d != "" {
			t.Errorf("n=%d: SwiGLU vs pure Go (-go +got):\n%s", n, d)
		}
	}
}

func TestSwiGLUSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		g, u, want float32
	}{
		{0, 5, 0},
		{200, 2, 400},
		{-200, 2, 0}, // -200/(1+Inf) = -0
		{inf, 1, inf},
		{-inf, 1, float32(math.NaN())}, // -Inf/(1+Inf), as x/(1+math.Exp(-x))
		{1, 0, 0},
	}
	for _, tt := range tests {
		g := []float32{tt.g}
		SwiGLU(g, []float32{tt.u})
		if !cmp.Equal(g[0], tt.want, cmpopts.EquateNaNs()) {
			t.Errorf("SwiGLU(%v, %v) = %v, want %v", tt.g, tt.u, g[0], tt.want)
		}
	}
}

// softmax64 is softmax in float64 after the float32 subtraction of the
// maximum, whose rounding (up to half an ulp of the difference) no float32
// softmax avoids.
func softmax64(x []float32) []float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var sum float64
	out := make([]float32, len(x))
	for _, v := range x {
		sum += math.Exp(float64(v - m))
	}
	for i, v := range x {
		out[i] = float32(math.Exp(float64(v-m)) / sum)
	}
	return out
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range lengths {
		x := randFloats(r, n+2, 20)
		x[n], x[n+1] = 123, -456 // past the end: must stay
		if n > 4 {
			x[n/2] = float32(math.Inf(-1)) // a masked position
		}
		want := append(softmax64(x[:n]), 123, -456)
		goPath := append([]float32(nil), x[:n]...)
		Softmax(x[:n])
		if d := cmp.Diff(want, x, cmpopts.EquateApprox(4e-7, 1e-30)); d != "" {
			t.Errorf("n=%d: Softmax vs float64 (-want +got):\n%s", n, d)
		}
		m := Max(goPath)
		s := expSumGo(goPath, m)
		for i := range goPath {
			goPath[i] *= float32(1 / s)
		}
		if d := cmp.Diff(goPath, x[:n], cmpopts.EquateApprox(2.4e-7, 0), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("n=%d: Softmax vs pure Go (-go +got):\n%s", n, d)
		}
	}
}

func TestSoftmaxSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name   string
		x      []float32
		want   []float32
		hasNaN bool
	}{
		{name: "empty", x: []float32{}, want: []float32{}},
		{name: "one", x: []float32{-3}, want: []float32{1}},
		{name: "equal", x: []float32{2, 2, 2, 2}, want: []float32{0.25, 0.25, 0.25, 0.25}},
		{name: "masked", x: []float32{-inf, 0, -inf, 0, -inf, -inf, -inf, -inf, -inf}, want: []float32{0, 0.5, 0, 0.5, 0, 0, 0, 0, 0}},
		{name: "far apart", x: []float32{0, -200}, want: []float32{1, 0}},
		{name: "all masked", x: []float32{-inf, -inf}, hasNaN: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Softmax(tt.x)
			if tt.hasNaN {
				for _, v := range tt.x {
					if v == v {
						t.Errorf("got %v, want NaN", tt.x)
					}
				}
				return
			}
			if d := cmp.Diff(tt.want, tt.x); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestMaxScale(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range lengths {
		x := randFloats(r, n, 50)
		want := float32(math.Inf(-1))
		for _, v := range x {
			want = max(want, v)
		}
		if got := Max(x); got != want {
			t.Errorf("n=%d: Max = %v, want %v", n, got, want)
		}
		buf := append(append([]float32(nil), x...), 9)
		Scale(buf[:n], 0.5)
		for i, v := range x {
			if buf[i] != v*0.5 {
				t.Fatalf("n=%d: Scale [%d] = %v, want %v", n, i, buf[i], v*0.5)
			}
		}
		if buf[n] != 9 {
			t.Errorf("n=%d: Scale wrote past the end", n)
		}
	}
}

// attnCase is one shape of the attention loops: n rows of width d,
// stride floats apart.
type attnCase struct{ n, d, stride int }

var attnCases = []attnCase{
	{1, 8, 8}, {1, 64, 128}, {3, 64, 128}, {4, 64, 128}, {7, 64, 128},
	{8, 64, 128}, {9, 64, 128}, {13, 64, 64}, {100, 64, 128}, {512, 64, 128},
	{17, 8, 24}, {9, 16, 16}, {11, 32, 40}, {10, 72, 80}, {6, 80, 160},
	{12, 96, 96}, {5, 128, 256}, {21, 256, 512},
	{5, 5, 7}, {9, 60, 64}, // widths that are no multiple of 8: pure Go
}

func TestDots(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range attnCases {
		q := randFloats(r, c.d, 2)
		rows := randFloats(r, (c.n-1)*c.stride+c.d, 2)
		scale := float32(1 / math.Sqrt(float64(c.d)))
		dst := make([]float32, c.n+1)
		dst[c.n] = 42
		Dots(dst[:c.n], q, rows, c.stride, scale)
		goPath := make([]float32, c.n)
		dotsGo(goPath, q, rows, c.stride, scale)
		for j := range c.n {
			var want, mag float64
			for k := range c.d {
				p := float64(q[k]) * float64(rows[j*c.stride+k])
				want += p
				mag += math.Abs(p)
			}
			want *= float64(scale)
			mag *= float64(scale)
			// Error of a float32 sum of d products: a few ulps of
			// the magnitude of the terms.
			tol := 4 * float64(c.d) * 6e-8 * mag / 8
			if math.Abs(float64(dst[j])-want) > tol+1e-30 {
				t.Errorf("%+v: dst[%d] = %v, want %v ± %.2g", c, j, dst[j], want, tol)
			}
			if math.Abs(float64(goPath[j])-want) > 2*tol+1e-30 {
				t.Errorf("%+v: dotsGo[%d] = %v, want %v ± %.2g", c, j, goPath[j], want, 2*tol)
			}
		}
		if dst[c.n] != 42 {
			t.Errorf("%+v: Dots wrote past the end", c)
		}
	}
}

func TestAddWeightedRows(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, c := range attnCases {
		p := randFloats(r, c.n, 1)
		rows := randFloats(r, (c.n-1)*c.stride+c.d, 2)
		init := randFloats(r, c.d+1, 1)
		out := append([]float32(nil), init...)
		AddWeightedRows(out[:c.d], p, rows, c.stride)

		// The kernel adds every row with one FMA per element in row
		// order, as separate axpy calls would.
		want := append([]float32(nil), init...)
		for j, w := range p {
			for k := range c.d {
				want[k] = fma32(w, rows[j*c.stride+k], want[k])
			}
		}
		if d := cmp.Diff(want, out, cmpopts.EquateApprox(0, 1e-6)); d != "" {
			t.Errorf("%+v: (-want +got):\n%s", c, d)
		}
		var differ int
		for k := range want {
			if out[k] != want[k] {
				differ++
			}
		}
		if differ > c.d/8 {
			t.Errorf("%+v: %d of %d outputs differ from sequential FMAs", c, differ, c.d)
		}
	}
}

func TestRowsTooShort(t *testing.T) {
	tests := []panicCase{
		{"Dots short", func() { Dots(make([]float32, 3), make([]float32, 8), make([]float32, 2*16+7), 16, 1) }},
		{"Dots stride", func() { Dots(make([]float32, 3), make([]float32, 8), make([]float32, 100), 4, 1) }},
		{"AddWeightedRows short", func() { AddWeightedRows(make([]float32, 8), make([]float32, 3), make([]float32, 2*16+7), 16) }},
	}
	expectPanics(t, tests)
}

// groupCase is one shape of AttendGroup: n positions, dk and dv floats
// per head, key and value rows kstride and vstride apart.
type groupCase struct{ n, dk, dv, kstride, vstride int }

var groupCases = []groupCase{
	{1, 64, 64, 128, 128}, {2, 64, 64, 128, 128}, {3, 64, 64, 64, 64},
	{4, 64, 64, 128, 128}, {5, 64, 64, 128, 128}, {7, 64, 64, 128, 128},
	{8, 64, 64, 128, 128}, {9, 64, 64, 128, 128}, {17, 64, 64, 192, 192},
	{100, 64, 64, 128, 128}, {512, 64, 64, 128, 128}, {600, 64, 64, 128, 128},
	{13, 16, 16, 32, 32}, {33, 32, 32, 40, 48}, {21, 8, 16, 8, 16},
	{11, 128, 128, 256, 256}, {6, 80, 80, 160, 160}, {10, 96, 48, 96, 49},
	{19, 256, 256, 512, 512}, {12, 24, 112, 24, 112},
	{9, 64, 8, 64, 8}, {7, 60, 64, 64, 64}, {5, 5, 7, 7, 9}, // pure Go
}

// softmaxGo is Softmax's pure-Go path; it returns the maximum and the
// sum of the exponentials as softmax does.
func softmaxGo(x []float32) (m, sum float32) {
	m = Max(x)
	s := expSumGo(x, m)
	for i := range x {
		x[i] *= float32(1 / s)
	}
	return m, float32(s)
}

// attendHeadGo is the per-head pure-Go path of AttendGroup for one head.
func attendHeadGo(out, q, keys, vals []float32, n, kstride, vstride int, scale float32) {
	s := make([]float32, n)
	dotsGo(s, q, keys, kstride, scale)
	softmaxGo(s)
	clear(out)
	addWeightedRowsGo(out, s, vals, vstride)
}

func TestAttendGroup(t *testing.T) { checkAttendGroup(t) }

// checkAttendGroup checks AttendGroup, on whichever path the dispatch
// flags select, against the per-head pure-Go path, and that each head's
// result alone is the same as in its group.
func checkAttendGroup(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range groupCases {
		for heads := 1; heads <= 10; heads++ {
			q := randFloats(r, heads*c.dk, 2)
			keys := randFloats(r, (c.n-1)*c.kstride+c.dk, 2)
			vals := randFloats(r, (c.n-1)*c.vstride+c.dv, 2)
			scale := float32(1 / math.Sqrt(float64(c.dk)))
			scratch := make([]float32, AttendScratch(c.n, heads, c.dv))
			out := randFloats(r, heads*c.dv+1, 1)
			out[heads*c.dv] = 42
			AttendGroup(out[:heads*c.dv], q, keys, vals, scratch, c.n, heads, c.kstride, c.vstride, scale)
			if out[heads*c.dv] != 42 {
				t.Errorf("%+v heads=%d: wrote past the end of out", c, heads)
			}
			want := make([]float32, heads*c.dv)
			for h := range heads {
				attendHeadGo(want[h*c.dv:(h+1)*c.dv], q[h*c.dk:(h+1)*c.dk], keys, vals, c.n, c.kstride, c.vstride, scale)
			}
			// The scores' rounding (a few ulps) moves the weights by
			// as much relatively; the outputs are averages of values
			// below 2.
			if d := cmp.Diff(want, out[:heads*c.dv], cmpopts.EquateApprox(0, 2e-6)); d != "" {
				t.Errorf("%+v heads=%d: vs per-head pure Go (-want +got):\n%s", c, heads, d)
			}
			// Its segments, each on its own, merged: the same bits.
			if d := cmp.Diff(float32Bits(out[:heads*c.dv]), float32Bits(bySegments(q, keys, vals, c.n, heads, c.dv, c.kstride, c.vstride, scale, AttendGroupPart))); d != "" {
				t.Errorf("%+v heads=%d: by segments (-whole +segments):\n%s", c, heads, d)
			}
			// Each head alone gives the same bits as in the group.
			one := make([]float32, c.dv)
			for h := range heads {
				AttendGroup(one, q[h*c.dk:(h+1)*c.dk], keys, vals, scratch, c.n, 1, c.kstride, c.vstride, scale)
				if d := cmp.Diff(out[h*c.dv:(h+1)*c.dv], one); d != "" {
					t.Errorf("%+v heads=%d: head %d alone differs (-group +alone):\n%s", c, heads, h, d)
				}
			}
		}
	}
}

// bySegments computes AttendGroup's (or AttendGroupF16's) result from
// its segments of AttendSegment positions, each computed on its own with
// part (a scratch of its own, last segment first) and merged.
func bySegments[T float32 | uint16](q []float32, keys, vals []T, n, heads, dv, kstride, vstride int, scale float32,
	part func(out, q []float32, keys, vals []T, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32)) []float32 {
	segs := (n + AttendSegment - 1) / AttendSegment
	parts := make([]float32, segs*heads*dv)
	stats := make([]float32, 2*segs*heads)
	for g := segs - 1; g >= 0; g-- {
		j0, m := g*AttendSegment, min(AttendSegment, n-g*AttendSegment)
		scratch := make([]float32, AttendScratch(m, heads, dv))
		part(parts[g*heads*dv:(g+1)*heads*dv], q, keys[j0*kstride:], vals[j0*vstride:], scratch, m, heads, kstride, vstride, scale,
			stats[2*g*heads:2*(g+1)*heads])
	}
	out := make([]float32, heads*dv)
	MergeAttention(out, parts, stats, segs, heads)
	return out
}

// TestMergeAttention checks the merge against the softmax over all the
// positions worked out in float64: two segments of one head with one
// position each (every part is its value row, sum 1), and one segment
// copied exactly.
func TestMergeAttention(t *testing.T) {
	v0, v1 := []float32{1, -2, 0.5}, []float32{3, 0, -1}
	s0, s1 := 0.25, -1.5 // the scores
	parts := append(append([]float32(nil), v0...), v1...)
	stats := []float32{float32(s0), 1, float32(s1), 1}
	got := make([]float32, 3)
	MergeAttention(got, parts, stats, 2, 1)
	p0 := 1 / (1 + math.Exp(s1-s0))
	want := make([]float32, 3)
	for k := range want {
		want[k] = float32(p0*float64(v0[k]) + (1-p0)*float64(v1[k]))
	}
	if d := cmp.Diff(want, got, cmpopts.EquateApprox(1e-6, 0)); d != "" {
		t.Errorf("two segments (-want +got):\n%s", d)
	}
	// One segment: copied, -0 included.
	one := []float32{float32(math.Copysign(0, -1)), 7, -3}
	got = make([]float32, 3)
	MergeAttention(got, one, []float32{5, 2}, 1, 1)
	if d := cmp.Diff(float32Bits(one), float32Bits(got)); d != "" {
		t.Errorf("one segment (-want +got):\n%s", d)
	}
	// Seventy segments (more than the merge takes at a time), maxima
	// and sums that differ.
	const segs = 70
	parts = make([]float32, segs*2)
	stats = make([]float32, segs*2)
	var wsum, wx float64
	for g := range segs {
		parts[2*g], parts[2*g+1] = float32(g), 1
		stats[2*g], stats[2*g+1] = 0.05*float32(g%23), float32(1+g%3)
		w := float64(stats[2*g+1]) * math.Exp(float64(stats[2*g])-0.05*22)
		wsum += w
		wx += w * float64(g)
	}
	got = make([]float32, 2)
	MergeAttention(got, parts, stats, segs, 1)
	if d := cmp.Diff([]float32{float32(wx / wsum), 1}, got, cmpopts.EquateApprox(1e-6, 0)); d != "" {
		t.Errorf("%d segments (-want +got):\n%s", segs, d)
	}
	expectPanics(t, []panicCase{
		{"no segments", func() { MergeAttention(make([]float32, 4), make([]float32, 4), make([]float32, 2), 0, 1) }},
		{"parts short", func() { MergeAttention(make([]float32, 4), make([]float32, 7), make([]float32, 4), 2, 1) }},
		{"stats short", func() { MergeAttention(make([]float32, 4), make([]float32, 8), make([]float32, 3), 2, 1) }},
		{"out not heads rows", func() { MergeAttention(make([]float32, 5), make([]float32, 10), make([]float32, 4), 1, 2) }},
	})
}

func TestAttendGroupPartEdges(t *testing.T) {
	q, kv := make([]float32, 16), make([]float32, 8*AttendSegment+8)
	scratch := make([]float32, AttendScratch(AttendSegment+1, 1, 8))
	expectPanics(t, []panicCase{
		{"no positions", func() { AttendGroupPart(make([]float32, 8), q, kv, kv, scratch, 0, 1, 16, 8, 1, make([]float32, 2)) }},
		{"more than a segment", func() {
			AttendGroupPart(make([]float32, 8), q, kv, kv, scratch, AttendSegment+1, 1, 8, 8, 1, make([]float32, 2))
		}},
		{"stats short", func() { AttendGroupPart(make([]float32, 8), q, kv, kv, scratch, 4, 1, 16, 8, 1, make([]float32, 1)) }},
		{"F16 stats short", func() {
			AttendGroupF16Part(make([]float32, 8), q, make([]uint16, 64), make([]uint16, 64), scratch, 4, 1, 16, 8, 1, make([]float32, 1))
		}},
	})
}

func TestAttendGroupEdges(t *testing.T) {
	out := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	AttendGroup(out, make([]float32, 16), nil, nil, nil, 0, 1, 16, 8, 1)
	if d := cmp.Diff(make([]float32, 8), out); d != "" {
		t.Errorf("no positions: out (-want +got):\n%s", d)
	}
	tests := []panicCase{
		{"heads 0", func() { AttendGroup(make([]float32, 8), make([]float32, 8), nil, nil, nil, 0, 0, 8, 8, 1) }},
		{"q not heads rows", func() {
			AttendGroup(make([]float32, 32), make([]float32, 31), make([]float32, 64), make([]float32, 64), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
		{"scratch short", func() {
			AttendGroup(make([]float32, 32), make([]float32, 32), make([]float32, 64), make([]float32, 64), make([]float32, 31), 4, 2, 16, 16, 1)
		}},
		{"keys short", func() {
			AttendGroup(make([]float32, 32), make([]float32, 32), make([]float32, 63), make([]float32, 64), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
		{"values short", func() {
			AttendGroup(make([]float32, 32), make([]float32, 32), make([]float32, 64), make([]float32, 63), make([]float32, 32), 4, 2, 16, 16, 1)
		}},
	}
	expectPanics(t, tests)
}

// float32Bits returns the bit patterns of x, for comparisons that tell
// -0 from +0 and compare NaNs by their bits.
func float32Bits(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

// panicCase is a call that must panic.
type panicCase struct {
	name string
	f    func()
}

// expectPanics runs each case as a subtest and fails those that return.
func expectPanics(t *testing.T, tests []panicCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tt.f()
		})
	}
}
