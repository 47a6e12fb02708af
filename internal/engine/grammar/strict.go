package grammar

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits are the size limits of OpenAI's strict mode.
type Limits struct {
	// MaxProperties bounds the object properties of the whole schema.
	MaxProperties int
	// MaxDepth bounds the nesting of object schemas (the root object is
	// level 1), counted in the schema text (references are not followed).
	MaxDepth int
	// MaxEnumValues bounds the enum values of the whole schema.
	MaxEnumValues int
	// MaxStringLength bounds the total length of property names,
	// definition names, enum values and const values.
	MaxStringLength int
	// LargeEnum and MaxLargeEnumLength: a single enum of more than
	// LargeEnum string values may total at most MaxLargeEnumLength
	// characters.
	LargeEnum          int
	MaxLargeEnumLength int
}

// LaunchLimits are the limits OpenAI documented when structured outputs
// launched (August 2024) and that Azure OpenAI documents: 100 properties, 5
// levels, 500 enum values, 15,000 characters, 7,500 for one enum of more
// than 250 values. They are the default.
func LaunchLimits() Limits {
	return Limits{MaxProperties: 100, MaxDepth: 5, MaxEnumValues: 500, MaxStringLength: 15000,
		LargeEnum: 250, MaxLargeEnumLength: 7500}
}

// CurrentLimits are OpenAI's raised limits (5,000 properties, 10 levels,
// 1,000 enum values, 120,000 characters, 15,000 for one enum of more than
// 250 values).
func CurrentLimits() Limits {
	return Limits{MaxProperties: 5000, MaxDepth: 10, MaxEnumValues: 1000, MaxStringLength: 120000,
		LargeEnum: 250, MaxLargeEnumLength: 15000}
}

// strictFormats are the formats strict mode accepts.
func strictFormat(f string) bool {
	switch f {
	case "date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid":
		return true
	}
	return false
}

// strictKeyword reports whether strict mode accepts keyword k.
func strictKeyword(k string) bool {
	switch k {
	case "type", "properties", "required", "additionalProperties", "items", "enum", "const",
		"anyOf", "$defs", "definitions", "$ref", "pattern", "format", "minimum", "maximum",
		"exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
		"title", "description", "$comment", "$schema", "$id", "examples", "default":
		return true
	}
	return false
}

type strictChecker struct {
	doc    *jval
	lim    Limits
	props  int
	enums  int
	strLen int
}

// checkStrict validates doc against OpenAI's strict subset.
func checkStrict(doc *jval, lim Limits) error {
	if lim == (Limits{}) {
		lim = LaunchLimits()
	}
	if doc.kind != jObject {
		return &SchemaError{"#", "the root schema must be an object"}
	}
	if doc.get("anyOf") != nil {
		return &SchemaError{"#", "the root schema must not be anyOf"}
	}
	if t := doc.get("type"); t == nil || t.kind != jString || t.s != "object" {
		return &SchemaError{"#", `the root schema must have "type": "object"`}
	}
	c := &strictChecker{doc: doc, lim: lim}
	for _, defs := range []string{"$defs", "definitions"} {
		d := doc.get(defs)
		if d == nil {
			continue
		}
		if d.kind != jObject {
			return &SchemaError{"#/" + defs, defs + " must be an object"}
		}
		for _, m := range d.obj {
			c.strLen += utf8.RuneCountInString(m.key)
			if err := c.check("#/"+defs+"/"+pointerToken(m.key), m.val, 0); err != nil {
				return err
			}
		}
	}
	if err := c.check("#", doc, 0); err != nil {
		return err
	}
	switch {
	case c.props > lim.MaxProperties:
		return &SchemaError{"#", fmt.Sprintf("%d object properties; at most %d are allowed", c.props, lim.MaxProperties)}
	case c.enums > lim.MaxEnumValues:
		return &SchemaError{"#", fmt.Sprintf("%d enum values; at most %d are allowed", c.enums, lim.MaxEnumValues)}
	case c.strLen > lim.MaxStringLength:
		return &SchemaError{"#", fmt.Sprintf("property names, definition names, enum and const values total %d characters; at most %d are allowed", c.strLen, lim.MaxStringLength)}
	}
	return nil
}

