package model

import (
	"context"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/google/go-cmp/cmp"
)

// TestRepackMatchesMapped checks that a model whose Q4_0, Q8_0 or Q4_K matrices
// are repacked on load gives bit for bit the logits of the pure-Go
// kernels on the memory-mapped matrices, on every kernel table with
// repacked kernels (the repacked kernels compute each row as the reference
// does), for a prompt in one batch and then one token at a time; and that
// token_embd, repacked only as the tied output, is still looked up right.
func TestRepackMatchesMapped(t *testing.T) {
	prompt := []int32{1, 303, 17, 42, 260, 5, 77}
	for _, tc := range []struct {
		name string
		spec testSpec
	}{
		{"llama Q4_0", testSpec{seed: 11, typ: tensor.Q4_0, vocab: 304}},
		{"qwen2 Q8_0 tied", testSpec{seed: 12, arch: "qwen2", typ: tensor.Q8_0, vocab: 304, tied: true}},
		{"llama Q4_K", testSpec{seed: 13, typ: tensor.Q4_K, embd: 256, ff: 256, vocab: 304}},
	} {
		path := writeTestModel(t, tc.spec)
		run := func(t *testing.T, o Options) ([]float32, [][]float32, int64) {
			m, err := o.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c, err := m.NewCache(0, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := m.Config().VocabSize
			all := make([]float32, len(prompt)*n)
			outputs := make([]int, len(prompt))
			for i := range outputs {
				outputs[i] = i
			}
			if err := m.Forward(context.Background(), &Batch{Seqs: []Sequence{{Tokens: prompt, Cache: c, Outputs: outputs, Logits: all}}}); err != nil {
				t.Fatal(err)
			}
			return all, decodeAll(t, m, prompt), m.RepackedBytes()
		}
		wantAll, wantSeq, none := run(t, Options{Threads: 2, Kernels: tensor.ReferenceKernels(), NoRepack: true})
		if none != 0 {
			t.Fatalf("%s: NoRepack repacked %d bytes", tc.name, none)
		}
		for _, k := range tensor.KernelSets() {
			rt, _ := tensor.Repacked(tc.spec.typ)
			if k.MatFunc(rt) == nil {
				continue
			}
			t.Run(tc.name+"/"+k.Name, func(t *testing.T) {
				all, seq, repacked := run(t, Options{Threads: 2, Kernels: k})
				if repacked == 0 {
					t.Fatalf("no weights repacked")
				}
				if diff := cmp.Diff(wantAll, all); diff != "" {
					t.Errorf("batched logits differ from the mapped reference (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantSeq, seq); diff != "" {
					t.Errorf("one-token logits differ from the mapped reference (-want +got):\n%s", diff)
				}
			})
		}
	}
}
