package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
)

// This file holds the inner loops of matrix-vector products: a dot product
// of one row of weights with an activation vector. Like ggml's CPU backend,
// quantized weights are never multiplied with float activations: the
// activations are first quantized per block (QuantizeActivations) to the
// type VecDotType names, and the kernels form integer dot products per
// block, scaled in float.
//
// The kernels are reached through a Kernels table so that faster
// implementations (SIMD, per platform) can replace the pure-Go reference
// ones type by type, and be tested against them.

// DotFunc returns the dot product of n weights w (one row, in the weight
// type) with n activations x (encoded as VecDotType of the weight type). n
// is a whole number of blocks and w and x hold exactly n values; the
// Kernels methods check that before calling.
type DotFunc func(n int, w, x []byte) float32

// MatFunc computes a block of a matrix product: for r < rows and i < nx,
// y[i*ystride+r] is the dot product of the n weights at w[r*wstride:] with
// the n activations at x[i*xstride:] (encoded as VecDotType of the weight
// type). Every result must be bit-identical to the weight type's DotFunc,
// so that a product does not depend on how many rows or vectors are
// computed together, for activations as QuantizeActivations encodes them
// (int8 values in -127..127; the AVX2 kernels cannot take -128). An
// implementation panics if w, x or y are too short.
type MatFunc func(n, rows, nx int, w []byte, wstride int, x []byte, xstride int, y []float32, ystride int)

// Kernels is a table of dot-product kernels, one per weight type. A nil
// entry means the type is not supported.
type Kernels struct {
	// Name identifies the implementation, e.g. "go" for the reference.
	Name string

	F32, F16, BF16 DotFunc
	Q4_0, Q5_0     DotFunc // with Q8_0 activations
	Q8_0           DotFunc // with Q8_0 activations
	Q4_1, Q5_1     DotFunc // with Q8_1 activations
	Q4_K, Q5_K     DotFunc // with Q8_K activations
	Q6_K           DotFunc // with Q8_K activations

	// Matrix kernels used by MatMul, which work on tiles of several rows
	// and vectors at once; nil where there is none (MatMul then calls the
	// DotFunc per row and vector).
	Q8_0Mat, Q4_0Mat, Q5_0Mat MatFunc
	Q4_KMat, Q5_KMat, Q6_KMat MatFunc

	// Matrix kernels of the repacked layouts (repack.go), which have no
	// DotFunc (a row is not contiguous); nil where the table has none, and
	// then a caller should not repack. Rows come in whole groups of 8.
	Q4_0x8Mat, Q5_0x8Mat, Q8_0x8Mat MatFunc
	Q4_1x8Mat, Q5_1x8Mat            MatFunc // with Q8_1 activations
	Q4_Kx8Mat, Q5_Kx8Mat, Q6_Kx8Mat MatFunc // with Q8_K activations
}

// ReferenceKernels returns the pure-Go kernels, which every other
// implementation must agree with.
func ReferenceKernels() *Kernels {
	return &Kernels{
		Name: "go",
		F32:  dotF32, F16: dotF16, BF16: dotBF16,
		Q4_0: dotQ4_0Q8_0, Q5_0: dotQ5_0Q8_0, Q8_0: dotQ8_0Q8_0,
		Q4_1: dotQ4_1Q8_1, Q5_1: dotQ5_1Q8_1,
		Q4_K: dotQ4_KQ8_K, Q5_K: dotQ5_KQ8_K, Q6_K: dotQ6_KQ8_K,
		Q4_0x8Mat: matRepackedGo(Q4_0x8), Q5_0x8Mat: matRepackedGo(Q5_0x8), Q8_0x8Mat: matRepackedGo(Q8_0x8),
		Q4_1x8Mat: matRepackedGo(Q4_1x8), Q5_1x8Mat: matRepackedGo(Q5_1x8),
		Q4_Kx8Mat: matQ4_Kx8Go, Q5_Kx8Mat: matQ5_Kx8Go, Q6_Kx8Mat: matQ6_Kx8Go,
	}
}

// DefaultKernels returns the fastest kernels this machine supports: on
// amd64 with AVX2, FMA and F16C the assembly kernels ("avx2", or
// "avx512vnni" with AVX-512 VNNI; Q4_1 and Q5_1 stay pure Go), otherwise,
// and under the purego build tag, the reference ones ("go"). The choice is
// made once; each call returns a new copy of the table, so callers may
// change it.
func DefaultKernels() *Kernels {
	k := *defaultKernels()
	return &k
}

