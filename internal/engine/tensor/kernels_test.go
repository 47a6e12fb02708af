package tensor_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestMatVecReference reproduces the kernel-level check of the synthetic
// README: W·x for blk.0.ffn_down.weight with activations quantized the way
// ggml's CPU backend does must land within 1e-5·max|y| of ggml's y.
func TestMatVecReference(t *testing.T) {
	files := []string{
		"llama-tiny-F16.gguf", "llama-tiny-BF16.gguf", "llama-tiny-Q8_0.gguf",
		"llama-tiny-Q4_0.gguf", "llama-tiny-Q4_1.gguf", "llama-tiny-Q5_0.gguf",
		"llama-tiny-Q5_1.gguf", "llama-tiny-Q4_K.gguf", "llama-tiny-Q5_K.gguf",
		"llama-tiny-Q6_K.gguf", "llama-tiny-Q4_K_M.gguf", "qwen2-tiny-Q8_0.gguf",
		"qwen2-tiny-Q4_K.gguf", "llama-bpe-tiny-Q8_0.gguf",
	}
	for _, k := range []*tensor.Kernels{tensor.ReferenceKernels(), tensor.DefaultKernels()} {
		for _, name := range files {
			t.Run(k.Name+"/"+name, func(t *testing.T) {
				matVecReference(t, k, name)
			})
		}
	}
}

// matVecReference runs one file of TestMatVecReference with kernels k.
func matVecReference(t *testing.T, k *tensor.Kernels, name string) {
	{
		{
			f := openGGUF(t, name)
			ti, w, _ := f.Tensor("blk.0.ffn_down.weight")
			cols, rows := int(ti.Dims[0]), int(ti.Dims[1])
			mv := readF32s(t, filepath.Join(syntheticDir(t), name+".matvec.f32"))
			x, want := mv[:cols], mv[cols:cols+rows]
			xt, ok := tensor.VecDotType(ti.Type)
			if !ok {
				t.Fatalf("no vec dot type for %v", ti.Type)
			}
			xb, _ := xt.RowBytes(cols)
			xq := make([]byte, xb)
			if err := tensor.QuantizeActivations(xt, x, xq); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, rows)
			if err := k.MatVec(ti.Type, cols, w, xq, got); err != nil {
				t.Fatal(err)
			}
			var ymax, dmax float64
			for i := range want {
				ymax = max(ymax, math.Abs(float64(want[i])))
				dmax = max(dmax, math.Abs(float64(got[i]-want[i])))
			}
			if dmax > 1e-5*ymax {
				t.Errorf("%v: max |Δy| = %g > 1e-5 × max|y| = %g", ti.Type, dmax, 1e-5*ymax)
			}
			t.Logf("%v: max |Δy| / max|y| = %.3g", ti.Type, dmax/ymax)
		}
	}
}

// TestDotMatchesDequantized checks every kernel against a float64 dot
// product of the dequantized weights and dequantized activations, which
// must agree up to float32 rounding.
func TestDotMatchesDequantized(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n = 1024
	w := make([]float32, n)
	x := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64())
		x[i] = float32(r.NormFloat64())
	}
	k := tensor.ReferenceKernels()
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.BF16, tensor.Q4_0, tensor.Q4_1, tensor.Q5_0, tensor.Q5_1, tensor.Q8_0, tensor.Q4_K, tensor.Q5_K, tensor.Q6_K} {
		wb := quantizeAny(t, typ, w)
		xt, _ := tensor.VecDotType(typ)
		xb := make([]byte, mustRowBytes(t, xt, n))
		if err := tensor.QuantizeActivations(xt, x, xb); err != nil {
			t.Fatal(err)
		}
		wd := make([]float32, n)
		if err := tensor.Dequantize(typ, wb, wd); err != nil {
			t.Fatal(err)
		}
		xd := dequantActivations(t, xt, xb, n)
		var want, scale float64
		for i := range wd {
			want += float64(wd[i]) * float64(xd[i])
			scale += math.Abs(float64(wd[i]) * float64(xd[i]))
		}
		got, err := k.Dot(typ, n, wb, xb)
		if err != nil {
			t.Fatal(err)
		}
		if d := math.Abs(float64(got) - want); d > 1e-5*scale {
			t.Errorf("%v: Dot = %g, dequantized dot = %g (|Δ| %g > 1e-5 × %g)", typ, got, want, d, scale)
		}
	}
}

