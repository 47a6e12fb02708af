package grammar

import (
	"fmt"
	"math"
	"strconv"
)

// maxLengthExpansion is the largest string minLength/maxLength the builder
// expands into a counted repetition; larger bounds are not enforced.
const maxLengthExpansion = 2000

// maxIntEnum is the widest integer range [minimum, maximum] that is
// enforced exactly (as the list of its members).
const maxIntEnum = 512

// hexDigit matches one hexadecimal digit.
func hexDigit() *expr {
	var s byteSet
	s.addRange('0', '9')
	s.addRange('a', 'f')
	s.addRange('A', 'F')
	return bytesOf(s)
}

// unicodeEscape matches `\uXXXX` for a code point outside the surrogate
// range (lone surrogates are invalid text, and pairs would make string
// lengths count differently from the schema's code points).
func unicodeEscape() *expr {
	var first byteSet
	first.addRange('0', '9')
	first.addRange('a', 'c')
	first.addRange('A', 'C')
	first.addRange('e', 'f')
	first.addRange('E', 'F')
	var d byteSet
	d.add('d')
	d.add('D')
	return seq(lit(`\u`), alt(
		seq(bytesOf(first), hexDigit(), hexDigit(), hexDigit()),
		seq(bytesOf(d), byteRange('0', '7'), hexDigit(), hexDigit()),
	))
}

// jsonChar matches one character of a JSON string body: raw UTF-8 other
// than `"`, `\` and control characters, or an escape.
func jsonChar() *expr {
	raw := utf8Expr([]runeRange{{0x20, 0x21}, {0x23, 0x5b}, {0x5d, 0x10ffff}})
	var simple byteSet
	for _, c := range []byte(`"\/bfnrt`) {
		simple.add(c)
	}
	return alt(raw, seq(oneByte('\\'), bytesOf(simple)), unicodeEscape())
}

// encodedRunes matches the JSON string encoding of one code point from
// ranges: raw where JSON allows it, escaped otherwise.
func encodedRunes(ranges []runeRange) *expr {
	ranges = normalizeRanges(ranges)
	in := func(r rune) bool {
		for _, x := range ranges {
			if r >= x.lo && r <= x.hi {
				return true
			}
		}
		return false
	}
	var raw []runeRange
	for _, x := range ranges {
		// Cut out the control characters, '"' and '\'.
		for _, ok := range []runeRange{{0x20, 0x21}, {0x23, 0x5b}, {0x5d, 0x10ffff}} {
			lo, hi := max(x.lo, ok.lo), min(x.hi, ok.hi)
			if lo <= hi {
				raw = append(raw, runeRange{lo, hi})
			}
		}
	}
	alts := []*expr{}
	if len(raw) > 0 {
		alts = append(alts, utf8Expr(raw))
	}
	if in('"') {
		alts = append(alts, lit(`\"`))
	}
	if in('\\') {
		alts = append(alts, lit(`\\`))
	}
	const hex = "0123456789abcdef"
	for c := rune(0); c < 0x20; c++ {
		if !in(c) {
			continue
		}
		if e, ok := shortEscape(byte(c)); ok {
			alts = append(alts, lit(string([]byte{'\\', e})))
			continue
		}
		lo := hex[c&15]
		var last byteSet
		last.add(lo)
		if lo >= 'a' {
			last.add(lo - 'a' + 'A')
		}
		alts = append(alts, seq(lit(`\u00`), oneByte(hex[c>>4]), bytesOf(last)))
	}
	return alt(alts...)
}

// str builds a string schema.
func (b *builder) str(path string, node *jval) (*expr, error) {
	minLen, err := intKeyword(path, node, "minLength")
	if err != nil {
		return nil, err
	}
	maxLen, err := intKeyword(path, node, "maxLength")
	if err != nil {
		return nil, err
	}
	if p := node.get("pattern"); p != nil {
		if p.kind != jString {
			return nil, &SchemaError{path + "/pattern", "pattern must be a string"}
		}
		body, err := compileRegex(p.s)
		if err != nil {
			return nil, &SchemaError{path + "/pattern", err.Error()}
		}
		if node.get("format") != nil {
			b.warn(path, "format is ignored next to pattern")
		}
		if minLen >= 0 || maxLen >= 0 {
			b.warn(path, "minLength/maxLength are not enforced next to pattern")
		}
		return seq(oneByte('"'), body, oneByte('"')), nil
	}
	if f := node.get("format"); f != nil && f.kind == jString {
		if body := formatExpr(f.s); body != nil {
			if minLen >= 0 || maxLen >= 0 {
				b.warn(path, "minLength/maxLength are not enforced next to format")
			}
			return seq(oneByte('"'), body, oneByte('"')), nil
		}
		b.warn(path, "format %q is not enforced", f.s)
	}
	lo, hi := max(minLen, 0), maxLen
	if lo > maxLengthExpansion || hi > maxLengthExpansion {
		b.warn(path, "minLength/maxLength above %d are not enforced", maxLengthExpansion)
		lo, hi = 0, -1
	}
	return seq(oneByte('"'), repeat(jsonChar(), lo, hi), oneByte('"')), nil
}

