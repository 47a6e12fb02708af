package tokenizer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeMeta is an in-memory Metadata.
type fakeMeta map[string]any

func (m fakeMeta) String(k string) (string, bool) { v, ok := m[k].(string); return v, ok }
func (m fakeMeta) Uint(k string) (uint64, bool)   { v, ok := m[k].(uint64); return v, ok }
func (m fakeMeta) Int(k string) (int64, bool)     { v, ok := m[k].(int64); return v, ok }
func (m fakeMeta) Bool(k string) (bool, bool)     { v, ok := m[k].(bool); return v, ok }
func (m fakeMeta) Strings(k string) ([]string, bool) {
	v, ok := m[k].([]string)
	return v, ok
}
func (m fakeMeta) Float32s(k string) ([]float32, bool) {
	v, ok := m[k].([]float32)
	return v, ok
}
func (m fakeMeta) Int32s(k string) ([]int32, bool) { v, ok := m[k].([]int32); return v, ok }

func TestVocabFromMetadata(t *testing.T) {
	toks := []string{"<unk>", "<s>", "</s>", "a", "b"}
	tests := []struct {
		name    string
		meta    fakeMeta
		want    Vocab
		wantErr bool
	}{
		{"spm defaults", fakeMeta{"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks},
			Vocab{Model: "llama", Tokens: toks, BOS: 1, EOS: 2, UNK: 0, PAD: -1, SEP: -1, CLS: -1, MASK: -1,
				EOT: -1, EOM: -1, AddBOS: true, AddSpacePrefix: true}, false},
		{"spm keys", fakeMeta{"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": toks,
			"tokenizer.ggml.eos_token_id": uint64(4), "tokenizer.ggml.add_bos_token": false,
			"tokenizer.ggml.add_space_prefix": false, "tokenizer.ggml.padding_token_id": int64(9)},
			Vocab{Model: "llama", Tokens: toks, BOS: 1, EOS: 4, UNK: 0, PAD: -1, SEP: -1, CLS: -1, MASK: -1,
				EOT: -1, EOM: -1}, false},
		{"llama3 adds bos", fakeMeta{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe",
			"tokenizer.ggml.tokens": toks, "tokenizer.ggml.bos_token_id": uint64(1)},
			Vocab{Model: "gpt2", Pre: "llama-bpe", Tokens: toks, BOS: 1, EOS: -1, UNK: -1, PAD: -1, SEP: -1,
				CLS: -1, MASK: -1, EOT: -1, EOM: -1, AddBOS: true}, false},
		{"no model", fakeMeta{"tokenizer.ggml.tokens": toks}, Vocab{}, true},
		{"no tokens", fakeMeta{"tokenizer.ggml.model": "llama"}, Vocab{}, true},
	}
	for _, tt := range tests {
		got, err := VocabFromMetadata(tt.meta)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", tt.name, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}
