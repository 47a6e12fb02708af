package reqlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces the value of a secret-named field in a stored body.
const Redacted = "[REDACTED]"

// truncated is the marker that ends a body cut at the size limit.
func truncated(total int) string {
	return fmt.Sprintf("…[truncated: the body had %d bytes]", total)
}

// scrubJSON re-encodes the JSON document body compactly with the value of
// every field whose name looks secret (see secretName) replaced by
// Redacted, at any depth, and cuts the result at limit bytes with a
// marker. It stops reading once the output is past the limit, so a large
// body costs no more than the part that is kept. A body that is not JSON
// is not stored at all (it cannot be scrubbed): a note says so.
func scrubJSON(body []byte, limit int) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var w jsonWriter
	for w.out.Len() <= limit {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(w.stack) != 0 {
				break // cannot happen: Token reports an unexpected EOF
			}
			return w.out.String()
		}
		if err != nil {
			return fmt.Sprintf("[a body of %d bytes that is not valid JSON was not stored]", len(body))
		}
		if w.redactNext {
			w.redactNext = false
			if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') {
				if err := skipValue(dec); err != nil {
					return fmt.Sprintf("[a body of %d bytes that is not valid JSON was not stored]", len(body))
				}
			}
			w.value(Redacted)
			continue
		}
		w.token(tok)
	}
	return clip(w.out.String(), limit, len(body))
}

// skipValue reads the rest of an object or array whose opening delimiter
// was just read.
func skipValue(dec *json.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

// jsonWriter writes a token stream back as compact JSON.
type jsonWriter struct {
	out        bytes.Buffer
	stack      []frame
	redactNext bool // the next value belongs to a secret-named field
}

// frame is an open object or array.
type frame struct {
	object  bool
	n       int  // members or elements written
	wantKey bool // in an object: the next string is a key
}

func (w *jsonWriter) token(tok json.Token) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{', '[':
			w.before()
			w.out.WriteByte(byte(t))
			w.stack = append(w.stack, frame{object: t == '{', wantKey: t == '{'})
		default:
			w.stack = w.stack[:len(w.stack)-1]
			w.out.WriteByte(byte(t))
			w.after()
		}
	case string:
		if n := len(w.stack); n > 0 && w.stack[n-1].object && w.stack[n-1].wantKey {
			f := &w.stack[n-1]
			if f.n > 0 {
				w.out.WriteByte(',')
			}
			writeString(&w.out, t)
			w.out.WriteByte(':')
			f.wantKey = false
			w.redactNext = secretName(t)
			return
		}
		w.value(t)
	default:
		w.value(t)
	}
}

// value writes a scalar value.
func (w *jsonWriter) value(v any) {
	w.before()
	switch t := v.(type) {
	case string:
		writeString(&w.out, t)
	case json.Number:
		w.out.WriteString(t.String())
	case bool:
		if t {
			w.out.WriteString("true")
		} else {
			w.out.WriteString("false")
		}
	case nil:
		w.out.WriteString("null")
	}
	w.after()
}

// before writes the comma that precedes an array element.
func (w *jsonWriter) before() {
	if n := len(w.stack); n > 0 && !w.stack[n-1].object && w.stack[n-1].n > 0 {
		w.out.WriteByte(',')
	}
}

// after counts a value written in its container.
func (w *jsonWriter) after() {
	if n := len(w.stack); n > 0 {
		f := &w.stack[n-1]
		f.n++
		if f.object {
			f.wantKey = true
		}
	}
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// clip cuts s at limit bytes, on a UTF-8 boundary, and adds the truncation
// marker; total is the size of the whole body.
func clip(s string, limit, total int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncated(total)
}

// secretWords are words that make any field name secret; a name whose
// last word is "key" or "token" is secret too (api_key, x-api-key,
// access_token, sessionToken), while max_tokens or key_id are not.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "secret": true, "secrets": true,
	"authorization": true, "credential": true, "credentials": true, "apikey": true,
	"bearer": true, "cookie": true, "passphrase": true,
}

// secretName reports whether a JSON field name looks like it holds a
// secret. Names are split into words at punctuation and camelCase
// boundaries and compared in lower case.
func secretName(name string) bool {
	words := splitWords(name)
	if len(words) == 0 {
		return false
	}
	for _, w := range words {
		if secretWords[w] {
			return true
		}
	}
	last := words[len(words)-1]
	return last == "key" || last == "token"
}

// splitWords splits a name into lower-case words: at every character that
// is not a letter or digit, and before an upper-case letter that follows a
// lower-case one.
func splitWords(name string) []string {
	var words []string
	var cur strings.Builder
	prevLower := false
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			prevLower = false
			continue
		case unicode.IsUpper(r) && prevLower:
			flush()
		}
		prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		cur.WriteRune(unicode.ToLower(r))
	}
	flush()
	return words
}
