package tokenizer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/enginetest"
)

// sharedDir returns ../shared/testdata/sub beside the repository, or skips
// the test when it is absent.
func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	return enginetest.SharedFile(t, sub)
}

const vocabSep = "\n__ggml_vocab_test__\n"

// readVectors reads an .inp/.out pair.
func readVectors(t testing.TB, inp string) (texts []string, want [][]int32) {
	t.Helper()
	in, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(strings.TrimSuffix(inp, ".inp") + ".out")
	if err != nil {
		t.Fatal(err)
	}
	texts = strings.Split(string(in), vocabSep)
	if len(texts) > 0 && texts[len(texts)-1] == "" {
		texts = texts[:len(texts)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs but %d output lines", inp, len(texts), len(lines))
	}
	for _, l := range lines {
		var ids []int32
		for _, f := range strings.Fields(l) {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil {
				t.Fatalf("%s: bad id %q", inp, f)
			}
			ids = append(ids, int32(n))
		}
		want = append(want, ids)
	}
	return texts, want
}

func loadVocab(t testing.TB, path string) *Tokenizer {
	t.Helper()
	tok, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestLlamaCppVectors runs every ggml-vocab-*.gguf.inp/.out pair the way
// llama.cpp's test-tokenizer-0 does: no special tokens added, special-token
// text not parsed.
func TestLlamaCppVectors(t *testing.T) {
	dir := sharedDir(t, "tokenizer")
	inps, err := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	if err != nil || len(inps) == 0 {
		t.Fatalf("no vectors in %s (%v)", dir, err)
	}
	total, passed := 0, 0
	for _, inp := range inps {
		name := strings.TrimSuffix(filepath.Base(inp), ".gguf.inp")
		t.Run(name, func(t *testing.T) {
			tok := loadVocab(t, strings.TrimSuffix(inp, ".inp"))
			texts, want := readVectors(t, inp)
			ok := 0
			for i, text := range texts {
				got := tok.Encode(text, false, false)
				if len(got) == 0 {
					got = nil
				}
				if diff := cmp.Diff(want[i], got); diff != "" {
					t.Errorf("Encode(%q) mismatch (-want +got):\n%s", text, diff)
					continue
				}
				ok++
			}
			t.Logf("%s: %d/%d vectors pass", name, ok, len(texts))
			total += len(texts)
			passed += ok
		})
	}
	t.Logf("total: %d/%d vectors pass", passed, total)
}

// TestVectorsRoundTrip checks Decode(Encode(s)) == s on the vector inputs
// for every lossless vocabulary (SPM with byte fallback, byte-level BPE).
func TestVectorsRoundTrip(t *testing.T) {
	dir := sharedDir(t, "tokenizer")
	inps, _ := filepath.Glob(filepath.Join(dir, "*.gguf.inp"))
	for _, inp := range inps {
		name := strings.TrimSuffix(filepath.Base(inp), ".gguf.inp")
		tok := loadVocab(t, strings.TrimSuffix(inp, ".inp"))
		if tok.Model() == ModelWPM {
			continue // WordPiece lowercases and strips accents
		}
		texts, _ := readVectors(t, inp)
		ok := 0
		for _, text := range texts {
			ids := tok.Encode(text, true, false)
			if got := tok.Decode(ids); got != text {
				t.Errorf("%s: Decode(Encode(%q)) = %q", name, text, got)
				continue
			}
			ok++
		}
		t.Logf("%s: %d/%d round trips", name, ok, len(texts))
	}
}

func TestStories260K(t *testing.T) {
	tok := loadVocab(t, filepath.Join(sharedDir(t, "models"), "stories260K.gguf"))
	if got, want := tok.Len(), 512; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	ids := tok.Encode("Once upon a time", true, false)
	if diff := cmp.Diff([]int32{1, 403, 407, 261, 378}, ids); diff != "" {
		t.Errorf("Encode mismatch (-want +got):\n%s", diff)
	}
	if got := tok.Decode(ids); got != "Once upon a time" {
		t.Errorf("Decode = %q", got)
	}
}

// TestLoadAllVocabs loads every vocabulary, including those without
// vectors, and round-trips a short text through it.
func TestLoadAllVocabs(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(sharedDir(t, "tokenizer"), "*.gguf"))
	for _, p := range paths {
		tok := loadVocab(t, p)
		const text = "Hello world, 12345 Äpfel!"
		ids := tok.Encode(text, true, false)
		if len(ids) == 0 {
			t.Errorf("%s: no ids", filepath.Base(p))
		}
		if got := tok.Decode(ids); tok.Model() != ModelWPM && got != text {
			t.Errorf("%s: Decode(Encode(%q)) = %q", filepath.Base(p), text, got)
		}
	}
}

func TestParseSpecialReal(t *testing.T) {
	dir := sharedDir(t, "tokenizer")
	tests := []struct {
		vocab, text              string
		addSpecial, parseSpecial bool
		want                     []string // token texts; "=x" means Encode(x) without specials
	}{
		// phi-3 strips the whitespace after its chat tokens, as llama.cpp does.
		{"phi-3", "<|user|>\nHello<|end|>\n<|assistant|>", false, true,
			[]string{"<|user|>", "=Hello", "<|end|>", "<|assistant|>"}},
		{"llama-spm", "<s>Hi</s>", true, true, []string{"<s>", "<s>", "=Hi", "</s>"}},
		{"gpt-2", "Hi<|endoftext|>", true, true, []string{"=Hi", "<|endoftext|>"}},
		{"gpt-2", "<|endoftext|>", false, false, []string{"=<|endoftext|>"}},
		{"bert-bge", "hi [SEP] there", true, true, []string{"[CLS]", "=hi", "[SEP]", "=there", "[SEP]"}},
	}
	for _, tt := range tests {
		tok := loadVocab(t, filepath.Join(dir, "ggml-vocab-"+tt.vocab+".gguf"))
		var want []int32
		for _, w := range tt.want {
			if s, ok := strings.CutPrefix(w, "="); ok {
				want = append(want, tok.Encode(s, false, false)...)
				continue
			}
			id, ok := tok.ID(w)
			if !ok {
				t.Fatalf("%s: no token %q", tt.vocab, w)
			}
			want = append(want, id)
		}
		got := tok.Encode(tt.text, tt.addSpecial, tt.parseSpecial)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s Encode(%q) mismatch (-want +got):\n%s", tt.vocab, tt.text, diff)
		}
	}
}
