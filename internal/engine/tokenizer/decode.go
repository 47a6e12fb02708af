package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendPiece appends the bytes token id stands for. Control, unknown and
// unused tokens produce nothing unless special is set (control and unknown
// tokens then produce their text). The bytes of one token need not be
// complete UTF-8 (byte-fallback and byte-level BPE tokens).
func (t *Tokenizer) appendPiece(dst []byte, id int32, special bool) []byte {
	if id < 0 || int(id) >= len(t.v.Tokens) {
		return dst
	}
	text, a := t.v.Tokens[id], t.attrs[id]
	switch {
	case a&(attrControl|attrUnknown) != 0:
		if special {
			dst = append(dst, text...)
		}
		return dst
	case a&attrUserDefined != 0:
		return append(dst, text...)
	case a&attrUnused != 0:
		return dst
	}
	switch t.kind {
	case kindBPE:
		return decodeBPEText(dst, text)
	default:
		if a&attrByte != 0 {
			if b, ok := parseByteToken(text); ok {
				return append(dst, b)
			}
		}
		return append(dst, strings.ReplaceAll(text, "\u2581", " ")...)
	}
}

// parseByteToken reads "<0xNN>".
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[3:5], 16, 8)
	return byte(v), err == nil
}

// stripsPrefix reports whether decoding removes the space that encoding
// put in front of the text (SentencePiece's space prefix, WordPiece's word
// marker).
func (t *Tokenizer) stripsPrefix() bool {
	return (t.kind == kindSPM && t.v.AddSpacePrefix) || t.kind == kindWPM
}

// Piece returns the bytes token id contributes to decoded text, without
// any space stripping; control tokens give "".
func (t *Tokenizer) Piece(id int32) string { return string(t.appendPiece(nil, id, false)) }

// Decode turns ids back into text. Control tokens (BOS, EOS, ...) are
// skipped, and the space SentencePiece adds in front of the text is
// removed, so Decode(Encode(s, false, false)) == s for lossless
// vocabularies. Bytes that do not form valid UTF-8 are kept as they are.
func (t *Tokenizer) Decode(ids []int32) string {
	d := t.NewDecoder(true)
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(d.Add(id))
	}
	b.WriteString(d.Flush())
	return b.String()
}

// Decoder turns a stream of ids into text, one id at a time, and never
// returns part of a multi-byte UTF-8 character: incomplete bytes wait for
// the next id (or Flush). Invalid bytes are passed through. A Decoder is
// not safe for concurrent use.
type Decoder struct {
	t       *Tokenizer
	buf     []byte
	strip   bool // remove the leading space of the first piece
	Special bool // render control tokens as their text
}

// NewDecoder returns a streaming decoder. With startOfText the first
// visible piece loses the prefix space, as in Decode; pass false when the
// ids continue an earlier text (a generation after its prompt).
func (t *Tokenizer) NewDecoder(startOfText bool) *Decoder {
	return &Decoder{t: t, strip: startOfText && t.stripsPrefix()}
}

// Add decodes one more id and returns the text that is now complete.
func (d *Decoder) Add(id int32) string {
	n := len(d.buf)
	d.buf = d.t.appendPiece(d.buf, id, d.Special)
	if d.strip && len(d.buf) > n {
		d.strip = false
		if d.buf[n] == ' ' {
			d.buf = append(d.buf[:n], d.buf[n+1:]...)
		}
	}
	cut := completeUTF8(d.buf)
	if cut == 0 {
		return ""
	}
	s := string(d.buf[:cut])
	d.buf = append(d.buf[:0], d.buf[cut:]...)
	return s
}

// Flush returns whatever is still buffered, complete or not.
func (d *Decoder) Flush() string {
	s := string(d.buf)
	d.buf = d.buf[:0]
	return s
}

// completeUTF8 returns the length of the longest prefix of b that does not
// end inside a valid but unfinished UTF-8 sequence.
func completeUTF8(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			break
		}
	}
	return len(b)
}
