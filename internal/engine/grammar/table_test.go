package grammar

import (
	"errors"
	"strings"
	"testing"
)

// accepts reports whether g accepts s as a complete sentence.
func accepts(g *Grammar, s string) bool {
	m := g.NewMatcher()
	return m.Advance([]byte(s)) && m.CanEnd()
}

type tableCase struct {
	name   string
	schema string
	opts   Options
	ok     []string
	bad    []string
}

func TestSchemaTable(t *testing.T) {
	cases := []tableCase{
		{name: "object required in order", schema: `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}`,
			ok:  []string{`{"name":"Bo","age":3}`, `{"name":"","age":-12}`, `{"name":"a\"b\\c\u00e9\n","age":0}`},
			bad: []string{`{"age":3,"name":"Bo"}`, `{"name":"Bo"}`, `{ "name":"Bo","age":3}`, `{"name":"Bo","age":03}`, `{"name":"Bo","age":1.5}`, "{\"name\":\"a\nb\",\"age\":1}", `{"name":"\ud800","age":1}`}},
		{name: "optional properties", schema: `{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"number"}},"required":["b"]}`,
			ok:  []string{`{"b":null}`, `{"a":true,"b":null}`, `{"b":null,"c":1e5}`, `{"a":false,"b":null,"c":-0.5E-3}`},
			bad: []string{`{}`, `{"a":true}`, `{"b":null,"a":true}`, `{,"b":null}`, `{"b":null,}`, `{"b":null,"c":.5}`}},
		{name: "all optional", schema: `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}}`,
			ok:  []string{`{}`, `{"a":1}`, `{"b":2}`, `{"a":1,"b":2}`},
			bad: []string{`{,}`, `{"b":2,"a":1}`, `{"a":1,}`}},
		{name: "array bounds", schema: `{"type":"array","items":{"type":"integer","minimum":0},"minItems":2,"maxItems":3}`,
			ok:  []string{`[1,2]`, `[0,0,7]`},
			bad: []string{`[]`, `[1]`, `[1,2,3,4]`, `[-1,2]`, `[1,,2]`}},
		{name: "enum and const", schema: `{"anyOf":[{"enum":["red","green",1,null,{"x":[1,2]}]},{"const":"a\"b"}]}`,
			ok:  []string{`"red"`, `1`, `null`, `{"x":[1,2]}`, `"a\"b"`},
			bad: []string{`"blue"`, `2`, `{"x":[1]}`}},
		{name: "nullable type array", schema: `{"type":["string","null"],"maxLength":3}`,
			ok:  []string{`"abc"`, `null`, `""`, `"\u00e9\n"`},
			bad: []string{`"abcd"`, `nul`, `1`}},
		{name: "min length counts code points", schema: `{"type":"string","minLength":2,"maxLength":2}`,
			ok:  []string{`"éé"`, `"\n\t"`, `"\u0041b"`},
			bad: []string{`"é"`, `"abc"`}},
		{name: "recursion", schema: `{"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v","kids"],"additionalProperties":false}},"$ref":"#/$defs/node"}`,
			ok:  []string{`{"v":1,"kids":[]}`, `{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[]}]},{"v":4,"kids":[]}]}`},
			bad: []string{`{"v":1,"kids":[{"v":2}]}`, `{"v":1,"kids":[}`}},
		{name: "root recursion", schema: `{"type":"object","properties":{"name":{"type":"string"},"child":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["name","child"],"additionalProperties":false}`,
			ok: []string{`{"name":"a","child":null}`, `{"name":"a","child":{"name":"b","child":null}}`}},
		{name: "pattern", schema: `{"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}$"}`,
			ok:  []string{`"AB-123"`, `"XY-1234"`},
			bad: []string{`"ab-123"`, `"AB-12"`, `"AB-12345"`, `"xAB-123"`}},
		{name: "unanchored pattern", schema: `{"type":"string","pattern":"ab+c"}`,
			ok:  []string{`"abc"`, `"xxabbbcyy"`},
			bad: []string{`"ac"`, `""`}},
		{name: "pattern with quote", schema: `{"type":"string","pattern":"^a\"|b\\\\$"}`,
			ok:  []string{`"a\""`, `"a\"zz"`, `"b\\"`, `"zb\\"`},
			bad: []string{`"a"`, `"b"`}},
		{name: "formats", schema: `{"type":"array","prefix":1,"items":{"anyOf":[{"type":"string","format":"date"},{"type":"string","format":"uuid"},{"type":"string","format":"ipv4"}]}}`,
			ok:  []string{`["2024-02-29","2023-12-31","123e4567-e89b-12d3-a456-426614174000","192.168.0.255"]`},
			bad: []string{`["2023-02-29"]`, `["2023-04-31"]`, `["1900-02-29"]`, `["01.2.3.4"]`, `["256.1.1.1"]`, `["123e4567e89b12d3a456426614174000"]`}},
		{name: "date-time email", schema: `{"type":"array","items":{"anyOf":[{"type":"string","format":"date-time"},{"type":"string","format":"email"}]}}`,
			ok:  []string{`["2000-02-29T23:59:59Z","2024-01-01T00:00:00.123+05:30","a.b@example.com"]`},
			bad: []string{`["2024-01-01T24:00:00Z"]`, `["2024-01-01T00:00:00"]`, `[".a@example.com"]`, `["a@b"]`}},
		{name: "integer range", schema: `{"type":"integer","minimum":-3,"exclusiveMaximum":12}`,
			ok:  []string{`-3`, `0`, `11`},
			bad: []string{`-4`, `12`, `-0`, `011`}},
		{name: "any", schema: `{}`,
			ok:  []string{`1`, `"x"`, `[1,{"a":[null,true]}]`, `{"a":{"b":[]}}`},
			bad: []string{`[1,]`, `{"a"}`, `tru`}},
		{name: "map", schema: `{"type":"object","additionalProperties":{"type":"integer"}}`,
			ok:  []string{`{}`, `{"x":1,"y":2}`},
			bad: []string{`{"x":"1"}`}},
		{name: "limited whitespace", schema: `{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"}}},"required":["a"]}`,
			opts: Options{Whitespace: WhitespaceLimited},
			ok:   []string{`{ "a" : [ 1 , 2 ] }`, "{\n  \"a\": [1,2]\n}", `{"a":[]}`},
			bad:  []string{`{      "a":[]}`, ` {"a":[]}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := CompileSchema([]byte(tc.schema), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.ok {
				if !accepts(g, s) {
					t.Errorf("rejected %s", s)
				}
			}
			for _, s := range tc.bad {
				if accepts(g, s) {
					t.Errorf("accepted %s", s)
				}
			}
		})
	}
}

func TestStrictErrors(t *testing.T) {
	obj := func(props, req string) string {
		return `{"type":"object","properties":{` + props + `},"required":[` + req + `],"additionalProperties":false}`
	}
	deep := `{"type":"string"}`
	for range 6 {
		deep = obj(`"x":`+deep, `"x"`)
	}
	var many []string
	var names []string
	for i := range 101 {
		many = append(many, `"p`+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))+`":{"type":"string"}`)
		names = append(names, `"p`+strings.Repeat("x", i%3)+string(rune('a'+i%26))+string(rune('a'+i/26))+`"`)
	}
	cases := []struct{ schema, path, msg string }{
		{`{"type":"array","items":{"type":"string"}}`, "#", "root"},
		{`{"anyOf":[` + obj(``, ``) + `]}`, "#", "anyOf"},
		{`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, "#", "additionalProperties"},
		{obj(`"a":{"type":"string"},"b":{"type":"string"}`, `"a"`), "#/properties/b", "required"},
		{obj(`"items":{"type":"array","items":{"type":"object","properties":{}}}`, `"items"`), "#/properties/items/items", "additionalProperties"},
		{obj(`"a":{"type":"string","minLength":2}`, `"a"`), "#/properties/a", "minLength"},
		{obj(`"a":{"allOf":[{"type":"string"}]}`, `"a"`), "#/properties/a", "allOf"},
		{obj(`"a":{"type":"string","pattern":"(a)\\1"}`, `"a"`), "#/properties/a/pattern", "backreference"},
		{obj(`"a":{"type":"string","pattern":"a(?=b)"}`, `"a"`), "#/properties/a/pattern", "lookaround"},
		{obj(`"a":{"type":"string","format":"uri"}`, `"a"`), "#/properties/a/format", "format"},
		{obj(`"a":{"$ref":"#/$defs/missing"}`, `"a"`), "#/properties/a/$ref", "resolve"},
		{deep, "#/properties/x/properties/x/properties/x/properties/x/properties/x", "deeper"},
		{obj(strings.Join(many, ","), strings.Join(names, ",")), "#", "properties"},
	}
	for _, tc := range cases {
		_, err := CompileSchema([]byte(tc.schema), Options{Strict: true})
		var se *SchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a SchemaError", tc.schema, err)
			continue
		}
		if se.Path != tc.path || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("%.80s: got %q %q, want path %q and %q", tc.schema, se.Path, se.Msg, tc.path, tc.msg)
		}
	}
	// Non-strict: the same schemas compile (when they can) with warnings.
	g, err := CompileSchema([]byte(obj(`"a":{"allOf":[{"type":"string"}],"type":"string"}`, `"a"`)), Options{})
	if err != nil || len(g.Warnings) == 0 {
		t.Errorf("non-strict: %v, warnings %v", err, g)
	}
	if _, err := CompileSchema([]byte(`{"type":"string","pattern":"(a)\\1"}`), Options{}); err == nil {
		t.Error("backreference accepted in non-strict mode")
	}
	// A valid strict schema.
	if _, err := CompileSchema([]byte(obj(`"a":{"type":["string","null"]},"b":{"anyOf":[{"type":"integer"},{"$ref":"#"}]}`, `"a","b"`)), Options{Strict: true}); err != nil {
		t.Errorf("valid strict schema: %v", err)
	}
}

