package gguf

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestSharedFiles parses every GGUF file of the shared test data and checks
// the facts their READMEs state.
func TestSharedFiles(t *testing.T) {
	td := filepath.Join(sharedDir(t), "testdata")
	type want struct {
		tensors   int
		arch      string
		tokModel  string
		tokens    int
		merges    int
		typeCount map[tensor.Type]int // counts of 2-D tensor types, when checked
	}
	tests := map[string]want{
		"models/stories260K.gguf":      {tensors: 48, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 48}},
		"models/stories260K-F16.gguf":  {tensors: 48, arch: "llama", tokModel: "llama", tokens: 512},
		"models/stories260K-Q8_0.gguf": {tensors: 48, arch: "llama", tokModel: "llama", tokens: 512},
		"models/stories260K-Q4_0.gguf": {tensors: 48, arch: "llama", tokModel: "llama", tokens: 512},

		"tokenizer/ggml-vocab-llama-spm.gguf":      {arch: "llama", tokModel: "llama", tokens: 32000},
		"tokenizer/ggml-vocab-phi-3.gguf":          {arch: "phi3", tokModel: "llama", tokens: 32064},
		"tokenizer/ggml-vocab-baichuan.gguf":       {arch: "baichuan", tokModel: "llama", tokens: 64000},
		"tokenizer/ggml-vocab-deepseek-coder.gguf": {arch: "llama", tokModel: "gpt2", tokens: 32256, merges: 31757},
		"tokenizer/ggml-vocab-deepseek-llm.gguf":   {arch: "llama", tokModel: "gpt2", tokens: 102400, merges: 99757},
		"tokenizer/ggml-vocab-falcon.gguf":         {arch: "falcon", tokModel: "gpt2", tokens: 65024, merges: 64784},
		"tokenizer/ggml-vocab-gpt-2.gguf":          {arch: "gpt2", tokModel: "gpt2", tokens: 50257, merges: 50000},
		"tokenizer/ggml-vocab-gpt-neox.gguf":       {arch: "gptneox", tokModel: "gpt2", tokens: 50432, merges: 50009},
		"tokenizer/ggml-vocab-mpt.gguf":            {arch: "mpt", tokModel: "gpt2", tokens: 50432, merges: 50009},
		"tokenizer/ggml-vocab-refact.gguf":         {arch: "refact", tokModel: "gpt2", tokens: 49216, merges: 48891},
		"tokenizer/ggml-vocab-starcoder.gguf":      {arch: "starcoder2", tokModel: "gpt2", tokens: 49152, merges: 48872},
		"tokenizer/ggml-vocab-bert-bge.gguf":       {arch: "bert", tokModel: "bert", tokens: 30522},

		"models/synthetic/llama-tiny-F32.gguf":      {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 21}},
		"models/synthetic/llama-tiny-F16.gguf":      {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.F16: 16}},
		"models/synthetic/llama-tiny-BF16.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.BF16: 16}},
		"models/synthetic/llama-tiny-Q8_0.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q8_0: 16}},
		"models/synthetic/llama-tiny-Q4_0.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q4_0: 16}},
		"models/synthetic/llama-tiny-Q4_1.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q4_1: 16}},
		"models/synthetic/llama-tiny-Q5_0.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q5_0: 16}},
		"models/synthetic/llama-tiny-Q5_1.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q5_1: 16}},
		"models/synthetic/llama-tiny-Q4_K.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q4_K: 16}},
		"models/synthetic/llama-tiny-Q5_K.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q5_K: 16}},
		"models/synthetic/llama-tiny-Q6_K.gguf":     {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q6_K: 16}},
		"models/synthetic/llama-tiny-Q4_K_M.gguf":   {tensors: 21, arch: "llama", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q4_K: 13, tensor.Q6_K: 3}},
		"models/synthetic/qwen2-tiny-F32.gguf":      {tensors: 26, arch: "qwen2", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 26}},
		"models/synthetic/qwen2-tiny-Q8_0.gguf":     {tensors: 26, arch: "qwen2", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 11, tensor.Q8_0: 15}},
		"models/synthetic/qwen2-tiny-Q4_K.gguf":     {tensors: 26, arch: "qwen2", tokModel: "llama", tokens: 512, typeCount: map[tensor.Type]int{tensor.F32: 11, tensor.Q4_K: 15}},
		"models/synthetic/llama-bpe-tiny-Q8_0.gguf": {tensors: 20, arch: "llama", tokModel: "gpt2", tokens: 50257, merges: 50000, typeCount: map[tensor.Type]int{tensor.F32: 5, tensor.Q8_0: 15}},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(td, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Version != 3 {
				t.Errorf("Version = %d, want 3", f.Version)
			}
			if got := len(f.Tensors); got != w.tensors {
				t.Errorf("len(Tensors) = %d, want %d", got, w.tensors)
			}
			if got := f.Architecture(); got != w.arch {
				t.Errorf("Architecture() = %q, want %q", got, w.arch)
			}
			if got, _ := f.String("tokenizer.ggml.model"); got != w.tokModel {
				t.Errorf("tokenizer.ggml.model = %q, want %q", got, w.tokModel)
			}
			toks, ok := f.Strings("tokenizer.ggml.tokens")
			if !ok || len(toks) != w.tokens {
				t.Errorf("tokenizer.ggml.tokens: %d tokens (ok=%v), want %d", len(toks), ok, w.tokens)
			}
			merges, _ := f.Strings("tokenizer.ggml.merges")
			if len(merges) != w.merges {
				t.Errorf("tokenizer.ggml.merges: %d, want %d", len(merges), w.merges)
			}
			if w.typeCount != nil {
				got := map[tensor.Type]int{}
				for _, ti := range f.Tensors {
					got[ti.Type]++
				}
				if d := cmp.Diff(w.typeCount, got); d != "" {
					t.Errorf("tensor types (-want +got):\n%s", d)
				}
			}
			for _, ti := range f.Tensors {
				got, b, ok := f.Tensor(ti.Name)
				if !ok || uint64(len(b)) != ti.Size() {
					t.Errorf("Tensor(%q): ok=%v, %d bytes, want %d", ti.Name, ok, len(b), ti.Size())
				}
				if d := cmp.Diff(ti, got); d != "" {
					t.Errorf("Tensor(%q) info (-want +got):\n%s", ti.Name, d)
				}
			}
		})
	}
}
