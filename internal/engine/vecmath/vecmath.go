// Package vecmath holds the float32 vector math around the matrix
// products of the engine: e^x, the SiLU-gated product of SwiGLU, softmax,
// the two loops of attention over a key/value cache (the scores of one
// query against many rows at a stride, and the probability-weighted sum
// of many rows), and one token's whole attention for the query heads that
// share a KV head (AttendGroup, and AttendGroupF16 over a cache of IEEE
// binary16 values, which ToF16 and FromF16 convert), segment by segment
// over long caches (AttendGroupPart, MergeAttention).
//
// On amd64 with AVX2 and FMA the functions run avo-generated assembly
// (./asm, go generate), AttendGroup with AVX-512 only; otherwise, and with the purego build tag, pure-Go
// code that implements the same algorithms, so that the two paths agree to
// within an ulp or so (exp, SiLU and softmax use the same approximation of
// e^x on both; only the rounding of fused multiply-adds and the order of
// additions in sums differ).
//
// # The exponential
//
// Exp and everything built on it use a float32 approximation of e^x in
// the style of Cephes' expf: x is clamped to [-104, 89], n = round(x·log₂e),
// r = x - n·ln2 in two steps (Cody–Waite, |r| ≤ ln2/2), e^r ≈ 1 + r +
// r²·P(r) with P of degree 5, and the result is scaled by 2^n with two
// exponent-bit multiplications, so that
//
//   - the relative error against float64 math.Exp is below 8.5e-8 (at
//     most 1.5 ulp) for every float32 x whose e^x is a normal float32
//     (x in [-87.33, 88.72]; checked exhaustively by
//     TestExpAccuracyExhaustive, worst 8.46e-8 at x = 26.690403);
//     subnormal results are rounded once from that approximation;
//   - x > 88.73 gives +Inf, x < -103.98 (and -Inf) gives 0, NaN gives NaN.
package vecmath

// Exp sets dst[i] = e^src[i] for every i < len(dst); src must be at least
// as long as dst, and may be dst itself.
func Exp(dst, src []float32) {
	src = src[:len(dst)]
	if len(dst) == 0 {
		return
	}
	if useAsm {
		expAVX2(dst, src)
		return
	}
	expGo(dst, src)
}

// SwiGLU sets g[i] = silu(g[i])·u[i] for every i < len(g), where
// silu(x) = x/(1+e^-x); u must be at least as long as g.
func SwiGLU(g, u []float32) {
	u = u[:len(g)]
	if len(g) == 0 {
		return
	}
	if useAsm {
		swigluAVX2(g, u)
		return
	}
	swigluGo(g, u)
}

// Softmax replaces x by e^(x[i]-max)/Σ_j e^(x[j]-max), with the sum
// added in float64 (as ggml does). It reads x three times: the maximum,
// the exponentials with their sum, and the scaling. Entries of -Inf get
// probability 0; if every entry is -Inf, or one is NaN, the results are
// NaN.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	softmax(x)
}

// softmax is Softmax on a non-empty x; it returns the maximum of x and
// the sum of the exponentials rounded to float32 (attention's segment
// statistics, see MergeAttention).
func softmax(x []float32) (m, sum float32) {
	m = Max(x)
	var s float64
	if useAsm {
		s = expSumAVX2(x, m)
	} else {
		s = expSumGo(x, m)
	}
	Scale(x, float32(1/s))
	return m, float32(s)
}

