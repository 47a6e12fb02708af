package tokenizer

import (
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// FromGGUF builds the Tokenizer described by the tokenizer.ggml.* metadata
// of a GGUF file.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	t, err := FromMetadata(f)
	if err != nil {
		return nil, fmt.Errorf("gguf tokenizer: %w", err)
	}
	return t, nil
}

// Load opens a GGUF file and builds its Tokenizer.
func Load(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	defer f.Close()
	return FromGGUF(f)
}
