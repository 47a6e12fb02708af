package tensor_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// These tests compare DefaultKernels (the assembly kernels on amd64 with
// AVX2, FMA and F16C, with the VNNI tiles where the CPU has AVX-512 VNNI)
// with ReferenceKernels; TestMatFuncIdentical checks the tiles of every
// table of KernelSets. Under the purego build tag, or
// on another platform, DefaultKernels is the reference and they compare it
// with itself.
//
// Equality rules:
//
//   - Q4_K, Q5_K, Q6_K: bit-identical. The kernels reduce each super-block
//     to exact int32 sums and then do the block's float arithmetic in the
//     reference's order.
//   - Every kernel, when every float operation is exact (unit scales and
//     small integer values, so that all products and partial sums are
//     integers below 2^24): bit-identical.
//   - Q8_0, Q4_0, Q5_0 in general: the kernels keep eight float lanes per
//     accumulator and FMA the block scale into them, where the reference
//     adds one rounded product per block in sequence. Both are within
//     (blocks+O(1))·2^-24·S of the exact sum, S = Σ|block terms| = Σ|w_i·x_i|
//     of the dequantized values, so they must agree within
//     (2·blocks+16)·2^-24·S.
//   - F32, F16, BF16: the reference rounds each product to float32 and sums
//     in float64; the kernels use float32 FMA into 32 lanes. Tolerance
//     (n/8+64)·2^-24·S.

// dotTypes are the weight types the kernels cover.
var dotTypes = []tensor.Type{
	tensor.F32, tensor.F16, tensor.BF16, tensor.Q8_0, tensor.Q4_0, tensor.Q5_0,
	tensor.Q4_1, tensor.Q5_1, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K,
}

// scaleMode says what to put in the float scale fields of random blocks.
type scaleMode int

const (
	scaleRandom scaleMode = iota // small finite values of either sign
	scaleOne                     // 1.0, for exact arithmetic
	scaleZero
	scaleNaN
	scaleInf
	scaleEdge // each block one of: ±subnormal, -0, ±65504, 1, -0.33
)

// scaleOffsets returns the offsets of the f16 scale fields in a block of t.
func scaleOffsets(t tensor.Type) []int {
	switch t {
	case tensor.Q8_0, tensor.Q4_0, tensor.Q5_0:
		return []int{0}
	case tensor.Q4_1, tensor.Q5_1, tensor.Q4_K, tensor.Q5_K:
		return []int{0, 2}
	case tensor.Q6_K:
		return []int{208}
	}
	return nil
}

func f16Scale(r *rand.Rand, mode scaleMode) uint16 {
	switch mode {
	case scaleOne:
		return 0x3c00
	case scaleZero:
		return 0
	case scaleNaN:
		return 0x7e00
	case scaleInf:
		return 0x7c00 | uint16(r.IntN(2))<<15
	case scaleEdge:
		edges := []uint16{0x0001, 0x8001, 0x03ff, 0x8000, 0x7bff, 0xfbff, 0x3c00, 0xb548}
		return edges[r.IntN(len(edges))]
	}
	v := float32(r.Float64()*0.1 + 0.001)
	if r.IntN(2) == 0 {
		v = -v
	}
	return tensor.FP32ToFP16(v)
}

// randomWeights returns n values of type t. Quantized types get random
// bytes with scale fields set by mode (in every block, or in one random
// block for NaN and Inf); float types get random small integers for
// scaleOne and normal values otherwise.
func randomWeights(r *rand.Rand, t tensor.Type, n int, mode scaleMode) []byte {
	b := make([]byte, mustRows(t, n))
	if !t.IsQuantized() {
		x := make([]float32, n)
		for i := range x {
			if mode == scaleOne {
				x[i] = float32(r.IntN(33) - 16)
			} else {
				x[i] = float32(r.NormFloat64())
			}
		}
		if err := tensor.Quantize(t, x, b); err != nil {
			panic(err)
		}
		return b
	}
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	bs := t.TypeSize()
	special := -1
	if mode == scaleNaN || mode == scaleInf {
		special = r.IntN(len(b) / bs)
	}
	for blk := 0; blk < len(b)/bs; blk++ {
		for _, off := range scaleOffsets(t) {
			m := mode
			if special >= 0 && blk != special {
				m = scaleRandom
			}
			binary.LittleEndian.PutUint16(b[blk*bs+off:], f16Scale(r, m))
		}
	}
	return b
}

func mustRows(t tensor.Type, n int) int {
	nb, err := t.RowBytes(n)
	if err != nil {
		panic(err)
	}
	return nb
}

