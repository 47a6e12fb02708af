package synth

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// TestEngineRuns loads tiny synthetic models with the engine and checks
// that a few greedy steps give finite logits.
func TestEngineRuns(t *testing.T) {
	vocab := testVocab(t, 300)
	for _, tt := range []struct {
		arch string
		typ  tensor.Type
	}{{"llama", tensor.Q8_0}, {"qwen2", tensor.Q4_K}} {
		t.Run(tt.arch+"-"+tt.typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			if err := WriteFile(path, Options{Arch: tt.arch, Shape: "tiny", Type: tt.typ, Vocab: vocab, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			m, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			cache, err := m.NewCache(16, nil)
			if err != nil {
				t.Fatal(err)
			}
			tokens := []int32{1, 40, 41, 26}
			logits := make([]float32, 300)
			for step := 0; step < 4; step++ {
				seq := model.Sequence{Tokens: tokens, Cache: cache, Logits: logits}
				if err := m.Forward(context.Background(), &model.Batch{Seqs: []model.Sequence{seq}}); err != nil {
					t.Fatal(err)
				}
				best := 0
				for i, x := range logits {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						t.Fatalf("step %d: logit %d is %v", step, i, x)
					}
					if x > logits[best] {
						best = i
					}
				}
				tokens = []int32{int32(best)}
			}
		})
	}
}