// numberKeyword reads a numeric keyword.
func numberKeyword(node *jval, key string) (float64, bool) {
	v := node.get(key)
	if v == nil || v.kind != jNumber {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.s, 64)
	return f, err == nil
}

// number builds an integer or number schema. Bounds are enforced where
// the syntax can do it cheaply: a lower bound >= 0 forbids the sign, a
// lower bound >= 1 on integers forbids zero, an upper bound <= -1 on
// integers forces the sign, and an integer range of at most maxIntEnum
// values is listed exactly. Other bounds and multipleOf are not enforced
// (a warning says so; check them after generation).
func (b *builder) number(path string, node *jval, integer bool) *expr {
	digits := star(byteRange('0', '9'))
	natural := alt(lit("0"), seq(byteRange('1', '9'), digits))
	positive := seq(byteRange('1', '9'), digits)
	lo, hi := math.Inf(-1), math.Inf(1)
	loExcl, hiExcl := false, false
	if f, ok := numberKeyword(node, "minimum"); ok {
		lo = f
	}
	if f, ok := numberKeyword(node, "exclusiveMinimum"); ok && f >= lo {
		lo, loExcl = f, true
	}
	if f, ok := numberKeyword(node, "maximum"); ok {
		hi = f
	}
	if f, ok := numberKeyword(node, "exclusiveMaximum"); ok && f <= hi {
		hi, hiExcl = f, true
	}
	if node.get("multipleOf") != nil {
		b.warn(path, "multipleOf is not enforced")
	}
	if integer {
		ilo, ihi := math.Ceil(lo), math.Floor(hi)
		if loExcl && ilo == lo {
			ilo++
		}
		if hiExcl && ihi == hi {
			ihi--
		}
		if ilo > ihi {
			return never()
		}
		if !math.IsInf(ilo, 0) && !math.IsInf(ihi, 0) && ihi-ilo < maxIntEnum {
			alts := make([]*expr, 0, int(ihi-ilo)+1)
			for v := ilo; v <= ihi; v++ {
				alts = append(alts, lit(strconv.FormatFloat(v, 'f', 0, 64)))
			}
			return alt(alts...)
		}
		var e *expr
		switch {
		case ilo >= 1:
			e = positive
		case ilo >= 0:
			e = natural
		case ihi <= -1:
			e = seq(oneByte('-'), positive)
		default:
			e = seq(opt(oneByte('-')), natural)
		}
		if (ilo > 1) || (!math.IsInf(ilo, 0) && ilo < 0) || (!math.IsInf(ihi, 0) && ihi > -1) || ihi < -1 {
			b.warn(path, "integer bounds [%v, %v] are only partly enforced", ilo, ihi)
		}
		return e
	}
	frac := seq(oneByte('.'), repeat(byteRange('0', '9'), 1, -1))
	var eSet, sign byteSet
	eSet.add('e')
	eSet.add('E')
	sign.add('+')
	sign.add('-')
	// At most two exponent digits: larger exponents overflow float64 and
	// break common decoders (and some validators).
	exp := seq(bytesOf(eSet), opt(bytesOf(sign)), repeat(byteRange('0', '9'), 1, 2))
	tail := seq(opt(frac), opt(exp))
	if lo >= 0 {
		if lo > 0 || loExcl || !math.IsInf(hi, 1) {
			b.warn(path, "number bounds are only partly enforced (no sign)")
		}
		return seq(natural, tail)
	}
	if !math.IsInf(lo, -1) || !math.IsInf(hi, 1) {
		b.warn(path, "number bounds are not enforced")
	}
	return seq(opt(oneByte('-')), natural, tail)
}

