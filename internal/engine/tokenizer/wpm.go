package tokenizer

import (
	"sort"
	"strings"
	"unicode"
)

// nfdRange maps lo..hi to base, the first code point of their canonical
// decomposition.
type nfdRange struct{ lo, hi, base rune }

// nfdBase returns the first code point of r's canonical decomposition,
// which strips accents from precomposed letters ("Ä" → "A").
func nfdBase(r rune) rune {
	i := sort.Search(len(nfdRanges), func(i int) bool { return nfdRanges[i].hi >= r })
	if i < len(nfdRanges) && nfdRanges[i].lo <= r {
		return nfdRanges[i].base
	}
	return r
}

// isChineseChar reports the CJK ideograph blocks BERT splits into single
// characters (with the upper bound of one block as Hugging Face has it).
func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// wpmWords normalizes text like BERT's basic tokenizer (accents stripped,
// lower case, control characters dropped) and splits it on whitespace,
// punctuation and CJK ideographs.
func wpmWords(text string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range text {
		r = nfdBase(r)
		if unicode.IsSpace(r) {
			flush()
			continue
		}
		if r == 0 || r == unicode.ReplacementChar || unicode.Is(unicode.C, r) {
			continue
		}
		lr := unicode.ToLower(r)
		if unicode.IsPunct(r) || (r < 0x7F && unicode.IsSymbol(r)) || isChineseChar(r) {
			flush()
			words = append(words, string(lr))
			continue
		}
		cur.WriteRune(lr)
	}
	flush()
	return words
}

// encodeWPM appends the WordPiece ids of text. Word-initial pieces carry a
// "▁" prefix in GGUF vocabularies, continuation pieces have no "##".
func (t *Tokenizer) encodeWPM(text string, out []int32) []int32 {
	for _, w := range wpmWords(text) {
		word := "\u2581" + w
		start := len(out)
		for i := 0; i < len(word); {
			found := false
			for j := min(len(word), i+t.maxTokenLen); j > i; j-- {
				if id, ok := t.ids[word[i:j]]; ok {
					out = append(out, id)
					i = j
					found = true
					break
				}
			}
			if !found {
				out = out[:start]
				break
			}
		}
		if len(out) == start && t.v.UNK != NoToken {
			out = append(out, t.v.UNK)
		}
	}
	return out
}
