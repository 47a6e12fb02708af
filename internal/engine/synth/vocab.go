package synth

import (
	"bytes"
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// Token types as GGUF's tokenizer.ggml.token_type stores them.
const (
	typeNormal  = 1
	typeUnknown = 2
	typeControl = 3
	typeByte    = 6
)

// chatMLTemplate is the ChatML chat template the demo vocabulary carries.
const chatMLTemplate = `{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// ByteVocab returns a small self-contained vocabulary, so that a demo
// model can be made on a machine with no vocabulary file: a
// SentencePiece-style ("llama") tokenizer whose pieces are the 256 byte
// tokens (every text encodes through byte fallback), a few common words,
// the control tokens <unk>, <s>, </s>, and ChatML's <|im_start|> and
// <|im_end|>, with a ChatML chat template.
func ByteVocab() (*gguf.File, error) {
	tokens := []string{"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"}
	types := []int32{typeUnknown, typeControl, typeControl, typeControl, typeControl}
	for b := range 256 {
		tokens = append(tokens, fmt.Sprintf("<0x%02X>", b))
		types = append(types, typeByte)
	}
	// Whole words, so that text does not always cost a token per byte.
	words := []string{"▁the", "▁a", "▁and", "▁to", "▁of", "▁is", "▁in", "▁you", "▁I", "▁it", "▁Hello", "▁world", "er", "in", "on", "an", "▁"}
	for _, w := range words {
		tokens = append(tokens, w)
		types = append(types, typeNormal)
	}
	scores := make([]float32, len(tokens))
	for i := range scores {
		scores[i] = -float32(i)
	}
	w := gguf.NewWriter(3)
	kvs := []struct {
		k string
		v any
	}{
		{"general.architecture", "llama"},
		{"tokenizer.ggml.model", "llama"},
		{"tokenizer.ggml.tokens", tokens},
		{"tokenizer.ggml.scores", scores},
		{"tokenizer.ggml.token_type", types},
		{"tokenizer.ggml.bos_token_id", uint32(1)},
		{"tokenizer.ggml.eos_token_id", uint32(4)}, // <|im_end|> ends a turn
		{"tokenizer.ggml.unknown_token_id", uint32(0)},
		{"tokenizer.ggml.add_bos_token", false},
		{"tokenizer.chat_template", chatMLTemplate},
	}
	for _, kv := range kvs {
		if err := w.SetKV(kv.k, kv.v); err != nil {
			return nil, fmt.Errorf("synth: byte vocab: %w", err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("synth: byte vocab: %w", err)
	}
	return gguf.Parse(buf.Bytes())
}
