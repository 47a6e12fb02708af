package grammar

import (
	"fmt"
	"strconv"
	"strings"
)

// Whitespace is the policy for whitespace between JSON tokens.
type Whitespace int

const (
	// WhitespaceCompact allows no whitespace outside strings: the fastest
	// and shortest output, and what this package recommends.
	WhitespaceCompact Whitespace = iota
	// WhitespaceLimited allows up to Options.MaxWhitespace bytes of
	// space, tab or newline between tokens (bounded, so a model cannot
	// loop on whitespace).
	WhitespaceLimited
)

// Options control CompileSchema.
type Options struct {
	// Strict validates the schema against OpenAI's strict subset and fails
	// with a *SchemaError on the first violation. Without it, unsupported
	// keywords are ignored and listed in Grammar.Warnings.
	Strict bool
	// Whitespace is the whitespace policy (compact by default).
	Whitespace Whitespace
	// MaxWhitespace is the run length WhitespaceLimited allows; 0 means 4.
	MaxWhitespace int
	// Limits are the strict-mode size limits; the zero value means
	// LaunchLimits.
	Limits Limits
	// MaxStates bounds the automaton size; 0 means 262144.
	MaxStates int
}

// SchemaError is a schema the compiler rejects, with the JSON pointer of
// the offending subschema (such as "#/properties/items/items").
type SchemaError struct {
	Path string
	Msg  string
}

func (e *SchemaError) Error() string { return "schema " + e.Path + ": " + e.Msg }

// builder turns a parsed schema into rules.
type builder struct {
	o        Options
	doc      *jval
	rs       ruleSet
	byPath   map[string]int
	warnings []string
	ws       *expr
	anyValue int
	anyObj   int
	depth    int
}

func newBuilder(o Options, doc *jval) *builder {
	b := &builder{o: o, doc: doc, byPath: map[string]int{}, anyValue: -1, anyObj: -1}
	b.ws = empty()
	if o.Whitespace == WhitespaceLimited {
		n := o.MaxWhitespace
		if n <= 0 {
			n = 4
		}
		var s byteSet
		for _, c := range []byte(" \t\n") {
			s.add(c)
		}
		b.ws = repeat(bytesOf(s), 0, n)
	}
	return b
}

// CompileSchema compiles a JSON schema to a grammar of the JSON values it
// accepts (see the package documentation for what is enforced). Errors in
// the schema are *SchemaError.
func CompileSchema(schema []byte, o Options) (*Grammar, error) {
	doc, err := parseJSON(schema)
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: "invalid JSON: " + err.Error()}
	}
	if o.Strict {
		if err := checkStrict(doc, o.Limits); err != nil {
			return nil, err
		}
	}
	b := newBuilder(o, doc)
	root, err := b.rule("#", doc)
	if err != nil {
		return nil, err
	}
	g, err := compile(&b.rs, root, o.MaxStates)
	if err != nil {
		return nil, fmt.Errorf("grammar: compiling schema: %w", err)
	}
	g.Warnings = b.warnings
	return g, nil
}

// JSONObject returns a grammar accepting any JSON object (json_object
// mode), with no whitespace outside strings.
func JSONObject() *Grammar {
	b := newBuilder(Options{}, nil)
	g, err := compile(&b.rs, b.anyObject(), 0)
	if err != nil {
		panic(fmt.Sprintf("grammar: the JSON object grammar does not compile: %v", err))
	}
	return g
}

func (b *builder) warn(path, format string, args ...any) {
	b.warnings = append(b.warnings, path+": "+fmt.Sprintf(format, args...))
}

// rule returns the rule for the subschema at path, building it once.
func (b *builder) rule(path string, node *jval) (int, error) {
	if r, ok := b.byPath[path]; ok {
		return r, nil
	}
	r := b.rs.add(path)
	b.byPath[path] = r
	body, err := b.schema(path, node)
	if err != nil {
		return 0, err
	}
	b.rs.bodies[r] = body
	return r, nil
}