func TestGBNF(t *testing.T) {
	g, err := ParseGBNF(`
# arithmetic
root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor ("*" factor)*
factor ::= [0-9]+ | "(" expr ")"
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"1", "1+2*3", "(1+2)*3", "((4))"} {
		if !accepts(g, s) {
			t.Errorf("rejected %q", s)
		}
	}
	for _, s := range []string{"", "1+", "(1", "a"} {
		if accepts(g, s) {
			t.Errorf("accepted %q", s)
		}
	}
	g, err = ParseGBNF(`root ::= "héllo\n" [^a-c]{2,3} "x"? .`)
	if err != nil {
		t.Fatal(err)
	}
	if !accepts(g, "héllo\ndéfz") || accepts(g, "héllo\nab") {
		t.Error("literal/class grammar")
	}
	for _, bad := range []string{`root ::= x`, `root ::= root "a"`, `a ::= "x"`, `root ::= "x`, `root ::= [a`} {
		if _, err := ParseGBNF(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

func TestForced(t *testing.T) {
	g, err := CompileSchema([]byte(`{"type":"object","properties":{"name":{"type":"string"},"kind":{"const":"x"}},"required":["name","kind"],"additionalProperties":false}`), Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	m := g.NewMatcher()
	if f := string(Forced(m)); f != `{"name":"` {
		t.Errorf("forced %q", f)
	}
	m.Advance([]byte(`{"name":"x"`))
	if f := string(Forced(m)); f != `,"kind":"x"}` {
		t.Errorf("forced %q", f)
	}
	m.Advance([]byte(`,"kind":"x"}`))
	if !m.CanEnd() || !m.Finished() || Forced(m) != nil {
		t.Error("end")
	}
	m.Reset()
	if m.CanEnd() || !m.Advance([]byte("{")) {
		t.Error("reset")
	}
}
