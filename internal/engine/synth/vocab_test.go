package synth

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
)

func TestByteVocabRoundTrips(t *testing.T) {
	f, err := ByteVocab()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Hello world", "naïve café ☕", "<|im_start|>user\nhi<|im_end|>\n"} {
		ids := tok.Encode(s, false, true)
		if got := tok.Decode(ids); got != s && s[0] != '<' {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	ids := tok.Encode("<|im_start|>user", false, true)
	if len(ids) == 0 || ids[0] != 3 {
		t.Errorf("<|im_start|> did not encode as one control token: %v", ids)
	}
	if !tok.IsEOG(4) {
		t.Error("<|im_end|> does not end generation")
	}
}
