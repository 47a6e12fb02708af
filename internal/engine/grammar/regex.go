package grammar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file compiles the ECMAScript regular expressions of JSON schema
// "pattern" into exprs over the JSON encoding of the string. Supported:
// literals and escapes (\n \t \xHH \uHHHH \u{H...} \cX, escaped
// punctuation), classes [...] and [^...] with ranges, \d \D \w \W \s \S,
// '.', groups (...), (?:...) and (?<name>...), alternation, quantifiers
// * + ? {n} {n,} {n,m} (lazy forms accepted, same language), and the
// anchors ^ and $ at the edges of top-level alternatives. A pattern
// without ^ (or $) may be preceded (or followed) by anything, as ECMAScript
// search semantics say. Backreferences, lookaround, \b \B and \p{...} are
// rejected.

// maxRepeat bounds the counts of a quantifier.
const maxRepeat = 1000

type reOp uint8

const (
	reSet reOp = iota
	reCat
	reAlt
	reRep
	reBegin
	reEnd
)

type reNode struct {
	op       reOp
	set      []runeRange
	subs     []*reNode
	min, max int
}

type reParser struct {
	src   string
	pos   int
	depth int
}

// errRegex is wrapped by pattern syntax errors.
var errRegex = errors.New("unsupported or invalid pattern")

func (p *reParser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errRegex, fmt.Sprintf(format, args...), p.pos)
}

// compileRegex compiles pattern to an expr over JSON string contents.
func compileRegex(pattern string) (*expr, error) {
	if !utf8.ValidString(pattern) {
		return nil, fmt.Errorf("%w: not UTF-8", errRegex)
	}
	p := &reParser{src: pattern}
	n, err := p.alternation()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.fail("unmatched ')'")
	}
	anyRune := star(encodedRunes([]runeRange{{0, utf8.MaxRune}}))
	var alts []*reNode
	if n.op == reAlt {
		alts = n.subs
	} else {
		alts = []*reNode{n}
	}
	out := make([]*expr, 0, len(alts))
	for _, a := range alts {
		items := []*reNode{a}
		if a.op == reCat {
			items = a.subs
		}
		begin, end := false, false
		if len(items) > 0 && items[0].op == reBegin {
			begin, items = true, items[1:]
		}
		if len(items) > 0 && items[len(items)-1].op == reEnd {
			end, items = true, items[:len(items)-1]
		}
		parts := make([]*expr, 0, len(items)+2)
		if !begin {
			parts = append(parts, anyRune)
		}
		for _, it := range items {
			e, err := reExpr(it)
			if err != nil {
				return nil, err
			}
			parts = append(parts, e)
		}
		if !end {
			parts = append(parts, anyRune)
		}
		out = append(out, seq(parts...))
	}
	return alt(out...), nil
}

func reExpr(n *reNode) (*expr, error) {
	switch n.op {
	case reSet:
		if len(n.set) == 0 {
			return never(), nil
		}
		return encodedRunes(n.set), nil
	case reCat, reAlt:
		subs := make([]*expr, len(n.subs))
		for i, s := range n.subs {
			e, err := reExpr(s)
			if err != nil {
				return nil, err
			}
			subs[i] = e
		}
		if n.op == reCat {
			return seq(subs...), nil
		}
		return alt(subs...), nil
	case reRep:
		e, err := reExpr(n.subs[0])
		if err != nil {
			return nil, err
		}
		return repeat(e, n.min, n.max), nil
	}
	return nil, fmt.Errorf("%w: anchors are supported only at the start or end of the pattern", errRegex)
}

func (p *reParser) more() bool { return p.pos < len(p.src) }
func (p *reParser) peek() byte { return p.src[p.pos] }
func (p *reParser) next() rune {
	r, n := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += n
	return r
}

