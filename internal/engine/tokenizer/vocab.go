// Package tokenizer turns text into token ids and back for models loaded
// from GGUF files. It implements the three vocabulary types llama.cpp reads
// from the "tokenizer.ggml.model" metadata key:
//
//   - "llama": SentencePiece-style BPE (bigram merges by score, "▁" for
//     spaces, byte fallback through "<0xNN>" tokens);
//   - "gpt2": byte-level BPE (merges by rank) behind a hand-written
//     pre-tokenizer chosen by "tokenizer.ggml.pre";
//   - "bert": WordPiece (greedy longest match).
//
// The behaviour follows llama.cpp so that its reference vectors
// (tests/test-tokenizer-0) are reproduced exactly.
package tokenizer

import (
	"errors"
	"fmt"
)

// Token types as stored in "tokenizer.ggml.token_type".
const (
	TypeUndefined   int32 = 0
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Vocabulary model names ("tokenizer.ggml.model").
const (
	ModelSPM  = "llama"
	ModelBPE  = "gpt2"
	ModelWPM  = "bert"
	NoToken   = int32(-1) // marks an absent special token id
	metaModel = "tokenizer.ggml.model"
)

// ErrUnsupported is wrapped by errors about vocabularies or pre-tokenizers
// this package does not implement.
var ErrUnsupported = errors.New("tokenizer: unsupported")

// Vocab is everything a Tokenizer needs, normally read from GGUF metadata.
// Special token ids are -1 (NoToken) when absent.
type Vocab struct {
	Model  string // "llama", "gpt2" or "bert"
	Pre    string // pre-tokenizer name for "gpt2" ("" means "default")
	Tokens []string
	Scores []float32 // per token; SPM merge priority
	Types  []int32   // per token; Type* constants (nil: all normal)
	Merges []string  // "left right" pairs in rank order (BPE)

	BOS, EOS, UNK, PAD, SEP, CLS, MASK int32
	EOT, EOM                           int32 // end of turn / end of message

	AddBOS, AddEOS, AddSpacePrefix bool

	// Arch and Name are general.architecture and general.name; they only
	// select small model-specific quirks (phi-3 special-token stripping).
	Arch, Name string
}

// NewVocab returns a Vocab with every special token id set to NoToken.
func NewVocab() Vocab {
	return Vocab{BOS: NoToken, EOS: NoToken, UNK: NoToken, PAD: NoToken, SEP: NoToken,
		CLS: NoToken, MASK: NoToken, EOT: NoToken, EOM: NoToken}
}

// Metadata is the subset of a GGUF reader that FromMetadata needs. It is
// satisfied by *gguf.File.
type Metadata interface {
	String(key string) (string, bool)
	Uint(key string) (uint64, bool)
	Int(key string) (int64, bool)
	Bool(key string) (bool, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
}

// VocabFromMetadata reads the tokenizer.ggml.* keys into a Vocab, applying
// llama.cpp's defaults for keys that are absent.
func VocabFromMetadata(m Metadata) (Vocab, error) {
	v := NewVocab()
	model, ok := m.String(metaModel)
	if !ok {
		return v, fmt.Errorf("tokenizer: missing %s", metaModel)
	}
	v.Model = model
	v.Pre, _ = m.String("tokenizer.ggml.pre")
	v.Arch, _ = m.String("general.architecture")
	v.Name, _ = m.String("general.name")
	if v.Tokens, ok = m.Strings("tokenizer.ggml.tokens"); !ok {
		return v, errors.New("tokenizer: missing tokenizer.ggml.tokens")
	}
	v.Scores, _ = m.Float32s("tokenizer.ggml.scores")
	v.Types, _ = m.Int32s("tokenizer.ggml.token_type")
	v.Merges, _ = m.Strings("tokenizer.ggml.merges")

	// Defaults per model, as llama.cpp sets them before reading the keys.
	switch model {
	case ModelSPM:
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddBOS, v.AddSpacePrefix = true, true
	case ModelBPE:
		v.BOS, v.EOS = 11, 11
		if p, err := newPreTokenizer(v.Pre); err == nil && p.ignoreMerges {
			v.AddBOS = true // the Llama 3 family starts with <|begin_of_text|>
		}
	case ModelWPM:
		v.BOS, v.UNK, v.SEP, v.PAD, v.MASK = 101, 100, 102, 0, 103
		v.CLS = 101
		v.AddBOS, v.AddEOS = true, true
	}
	ids := []struct {
		key string
		dst *int32
	}{
		{"bos_token_id", &v.BOS}, {"eos_token_id", &v.EOS}, {"unknown_token_id", &v.UNK},
		{"seperator_token_id", &v.SEP}, {"padding_token_id", &v.PAD}, {"cls_token_id", &v.CLS},
		{"mask_token_id", &v.MASK}, {"eot_token_id", &v.EOT}, {"eom_token_id", &v.EOM},
	}
	for _, id := range ids {
		key := "tokenizer.ggml." + id.key
		if u, ok := m.Uint(key); ok {
			*id.dst = clampID(int64(u), len(v.Tokens))
		} else if i, ok := m.Int(key); ok {
			*id.dst = clampID(i, len(v.Tokens))
		}
	}
	for _, id := range ids {
		if *id.dst >= int32(len(v.Tokens)) {
			*id.dst = NoToken // a default that this vocabulary is too small for
		}
	}
	if model == ModelWPM && v.CLS != NoToken {
		// BERT vocabularies name the classifier token CLS; it doubles as BOS.
		v.BOS = v.CLS
	}
	if b, ok := m.Bool("tokenizer.ggml.add_bos_token"); ok {
		v.AddBOS = b
	}
	if b, ok := m.Bool("tokenizer.ggml.add_eos_token"); ok {
		v.AddEOS = b
	}
	if b, ok := m.Bool("tokenizer.ggml.add_space_prefix"); ok {
		v.AddSpacePrefix = b
	}
	return v, nil
}

func clampID(id int64, n int) int32 {
	if id < 0 || id >= int64(n) {
		return NoToken
	}
	return int32(id)
}

// FromMetadata builds a Tokenizer from GGUF metadata.
func FromMetadata(m Metadata) (*Tokenizer, error) {
	v, err := VocabFromMetadata(m)
	if err != nil {
		return nil, err
	}
	return New(v)
}