// value returns the expression for a value of the subschema at path:
// inline for small leaf schemas, a rule call otherwise.
func (b *builder) value(path string, node *jval) (*expr, error) {
	if isLeaf(node) {
		return b.schema(path, node)
	}
	r, err := b.rule(path, node)
	if err != nil {
		return nil, err
	}
	return ref(r), nil
}

// isLeaf reports whether node is a scalar-only schema worth inlining.
func isLeaf(node *jval) bool {
	if node == nil || node.kind != jObject {
		return false
	}
	for _, m := range node.obj {
		switch m.key {
		case "$ref", "anyOf", "oneOf", "properties", "items", "additionalProperties", "prefixItems", "allOf":
			return false
		case "type":
			for _, t := range typeNames(m.val) {
				if t == "object" || t == "array" {
					return false
				}
			}
		}
	}
	return node.get("type") != nil || node.get("enum") != nil || node.get("const") != nil
}

func typeNames(v *jval) []string {
	switch {
	case v == nil:
		return nil
	case v.kind == jString:
		return []string{v.s}
	case v.kind == jArray:
		var out []string
		for _, e := range v.arr {
			if e.kind == jString {
				out = append(out, e.s)
			}
		}
		return out
	}
	return nil
}

// maxBuildDepth bounds the recursion of the builder through inline
// subschemas (references are rules and do not count).
const maxBuildDepth = 64

// knownKeyword reports whether the builder understands keyword k (applies
// it or can safely ignore it).
func knownKeyword(k string) bool {
	switch k {
	case "type", "properties", "required", "additionalProperties", "items", "enum", "const",
		"anyOf", "oneOf", "$defs", "definitions", "$ref", "pattern", "format", "minLength",
		"maxLength", "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum",
		"exclusiveMaximum", "multipleOf", "title", "description", "$comment", "$schema", "$id",
		"examples", "default", "deprecated", "readOnly", "writeOnly", "nullable", "$anchor", "strict":
		return true
	}
	return false
}

// schema builds the expression for the subschema node at path.
func (b *builder) schema(path string, node *jval) (*expr, error) {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > maxBuildDepth {
		return nil, &SchemaError{path, fmt.Sprintf("subschemas nested deeper than %d", maxBuildDepth)}
	}
	switch {
	case node == nil:
		return b.any(), nil
	case node.kind == jBool:
		if node.b {
			return b.any(), nil
		}
		return never(), nil
	case node.kind != jObject:
		return nil, &SchemaError{path, "a schema must be an object or a boolean"}
	}
	for _, m := range node.obj {
		if !knownKeyword(m.key) {
			b.warn(path, "keyword %q is not supported and was ignored", m.key)
		}
	}
	if r := node.get("$ref"); r != nil {
		if len(node.obj) > 1 {
			for _, m := range node.obj {
				switch m.key {
				case "$ref", "title", "description", "$comment", "$defs", "definitions", "default", "examples":
				default:
					b.warn(path, "keyword %q next to $ref was ignored", m.key)
				}
			}
		}
		return b.reference(path, r)
	}
	if c := node.get("const"); c != nil {
		return lit(c.String()), nil
	}
	if e := node.get("enum"); e != nil {
		if e.kind != jArray {
			return nil, &SchemaError{path + "/enum", "enum must be an array"}
		}
		alts := make([]*expr, len(e.arr))
		for i, v := range e.arr {
			alts[i] = lit(v.String())
		}
		return alt(alts...), nil
	}
	for _, kw := range []string{"anyOf", "oneOf"} {
		if a := node.get(kw); a != nil {
			if a.kind != jArray || len(a.arr) == 0 {
				return nil, &SchemaError{path + "/" + kw, kw + " must be a non-empty array"}
			}
			if kw == "oneOf" {
				b.warn(path, "oneOf is treated as anyOf (exclusivity is not enforced)")
			}
			alts := make([]*expr, len(a.arr))
			for i, sub := range a.arr {
				e, err := b.value(path+"/"+kw+"/"+strconv.Itoa(i), sub)
				if err != nil {
					return nil, err
				}
				alts[i] = e
			}
			return alt(alts...), nil
		}
	}
	types := typeNames(node.get("type"))
	if t := node.get("type"); t != nil && len(types) == 0 {
		return nil, &SchemaError{path + "/type", "type must be a string or an array of strings"}
	}
	if len(types) == 0 {
		types = inferTypes(node)
		if len(types) == 0 {
			return b.any(), nil
		}
	}
	if n := node.get("nullable"); n != nil && n.kind == jBool && n.b {
		types = append(types, "null")
	}
	alts := make([]*expr, 0, len(types))
	seen := map[string]bool{}
	for _, t := range types {
		if seen[t] {
			continue
		}
		seen[t] = true
		var e *expr
		var err error
		switch t {
		case "object":
			e, err = b.object(path, node)
		case "array":
			e, err = b.array(path, node)
		case "string":
			e, err = b.str(path, node)
		case "integer", "number":
			e = b.number(path, node, t == "integer")
		case "boolean":
			e = alt(lit("true"), lit("false"))
		case "null":
			e = lit("null")
		default:
			return nil, &SchemaError{path + "/type", fmt.Sprintf("unknown type %q", t)}
		}
		if err != nil {
			return nil, err
		}
		alts = append(alts, e)
	}
	return alt(alts...), nil
}