// object builds an object schema: the listed properties in schema order
// (required ones always, optional ones possibly absent), then any required
// names not listed, with any value. Properties not listed are never
// generated; an object without listed properties whose
// additionalProperties is not false is a map with string keys.
func (b *builder) object(path string, node *jval) (*expr, error) {
	props := node.get("properties")
	if props != nil && props.kind != jObject {
		return nil, &SchemaError{path + "/properties", "properties must be an object"}
	}
	required := map[string]bool{}
	var reqOrder []string
	if r := node.get("required"); r != nil {
		if r.kind != jArray {
			return nil, &SchemaError{path + "/required", "required must be an array"}
		}
		for _, e := range r.arr {
			if e.kind != jString {
				return nil, &SchemaError{path + "/required", "required must list strings"}
			}
			if !required[e.s] {
				reqOrder = append(reqOrder, e.s)
			}
			required[e.s] = true
		}
	}
	sep := seq(b.ws, oneByte(','), b.ws)
	colon := seq(b.ws, oneByte(':'), b.ws)
	addl := node.get("additionalProperties")
	if (props == nil || len(props.obj) == 0) && len(reqOrder) == 0 {
		if addl != nil && addl.kind == jBool && !addl.b {
			return seq(oneByte('{'), b.ws, oneByte('}')), nil
		}
		val, err := b.value(path+"/additionalProperties", addl)
		if err != nil {
			return nil, err
		}
		member := seq(b.anyString(), colon, val)
		return seq(oneByte('{'), b.ws, opt(seq(member, star(seq(sep, member)))), b.ws, oneByte('}')), nil
	}
	p := &propsExpr{sep: sep}
	listed := map[string]bool{}
	if props != nil {
		for _, m := range props.obj {
			listed[m.key] = true
			val, err := b.value(path+"/properties/"+pointerToken(m.key), m.val)
			if err != nil {
				return nil, err
			}
			p.members = append(p.members, seq(lit(quoted(m.key)), colon, val))
			p.required = append(p.required, b.o.Strict || required[m.key])
		}
	}
	for _, k := range reqOrder {
		if listed[k] {
			continue
		}
		b.warn(path, "required property %q has no schema; any value is allowed", k)
		p.members = append(p.members, seq(lit(quoted(k)), colon, ref(b.anyValueRule())))
		p.required = append(p.required, true)
	}
	return seq(oneByte('{'), b.ws, &expr{kind: exProps, props: p}, b.ws, oneByte('}')), nil
}

// array builds an array schema with minItems/maxItems.
func (b *builder) array(path string, node *jval) (*expr, error) {
	items := node.get("items")
	if items != nil && items.kind == jArray {
		b.warn(path, "tuple items are not supported; any items are allowed")
		items = nil
	}
	if node.get("prefixItems") != nil {
		return nil, &SchemaError{path + "/prefixItems", "prefixItems is not supported"}
	}
	lo, err := intKeyword(path, node, "minItems")
	if err != nil {
		return nil, err
	}
	hi, err := intKeyword(path, node, "maxItems")
	if err != nil {
		return nil, err
	}
	if lo > maxLengthExpansion || hi > maxLengthExpansion {
		return nil, &SchemaError{path, fmt.Sprintf("minItems/maxItems above %d are not supported", maxLengthExpansion)}
	}
	lo = max(lo, 0)
	if hi >= 0 && hi < lo {
		return never(), nil
	}
	var item *expr
	if isLeaf(items) && (hi < 0 || hi <= 16) && lo <= 16 {
		item, err = b.schema(path+"/items", items)
	} else {
		var r int
		r, err = b.rule(path+"/items", items)
		item = ref(r)
	}
	if err != nil {
		return nil, err
	}
	sep := seq(b.ws, oneByte(','), b.ws)
	open, closing := seq(oneByte('['), b.ws), seq(b.ws, oneByte(']'))
	if hi == 0 {
		return seq(open, closing), nil
	}
	restHi := -1
	if hi > 0 {
		restHi = hi - 1
	}
	if lo == 0 {
		return seq(open, opt(seq(item, repeat(seq(sep, item), 0, restHi))), closing), nil
	}
	return seq(open, item, repeat(seq(sep, item), lo-1, restHi), closing), nil
}

// any is an expression for any JSON value.
func (b *builder) any() *expr { return ref(b.anyValueRule()) }

func (b *builder) anyString() *expr {
	return seq(oneByte('"'), star(jsonChar()), oneByte('"'))
}

// anyValueRule returns the rule for any JSON value, creating the value,
// object and array rules on first use.
func (b *builder) anyValueRule() int {
	if b.anyValue >= 0 {
		return b.anyValue
	}
	b.anyValue = b.rs.add("any-value")
	obj := b.anyObject()
	arr := b.rs.add("any-array")
	sep := seq(b.ws, oneByte(','), b.ws)
	v := ref(b.anyValue)
	b.rs.bodies[arr] = seq(oneByte('['), b.ws, opt(seq(v, star(seq(sep, v)))), b.ws, oneByte(']'))
	b.rs.bodies[b.anyValue] = alt(ref(obj), ref(arr), b.anyString(), b.number("", &jval{kind: jObject}, false),
		lit("true"), lit("false"), lit("null"))
	return b.anyValue
}

// anyObject returns the rule for any JSON object.
func (b *builder) anyObject() int {
	if b.anyObj >= 0 {
		return b.anyObj
	}
	b.anyObj = b.rs.add("any-object")
	v := ref(b.anyValueRule())
	sep := seq(b.ws, oneByte(','), b.ws)
	member := seq(b.anyString(), b.ws, oneByte(':'), b.ws, v)
	b.rs.bodies[b.anyObj] = seq(oneByte('{'), b.ws, opt(seq(member, star(seq(sep, member)))), b.ws, oneByte('}'))
	return b.anyObj
}