// quantizeAny encodes w as typ: with Quantize where supported, otherwise by
// building blocks from a type Quantize supports is not possible, so the
// remaining types (Q4_1, Q5_0, Q5_1, Q5_K) get random bytes with sane
// scales.
func quantizeAny(t *testing.T, typ tensor.Type, w []float32) []byte {
	t.Helper()
	b := make([]byte, mustRowBytes(t, typ, len(w)))
	if tensor.CanQuantize(typ) {
		if err := tensor.Quantize(typ, w, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	r := rand.New(rand.NewPCG(uint64(typ), 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	// Overwrite the f16 scale fields with small finite values.
	f16 := func(off int) {
		h := tensor.FP32ToFP16(float32(r.Float64()*0.1 + 0.01))
		b[off], b[off+1] = byte(h), byte(h>>8)
	}
	bs := typ.TypeSize()
	for o := 0; o < len(b); o += bs {
		switch typ {
		case tensor.Q4_1, tensor.Q5_1, tensor.Q5_K:
			f16(o)
			f16(o + 2)
		case tensor.Q5_0:
			f16(o)
		}
	}
	return b
}

func mustRowBytes(t *testing.T, typ tensor.Type, n int) int {
	t.Helper()
	nb, err := typ.RowBytes(n)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// dequantActivations decodes activations of the Q8 types by hand (they are
// not weight types Dequantize supports).
func dequantActivations(t *testing.T, typ tensor.Type, b []byte, n int) []float32 {
	t.Helper()
	out := make([]float32, n)
	switch typ {
	case tensor.Q8_0, tensor.F32, tensor.F16, tensor.BF16:
		if err := tensor.Dequantize(typ, b, out); err != nil {
			t.Fatal(err)
		}
	case tensor.Q8_1:
		for i := 0; i < n; i += 32 {
			blk := b[i/32*36:]
			d := tensor.FP16ToFP32(uint16(blk[0]) | uint16(blk[1])<<8)
			for j := range 32 {
				out[i+j] = d * float32(int8(blk[4+j]))
			}
		}
	case tensor.Q8_K:
		for i := 0; i < n; i += 256 {
			blk := b[i/256*292:]
			d := math.Float32frombits(uint32(blk[0]) | uint32(blk[1])<<8 | uint32(blk[2])<<16 | uint32(blk[3])<<24)
			for j := range 256 {
				out[i+j] = d * float32(int8(blk[4+j]))
			}
		}
	default:
		t.Fatalf("no decoder for %v", typ)
	}
	return out
}

func TestQuantizeActivationsQ8K(t *testing.T) {
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i%16) - 4 // largest magnitude 11 (positive)
	}
	b := make([]byte, 292)
	if err := tensor.QuantizeActivations(tensor.Q8_K, x, b); err != nil {
		t.Fatal(err)
	}
	d := math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	if want := float32(1) / (float32(-127) / 11); d != want {
		t.Errorf("d = %v, want %v", d, want)
	}
	// The max maps to -127 (iscale is negative for a positive max).
	if q := int8(b[4+15]); q != -127 {
		t.Errorf("q[15] = %d, want -127", q)
	}
	var sum int16
	for j := range 16 {
		sum += int16(int8(b[4+j]))
	}
	if got := int16(uint16(b[260]) | uint16(b[261])<<8); got != sum {
		t.Errorf("bsums[0] = %d, want %d", got, sum)
	}
}

func TestKernelErrors(t *testing.T) {
	k := tensor.ReferenceKernels()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unsupported", func() error { _, err := k.Dot(tensor.Q2_K, 256, make([]byte, 84), make([]byte, 292)); return err }(), tensor.ErrUnsupported},
		{"short weights", func() error { _, err := k.Dot(tensor.Q8_0, 32, make([]byte, 33), make([]byte, 34)); return err }(), tensor.ErrBadLength},
		{"short activations", func() error { _, err := k.Dot(tensor.Q4_K, 256, make([]byte, 144), make([]byte, 291)); return err }(), tensor.ErrBadLength},
		{"matvec rows", k.MatVec(tensor.Q8_0, 32, make([]byte, 34*3), make([]byte, 34), make([]float32, 2)), tensor.ErrBadLength},
		{"activations unsupported", tensor.QuantizeActivations(tensor.Q4_0, make([]float32, 32), make([]byte, 18)), tensor.ErrUnsupported},
		{"activations length", tensor.QuantizeActivations(tensor.Q8_0, make([]float32, 32), make([]byte, 33)), tensor.ErrBadLength},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}
