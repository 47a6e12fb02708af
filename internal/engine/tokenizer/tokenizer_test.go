package tokenizer

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// spmVocab is a tiny SentencePiece vocabulary with byte fallback.
func spmVocab(t testing.TB) *Tokenizer {
	t.Helper()
	v := NewVocab()
	v.Model = ModelSPM
	v.BOS, v.EOS, v.UNK = 1, 2, 0
	v.AddBOS, v.AddSpacePrefix = true, true
	add := func(s string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, TypeUnknown)
	add("<s>", 0, TypeControl)
	add("</s>", 0, TypeControl)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), 0, TypeByte)
	}
	// ids 259..
	for i, s := range []string{"▁", "a", "b", "▁a", "ab", "▁ab", "c", "<|im_end|>"} {
		typ := TypeNormal
		if s == "<|im_end|>" {
			typ = TypeControl
		}
		add(s, float32(-i), typ)
	}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bpeVocab is a tiny byte-level BPE vocabulary: the 256 byte tokens, then
// merged tokens.
func bpeVocab(t testing.TB, pre string) *Tokenizer {
	t.Helper()
	v := NewVocab()
	v.Model, v.Pre = ModelBPE, pre
	bt := gpt2Bytes()
	for b := range 256 {
		v.Tokens = append(v.Tokens, string(bt.toRune[b]))
	}
	v.Tokens = append(v.Tokens, "he", "Ġt", "Ġthe", "<|endoftext|>")
	v.Merges = []string{"h e", "Ġ t", "Ġt he"}
	v.Types = make([]int32, len(v.Tokens))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	v.Types[len(v.Types)-1] = TypeControl
	v.BOS, v.EOS = int32(len(v.Tokens)-1), int32(len(v.Tokens)-1)
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEncodeSPM(t *testing.T) {
	tok := spmVocab(t)
	id := func(s string) int32 { i, _ := tok.ID(s); return i }
	tests := []struct {
		text                     string
		addSpecial, parseSpecial bool
		want                     []int32
	}{
		{"", false, false, nil},
		{"", true, false, []int32{1}},
		{"ab", false, false, []int32{id("▁ab")}},
		{"ab ab", true, false, []int32{1, id("▁ab"), id("▁ab")}},
		{"abc", false, false, []int32{id("▁ab"), id("c")}},
		{"é", false, false, []int32{id("▁"), id("<0xC3>"), id("<0xA9>")}},
		{"<s>ab", false, true, []int32{1, id("▁ab")}},
		{"<s>", false, false, []int32{id("▁"), id("<0x3C>"), id("<0x73>"), id("<0x3E>")}},
	}
	for _, tt := range tests {
		got := tok.Encode(tt.text, tt.addSpecial, tt.parseSpecial)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Encode(%q, %v, %v) mismatch (-want +got):\n%s", tt.text, tt.addSpecial, tt.parseSpecial, diff)
		}
	}
}

func TestEncodeBPE(t *testing.T) {
	tok := bpeVocab(t, "gpt-2")
	id := func(s string) int32 { i, _ := tok.ID(s); return i }
	eot := id("<|endoftext|>")
	tests := []struct {
		text         string
		parseSpecial bool
		want         []int32
	}{
		{"the the", false, []int32{'t', id("he"), id("Ġthe")}},
		{"the<|endoftext|>", true, []int32{'t', id("he"), eot}},
		{"é", false, []int32{id("Ã"), id("©")}},
	}
	for _, tt := range tests {
		got := tok.Encode(tt.text, false, tt.parseSpecial)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Encode(%q) mismatch (-want +got):\n%s", tt.text, diff)
		}
		if dec := tok.Decode(got); !tt.parseSpecial && dec != tt.text {
			t.Errorf("Decode(Encode(%q)) = %q", tt.text, dec)
		}
	}
}

func TestEncodeWPM(t *testing.T) {
	v := NewVocab()
	v.Model = ModelWPM
	v.Tokens = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "▁hello", "▁world", "▁un", "aff", "able", "▁,", "▁!"}
	v.Types = []int32{3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1}
	v.UNK, v.BOS, v.CLS, v.SEP, v.PAD = 1, 2, 2, 3, 0
	v.AddBOS, v.AddEOS = true, true
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	got := tok.Encode("Héllo, WORLD!  unaffable xyz", true, false)
	want := []int32{2, 4, 9, 5, 10, 6, 7, 8, 1, 3}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Encode mismatch (-want +got):\n%s", diff)
	}
	// Unknown and control tokens decode to nothing, as in llama.cpp.
	if got, want := tok.Decode(got), "hello , world ! unaffable"; got != want {
		t.Errorf("Decode = %q, want %q", got, want)
	}
}

