package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
)

// selfDecoding describes the wire types that decode themselves: what they
// accept, and the element type to look into when they got an array, so a
// bad element is named with its index.
var selfDecoding = map[reflect.Type]struct {
	want string
	elem reflect.Type
}{
	reflect.TypeFor[inference.Content]():    {"a string or an array of content parts", reflect.TypeFor[[]inference.ContentPart]()},
	reflect.TypeFor[inference.Strings]():    {"a string or an array of strings", reflect.TypeFor[[]string]()},
	reflect.TypeFor[inference.ToolChoice](): {`"none", "auto", "required" or {"type":"function","function":{"name":...}}`, nil},
	reflect.TypeFor[inference.Prompt]():     {"a string, an array of strings, an array of token ids or an array of arrays of token ids", nil},
}

// findTypeError walks JSON data along the Go type of v (a pointer to a
// request) and finds the first value whose JSON type does not fit: its
// parameter path (messages[2].content[0].type), what was expected and
// what was sent. It is used only after json.Unmarshal failed, to name the
// parameter the way OpenAI does; ok is false when it finds nothing.
func findTypeError(data []byte, v any) (param, want, got string, ok bool) {
	return walk(data, reflect.TypeOf(v), "")
}

func walk(raw []byte, t reflect.Type, path string) (param, want, got string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", "", "", false
	}
	isNull := raw[0] == 'n'
	for t.Kind() == reflect.Pointer {
		if isNull {
			return "", "", "", false
		}
		t = t.Elem()
	}
	if t == rawMessageType || t.Kind() == reflect.Interface {
		return "", "", "", false
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if json.Unmarshal(raw, reflect.New(t).Interface()) == nil {
			return "", "", "", false
		}
		sd, known := selfDecoding[t]
		if known && sd.elem != nil && raw[0] == '[' {
			if p, w, g, found := walk(raw, sd.elem, path); found {
				return p, w, g, true
			}
		}
		want := "a valid value"
		if known {
			want = sd.want
		}
		return path, want, describe(raw), true
	}
	if isNull {
		return "", "", "", false // null leaves a non-pointer value alone
	}
	mismatch := func(want string) (string, string, string, bool) { return path, want, describe(raw), true }
	switch t.Kind() {
	case reflect.Struct:
		if raw[0] != '{' {
			return mismatch("an object")
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return "", "", "", false
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			for k, v := range fields {
				if k == name || strings.EqualFold(k, name) {
					if p, w, g, found := walk(v, f.Type, join(path, name)); found {
						return p, w, g, true
					}
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if raw[0] != '[' {
			return mismatch("an array")
		}
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return "", "", "", false
		}
		for i, e := range elems {
			if p, w, g, found := walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); found {
				return p, w, g, true
			}
		}
	case reflect.Map:
		if raw[0] != '{' {
			return mismatch("an object")
		}
		var entries map[string]json.RawMessage
		if json.Unmarshal(raw, &entries) != nil {
			return "", "", "", false
		}
		keys := make([]string, 0, len(entries))
		for k := range entries {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p, w, g, found := walk(entries[k], t.Elem(), path); found {
				return p, w, g, true
			}
		}
	case reflect.String:
		if raw[0] != '"' {
			return mismatch("a string")
		}
	case reflect.Bool:
		if raw[0] != 't' && raw[0] != 'f' {
			return mismatch("a boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if _, err := strconv.ParseInt(string(raw), 10, t.Bits()); err != nil {
			return mismatch(fmt.Sprintf("an integer that fits in %d bits", t.Bits()))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, err := strconv.ParseUint(string(raw), 10, t.Bits()); err != nil {
			return mismatch("a non-negative integer")
		}
	case reflect.Float32, reflect.Float64:
		if _, err := strconv.ParseFloat(string(raw), t.Bits()); err != nil {
			return mismatch("a decimal")
		}
	}
	return "", "", "", false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// describe names the JSON type of a value, as OpenAI's messages do.
func describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	if !bytes.ContainsAny(raw, ".eE") {
		return "an integer"
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		return "a number out of range"
	}
	return "a decimal"
}