// KernelSets returns every kernel table this machine can run, the
// reference first and the fastest (DefaultKernels) last: "go", then on
// amd64 "avx2" where the CPU has AVX2, FMA and F16C and "avx512vnni" where
// it also has AVX-512 VNNI. Each call returns new copies.
func KernelSets() []*Kernels {
	return append([]*Kernels{ReferenceKernels()}, simdKernelSets()...)
}

// defaultKernels is the dispatch table, chosen on first use.
var defaultKernels = sync.OnceValue(func() *Kernels {
	if k := simdKernels(); k != nil {
		return k
	}
	return ReferenceKernels()
})

// Func returns the kernel for weights of type t, or nil.
func (k *Kernels) Func(t Type) DotFunc {
	switch t {
	case F32:
		return k.F32
	case F16:
		return k.F16
	case BF16:
		return k.BF16
	case Q4_0:
		return k.Q4_0
	case Q5_0:
		return k.Q5_0
	case Q8_0:
		return k.Q8_0
	case Q4_1:
		return k.Q4_1
	case Q5_1:
		return k.Q5_1
	case Q4_K:
		return k.Q4_K
	case Q5_K:
		return k.Q5_K
	case Q6_K:
		return k.Q6_K
	}
	return nil
}

// MatFunc returns the matrix kernel for weights of type t, or nil.
func (k *Kernels) MatFunc(t Type) MatFunc {
	switch t {
	case Q8_0:
		return k.Q8_0Mat
	case Q4_0:
		return k.Q4_0Mat
	case Q5_0:
		return k.Q5_0Mat
	case Q4_K:
		return k.Q4_KMat
	case Q5_K:
		return k.Q5_KMat
	case Q6_K:
		return k.Q6_KMat
	case Q4_0x8:
		return k.Q4_0x8Mat
	case Q5_0x8:
		return k.Q5_0x8Mat
	case Q8_0x8:
		return k.Q8_0x8Mat
	case Q4_1x8:
		return k.Q4_1x8Mat
	case Q5_1x8:
		return k.Q5_1x8Mat
	case Q4_Kx8:
		return k.Q4_Kx8Mat
	case Q5_Kx8:
		return k.Q5_Kx8Mat
	case Q6_Kx8:
		return k.Q6_Kx8Mat
	}
	return nil
}

// checkMat panics unless w, x and y hold what a MatFunc call with these
// arguments reads and writes: rows rows of rowBytes at wstride, nx vectors
// of xBytes at xstride, and nx outputs of rows at ystride.
func checkMat(rows, nx int, w []byte, wstride, rowBytes int, x []byte, xstride, xBytes int, y []float32, ystride int) {
	if rows < 0 || nx < 0 {
		panic("tensor: negative matrix kernel size")
	}
	if rows == 0 || nx == 0 {
		return
	}
	if !spans(len(w), rows, wstride, rowBytes) || !spans(len(x), nx, xstride, xBytes) ||
		!spans(len(y), nx, ystride, rows) || rows > 1 && wstride < rowBytes || nx > 1 && (xstride < xBytes || ystride < rows) {
		panic("tensor: matrix kernel arguments out of range")
	}
}

// spans reports whether have ≥ (k-1)·stride + size, without overflow, for
// k ≥ 1 and non-negative stride and size.
func spans(have, k, stride, size int) bool {
	if stride < 0 || size < 0 {
		return false
	}
	if k > 1 && stride > 0 && k-1 > (maxInt-size)/stride {
		return false
	}
	return have >= (k-1)*stride+size
}

// VecDotType returns the type activations must be quantized to before a dot
// product with weights of type t (ggml's vec_dot_type), or false if there is
// no kernel for t.
func VecDotType(t Type) (Type, bool) {
	switch t {
	case F32, F16, BF16:
		return t, true
	case Q4_0, Q5_0, Q8_0, Q4_0x8, Q5_0x8, Q8_0x8:
		return Q8_0, true
	case Q4_1, Q5_1, Q4_1x8, Q5_1x8:
		return Q8_1, true
	case Q4_K, Q5_K, Q6_K, Q4_Kx8, Q5_Kx8, Q6_Kx8:
		return Q8_K, true
	}
	return 0, false
}

