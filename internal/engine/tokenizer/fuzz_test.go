package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTokenizers returns the in-memory vocabularies plus, when the shared
// test data is present, the real SPM and byte-level BPE ones.
func fuzzTokenizers(t testing.TB) map[string]*Tokenizer {
	toks := map[string]*Tokenizer{
		"tiny-spm":      spmVocab(t),
		"tiny-gpt2":     bpeVocab(t, "gpt-2"),
		"tiny-llama3":   bpeVocab(t, "llama-bpe"),
		"tiny-qwen2":    bpeVocab(t, "qwen2"),
		"tiny-default":  bpeVocab(t, "default"),
		"tiny-dsllm":    bpeVocab(t, "deepseek-llm"),
		"tiny-dscoder":  bpeVocab(t, "deepseek-coder"),
		"tiny-falcon":   bpeVocab(t, "falcon"),
		"tiny-smollm":   bpeVocab(t, "smollm"),
		"tiny-refact":   bpeVocab(t, "refact"),
		"tiny-starcode": bpeVocab(t, "starcoder"),
	}
	if _, err := os.Stat(filepath.Join("..", "..", "..", "..", "shared")); err == nil {
		dir := sharedDir(t, "tokenizer")
		for _, name := range []string{"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"} {
			toks[name] = loadVocab(t, filepath.Join(dir, "ggml-vocab-"+name+".gguf"))
		}
	}
	return toks
}

// FuzzEncodeDecode checks that encoding never panics and that, for the
// lossless vocabularies, decoding gives back valid UTF-8 input exactly,
// whether decoded at once or streamed id by id.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "  \n\t x", "ied 4 ½ months", "Äpfel", "🚀 (normal) 😶‍🌫️",
		"3333333", "Cửa Việt", "<s></s><|endoftext|>", "\xff\xfe", "'s 'LL", "你好世界", "a\r\n\r\nb"} {
		f.Add(s)
	}
	toks := fuzzTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		for name, tok := range toks {
			for _, parse := range []bool{false, true} {
				ids := tok.Encode(s, true, parse)
				for _, id := range ids {
					if id < 0 || int(id) >= tok.Len() {
						t.Fatalf("%s: id %d out of range", name, id)
					}
				}
				dec := tok.Decode(ids)
				d := tok.NewDecoder(true)
				var b strings.Builder
				for _, id := range ids {
					part := d.Add(id)
					if utf8.ValidString(s) && !utf8.ValidString(part) {
						t.Fatalf("%s: streamed part %q is not valid UTF-8", name, part)
					}
					b.WriteString(part)
				}
				b.WriteString(d.Flush())
				if b.String() != dec {
					t.Fatalf("%s: streamed %q, Decode %q", name, b.String(), dec)
				}
				if parse || !utf8.ValidString(s) || tok.Model() == ModelWPM {
					continue
				}
				if tok.Model() == ModelSPM && strings.Contains(s, "\u2581") {
					continue // a literal "▁" decodes as a space
				}
				if dec != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q", name, s, dec)
				}
			}
		}
	})
}

// benchText is a few KB of mixed prose, code and non-Latin text.
func benchText() string {
	var b strings.Builder
	for range 8 {
		b.WriteString("Once upon a time, in a land far away, there lived a little girl named Lily. ")
		b.WriteString("She loved to play outside in the sunshine with her friends!\n\n")
		b.WriteString("func main() {\n\tfmt.Println(\"hello, world\", 12345)\n}\n")
		b.WriteString("Привет мир. 你好，世界。 Cửa Việt — ½ cup, 3333 items 🚀\n")
	}
	return b.String()
}

func BenchmarkEncode(b *testing.B) {
	text := benchText()
	toks := map[string]*Tokenizer{"tiny-gpt2": bpeVocab(b, "gpt-2")}
	if _, err := os.Stat(filepath.Join("..", "..", "..", "..", "shared")); err == nil {
		dir := sharedDir(b, "tokenizer")
		for _, name := range []string{"llama-spm", "gpt-2", "deepseek-llm", "bert-bge"} {
			toks[name] = loadVocab(b, filepath.Join(dir, "ggml-vocab-"+name+".gguf"))
		}
	}
	for _, name := range []string{"tiny-gpt2", "llama-spm", "gpt-2", "deepseek-llm", "bert-bge"} {
		tok, ok := toks[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				tok.Encode(text, true, false)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := spmVocab(b)
	if _, err := os.Stat(filepath.Join("..", "..", "..", "..", "shared")); err == nil {
		tok = loadVocab(b, filepath.Join(sharedDir(b, "tokenizer"), "ggml-vocab-llama-spm.gguf"))
	}
	text := benchText()
	ids := tok.Encode(text, true, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Decode(ids)
	}
}
