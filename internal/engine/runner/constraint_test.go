package runner

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// vocabIndex builds the grammar index of m's vocabulary.
func vocabIndex(m *model.Model) *grammar.VocabIndex {
	tok := m.Tokenizer()
	n := m.Config().VocabSize
	pieces := make([][]byte, n)
	var eog []int32
	for id := range int32(n) {
		if int(id) < tok.Len() {
			pieces[id] = []byte(tok.Piece(id))
		}
		if tok.IsEOG(id) {
			eog = append(eog, id)
		}
	}
	return grammar.NewVocabIndex(pieces, eog)
}

// byteTokens encodes text as the tiny vocabulary's byte tokens (<0x00> is
// id 3); its SPM tokenizer would add a space prefix.
func byteTokens(b []byte) []int32 {
	ids := make([]int32, len(b))
	for i, c := range b {
		ids[i] = 3 + int32(c)
	}
	return ids
}

func TestConstrainedOutputIsValid(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 3, ctx: 256})
	r := start(t, m, Options{MaxSeqs: 4})
	idx := vocabIndex(m)
	encode := byteTokens
	schema := []byte(`{"type":"object","properties":{"name":{"type":"string","maxLength":8},"ok":{"type":"boolean"},"kind":{"enum":["alpha","beta"]}},"required":["name","ok","kind"],"additionalProperties":false}`)
	g, err := grammar.CompileSchema(schema, grammar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		g    *grammar.Grammar
		enc  func([]byte) []int32
	}{
		{"json_object", grammar.JSONObject(), nil},
		{"schema", g, nil},
		{"schema forced", g, encode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stops := 0
			for seed := range int64(8) {
				p := sample.DefaultParams()
				p.Seed = &seed
				st := submit(t, r, Request{Prompt: []int32{1, 300, 301}, MaxTokens: 120, Params: p,
					Constraint: &Constraint{Grammar: tt.g, Vocab: idx, Encode: tt.enc}})
				res := collect(t, st)
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				if res.Finish != FinishStop {
					continue
				}
				stops++
				var v map[string]any
				if err := json.Unmarshal([]byte(res.Text), &v); err != nil {
					t.Errorf("seed %d: finished with stop but %q is not a JSON object: %v", seed, res.Text, err)
				}
				if res.Usage.CompletionTokens > 120 {
					t.Errorf("seed %d: %d completion tokens, more than max_tokens", seed, res.Usage.CompletionTokens)
				}
			}
			if stops == 0 {
				t.Errorf("no generation finished with stop")
			}
		})
	}
}

func TestConstrainedForcedTokens(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 5, ctx: 256})
	r := start(t, m, Options{})
	idx := vocabIndex(m)
	g, err := grammar.CompileSchema([]byte(`{"const":{"answer":"the"}}`), grammar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := submit(t, r, Request{Prompt: []int32{1, 300}, MaxTokens: 50, Params: greedy(),
		Constraint: &Constraint{Grammar: g, Vocab: idx, Encode: byteTokens}})
	res := collect(t, st)
	if diff := cmp.Diff(result{Text: `{"answer":"the"}`, Finish: FinishStop}, result{Text: res.Text, Finish: res.Finish}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Everything after the first sampled token is forced: one event.
	if got := len(res.IDs); got != 1 {
		t.Errorf("%d sampled tokens (%v), want 1: the rest is forced", got, res.IDs)
	}
}

func TestConstraintMustMatchModel(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 5})
	r := start(t, m, Options{})
	_, err := r.Submit(t.Context(), Request{Prompt: []int32{1}, Params: greedy(), Constraint: &Constraint{Grammar: grammar.JSONObject()}})
	if err == nil {
		t.Error("Submit accepted a constraint without a vocabulary index")
	}
}