// randomActs returns n activations encoded as xt: quantized from normal
// values, or for scaleOne built directly with unit scales and random
// values in [-127, 127] (extreme: only ±127), with correct Q8_K sums.
func randomActs(r *rand.Rand, xt tensor.Type, n int, mode scaleMode, extreme bool) []byte {
	b := make([]byte, mustRows(xt, n))
	if mode != scaleOne || !xt.IsQuantized() {
		x := make([]float32, n)
		for i := range x {
			switch {
			case mode == scaleOne:
				x[i] = float32(r.IntN(33) - 16)
			case extreme:
				x[i] = float32(1 - 2*r.IntN(2))
			default:
				x[i] = float32(r.NormFloat64())
			}
		}
		if err := tensor.QuantizeActivations(xt, x, b); err != nil {
			panic(err)
		}
		return b
	}
	q := func() byte {
		if extreme {
			return byte(int8(127 - 254*r.IntN(2)))
		}
		return byte(int8(r.IntN(255) - 127))
	}
	switch xt {
	case tensor.Q8_0, tensor.Q8_1:
		size, off := 34, 2
		if xt == tensor.Q8_1 {
			size, off = 36, 4
		}
		for blk := 0; blk < n/32; blk++ {
			bb := b[blk*size:]
			binary.LittleEndian.PutUint16(bb, 0x3c00)
			var s int
			for j := range 32 {
				bb[off+j] = q()
				s += int(int8(bb[off+j]))
			}
			if xt == tensor.Q8_1 {
				binary.LittleEndian.PutUint16(bb[2:], tensor.FP32ToFP16(float32(s)))
			}
		}
	case tensor.Q8_K:
		for blk := 0; blk < n/256; blk++ {
			bb := b[blk*292:]
			binary.LittleEndian.PutUint32(bb, math.Float32bits(1))
			for j := range 256 {
				bb[4+j] = q()
			}
			for g := range 16 {
				var s int16
				for _, v := range bb[4+16*g : 4+16*g+16] {
					s += int16(int8(v))
				}
				binary.LittleEndian.PutUint16(bb[260+2*g:], uint16(s))
			}
		}
	}
	return b
}

// absScale returns Σ|w_i·x_i| of the dequantized weights and activations.
func absScale(t *testing.T, typ tensor.Type, n int, w, x []byte) float64 {
	wd := make([]float32, n)
	if err := tensor.Dequantize(typ, w, wd); err != nil {
		t.Fatal(err)
	}
	xt, _ := tensor.VecDotType(typ)
	xd := dequantActivations(t, xt, x, n)
	var s float64
	for i := range wd {
		s += math.Abs(float64(wd[i]) * float64(xd[i]))
	}
	return s
}

// tolerance returns the allowed |default - reference| for a dot product
// of n values of typ (see the comment at the top of the file), and whether
// the results must be bit-identical.
func tolerance(typ tensor.Type, n int, scale float64) (float64, bool) {
	const u = 1.0 / (1 << 24)
	switch typ {
	case tensor.Q4_K, tensor.Q5_K, tensor.Q6_K, tensor.Q4_1, tensor.Q5_1:
		return 0, true // Q4_1, Q5_1 have no assembly kernels
	case tensor.Q8_0, tensor.Q4_0, tensor.Q5_0:
		return float64(2*n/32+16) * u * scale, false
	}
	return float64(n/8+64) * u * scale, false
}

// blockCounts are the lengths tested, in blocks: one block, odd counts,
// counts around the 4-block unrolling, and a realistic row.
func lengths(typ tensor.Type) []int {
	bs := typ.BlockSize()
	if bs == 1 {
		return []int{1, 2, 7, 8, 9, 15, 31, 32, 33, 40, 63, 64, 65, 100, 896, 4864}
	}
	var ns []int
	for _, nb := range []int{1, 2, 3, 4, 5, 7, 8, 9, 13} {
		ns = append(ns, nb*bs)
	}
	if bs == 32 {
		return append(ns, 896, 4864)
	}
	return append(ns, 4864) // 19 super-blocks
}

