package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// keyOrder remembers the insertion order of the maps a render builds, so that
// tojson and dict.items() reproduce Python's ordered dicts. Maps are kept as
// plain map[string]any (gonja's dict methods and tests only know that type)
// and looked up by identity. Entries live only for the duration of a render.
type keyOrder struct {
	mu    sync.Mutex
	order map[uintptr][]string
}

func newKeyOrder() *keyOrder { return &keyOrder{order: map[uintptr][]string{}} }

func mapID(m map[string]any) uintptr { return reflect.ValueOf(m).Pointer() }

func (k *keyOrder) set(m map[string]any, keys []string) {
	k.mu.Lock()
	k.order[mapID(m)] = keys
	k.mu.Unlock()
}

func (k *keyOrder) forget(ids []uintptr) {
	k.mu.Lock()
	for _, id := range ids {
		delete(k.order, id)
	}
	k.mu.Unlock()
}

// keys returns m's keys in insertion order when known (keys added later by
// the template come after, sorted) and sorted otherwise.
func (k *keyOrder) keys(m map[string]any) []string {
	k.mu.Lock()
	known := k.order[mapID(m)]
	k.mu.Unlock()
	out := make([]string, 0, len(m))
	seen := make(map[string]bool, len(known))
	for _, key := range known {
		if _, ok := m[key]; ok && !seen[key] {
			out = append(out, key)
			seen[key] = true
		}
	}
	var rest []string
	for key := range m {
		if !seen[key] {
			rest = append(rest, key)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// orderedBuilder creates maps for one render and records their key order.
type orderedBuilder struct {
	table *keyOrder
	ids   []uintptr
}

func (b *orderedBuilder) newMap(keys []string, vals []any) map[string]any {
	m := make(map[string]any, len(keys))
	for i, key := range keys {
		m[key] = vals[i]
	}
	b.table.set(m, keys)
	b.ids = append(b.ids, mapID(m))
	return m
}

// decodeJSON parses JSON text into Python-like values: ordered maps,
// []any, string, bool, nil, int for integral numbers and float64 otherwise.
func (b *orderedBuilder) decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := b.decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

const maxJSONDepth = 128

func (b *orderedBuilder) decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var keys []string
			var vals []any
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				v, err := b.decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				if i := indexOf(keys, key); i >= 0 {
					vals[i] = v // Python keeps the first position, last value.
					continue
				}
				keys = append(keys, key)
				vals = append(vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return b.newMap(keys, vals), nil
		case '[':
			list := []any{}
			for dec.More() {
				v, err := b.decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return list, nil
		}
		return nil, fmt.Errorf("unexpected delimiter %v", t)
	case json.Number:
		s := t.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
				return int(n), nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", s, err)
		}
		return f, nil
	default:
		return t, nil // string, bool or nil
	}
}

func indexOf(keys []string, key string) int {
	for i, k := range keys {
		if k == key {
			return i
		}
	}
	return -1
}

// dumpOptions mirror the keyword arguments of Python's json.dumps that
// Hugging Face's tojson passes through.
type dumpOptions struct {
	indent       string // "" with hasIndent=false means single-line
	hasIndent    bool
	itemSep      string
	keySep       string
	ensureASCII  bool
	sortKeys     bool
	maxBytes     int
	keyOrderedBy *keyOrder
}

// pyDumps serializes v the way Python's json.dumps does.
func pyDumps(v any, o dumpOptions) (string, error) {
	var sb strings.Builder
	if err := o.write(&sb, v, 0); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func (o *dumpOptions) write(sb *strings.Builder, v any, depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("tojson: value nested deeper than %d", maxJSONDepth)
	}
	if o.maxBytes > 0 && sb.Len() > o.maxBytes {
		return fmt.Errorf("tojson: output larger than %d bytes: %w", o.maxBytes, ErrLimit)
	}
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
		return nil
	case *exec.Value:
		if x == nil {
			sb.WriteString("null")
			return nil
		}
		if x.IsError() {
			return fmt.Errorf("tojson: %s", x.Error())
		}
		return o.write(sb, x.Interface(), depth)
	case string:
		writePyString(sb, x, o.ensureASCII)
		return nil
	case bool:
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
		return nil
	case *exec.Dict:
		if x == nil {
			sb.WriteString("null")
			return nil
		}
		return o.writeDict(sb, x, depth)
	case exec.Dict:
		return o.writeDict(sb, &x, depth)
	case map[string]any:
		var keys []string
		if o.sortKeys || o.keyOrderedBy == nil {
			keys = make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
		} else {
			keys = o.keyOrderedBy.keys(x)
		}
		if len(keys) == 0 {
			sb.WriteString("{}")
			return nil
		}
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(o.itemSep)
			}
			o.newline(sb, depth+1)
			writePyString(sb, k, o.ensureASCII)
			sb.WriteString(o.keySep)
			if err := o.write(sb, x[k], depth+1); err != nil {
				return err
			}
		}
		o.newline(sb, depth)
		sb.WriteByte('}')
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sb.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		sb.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		sb.WriteString(pyFloat(rv.Float()))
	case reflect.String:
		writePyString(sb, rv.String(), o.ensureASCII)
	case reflect.Bool:
		return o.write(sb, rv.Bool(), depth)
	case reflect.Slice, reflect.Array:
		if rv.Len() == 0 {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				sb.WriteString(o.itemSep)
			}
			o.newline(sb, depth+1)
			if err := o.write(sb, rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		o.newline(sb, depth)
		sb.WriteByte(']')
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("tojson: map keys of type %s are not supported", rv.Type().Key())
		}
		m := make(map[string]any, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = iter.Value().Interface()
		}
		return o.write(sb, m, depth)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			sb.WriteString("null")
			return nil
		}
		return o.write(sb, rv.Elem().Interface(), depth)
	default:
		return fmt.Errorf("tojson: object of type %T is not JSON serializable", v)
	}
	return nil
}

