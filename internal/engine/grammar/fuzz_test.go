package grammar

import "testing"

func FuzzCompileSchema(f *testing.F) {
	for _, h := range handSchemas[:6] {
		f.Add([]byte(h.schema), true)
	}
	f.Add([]byte(`{"type":"string","pattern":"^(a|b)*c{2,3}$"}`), false)
	f.Add([]byte(`{"$ref":"#/$defs/x","$defs":{"x":{"anyOf":[{"$ref":"#/$defs/x"}]}}}`), false)
	f.Add([]byte(`{"enum":[1,"a",null,{"b":[]}]}`), false)
	f.Fuzz(func(t *testing.T, schema []byte, strict bool) {
		g, err := CompileSchema(schema, Options{Strict: strict, MaxStates: 20000})
		if err != nil {
			return
		}
		m := g.NewMatcher()
		f := Forced(m)
		if len(f) > 0 && !m.Clone().Advance(f) {
			t.Fatalf("forced text %q rejected", f)
		}
		m.Advance(schema)
	})
}

func FuzzParseGBNF(f *testing.F) {
	f.Add(`root ::= "a" [b-d]* (x | "y")+ x ::= "z"{1,3}`)
	f.Add("root ::= [^\\n]? . \"\\u00e9\" # c\n")
	f.Add(`root ::= a a ::= b b ::= "c" | root "d"`)
	f.Fuzz(func(t *testing.T, src string) {
		g, err := ParseGBNF(src)
		if err != nil {
			return
		}
		m := g.NewMatcher()
		m.Advance([]byte(src))
		Forced(m)
	})
}