// Max returns the largest value of x, or -Inf if x is empty. If x holds a
// NaN, the result is unspecified.
func Max(x []float32) float32 {
	m := negInf
	body := len(x) &^ 7
	if useAsm && body > 0 {
		m = maxAVX2(x[:body])
		x = x[body:]
	}
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// Scale multiplies every x[i] by s.
func Scale(x []float32, s float32) {
	if len(x) == 0 {
		return
	}
	if useAsm {
		scaleAVX2(x, s)
		return
	}
	for i := range x {
		x[i] *= s
	}
}

// Dots sets dst[j] = scale · Σ_k q[k]·rows[j·stride+k] (k < len(q)) for
// every j < len(dst): the scaled dot products of one query with len(dst)
// rows that start stride floats apart, such as the keys of one head in a
// cache. rows must hold (len(dst)-1)·stride + len(q) values. The sums use
// eight-lane accumulators, so their rounding differs from a sequential sum
// by a few ulps.
func Dots(dst, q, rows []float32, stride int, scale float32) {
	n, d := len(dst), len(q)
	if n == 0 {
		return
	}
	checkRows(rows, n, stride, d)
	if d == 0 {
		clear(dst)
		return
	}
	if useAsm && d%8 == 0 {
		dotsAVX2(dst, q, rows, stride, scale)
		return
	}
	dotsGo(dst, q, rows, stride, scale)
}

// AddWeightedRows adds Σ_j p[j]·rows[j·stride+k] (j < len(p)) to out[k]
// for every k < len(out): the probability-weighted sum of len(p) rows that
// start stride floats apart, such as the values of one head in a cache.
// rows must hold (len(p)-1)·stride + len(out) values. Each row is added
// with one fused multiply-add per element, in row order.
func AddWeightedRows(out, p, rows []float32, stride int) {
	n, d := len(p), len(out)
	if n == 0 || d == 0 {
		return
	}
	checkRows(rows, n, stride, d)
	if useAsm && d%8 == 0 {
		addWeightedRowsAVX2(out, p, rows, stride)
		return
	}
	addWeightedRowsGo(out, p, rows, stride)
}

// checkRows panics unless rows holds n rows of d values stride apart.
func checkRows[T float32 | uint16](rows []T, n, stride, d int) {
	if stride < d || (n-1)*stride+d > len(rows) {
		panic("vecmath: rows too short for the rows, stride and width")
	}
}

// checkPart panics unless the arguments of AttendGroupPart (or
// AttendGroupF16Part) fit together.
func checkPart[T float32 | uint16](out, q []float32, keys, vals []T, scratch []float32, n, heads, kstride, vstride int, stats []float32) {
	if n <= 0 || n > AttendSegment {
		panic("vecmath: a segment holds 1 to AttendSegment positions")
	}
	checkAttend(out, q, keys, vals, scratch, n, heads, kstride, vstride)
	if len(stats) < 2*heads {
		panic("vecmath: stats too short for the heads")
	}
}

// checkAttend panics unless the arguments of AttendGroup (or
// AttendGroupF16) fit together, and returns the widths of a head's key
// and value rows.
func checkAttend[T float32 | uint16](out, q []float32, keys, vals []T, scratch []float32, n, heads, kstride, vstride int) (dk, dv int) {
	if heads <= 0 || len(q)%heads != 0 || len(out)%heads != 0 {
		panic("vecmath: q and out must hold heads rows of equal length")
	}
	dk, dv = len(q)/heads, len(out)/heads
	if n == 0 {
		return dk, dv
	}
	if len(scratch) < AttendScratch(n, heads, dv) {
		panic("vecmath: attention scratch too short")
	}
	checkRows(keys, n, kstride, dk)
	checkRows(vals, n, vstride, dv)
	return dk, dv
}

// groupKernels reports whether the AVX-512 group kernels take heads whose
// key and value rows are dk and dv wide.
func groupKernels(dk, dv int) bool { return useAVX512 && dk%8 == 0 && dk > 0 && dv%16 == 0 && dv > 0 }

// AttendSegment is how many cache positions AttendGroup and
// AttendGroupF16 take at a time. Over more positions they attend over
// each segment of AttendSegment positions (the last one shorter) in turn
// and merge the segments' results (MergeAttention), so that the segments
// of one long cache can also be computed in parallel (AttendGroupPart,
// AttendGroupF16Part) and merged to the same bits. Over at most
// AttendSegment positions there is one segment and nothing to merge.
const AttendSegment = 256

// AttendScratch is how many floats of scratch AttendGroup and
// AttendGroupF16 need for n cache positions, heads query heads and value
// rows dv wide: eight scores per position of a segment, and with more
// than one segment each segment's result and statistics.
func AttendScratch(n, heads, dv int) int {
	if n <= AttendSegment {
		return 8*n + 2*heads
	}
	segs := (n + AttendSegment - 1) / AttendSegment
	return 8*AttendSegment + segs*heads*(dv+2)
}

// AttendGroup computes one token's attention for heads query heads that
// share a KV head, over n cache positions: for every h < heads,
//
//	out[h·dv:(h+1)·dv] = Σ_j p_h[j]·vals[j·vstride:j·vstride+dv]
//	p_h = softmax over j < n of scale · q[h·dk:(h+1)·dk]·keys[j·kstride:]
//
// where dk = len(q)/heads and dv = len(out)/heads: what Dots, Softmax and
// AddWeightedRows compute for each head in turn, which is how it runs
// without AVX-512, over up to AttendSegment positions; over more, one
// segment of them at a time, merged (MergeAttention). keys and vals must
// hold n rows of dk and dv floats kstride and vstride apart, scratch
// AttendScratch(n, heads, dv) floats.
//
// With AVX-512 (F, VL and DQ), dk a multiple of 8 and dv of 16, it takes up
// to eight heads at once, reading each key row, and then each value row,
// once for all of them: the cache is read from memory once per KV head
// rather than from L2 once per query head. Its scores are rounded as
// Dots rounds the rows of its blocks of four and eight (eight-lane
// accumulators reduced with one VHADDPS tree), the softmax sums in row
// order as Softmax's pure-Go path does, and the weighted sums are
// AddWeightedRows' exactly; so it differs from the per-head path by a few
// ulps of the scores, and a head's result does not depend on heads or on
// the other heads.
func AttendGroup(out, q, keys, vals, scratch []float32, n, heads, kstride, vstride int, scale float32) {
	checkAttend(out, q, keys, vals, scratch, n, heads, kstride, vstride)
	if n == 0 {
		clear(out)
		return
	}
	attendSegments(out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, attendPart)
}

// AttendGroupPart is AttendGroup over one segment of a cache, n ≤
// AttendSegment positions from the segment's first (keys and vals start
// there), for MergeAttention: it sets out to the segment's attention and
// stats[2h] and stats[2h+1] to head h's maximum score and sum of
// exponentials. Merging the parts of AttendSegment positions each (the
// last one shorter) gives AttendGroup's result over them bit for bit, in
// whichever order or on whichever threads they were computed. scratch
// must hold AttendScratch(n, heads, len(out)/heads) floats, stats 2·heads.
func AttendGroupPart(out, q, keys, vals, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32) {
	checkPart(out, q, keys, vals, scratch, n, heads, kstride, vstride, stats)
	attendPart(out, q, keys, vals, scratch, n, heads, kstride, vstride, scale, stats)
}

// attendPart is AttendGroupPart on checked arguments with n > 0.
func attendPart(out, q, keys, vals, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32) {
	dk, dv := len(q)/heads, len(out)/heads
	if groupKernels(dk, dv) {
		s := scratch[:8*n]
		var st [16]float32
		for h0 := 0; h0 < heads; h0 += 8 {
			nh := min(8, heads-h0)
			groupDotsAVX512(s, q[h0*dk:(h0+nh)*dk], keys, dk, kstride, nh, scale)
			softmaxLanesAVX2(s, vals, vstride, dv, st[:])
			groupRowsAVX512(out[h0*dv:(h0+nh)*dv], s, vals, dv, vstride, nh)
			laneStats(stats[2*h0:], st[:], nh)
		}
		return
	}
	s := scratch[:n]
	for h := range heads {
		Dots(s, q[h*dk:(h+1)*dk], keys, kstride, scale)
		stats[2*h], stats[2*h+1] = softmax(s)
		o := out[h*dv : (h+1)*dv]
		clear(o)
		AddWeightedRows(o, s, vals, vstride)
	}
}

// laneStats copies the statistics of nh lanes that softmaxLanes wrote
// (maxima, then sums) into stats as (maximum, sum) pairs.
func laneStats(stats, st []float32, nh int) {
	for i := range nh {
		stats[2*i], stats[2*i+1] = st[i], st[8+i]
	}
}

// attendSegments computes AttendGroup (or AttendGroupF16) with part, one
// segment at a time: over at most AttendSegment positions straight into
// out, otherwise into scratch, merged into out.
func attendSegments[T float32 | uint16](out, q []float32, keys, vals []T, scratch []float32, n, heads, kstride, vstride int, scale float32,
	part func(out, q []float32, keys, vals []T, scratch []float32, n, heads, kstride, vstride int, scale float32, stats []float32)) {
	if n <= AttendSegment {
		part(out, q, keys, vals, scratch[:8*n], n, heads, kstride, vstride, scale, scratch[8*n:8*n+2*heads])
		return
	}
	dv := len(out) / heads
	segs := (n + AttendSegment - 1) / AttendSegment
	parts := scratch[8*AttendSegment : 8*AttendSegment+segs*heads*dv]
	stats := scratch[8*AttendSegment+segs*heads*dv : 8*AttendSegment+segs*heads*(dv+2)]
	for g := range segs {
		j0, m := g*AttendSegment, min(AttendSegment, n-g*AttendSegment)
		part(parts[g*heads*dv:(g+1)*heads*dv], q, keys[j0*kstride:], vals[j0*vstride:], scratch[:8*m], m, heads, kstride, vstride, scale,
			stats[g*2*heads:(g+1)*2*heads])
	}
	MergeAttention(out, parts, stats, segs, heads)
}

// MergeAttention sets out to the attention over the positions of segs
// segments together from each segment's own (AttendGroupPart,
// AttendGroupF16Part): parts holds the segments' results one after the
// other (heads rows of len(out)/heads floats each), stats their
// statistics (2·heads floats each). For each head, with M the largest
// segment maximum, e_g = Exp(max_g-M) (the float32 difference) and w_g =
// sum_g·e_g in float64, out is Σ_g float32(w_g/Σw)·part_g, added in
// segment order with AddWeightedRows (one fused multiply-add per
// element). One segment is copied exactly.
func MergeAttention(out, parts, stats []float32, segs, heads int) {
	if heads <= 0 || len(out)%heads != 0 {
		panic("vecmath: out must hold heads rows of equal length")
	}
	dv := len(out) / heads
	if segs <= 0 || len(parts) < segs*heads*dv || len(stats) < 2*segs*heads {
		panic("vecmath: parts or stats too short for the segments")
	}
	if segs == 1 {
		copy(out, parts[:heads*dv])
		return
	}
	const chunk = 32
	var e, f [chunk]float32
	for h := range heads {
		mx := negInf
		for g := range segs {
			mx = max(mx, stats[2*(g*heads+h)])
		}
		// exps sets e to the factors e_g of the segments from g0 on.
		exps := func(g0 int) []float32 {
			k := min(chunk, segs-g0)
			for i := range k {
				e[i] = stats[2*((g0+i)*heads+h)] - mx
			}
			Exp(e[:k], e[:k])
			return e[:k]
		}
		var sum float64
		for g0 := 0; g0 < segs; g0 += chunk {
			for i, x := range exps(g0) {
				sum += float64(stats[2*((g0+i)*heads+h)+1]) * float64(x)
			}
		}
		o := out[h*dv : (h+1)*dv]
		clear(o)
		for g0 := 0; g0 < segs; g0 += chunk {
			if segs > chunk {
				exps(g0) // e holds the last chunk's
			}
			k := min(chunk, segs-g0)
			for i := range k {
				f[i] = float32(float64(stats[2*((g0+i)*heads+h)+1]) * float64(e[i]) / sum)
			}
			AddWeightedRows(o, f[:k], parts[g0*heads*dv+h*dv:], heads*dv)
		}
	}
}