// writeDict writes a dict literal built by the template; it keeps the
// literal's order like Python does.
func (o *dumpOptions) writeDict(sb *strings.Builder, d *exec.Dict, depth int) error {
	keys := make([]string, 0, len(d.Pairs))
	m := make(map[string]any, len(d.Pairs))
	for _, p := range d.Pairs {
		k := p.Key.String()
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = p.Value
	}
	if o.sortKeys {
		sort.Strings(keys)
	}
	if len(keys) == 0 {
		sb.WriteString("{}")
		return nil
	}
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteString(o.itemSep)
		}
		o.newline(sb, depth+1)
		writePyString(sb, k, o.ensureASCII)
		sb.WriteString(o.keySep)
		if err := o.write(sb, m[k], depth+1); err != nil {
			return err
		}
	}
	o.newline(sb, depth)
	sb.WriteByte('}')
	return nil
}

func (o *dumpOptions) newline(sb *strings.Builder, depth int) {
	if !o.hasIndent {
		return
	}
	sb.WriteByte('\n')
	for range depth {
		sb.WriteString(o.indent)
	}
}

// writePyString writes s as a JSON string the way Python's json module does:
// only '"', '\\' and control characters are escaped unless ensureASCII is
// set, in which case every non-ASCII rune becomes \uXXXX (surrogate pairs
// above the BMP). Invalid UTF-8 becomes U+FFFD.
func writePyString(sb *strings.Builder, s string, ensureASCII bool) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		sb.WriteString(`\u`)
		sb.WriteByte(hex[r>>12&0xf])
		sb.WriteByte(hex[r>>8&0xf])
		sb.WriteByte(hex[r>>4&0xf])
		sb.WriteByte(hex[r&0xf])
	}
	sb.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			sb.WriteString(`\"`)
		case r == '\\':
			sb.WriteString(`\\`)
		case r == '\n':
			sb.WriteString(`\n`)
		case r == '\r':
			sb.WriteString(`\r`)
		case r == '\t':
			sb.WriteString(`\t`)
		case r == '\b':
			sb.WriteString(`\b`)
		case r == '\f':
			sb.WriteString(`\f`)
		case r < 0x20:
			u4(r)
		case ensureASCII && r > 0x7e:
			if r > 0xffff {
				r -= 0x10000
				u4(0xd800 | (r>>10)&0x3ff)
				u4(0xdc00 | r&0x3ff)
			} else {
				u4(r)
			}
		default:
			if r == utf8.RuneError {
				sb.WriteRune(utf8.RuneError)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// pyFloat formats f like Python's float.__repr__ as json.dumps prints it.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}
