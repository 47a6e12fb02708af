package tensor_test

import (
	"bytes"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// dequantTensor dequantizes a whole tensor of f.
func dequantTensor(tb testing.TB, f *gguf.File, name string) (gguf.TensorInfo, []float32) {
	tb.Helper()
	ti, b, ok := f.Tensor(name)
	if !ok {
		tb.Fatalf("no tensor %q", name)
	}
	out := make([]float32, ti.NumElements())
	if err := tensor.Dequantize(ti.Type, b, out); err != nil {
		tb.Fatalf("Dequantize %s (%v): %v", name, ti.Type, err)
	}
	return ti, out
}

// TestMatvecRows checks that dequantizing rows 0 and 1 of
// blk.0.ffn_down.weight gives exactly the rows ggml dequantized, which the
// synthetic README stores at the end of each X.gguf.matvec.f32.
func TestMatvecRows(t *testing.T) {
	files := []string{
		"llama-tiny-F16.gguf", "llama-tiny-BF16.gguf", "llama-tiny-Q8_0.gguf",
		"llama-tiny-Q4_0.gguf", "llama-tiny-Q4_1.gguf", "llama-tiny-Q5_0.gguf",
		"llama-tiny-Q5_1.gguf", "llama-tiny-Q4_K.gguf", "llama-tiny-Q5_K.gguf",
		"llama-tiny-Q6_K.gguf", "llama-tiny-Q4_K_M.gguf", "qwen2-tiny-Q8_0.gguf",
		"qwen2-tiny-Q4_K.gguf", "llama-bpe-tiny-Q8_0.gguf",
	}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			f := openGGUF(t, name)
			ti, w := dequantTensor(t, f, "blk.0.ffn_down.weight")
			k, n := int(ti.Dims[0]), int(ti.Dims[1])
			mv := readF32s(t, filepath.Join(syntheticDir(t), name+".matvec.f32"))
			if len(mv) != k+n+2*k {
				t.Fatalf("matvec file has %d floats, want %d for K=%d N=%d", len(mv), 3*k+n, k, n)
			}
			rows := mv[k+n:]
			bad := 0
			for i := range rows {
				if math.Float32bits(rows[i]) != math.Float32bits(w[i]) {
					if bad < 5 {
						t.Errorf("row %d col %d: got %v (%#x), want %v (%#x)", i/k, i%k, w[i], math.Float32bits(w[i]), rows[i], math.Float32bits(rows[i]))
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ from ggml's dequantization (%v)", bad, len(rows), ti.Type)
			}
		})
	}
}

// TestQuantizeMatchesLlamaQuantize quantizes every 2-D tensor of the F32
// synthetic model and compares the bytes with llama-quantize's output for
// the types whose reference quantizer this package implements.
func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	pairs := []struct{ src, dst string }{
		{"llama-tiny-F32.gguf", "llama-tiny-F16.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-BF16.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q8_0.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q4_0.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q4_1.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q5_0.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q5_1.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q4_K.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q5_K.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q6_K.gguf"},
		{"llama-tiny-F32.gguf", "llama-tiny-Q4_K_M.gguf"},
		{"qwen2-tiny-F32.gguf", "qwen2-tiny-Q8_0.gguf"},
		{"qwen2-tiny-F32.gguf", "qwen2-tiny-Q4_K.gguf"},
		// stories260K (one folder up): its ffn_down stays F16 in the Q8_0
		// and Q4_0 files, and output.weight is Q8_0 in the Q4_0 file.
		{"../stories260K.gguf", "../stories260K-F16.gguf"},
		{"../stories260K.gguf", "../stories260K-Q8_0.gguf"},
		{"../stories260K.gguf", "../stories260K-Q4_0.gguf"},
	}
	for _, p := range pairs {
		t.Run(p.dst, func(t *testing.T) {
			src, dst := openGGUF(t, p.src), openGGUF(t, p.dst)
			checked := 0
			for _, ti := range dst.Tensors {
				if !tensor.CanQuantize(ti.Type) || ti.Type == tensor.F32 {
					continue
				}
				checked++
				_, x := dequantTensor(t, src, ti.Name)
				_, want, _ := dst.Tensor(ti.Name)
				got := make([]byte, len(want))
				if err := tensor.Quantize(ti.Type, x, got); err != nil {
					t.Fatalf("%s: %v", ti.Name, err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s (%v): %s", ti.Name, ti.Type, firstBlockDiff(ti.Type, got, want))
				}
			}
			if checked == 0 {
				t.Error("no tensor compared")
			}
		})
	}
}

// firstBlockDiff describes where two encodings first differ.
func firstBlockDiff(typ tensor.Type, got, want []byte) string {
	bs := typ.TypeSize()
	n := 0
	first := -1
	for i := 0; i+bs <= len(got); i += bs {
		if !bytes.Equal(got[i:i+bs], want[i:i+bs]) {
			if first < 0 {
				first = i / bs
			}
			n++
		}
	}
	if first < 0 {
		return "equal"
	}
	return fmt.Sprintf("%d of %d blocks differ, first block %d:\n got %x\nwant %x", n, len(got)/bs, first, got[first*bs:(first+1)*bs], want[first*bs:(first+1)*bs])
}

// TestDequantizeNearF32 dequantizes every tensor of each quantized
// synthetic model and compares it with the F32 model's tensor: the relative
// RMS error must be what the type's precision allows.
func TestDequantizeNearF32(t *testing.T) {
	tests := []struct {
		file   string
		maxRMS float64
	}{
		{"llama-tiny-F16.gguf", 1e-3},
		{"llama-tiny-BF16.gguf", 5e-3},
		{"llama-tiny-Q8_0.gguf", 0.01},
		{"llama-tiny-Q6_K.gguf", 0.03},
		{"llama-tiny-Q5_0.gguf", 0.05},
		{"llama-tiny-Q5_1.gguf", 0.05},
		{"llama-tiny-Q5_K.gguf", 0.05},
		{"llama-tiny-Q4_0.gguf", 0.12},
		{"llama-tiny-Q4_1.gguf", 0.12},
		{"llama-tiny-Q4_K.gguf", 0.12},
		{"llama-tiny-Q4_K_M.gguf", 0.12},
	}
	ref := openGGUF(t, "llama-tiny-F32.gguf")
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := openGGUF(t, tc.file)
			for _, ti := range f.Tensors {
				_, got := dequantTensor(t, f, ti.Name)
				_, want := dequantTensor(t, ref, ti.Name)
				var se, sx float64
				for i := range want {
					d := float64(got[i] - want[i])
					se += d * d
					sx += float64(want[i]) * float64(want[i])
				}
				if rms := math.Sqrt(se / sx); rms > tc.maxRMS {
					t.Errorf("%s (%v): relative RMS error %.3g > %.3g", ti.Name, ti.Type, rms, tc.maxRMS)
				}
			}
		})
	}
}
