package tokenizer

import (
	"fmt"
	"slices"
	"strings"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is
// immutable after New and safe for concurrent use.
type Tokenizer struct {
	v     Vocab
	kind  int
	ids   map[string]int32 // token text -> id (the last id wins, as in llama.cpp)
	attrs []tokenAttr

	// special holds the ids matched as whole tokens in the input, longest
	// text first.
	special []int32
	// specialKey is the first two bytes of each special token (-1 when
	// shorter), to skip tokens that cannot occur in a text quickly.
	specialKey []int32
	eog        map[int32]bool

	// SPM
	byteIDs [256]int32 // "<0xNN>" token per byte, NoToken when absent

	// BPE
	pairs     map[uint64]mergeInfo // merges by the ids of their parts
	byteTok   [256]int32           // (virtual) id of each byte's printable form
	virtual   []string             // texts of virtual ids, from len(Tokens) on
	pre       preTokenizer
	ignoreMrg bool

	// WPM
	maxTokenLen int
}

const (
	kindSPM = iota
	kindBPE
	kindWPM
)

type tokenAttr uint8

const (
	attrNormal tokenAttr = 1 << iota
	attrUnknown
	attrControl
	attrUserDefined
	attrUnused
	attrByte
	attrLStrip
	attrRStrip
)

// New builds a Tokenizer from a Vocab.
func New(v Vocab) (*Tokenizer, error) {
	n := len(v.Tokens)
	if n == 0 {
		return nil, fmt.Errorf("tokenizer: empty vocabulary")
	}
	if v.Scores != nil && len(v.Scores) != n {
		return nil, fmt.Errorf("tokenizer: %d scores for %d tokens", len(v.Scores), n)
	}
	if v.Types != nil && len(v.Types) != n {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), n)
	}
	for _, id := range []*int32{&v.BOS, &v.EOS, &v.UNK, &v.PAD, &v.SEP, &v.CLS, &v.MASK, &v.EOT, &v.EOM} {
		if *id < 0 || int(*id) >= n {
			*id = NoToken
		}
	}
	t := &Tokenizer{v: v, ids: make(map[string]int32, n), attrs: make([]tokenAttr, n), eog: map[int32]bool{}}
	for i, s := range v.Tokens {
		t.ids[s] = int32(i)
		typ := TypeNormal
		if v.Types != nil {
			typ = v.Types[i]
		}
		switch typ {
		case TypeUnknown:
			t.attrs[i] = attrUnknown
		case TypeControl:
			t.attrs[i] = attrControl
		case TypeUserDefined:
			t.attrs[i] = attrUserDefined
		case TypeUnused:
			t.attrs[i] = attrUnused
		case TypeByte:
			t.attrs[i] = attrByte
		default:
			t.attrs[i] = attrNormal
		}
	}
	switch v.Model {
	case ModelSPM:
		t.kind = kindSPM
		for b := range 256 {
			t.byteIDs[b] = NoToken
			if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
				t.byteIDs[b] = id
			} else if id, ok := t.ids[string([]byte{byte(b)})]; ok {
				t.byteIDs[b] = id
			}
		}
	case ModelBPE:
		t.kind = kindBPE
		if err := t.initBPE(); err != nil {
			return nil, err
		}
	case ModelWPM:
		t.kind = kindWPM
		for _, s := range v.Tokens {
			t.maxTokenLen = max(t.maxTokenLen, len(s))
		}
	default:
		return nil, fmt.Errorf("tokenizer model %q: %w", v.Model, ErrUnsupported)
	}

	if name := strings.ToLower(v.Name); strings.Contains(name, "phi-3") || strings.Contains(name, "phi3") {
		// llama.cpp strips whitespace after phi-3's special tokens (it
		// recognises the model by general.name).
		for i := range t.attrs {
			if t.attrs[i]&(attrControl|attrUserDefined|attrUnknown) != 0 {
				t.attrs[i] |= attrRStrip
			}
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.ids[s]; ok {
				t.attrs[id] &^= attrRStrip
			}
		}
		if id, ok := t.ids["</s>"]; ok {
			t.attrs[id] |= attrRStrip
		}
	}

	for i, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 && v.Tokens[i] != "" {
			t.special = append(t.special, int32(i))
		}
	}
	slices.SortStableFunc(t.special, func(a, b int32) int {
		return len(v.Tokens[b]) - len(v.Tokens[a])
	})
	t.specialKey = make([]int32, len(t.special))
	for i, id := range t.special {
		t.specialKey[i] = pairKey(v.Tokens[id])
	}

	for _, id := range []int32{v.EOS, v.EOT, v.EOM} {
		if id != NoToken {
			t.eog[id] = true
		}
	}
	// Control tokens llama.cpp treats as end of generation by their text.
	for _, s := range []string{
		"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
		"<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
	} {
		if id, ok := t.ids[s]; ok && t.attrs[id]&attrControl != 0 {
			t.eog[id] = true
		}
	}
	return t, nil
}

// Len returns the number of tokens in the vocabulary.
func (t *Tokenizer) Len() int { return len(t.v.Tokens) }

// Token returns the raw vocabulary text of id, or "" if id is out of range.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return ""
	}
	return t.v.Tokens[id]
}