func TestKernelsAgree(t *testing.T) {
	def, ref := tensor.DefaultKernels(), tensor.ReferenceKernels()
	t.Logf("default kernels: %s", def.Name)
	r := rand.New(rand.NewPCG(11, 12))
	for _, typ := range dotTypes {
		xt, _ := tensor.VecDotType(typ)
		for _, n := range lengths(typ) {
			for trial := range 4 {
				w := randomWeights(r, typ, n, scaleRandom)
				x := randomActs(r, xt, n, scaleRandom, trial == 3)
				got, err := def.Dot(typ, n, w, x)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := ref.Dot(typ, n, w, x)
				tol, exact := tolerance(typ, n, absScale(t, typ, n, w, x))
				if exact && math.Float32bits(got) != math.Float32bits(want) ||
					!exact && !(math.Abs(float64(got)-float64(want)) <= tol) {
					t.Errorf("%v n=%d trial %d: %s %v, reference %v (tolerance %g)", typ, n, trial, def.Name, got, want, tol)
				}
			}
		}
	}
}

// TestKernelsExact uses unit scales and small integers, so that every
// float operation of both implementations is exact: the results must be
// bit-identical for every type. Integer extremes (weights of -128 or 127,
// activations of ±127) are included.
func TestKernelsExact(t *testing.T) {
	def, ref := tensor.DefaultKernels(), tensor.ReferenceKernels()
	r := rand.New(rand.NewPCG(13, 14))
	for _, typ := range dotTypes {
		xt, _ := tensor.VecDotType(typ)
		for _, n := range lengths(typ) {
			if typ.BlockSize() == 32 && n > 896 {
				continue // keep |Σ| < 2^24 so that float sums stay exact
			}
			for trial := range 3 {
				extreme := trial > 0
				w := randomWeights(r, typ, n, scaleOne)
				if extreme && typ == tensor.Q8_0 {
					for blk := 0; blk < n/32; blk++ {
						for j := range 32 {
							w[blk*34+2+j] = byte(int8([]int{-128, 127, -127}[r.IntN(3)]))
						}
					}
				}
				if extreme && (typ == tensor.Q4_1 || typ == tensor.Q5_1 || typ == tensor.Q4_K || typ == tensor.Q5_K || typ == tensor.Q6_K) {
					for i := range w {
						w[i] |= 0xff &^ byte(r.IntN(2)) // mostly all-ones nibbles and bits
					}
					for blk := 0; blk < len(w)/typ.TypeSize(); blk++ {
						for _, off := range scaleOffsets(typ) {
							binary.LittleEndian.PutUint16(w[blk*typ.TypeSize()+off:], 0x3c00)
						}
					}
				}
				x := randomActs(r, xt, n, scaleOne, extreme)
				got, _ := def.Dot(typ, n, w, x)
				want, _ := ref.Dot(typ, n, w, x)
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("%v n=%d trial %d: %s %v, reference %v", typ, n, trial, def.Name, got, want)
				}
			}
		}
	}
}

// TestKernelsSpecialScales checks zero, NaN and infinite scales (and F16
// and BF16 values). Zero scales must give exactly the reference result.
// With a NaN anywhere both must be NaN. With an infinite scale, the
// k-quant kernels must match exactly; the 32-block and float kernels must
// also be non-finite, but may give NaN where the reference gives ±Inf,
// since their lanes can hold infinities of both signs.
func TestKernelsSpecialScales(t *testing.T) {
	def, ref := tensor.DefaultKernels(), tensor.ReferenceKernels()
	r := rand.New(rand.NewPCG(15, 16))
	for _, typ := range dotTypes {
		xt, _ := tensor.VecDotType(typ)
		for _, mode := range []scaleMode{scaleZero, scaleNaN, scaleInf} {
			for _, n := range lengths(typ)[:6] {
				var w []byte
				if typ.IsQuantized() {
					w = randomWeights(r, typ, n, mode)
				} else {
					w = randomWeights(r, typ, n, scaleRandom)
					setSpecial(r, typ, w, mode)
				}
				x := randomActs(r, xt, n, scaleRandom, false)
				got, _ := def.Dot(typ, n, w, x)
				want, _ := ref.Dot(typ, n, w, x)
				_, exact := tolerance(typ, n, 0)
				name := fmt.Sprintf("%v n=%d mode %d", typ, n, mode)
				switch {
				case mode == scaleZero && typ.IsQuantized():
					if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
						t.Errorf("%s: %v, reference %v", name, got, want)
					}
				case exact || math.IsNaN(float64(want)):
					if !sameFloat(got, want) {
						t.Errorf("%s: %v, reference %v", name, got, want)
					}
				case math.IsInf(float64(want), 0):
					if !math.IsNaN(float64(got)) && got != want {
						t.Errorf("%s: %v, reference %v", name, got, want)
					}
				}
			}
		}
	}
}

