package model

import (
	"context"
	"math"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestRepackMatchesMapped checks that a model whose Q4_0, Q8_0, Q4_1, Q5_1, Q4_K or Q5_K matrices
// are repacked on load gives bit for bit the logits of the pure-Go
// kernels on the memory-mapped matrices, on every kernel table with
// repacked kernels (the repacked kernels compute each row as the reference
// does), for a prompt in one batch and then one token at a time; that
// token_embd, repacked only as the tied output, is still looked up right;
// and that a vocabulary which is not a multiple of 8 keeps the output's
// last rows as a row-major tail.
func TestRepackMatchesMapped(t *testing.T) {
	prompt := []int32{1, 302, 17, 42, 260, 5, 77, 299}
	for _, tc := range []struct {
		name string
		spec testSpec
	}{
		{"llama Q4_0", testSpec{seed: 11, typ: tensor.Q4_0, vocab: 304}},
		{"qwen2 Q8_0 tied", testSpec{seed: 12, arch: "qwen2", typ: tensor.Q8_0, vocab: 304, tied: true}},
		{"llama Q4_K", testSpec{seed: 15, typ: tensor.Q4_K, embd: 256, ff: 256, vocab: 304}},
		{"llama Q5_K", testSpec{seed: 16, typ: tensor.Q5_K, embd: 256, ff: 256, vocab: 304}},
		{"llama Q4_1", testSpec{seed: 17, typ: tensor.Q4_1, vocab: 304}},
		{"qwen2 Q5_1 tied", testSpec{seed: 18, arch: "qwen2", typ: tensor.Q5_1, vocab: 304, tied: true}},
		// Vocabularies of 8k+4 and 8k+3: the output's last rows stay
		// row-major.
		{"llama Q8_0 vocab 8k+4", testSpec{seed: 13, typ: tensor.Q8_0, vocab: 308}},
		{"qwen2 Q4_0 tied vocab 8k+3", testSpec{seed: 14, arch: "qwen2", typ: tensor.Q4_0, vocab: 307, tied: true}},
	} {
		// The last token is in the output's row-major tail, if any.
		prompt := append(prompt[:len(prompt):len(prompt)], int32(tc.spec.vocab-1))
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
			if tail := m.Config().VocabSize % 8; !o.NoRepack && m.outTail.rows != tail {
				t.Fatalf("output tail of %d rows, want %d", m.outTail.rows, tail)
			}
			if want := tc.spec.tied && !o.NoRepack; m.embdRepacked != want {
				t.Fatalf("embeddings looked up in the repacked output: %v, want %v", m.embdRepacked, want)
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
				// The rows of a row-major tail go through this table's
				// row-major kernels, which agree with the reference only
				// within a tolerance unless the table is the reference.
				vocab, exact := tc.spec.vocab, k.Name == "go"
				head := vocab &^ 7
				check := func(what string, want, got []float32) {
					t.Helper()
					for i := range want {
						w, g := want[i], got[i]
						if i%vocab < head || exact {
							if math.Float32bits(w) != math.Float32bits(g) {
								t.Fatalf("%s logit %d (token %d): %v, mapped reference %v", what, i%vocab, i/vocab, g, w)
							}
						} else if math.Abs(float64(w-g)) > 1e-4*(1+math.Abs(float64(w))) {
							t.Fatalf("%s tail logit %d (token %d): %v, mapped reference %v", what, i%vocab, i/vocab, g, w)
						}
					}
				}
				check("batched", wantAll, all)
				for i := range wantSeq {
					check("one-token", wantSeq[i], seq[i])
				}
			})
		}
	}
}