// check validates the subschema at path; depth counts enclosing objects.
func (c *strictChecker) check(path string, s *jval, depth int) error {
	if s.kind != jObject {
		return &SchemaError{path, "a schema must be an object in strict mode"}
	}
	for _, m := range s.obj {
		if !strictKeyword(m.key) {
			return &SchemaError{path, fmt.Sprintf("keyword %q is not supported in strict mode", m.key)}
		}
	}
	if (s.get("$defs") != nil || s.get("definitions") != nil) && path != "#" {
		return &SchemaError{path, "$defs are allowed only at the root"}
	}
	if r := s.get("$ref"); r != nil {
		if r.kind != jString {
			return &SchemaError{path + "/$ref", "$ref must be a string"}
		}
		if _, err := resolvePointer(c.doc, r.s); err != nil {
			return &SchemaError{path + "/$ref", err.Error()}
		}
		return nil
	}
	if v := s.get("const"); v != nil {
		c.strLen += constLen(v)
	}
	if e := s.get("enum"); e != nil {
		if e.kind != jArray || len(e.arr) == 0 {
			return &SchemaError{path + "/enum", "enum must be a non-empty array"}
		}
		c.enums += len(e.arr)
		n, strs := 0, 0
		for _, v := range e.arr {
			n += constLen(v)
			if v.kind == jString {
				strs++
			}
		}
		c.strLen += n
		if strs > c.lim.LargeEnum && n > c.lim.MaxLargeEnumLength {
			return &SchemaError{path + "/enum", fmt.Sprintf("an enum of %d strings totals %d characters; at most %d are allowed", strs, n, c.lim.MaxLargeEnumLength)}
		}
	}
	if a := s.get("anyOf"); a != nil {
		if a.kind != jArray || len(a.arr) == 0 {
			return &SchemaError{path + "/anyOf", "anyOf must be a non-empty array"}
		}
		for i, sub := range a.arr {
			if err := c.check(path+"/anyOf/"+strconv.Itoa(i), sub, depth); err != nil {
				return err
			}
		}
	}
	types := typeNames(s.get("type"))
	if s.get("type") != nil && len(types) == 0 {
		return &SchemaError{path + "/type", "type must be a string or an array of strings"}
	}
	if len(types) == 0 && s.get("anyOf") == nil && s.get("enum") == nil && s.get("const") == nil {
		return &SchemaError{path, "a schema must have a type, enum, const, anyOf or $ref in strict mode"}
	}
	isObj, isArr := false, false
	for _, t := range types {
		switch t {
		case "object":
			isObj = true
		case "array":
			isArr = true
		case "string", "number", "integer", "boolean", "null":
		default:
			return &SchemaError{path + "/type", fmt.Sprintf("unknown type %q", t)}
		}
	}
	if f := s.get("format"); f != nil && (f.kind != jString || !strictFormat(f.s)) {
		return &SchemaError{path + "/format", fmt.Sprintf("format %s is not supported in strict mode", f)}
	}
	if p := s.get("pattern"); p != nil {
		if p.kind != jString {
			return &SchemaError{path + "/pattern", "pattern must be a string"}
		}
		if _, err := compileRegex(p.s); err != nil {
			return &SchemaError{path + "/pattern", err.Error()}
		}
	}
	if isObj {
		if err := c.object(path, s, depth+1); err != nil {
			return err
		}
	} else if s.get("properties") != nil || s.get("additionalProperties") != nil {
		return &SchemaError{path, `properties need "type": "object"`}
	}
	if isArr {
		items := s.get("items")
		if items == nil {
			return &SchemaError{path, "arrays need items in strict mode"}
		}
		if err := c.check(path+"/items", items, depth); err != nil {
			return err
		}
	} else if s.get("items") != nil {
		return &SchemaError{path, `items need "type": "array"`}
	}
	return nil
}

func (c *strictChecker) object(path string, s *jval, depth int) error {
	if depth > c.lim.MaxDepth {
		return &SchemaError{path, fmt.Sprintf("objects nested deeper than %d levels", c.lim.MaxDepth)}
	}
	if a := s.get("additionalProperties"); a == nil || a.kind != jBool || a.b {
		return &SchemaError{path, `"additionalProperties": false is required on every object`}
	}
	props := s.get("properties")
	if props != nil && props.kind != jObject {
		return &SchemaError{path + "/properties", "properties must be an object"}
	}
	required := map[string]bool{}
	if r := s.get("required"); r != nil {
		if r.kind != jArray {
			return &SchemaError{path + "/required", "required must be an array"}
		}
		for _, e := range r.arr {
			if e.kind != jString {
				return &SchemaError{path + "/required", "required must list strings"}
			}
			if props.get(e.s) == nil {
				return &SchemaError{path + "/required", fmt.Sprintf("required property %q is not in properties", e.s)}
			}
			required[e.s] = true
		}
	}
	if props == nil {
		return nil
	}
	for _, m := range props.obj {
		p := path + "/properties/" + pointerToken(m.key)
		if !required[m.key] {
			return &SchemaError{p, fmt.Sprintf("property %q must be listed in required (use a null union for optional values)", m.key)}
		}
		c.props++
		c.strLen += utf8.RuneCountInString(m.key)
		if err := c.check(p, m.val, depth); err != nil {
			return err
		}
	}
	return nil
}

// constLen is the length a const or enum value counts toward the limit.
func constLen(v *jval) int {
	if v.kind == jString {
		return utf8.RuneCountInString(v.s)
	}
	return utf8.RuneCountInString(v.String())
}