// setSpecial writes zero, NaN or ±Inf into random elements of float
// weights.
func setSpecial(r *rand.Rand, typ tensor.Type, w []byte, mode scaleMode) {
	es := mustRows(typ, 1)
	n := len(w) / es
	var v float32
	switch mode {
	case scaleNaN:
		v = float32(math.NaN())
	case scaleInf:
		v = float32(math.Inf(1 - 2*r.IntN(2)))
	}
	for range 1 + n/8 {
		i := r.IntN(n)
		switch typ {
		case tensor.F32:
			binary.LittleEndian.PutUint32(w[4*i:], math.Float32bits(v))
		case tensor.F16:
			binary.LittleEndian.PutUint16(w[2*i:], tensor.FP32ToFP16(v))
		case tensor.BF16:
			binary.LittleEndian.PutUint16(w[2*i:], tensor.FP32ToBF16(v))
		}
	}
}

// sameFloat reports whether a and b are both NaN or bit-identical.
func sameFloat(a, b float32) bool {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) {
		return math.IsNaN(float64(a)) && math.IsNaN(float64(b))
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// TestMatVecReferenceDefault is TestMatVecReference for DefaultKernels:
// ggml's own y for the synthetic models' ffn_down within 1e-5·max|y|.
func TestMatMulAgrees(t *testing.T) {
	def := tensor.DefaultKernels()
	r := rand.New(rand.NewPCG(17, 18))
	for _, typ := range []tensor.Type{tensor.Q8_0, tensor.Q4_K, tensor.F16} {
		const rows, cols, nx = 37, 512, 5
		xt, _ := tensor.VecDotType(typ)
		w := randomWeights(r, typ, rows*cols, scaleRandom)
		var x []byte
		for range nx {
			x = append(x, randomActs(r, xt, cols, scaleRandom, false)...)
		}
		xrb := mustRows(xt, cols)
		want := make([]float32, rows)
		for _, g := range []tensor.Goroutines{1, 2, 3} {
			got := make([]float32, rows*nx)
			if err := def.MatMul(g, typ, cols, w, x, nx, got); err != nil {
				t.Fatal(err)
			}
			for i := range nx {
				if err := def.MatVec(typ, cols, w, x[i*xrb:(i+1)*xrb], want); err != nil {
					t.Fatal(err)
				}
				for row := range rows {
					if math.Float32bits(got[i*rows+row]) != math.Float32bits(want[row]) {
						t.Fatalf("%v goroutines %d: y[%d][%d] = %v, MatVec %v", typ, g, i, row, got[i*rows+row], want[row])
					}
				}
			}
			gotv := make([]float32, rows)
			if err := def.MatVecParallel(g, typ, cols, w, x[:xrb], gotv); err != nil {
				t.Fatal(err)
			}
			if err := def.MatVec(typ, cols, w, x[:xrb], want); err != nil {
				t.Fatal(err)
			}
			for row := range rows {
				if gotv[row] != want[row] {
					t.Fatalf("%v MatVecParallel(%d) row %d: %v, MatVec %v", typ, g, row, gotv[row], want[row])
				}
			}
		}
	}
	if err := def.MatMul(nil, tensor.Q8_0, 32, make([]byte, 34*2), make([]byte, 34*3), 3, make([]float32, 5)); err == nil {
		t.Error("MatMul accepted 5 outputs for 3 vectors")
	}
	if err := def.MatMul(nil, tensor.Q8_0, 32, make([]byte, 34*2), make([]byte, 34*2), 3, make([]float32, 6)); err == nil {
		t.Error("MatMul accepted 2 activation vectors for 3")
	}
}

func TestMeasureBandwidth(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 256 MiB")
	}
	bw := tensor.MeasureBandwidthThreads(0, 1)
	if !(bw > 1e8 && bw < 1e13) {
		t.Errorf("bandwidth %g B/s is implausible", bw)
	}
	t.Logf("one goroutine: %.1f GB/s", bw/1e9)
	for _, threads := range []int{0, 1, 3} {
		p := tensor.NewBandwidthProbe(threads)
		n := p.Bytes()
		if n < 255<<20 || n > 256<<20 || n%(max(1, threads)*256) != 0 {
			t.Errorf("%d goroutines: a pass reads %d bytes, want whole 256-byte runs per goroutine within 256 MiB", threads, n)
		}
		if d := p.Pass(); d <= 0 || float64(n)/d.Seconds() > 1e13 {
			t.Errorf("%d goroutines: a pass of %d bytes took %v", threads, n, d)
		}
		p.Close()
	}
}