// Dot returns the dot product of n weights of type t in w with n
// activations in x, encoded as VecDotType(t).
func (k *Kernels) Dot(t Type, n int, w, x []byte) (float32, error) {
	fn := k.Func(t)
	xt, ok := VecDotType(t)
	if fn == nil || !ok {
		return 0, fmt.Errorf("dot: %w: no %s kernel for %v", ErrUnsupported, k.Name, t)
	}
	if err := checkLen(t, n, len(w)); err != nil {
		return 0, fmt.Errorf("dot: weights: %w", err)
	}
	if err := checkLen(xt, n, len(x)); err != nil {
		return 0, fmt.Errorf("dot: activations: %w", err)
	}
	return fn(n, w, x), nil
}

// MatVec computes y[r] = Σ_c W[r][c]·x[c], one row after another: w holds
// len(y) rows of cols values of type t, and x holds cols activations encoded
// as VecDotType(t) (see QuantizeActivations).
func (k *Kernels) MatVec(t Type, cols int, w, x []byte, y []float32) error {
	fn := k.Func(t)
	xt, ok := VecDotType(t)
	if fn == nil || !ok {
		return fmt.Errorf("matvec: %w: no %s kernel for %v", ErrUnsupported, k.Name, t)
	}
	rowBytes, err := t.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("matvec: %w", err)
	}
	if len(y) > 0 && rowBytes > maxInt/len(y) || len(w) != rowBytes*len(y) {
		return fmt.Errorf("matvec: %w: %d bytes of weights are not %d rows of %d %v", ErrBadLength, len(w), len(y), cols, t)
	}
	if err := checkLen(xt, cols, len(x)); err != nil {
		return fmt.Errorf("matvec: activations: %w", err)
	}
	for r := range y {
		y[r] = fn(cols, w[r*rowBytes:(r+1)*rowBytes], x)
	}
	return nil
}

func checkLen(t Type, n, have int) error {
	want, err := t.RowBytes(n)
	if err != nil {
		return err
	}
	if have != want {
		return fmt.Errorf("%w: %d values of %v need %d bytes, have %d", ErrBadLength, n, t, want, have)
	}
	return nil
}

// QuantizeActivations encodes activations x as type t for use with the
// kernels, the way ggml's CPU backend does before a matrix product (which
// differs from the reference weight quantizers of Quantize):
//
//   - F32: unchanged. F16, BF16: rounded to nearest even.
//   - Q8_0: per 32 values, d = amax/127 (stored as F16) and
//     q = round-half-even(x·(127/amax)) in float32.
//   - Q8_1: as Q8_0, plus s = d·Σq stored as F16.
//   - Q8_K: per 256 values, the value of largest magnitude max (signed),
//     iscale = -127/max, q = min(127, round-half-even(iscale·x)), d = 1/iscale
//     as float32, and the sums of each 16 q.
func QuantizeActivations(t Type, x []float32, dst []byte) error {
	if err := checkLen(t, len(x), len(dst)); err != nil {
		return fmt.Errorf("quantize activations: %w", err)
	}
	switch t {
	case F32:
		quantF32(x, dst)
	case F16:
		quantF16(x, dst)
	case BF16:
		quantBF16(x, dst)
	case Q8_0:
		encodeQ8_0(x, dst)
	case Q8_1:
		actQ8(x, dst, true)
	case Q8_K:
		encodeQ8_K(x, dst)
	default:
		return fmt.Errorf("quantize activations: %w: %v", ErrUnsupported, t)
	}
	return nil
}

// roundEven rounds to the nearest integer, ties to even.
func roundEven(x float32) int32 { return int32(math.RoundToEven(float64(x))) }

func actQ8(x []float32, dst []byte, withSum bool) {
	size, off := sizeQ8_0, 2
	if withSum {
		size, off = sizeQ8_1, 4
	}
	for len(x) > 0 {
		xs, b := x[:32], dst[:size]
		var amax float32
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		put16(b, FP32ToFP16(d))
		var sum int32
		for j, v := range xs {
			q := roundEven(v * id)
			sum += q
			b[off+j] = byte(int8(q))
		}
		if withSum {
			put16(b[2:], FP32ToFP16(d*float32(sum)))
		}
		x, dst = x[32:], dst[size:]
	}
}