// inferTypes guesses the type of a schema without "type" from its
// keywords.
func inferTypes(node *jval) []string {
	has := func(keys ...string) bool {
		for _, k := range keys {
			if node.get(k) != nil {
				return true
			}
		}
		return false
	}
	switch {
	case has("properties", "additionalProperties", "required"):
		return []string{"object"}
	case has("items", "minItems", "maxItems", "prefixItems"):
		return []string{"array"}
	case has("pattern", "format", "minLength", "maxLength"):
		return []string{"string"}
	case has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
		return []string{"number"}
	}
	return nil
}

// reference resolves a local $ref to a rule call.
func (b *builder) reference(path string, r *jval) (*expr, error) {
	if r.kind != jString || !strings.HasPrefix(r.s, "#") {
		return nil, &SchemaError{path + "/$ref", "only local references (#...) are supported"}
	}
	target, err := resolvePointer(b.doc, r.s)
	if err != nil {
		return nil, &SchemaError{path + "/$ref", err.Error()}
	}
	id, err := b.rule(r.s, target)
	if err != nil {
		return nil, err
	}
	return ref(id), nil
}

// resolvePointer follows a "#/a/b" JSON pointer fragment.
func resolvePointer(doc *jval, p string) (*jval, error) {
	p = strings.TrimPrefix(p, "#")
	if p == "" {
		return doc, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("reference %q is not a JSON pointer", "#"+p)
	}
	cur := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch {
		case cur == nil:
		case cur.kind == jObject:
			cur = cur.get(tok)
			continue
		case cur.kind == jArray:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(cur.arr) {
				cur = cur.arr[i]
				continue
			}
		}
		return nil, fmt.Errorf("reference %q does not resolve", "#"+p)
	}
	if cur == nil {
		return nil, fmt.Errorf("reference %q does not resolve", "#"+p)
	}
	return cur, nil
}

// pointerToken escapes a key for a JSON pointer.
func pointerToken(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func quoted(s string) string {
	var sb strings.Builder
	writeJSONString(&sb, s)
	return sb.String()
}

// intKeyword reads a non-negative integer keyword; -1 when absent.
func intKeyword(path string, node *jval, key string) (int, error) {
	v := node.get(key)
	if v == nil {
		return -1, nil
	}
	f, err := strconv.ParseFloat(v.s, 64)
	if v.kind != jNumber || err != nil || f < 0 || f != float64(int(f)) || f > 1e9 {
		return 0, &SchemaError{path + "/" + key, key + " must be a non-negative integer"}
	}
	return int(f), nil
}
