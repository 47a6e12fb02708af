package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jkind is the type of a parsed JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jval is a JSON value that keeps the order of object members (schema
// property order is the output key order).
type jval struct {
	kind jkind
	b    bool
	s    string // string value, or number literal
	arr  []*jval
	obj  []jmember
}

type jmember struct {
	key string
	val *jval
}

// get returns the member key of an object, or nil.
func (v *jval) get(key string) *jval {
	if v == nil || v.kind != jObject {
		return nil
	}
	for _, m := range v.obj {
		if m.key == key {
			return m.val
		}
	}
	return nil
}

// maxJSONDepth bounds the nesting of parsed schemas.
const maxJSONDepth = 200

// parseJSON parses one JSON document, keeping member order. Duplicate keys
// keep the last value, like encoding/json.
func parseJSON(data []byte) (*jval, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, depth int) (*jval, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &jval{kind: jNull}, nil
	case bool:
		return &jval{kind: jBool, b: t}, nil
	case json.Number:
		return &jval{kind: jNumber, s: t.String()}, nil
	case string:
		return &jval{kind: jString, s: t}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &jval{kind: jArray}
			for dec.More() {
				e, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return v, nil
		case '{':
			v := &jval{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				e, err := parseValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				replaced := false
				for i := range v.obj {
					if v.obj[i].key == k {
						v.obj[i].val, replaced = e, true
					}
				}
				if !replaced {
					v.obj = append(v.obj, jmember{k, e})
				}
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// compact writes v as compact JSON with members in their original order
// and strings escaped minimally (the form the grammar emits for const and
// enum values).
func (v *jval) compact(sb *strings.Builder) {
	switch v.kind {
	case jNull:
		sb.WriteString("null")
	case jBool:
		if v.b {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
	case jNumber:
		sb.WriteString(v.s)
	case jString:
		writeJSONString(sb, v.s)
	case jArray:
		sb.WriteByte('[')
		for i, e := range v.arr {
			if i > 0 {
				sb.WriteByte(',')
			}
			e.compact(sb)
		}
		sb.WriteByte(']')
	case jObject:
		sb.WriteByte('{')
		for i, m := range v.obj {
			if i > 0 {
				sb.WriteByte(',')
			}
			writeJSONString(sb, m.key)
			sb.WriteByte(':')
			m.val.compact(sb)
		}
		sb.WriteByte('}')
	}
}

func (v *jval) String() string {
	var sb strings.Builder
	v.compact(&sb)
	return sb.String()
}

// writeJSONString writes s as a JSON string: `"` and `\` escaped, control
// characters as \n, \t... or \u00XX, everything else raw.
func writeJSONString(sb *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r < 0x20:
			if e, ok := shortEscape(byte(r)); ok {
				sb.WriteByte('\\')
				sb.WriteByte(e)
			} else {
				sb.WriteString(`\u00`)
				sb.WriteByte(hex[r>>4])
				sb.WriteByte(hex[r&15])
			}
		default:
			sb.WriteRune(r)
		}
	}
	sb.WriteByte('"')
}

// shortEscape returns the letter of the two-character escape of control
// byte c, if it has one.
func shortEscape(c byte) (byte, bool) {
	switch c {
	case '\b':
		return 'b', true
	case '\f':
		return 'f', true
	case '\n':
		return 'n', true
	case '\r':
		return 'r', true
	case '\t':
		return 't', true
	}
	return 0, false
}