// ID returns the id of the token whose vocabulary text is exactly s.
func (t *Tokenizer) ID(s string) (int32, bool) {
	id, ok := t.ids[s]
	return id, ok
}

// BOS returns the beginning-of-sequence id, or NoToken.
func (t *Tokenizer) BOS() int32 { return t.v.BOS }

// EOS returns the end-of-sequence id, or NoToken.
func (t *Tokenizer) EOS() int32 { return t.v.EOS }

// Model returns the vocabulary model name ("llama", "gpt2" or "bert").
func (t *Tokenizer) Model() string { return t.v.Model }

// IsEOG reports whether id ends generation (EOS, end of turn, end of
// message, or a control token such as <|im_end|> or <|eot_id|>).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// IsControl reports whether id is a control token (decoded as nothing).
func (t *Tokenizer) IsControl(id int32) bool {
	return id >= 0 && int(id) < len(t.attrs) && t.attrs[id]&attrControl != 0
}

// fragment is a piece of the input: either raw text or an already known
// special token.
type fragment struct {
	text string
	id   int32 // NoToken for raw text
}

// Encode tokenizes text. With addSpecial the vocabulary's BOS/EOS (CLS/SEP
// for BERT) are added as its metadata asks. With parseSpecial, control
// tokens written in the text (such as "<|im_start|>") become their ids;
// user-defined tokens are always matched as whole tokens, as in llama.cpp.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var out []int32
	var frags []fragment
	if text != "" {
		frags = t.partition(text, parseSpecial)
	}
	switch t.kind {
	case kindSPM:
		if addSpecial && t.v.AddBOS && t.v.BOS != NoToken {
			out = append(out, t.v.BOS)
		}
		prevSpecial := true
		for _, f := range frags {
			if f.id != NoToken {
				out = append(out, f.id)
				prevSpecial = true
				continue
			}
			s := f.text
			if t.v.AddSpacePrefix && prevSpecial {
				s = " " + s
			}
			out = t.encodeSPM(strings.ReplaceAll(s, " ", "\u2581"), out)
			prevSpecial = false
		}
		if addSpecial && t.v.AddEOS && t.v.EOS != NoToken {
			out = append(out, t.v.EOS)
		}
	case kindBPE:
		if addSpecial && t.v.AddBOS && t.v.BOS != NoToken {
			out = append(out, t.v.BOS)
		}
		for _, f := range frags {
			if f.id != NoToken {
				out = append(out, f.id)
				continue
			}
			out = t.encodeBPE(f.text, out)
		}
		if addSpecial && t.v.AddEOS && t.v.EOS != NoToken {
			out = append(out, t.v.EOS)
		}
	case kindWPM:
		if addSpecial && t.v.AddBOS && t.v.BOS != NoToken {
			out = append(out, t.v.BOS)
		}
		for _, f := range frags {
			if f.id != NoToken {
				out = append(out, f.id)
				continue
			}
			out = t.encodeWPM(f.text, out)
		}
		if addSpecial && t.v.AddEOS && t.v.SEP != NoToken {
			out = append(out, t.v.SEP)
		}
	}
	return out
}

// partition splits text on occurrences of special tokens, longest first.
// Without parseSpecial only user-defined tokens are split out.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{text: text, id: NoToken}}
	if len(t.special) == 0 {
		return frags
	}
	// Byte pairs present in the text: a special token whose first two
	// bytes are absent cannot match.
	var pairs [1 << 16 / 64]uint64
	for i := 0; i+1 < len(text); i++ {
		k := uint16(text[i])<<8 | uint16(text[i+1])
		pairs[k/64] |= 1 << (k % 64)
	}
	for i, id := range t.special {
		a := t.attrs[id]
		if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
			continue
		}
		if k := t.specialKey[i]; k >= 0 && pairs[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		tok := t.v.Tokens[id]
		if !containsRaw(frags, tok) {
			continue
		}
		next := make([]fragment, 0, len(frags)+2)
		for _, f := range frags {
			if f.id != NoToken {
				next = append(next, f)
				continue
			}
			s := f.text
			for {
				i := strings.Index(s, tok)
				if i < 0 {
					if s != "" {
						next = append(next, fragment{text: s, id: NoToken})
					}
					break
				}
				left := s[:i]
				if a&attrLStrip != 0 {
					left = strings.TrimRight(left, asciiSpace)
				}
				if left != "" {
					next = append(next, fragment{text: left, id: NoToken})
				}
				next = append(next, fragment{id: id})
				s = s[i+len(tok):]
				if a&attrRStrip != 0 {
					s = strings.TrimLeft(s, asciiSpace)
				}
			}
		}
		frags = next
	}
	return frags
}

// asciiSpace is what C's isspace accepts in the "C" locale.
const asciiSpace = " \t\n\v\f\r"

func containsRaw(frags []fragment, tok string) bool {
	for _, f := range frags {
		if f.id == NoToken && strings.Contains(f.text, tok) {
			return true
		}
	}
	return false
}

// pairKey packs the first two bytes of s, or returns -1 if s is shorter.
func pairKey(s string) int32 {
	if len(s) < 2 {
		return -1
	}
	return int32(s[0])<<8 | int32(s[1])
}