func TestPreTokenizers(t *testing.T) {
	tests := []struct {
		pre, text string
		want      []string
	}{
		{"gpt-2", "Hello world  foo's 123", []string{"Hello", " world", " ", " foo", "'s", " 123"}},
		{"gpt-2", "a\n\nb  ", []string{"a", "\n", "\n", "b", "  "}},
		{"llama-bpe", "Hello 1234567\n\n  x", []string{"Hello", " ", "123", "456", "7", "\n\n", " ", " x"}},
		{"llama-bpe", "I'LL go!!\n", []string{"I", "'LL", " go", "!!\n"}},
		{"qwen2", "ab 12", []string{"ab", " ", "1", "2"}},
		{"starcoder", "x=12", []string{"x", "=", "1", "2"}},
		{"falcon", "a+=b 12345", []string{"a", "+=", "b", " ", "123", "45"}},
		{"default", "a, 12345", []string{"a", ",", " ", "123", "45"}},
		{"deepseek-coder", "Hi, 42\n世界", []string{"Hi", ",", " ", "4", "2", "\n", "世界"}},
		{"deepseek-llm", "Hi, 42  ", []string{"Hi", ",", " ", "42", "  "}},
	}
	for _, tt := range tests {
		p, err := newPreTokenizer(tt.pre)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, p.split(tt.text)); diff != "" {
			t.Errorf("%s split(%q) mismatch (-want +got):\n%s", tt.pre, tt.text, diff)
		}
	}
	if _, err := newPreTokenizer("no-such-pre"); err == nil {
		t.Error("unknown pre-tokenizer accepted")
	}
}

func TestDecoderStreaming(t *testing.T) {
	spm := spmVocab(t)
	bpe := bpeVocab(t, "gpt-2")
	tests := []struct {
		name string
		tok  *Tokenizer
		text string
	}{
		{"spm-bytes", spm, "a€b 😀c"},
		{"bpe-bytes", bpe, "the €😀 the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := tt.tok.Encode(tt.text, true, false)
			d := tt.tok.NewDecoder(true)
			var parts []string
			for _, id := range ids {
				if s := d.Add(id); s != "" {
					parts = append(parts, s)
				}
			}
			if s := d.Flush(); s != "" {
				parts = append(parts, s)
			}
			for _, p := range parts {
				if !utf8.ValidString(p) {
					t.Errorf("part %q is not valid UTF-8", p)
				}
			}
			if got := strings.Join(parts, ""); got != tt.text {
				t.Errorf("streamed %q, want %q", got, tt.text)
			}
			if got := tt.tok.Decode(ids); got != tt.text {
				t.Errorf("Decode = %q, want %q", got, tt.text)
			}
		})
	}
}

func TestDecoderHoldsIncompleteUTF8(t *testing.T) {
	tok := spmVocab(t)
	d := tok.NewDecoder(false)
	var got []string
	for _, s := range []string{"<0xE2>", "<0x82>", "<0xAC>", "a", "<0xF0>"} {
		id, _ := tok.ID(s)
		got = append(got, d.Add(id))
	}
	got = append(got, d.Flush())
	want := []string{"", "", "€", "a", "", "\xf0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestAccessors(t *testing.T) {
	tok := spmVocab(t)
	imEnd, _ := tok.ID("<|im_end|>")
	tests := []struct {
		name      string
		got, want any
	}{
		{"Len", tok.Len(), 267},
		{"BOS", tok.BOS(), int32(1)},
		{"EOS", tok.EOS(), int32(2)},
		{"Token(1)", tok.Token(1), "<s>"},
		{"Token(-1)", tok.Token(-1), ""},
		{"IsEOG(eos)", tok.IsEOG(2), true},
		{"IsEOG(im_end)", tok.IsEOG(imEnd), true},
		{"IsEOG(bos)", tok.IsEOG(1), false},
		{"Piece(bos)", tok.Piece(1), ""},
		{"Decode(control)", tok.Decode([]int32{1, 2}), ""},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestNewErrors(t *testing.T) {
	base := NewVocab()
	base.Tokens = []string{"a"}
	tests := []struct {
		name string
		edit func(v *Vocab)
	}{
		{"empty", func(v *Vocab) { v.Model = ModelSPM; v.Tokens = nil }},
		{"model", func(v *Vocab) { v.Model = "ugm" }},
		{"scores", func(v *Vocab) { v.Model = ModelSPM; v.Scores = []float32{1, 2} }},
		{"pre", func(v *Vocab) { v.Model = ModelBPE; v.Pre = "tekken" }},
		{"merge", func(v *Vocab) { v.Model = ModelBPE; v.Merges = []string{"ab"} }},
	}
	for _, tt := range tests {
		v := base
		tt.edit(&v)
		if _, err := New(v); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

// TestBPEMergeWithoutToken covers merges whose parts or result are not
// tokens: merging still follows the text, and a piece that is no token
// falls back to its single-byte tokens, as in llama.cpp.
func TestBPEMergeWithoutToken(t *testing.T) {
	v := NewVocab()
	v.Model, v.Pre = ModelBPE, "gpt-2"
	bt := gpt2Bytes()
	for b := range 256 {
		v.Tokens = append(v.Tokens, string(bt.toRune[b]))
	}
	v.Tokens = append(v.Tokens, "abc")
	v.Merges = []string{"a b", "ab c"}
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []int32
	}{
		{"abc", []int32{256}},
		{"abd", []int32{'a', 'b', 'd'}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tok.Encode(tt.text, false, false)); diff != "" {
			t.Errorf("Encode(%q) mismatch (-want +got):\n%s", tt.text, diff)
		}
	}
}