func (p *reParser) alternation() (*reNode, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 100 {
		return nil, p.fail("groups nested too deeply")
	}
	var alts []*reNode
	for {
		c, err := p.concat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if !p.more() || p.peek() != '|' {
			break
		}
		p.pos++
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &reNode{op: reAlt, subs: alts}, nil
}

func (p *reParser) concat() (*reNode, error) {
	var items []*reNode
	for p.more() && p.peek() != '|' && p.peek() != ')' {
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		for p.more() {
			lo, hi, ok, err := p.quantifier()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if a.op == reBegin || a.op == reEnd {
				return nil, p.fail("quantified anchor")
			}
			a = &reNode{op: reRep, subs: []*reNode{a}, min: lo, max: hi}
		}
		items = append(items, a)
	}
	if len(items) == 1 {
		return items[0], nil
	}
	return &reNode{op: reCat, subs: items}, nil
}

// quantifier reads a quantifier if one follows.
func (p *reParser) quantifier() (lo, hi int, ok bool, err error) {
	switch p.peek() {
	case '*':
		lo, hi = 0, -1
		p.pos++
	case '+':
		lo, hi = 1, -1
		p.pos++
	case '?':
		lo, hi = 0, 1
		p.pos++
	case '{':
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return 0, 0, false, nil
		}
		body := p.src[p.pos+1 : p.pos+end]
		a, b, comma := strings.Cut(body, ",")
		n, err1 := strconv.Atoi(a)
		if err1 != nil || n < 0 {
			return 0, 0, false, nil // a literal '{' (Annex B)
		}
		lo, hi = n, n
		if comma {
			hi = -1
			if b != "" {
				m, err2 := strconv.Atoi(b)
				if err2 != nil || m < 0 {
					return 0, 0, false, nil
				}
				hi = m
			}
		}
		p.pos += end + 1
		if hi >= 0 && hi < lo {
			return 0, 0, false, p.fail("quantifier {%d,%d} out of order", lo, hi)
		}
		if lo > maxRepeat || hi > maxRepeat {
			return 0, 0, false, p.fail("quantifier count above %d", maxRepeat)
		}
	default:
		return 0, 0, false, nil
	}
	if p.more() && p.peek() == '?' {
		p.pos++ // lazy: same language
	}
	return lo, hi, true, nil
}

func (p *reParser) atom() (*reNode, error) {
	c := p.peek()
	switch c {
	case '(':
		p.pos++
		if strings.HasPrefix(p.src[p.pos:], "?") {
			rest := p.src[p.pos:]
			switch {
			case strings.HasPrefix(rest, "?:"):
				p.pos += 2
			case strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"),
				strings.HasPrefix(rest, "?<="), strings.HasPrefix(rest, "?<!"):
				return nil, p.fail("lookaround is not supported")
			case strings.HasPrefix(rest, "?<"):
				end := strings.IndexByte(rest, '>')
				if end < 0 {
					return nil, p.fail("bad group name")
				}
				p.pos += end + 1
			default:
				return nil, p.fail("unknown group flag")
			}
		}
		n, err := p.alternation()
		if err != nil {
			return nil, err
		}
		if !p.more() || p.peek() != ')' {
			return nil, p.fail("missing ')'")
		}
		p.pos++
		return n, nil
	case '[':
		p.pos++
		return p.class()
	case '.':
		p.pos++
		return &reNode{op: reSet, set: negateRanges([]runeRange{{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}})}, nil
	case '^':
		p.pos++
		return &reNode{op: reBegin}, nil
	case '$':
		p.pos++
		return &reNode{op: reEnd}, nil
	case '*', '+', '?':
		return nil, p.fail("nothing to repeat")
	case '\\':
		p.pos++
		set, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		return &reNode{op: reSet, set: set}, nil
	}
	r := p.next()
	return &reNode{op: reSet, set: []runeRange{{r, r}}}, nil
}

func digitRanges() []runeRange { return []runeRange{{'0', '9'}} }
func wordRanges() []runeRange  { return []runeRange{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}} }