func actQ8_K(x []float32, dst []byte) {
	for len(x) > 0 {
		xs, b := x[:QK_K], dst[:sizeQ8_K]
		var mx, amax float32
		for _, v := range xs {
			if a := abs32(v); a > amax {
				amax, mx = a, v
			}
		}
		clear(b)
		if amax != 0 {
			iscale := -127 / mx
			qs := b[4 : 4+QK_K]
			for j, v := range xs {
				qs[j] = byte(int8(min(127, roundEven(iscale*v))))
			}
			for j := range QK_K / 16 {
				var s int16
				for _, q := range qs[16*j : 16*j+16] {
					s += int16(int8(q))
				}
				binary.LittleEndian.PutUint16(b[4+QK_K+2*j:], uint16(s))
			}
			binary.LittleEndian.PutUint32(b, math.Float32bits(1/iscale))
		}
		x, dst = x[QK_K:], dst[sizeQ8_K:]
	}
}

func dotF32(n int, w, x []byte) float32 {
	var s float64
	for i := range n {
		a := math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
		s += float64(a * b)
	}
	return float32(s)
}

func dotF16(n int, w, x []byte) float32 {
	var s float64
	for i := range n {
		s += float64(FP16ToFP32(le16(w[2*i:])) * FP16ToFP32(le16(x[2*i:])))
	}
	return float32(s)
}

func dotBF16(n int, w, x []byte) float32 {
	var s float64
	for i := range n {
		s += float64(BF16ToFP32(le16(w[2*i:])) * BF16ToFP32(le16(x[2*i:])))
	}
	return float32(s)
}

// dotI8 returns Σ int8(a[i])·int8(b[i]).
func dotI8(a, b []byte) int32 {
	var s int32
	for i, v := range a {
		s += int32(int8(v)) * int32(int8(b[i]))
	}
	return s
}

func dotQ8_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for range n / 32 {
		bw, bx := w[:sizeQ8_0], x[:sizeQ8_0]
		sumi := dotI8(bw[2:34], bx[2:34])
		sum += float32(float32(sumi) * (half(bw) * half(bx)))
		w, x = w[sizeQ8_0:], x[sizeQ8_0:]
	}
	return sum
}

func dotQ4_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for range n / 32 {
		bw, bx := w[:sizeQ4_0], x[:sizeQ8_0]
		qx := bx[2:34]
		var sumi int32
		for j, q := range bw[2:18] {
			sumi += (int32(q&0x0f) - 8) * int32(int8(qx[j]))
			sumi += (int32(q>>4) - 8) * int32(int8(qx[j+16]))
		}
		sum += float32(float32(sumi) * (half(bw) * half(bx)))
		w, x = w[sizeQ4_0:], x[sizeQ8_0:]
	}
	return sum
}

func dotQ5_0Q8_0(n int, w, x []byte) float32 {
	var sum float32
	for range n / 32 {
		bw, bx := w[:sizeQ5_0], x[:sizeQ8_0]
		qh := binary.LittleEndian.Uint32(bw[2:])
		qx := bx[2:34]
		var sumi int32
		for j, q := range bw[6:22] {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			sumi += (int32(uint32(q&0x0f)|h0) - 16) * int32(int8(qx[j]))
			sumi += (int32(uint32(q>>4)|h1) - 16) * int32(int8(qx[j+16]))
		}
		sum += float32(float32(sumi) * (half(bw) * half(bx)))
		w, x = w[sizeQ5_0:], x[sizeQ8_0:]
	}
	return sum
}

func dotQ4_1Q8_1(n int, w, x []byte) float32 {
	var sum float32
	for range n / 32 {
		bw, bx := w[:sizeQ4_1], x[:sizeQ8_1]
		qx := bx[4:36]
		var sumi int32
		for j, q := range bw[4:20] {
			sumi += int32(q&0x0f) * int32(int8(qx[j]))
			sumi += int32(q>>4) * int32(int8(qx[j+16]))
		}
		sum += float32(float32(sumi)*(half(bw)*half(bx))) + float32(half(bw[2:])*half(bx[2:]))
		w, x = w[sizeQ4_1:], x[sizeQ8_1:]
	}
	return sum
}

func dotQ5_1Q8_1(n int, w, x []byte) float32 {
	var sum float32
	for range n / 32 {
		bw, bx := w[:sizeQ5_1], x[:sizeQ8_1]
		qh := binary.LittleEndian.Uint32(bw[4:])
		qx := bx[4:36]
		var sumi int32
		for j, q := range bw[8:24] {
			h0 := (qh >> j << 4) & 0x10
			h1 := (qh >> (j + 12)) & 0x10
			sumi += int32(uint32(q&0x0f)|h0) * int32(int8(qx[j]))
			sumi += int32(uint32(q>>4)|h1) * int32(int8(qx[j+16]))
		}
		sum += float32(float32(sumi)*(half(bw)*half(bx))) + float32(half(bw[2:])*half(bx[2:]))
		w, x = w[sizeQ5_1:], x[sizeQ8_1:]
	}
	return sum
}