// spaceRanges is ECMAScript's \s: white space and line terminators.
func spaceRanges() []runeRange {
	return []runeRange{{'\t', '\r'}, {' ', ' '}, {0xa0, 0xa0}, {0x1680, 0x1680},
		{0x2000, 0x200a}, {0x2028, 0x2029}, {0x202f, 0x202f}, {0x205f, 0x205f},
		{0x3000, 0x3000}, {0xfeff, 0xfeff}}
}

// escape reads an escape after the backslash; inClass changes \b.
func (p *reParser) escape(inClass bool) ([]runeRange, error) {
	if !p.more() {
		return nil, p.fail("trailing backslash")
	}
	c := p.next()
	one := func(r rune) []runeRange { return []runeRange{{r, r}} }
	switch c {
	case 'd':
		return digitRanges(), nil
	case 'D':
		return negateRanges(digitRanges()), nil
	case 'w':
		return wordRanges(), nil
	case 'W':
		return negateRanges(wordRanges()), nil
	case 's':
		return spaceRanges(), nil
	case 'S':
		return negateRanges(spaceRanges()), nil
	case 'n':
		return one('\n'), nil
	case 'r':
		return one('\r'), nil
	case 't':
		return one('\t'), nil
	case 'v':
		return one('\v'), nil
	case 'f':
		return one('\f'), nil
	case '0':
		return one(0), nil
	case 'b':
		if inClass {
			return one('\b'), nil
		}
		return nil, p.fail(`\b is not supported`)
	case 'B':
		return nil, p.fail(`\B is not supported`)
	case 'c':
		if p.more() {
			l := p.peek()
			if (l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z') {
				p.pos++
				return one(rune(l % 32)), nil
			}
		}
		return one('\\'), nil
	case 'x':
		return p.hexEscape(2)
	case 'u':
		if p.more() && p.peek() == '{' {
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, p.fail("bad \\u{...}")
			}
			v, err := strconv.ParseUint(p.src[p.pos+1:p.pos+end], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return nil, p.fail("bad \\u{...}")
			}
			p.pos += end + 1
			return one(rune(v)), nil
		}
		return p.hexEscape(4)
	case 'p', 'P':
		return nil, p.fail(`\p{...} is not supported`)
	case 'k':
		return nil, p.fail("backreferences are not supported")
	}
	if c >= '1' && c <= '9' {
		if inClass {
			return nil, p.fail("octal escapes are not supported")
		}
		return nil, p.fail("backreferences are not supported")
	}
	return one(c), nil
}

func (p *reParser) hexEscape(n int) ([]runeRange, error) {
	if p.pos+n > len(p.src) {
		return nil, p.fail("short hex escape")
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	if err != nil {
		return nil, p.fail("bad hex escape")
	}
	p.pos += n
	return []runeRange{{rune(v), rune(v)}}, nil
}

// class reads a character class after '['.
func (p *reParser) class() (*reNode, error) {
	negate := false
	if p.more() && p.peek() == '^' {
		negate = true
		p.pos++
	}
	var set []runeRange
	for {
		if !p.more() {
			return nil, p.fail("missing ']'")
		}
		if p.peek() == ']' {
			p.pos++
			break
		}
		lo, single, err := p.classAtom()
		if err != nil {
			return nil, err
		}
		if single && p.pos+1 < len(p.src) && p.peek() == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			hi, single2, err := p.classAtom()
			if err != nil {
				return nil, err
			}
			if !single2 || hi[0].lo < lo[0].lo {
				return nil, p.fail("bad class range")
			}
			set = append(set, runeRange{lo[0].lo, hi[0].lo})
			continue
		}
		set = append(set, lo...)
	}
	if negate {
		set = negateRanges(set)
	}
	return &reNode{op: reSet, set: normalizeRanges(set)}, nil
}

// classAtom reads one class member; single reports a single code point.
func (p *reParser) classAtom() ([]runeRange, bool, error) {
	if p.peek() == '\\' {
		p.pos++
		set, err := p.escape(true)
		if err != nil {
			return nil, false, err
		}
		return set, len(set) == 1 && set[0].lo == set[0].hi, nil
	}
	r := p.next()
	return []runeRange{{r, r}}, true, nil
}