// q8K splits a Q8_K block into its scale, values and 16-value sums.
func q8K(b []byte) (d float32, qs []byte, bsum func(j int) int32) {
	d = math.Float32frombits(binary.LittleEndian.Uint32(b))
	qs = b[4 : 4+QK_K]
	sums := b[4+QK_K : sizeQ8_K]
	return d, qs, func(j int) int32 { return int32(int16(binary.LittleEndian.Uint16(sums[2*j:]))) }
}

func dotQ4_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	for range n / QK_K {
		bw := w[:sizeQ4_K]
		dy, qy, bsum := q8K(x[:sizeQ8_K])
		scales, qs := bw[4:16], bw[16:144]
		var sumi, sumMins int32
		for g := range 4 {
			q := qs[32*g : 32*g+32]
			y := qy[64*g : 64*g+64]
			sc1, m1 := scaleMinK4(2*g, scales)
			sc2, m2 := scaleMinK4(2*g+1, scales)
			var lo, hi int32
			for l, v := range q {
				lo += int32(v&0x0f) * int32(int8(y[l]))
				hi += int32(v>>4) * int32(int8(y[l+32]))
			}
			sumi += int32(sc1)*lo + int32(sc2)*hi
			sumMins += int32(m1)*(bsum(4*g)+bsum(4*g+1)) + int32(m2)*(bsum(4*g+2)+bsum(4*g+3))
		}
		sum += float32(float32(dy*half(bw))*float32(sumi)) - float32(float32(dy*half(bw[2:]))*float32(sumMins))
		w, x = w[sizeQ4_K:], x[sizeQ8_K:]
	}
	return sum
}

func dotQ5_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	for range n / QK_K {
		bw := w[:sizeQ5_K]
		dy, qy, bsum := q8K(x[:sizeQ8_K])
		scales, qh, qs := bw[4:16], bw[16:48], bw[48:176]
		var sumi, sumMins int32
		for g := range 4 {
			q := qs[32*g : 32*g+32]
			y := qy[64*g : 64*g+64]
			sc1, m1 := scaleMinK4(2*g, scales)
			sc2, m2 := scaleMinK4(2*g+1, scales)
			s1, s2 := uint(2*g), uint(2*g+1)
			var lo, hi int32
			for l, v := range q {
				h := qh[l]
				lo += int32(v&0x0f|(h>>s1&1)<<4) * int32(int8(y[l]))
				hi += int32(v>>4|(h>>s2&1)<<4) * int32(int8(y[l+32]))
			}
			sumi += int32(sc1)*lo + int32(sc2)*hi
			sumMins += int32(m1)*(bsum(4*g)+bsum(4*g+1)) + int32(m2)*(bsum(4*g+2)+bsum(4*g+3))
		}
		sum += float32(float32(dy*half(bw))*float32(sumi)) - float32(float32(dy*half(bw[2:]))*float32(sumMins))
		w, x = w[sizeQ5_K:], x[sizeQ8_K:]
	}
	return sum
}

func dotQ6_KQ8_K(n int, w, x []byte) float32 {
	var sum float32
	for range n / QK_K {
		bw := w[:sizeQ6_K]
		dy, qy, _ := q8K(x[:sizeQ8_K])
		var sumi int32
		for h := range 2 {
			ql := bw[64*h : 64*h+64]
			qh := bw[128+32*h : 128+32*h+32]
			sc := bw[192+8*h : 192+8*h+8]
			y := qy[128*h : 128*h+128]
			// Four groups of 32 values, each split into two scales of 16.
			var part [8]int32
			for l := range 32 {
				hb := qh[l]
				q1 := int32(ql[l]&0x0f|(hb&3)<<4) - 32
				q2 := int32(ql[l+32]&0x0f|(hb>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(hb>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(hb>>6&3)<<4) - 32
				is := l / 16
				part[is] += q1 * int32(int8(y[l]))
				part[is+2] += q2 * int32(int8(y[l+32]))
				part[is+4] += q3 * int32(int8(y[l+64]))
				part[is+6] += q4 * int32(int8(y[l+96]))
			}
			for j, p := range part {
				sumi += int32(int8(sc[j])) * p
			}
		}
		sum += float32(float32(half(bw[208:])*dy) * float32(sumi))
		w, x = w[sizeQ6_K:], x[sizeQ8_K:]
	}
	return sum
}
