package grammar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrGBNF is wrapped by GBNF syntax errors.
var ErrGBNF = errors.New("grammar: bad GBNF")

// ParseGBNF compiles a grammar in llama.cpp's GBNF notation: rules
// `name ::= alternatives`, the entry rule named root, literals "..." (with
// \n \r \t \\ \" \xHH \uHHHH \UHHHHHHHH escapes), character classes [a-z]
// and [^...], '.' for any character, rule references, grouping (...),
// alternation |, and the quantifiers * + ? {m} {m,} {m,n}. Comments run
// from # to the end of the line. A rule ends where the next `name ::=`
// starts. Rules that call themselves before consuming input (left
// recursion) are rejected.
func ParseGBNF(src string) (*Grammar, error) {
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrGBNF)
	}
	p := &gbnfParser{src: src, ids: map[string]int{}}
	p.skip()
	for p.pos < len(p.src) {
		name := p.name()
		if name == "" {
			return nil, p.fail("expected a rule name")
		}
		p.skip()
		if !strings.HasPrefix(p.src[p.pos:], "::=") {
			return nil, p.fail("expected ::=")
		}
		p.pos += 3
		r := p.ruleID(name)
		if p.defined(r) {
			return nil, p.fail(fmt.Sprintf("rule %q defined twice", name))
		}
		body, err := p.alternatives(0)
		if err != nil {
			return nil, err
		}
		p.rs.bodies[r] = body
	}
	root, ok := p.ids["root"]
	if !ok || p.rs.bodies[root] == nil {
		return nil, fmt.Errorf("%w: no root rule", ErrGBNF)
	}
	for r, b := range p.rs.bodies {
		if b == nil {
			return nil, fmt.Errorf("%w: rule %q is used but not defined", ErrGBNF, p.rs.names[r])
		}
	}
	g, err := compile(&p.rs, root, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrGBNF, err)
	}
	return g, nil
}

type gbnfParser struct {
	src string
	pos int
	rs  ruleSet
	ids map[string]int
}

func (p *gbnfParser) fail(msg string) error {
	line := 1 + strings.Count(p.src[:p.pos], "\n")
	return fmt.Errorf("%w: line %d: %s", ErrGBNF, line, msg)
}

func (p *gbnfParser) ruleID(name string) int {
	if id, ok := p.ids[name]; ok {
		return id
	}
	id := p.rs.add(name)
	p.ids[name] = id
	return id
}

func (p *gbnfParser) defined(r int) bool { return p.rs.bodies[r] != nil }

// skip skips whitespace (newlines included) and comments.
func (p *gbnfParser) skip() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *gbnfParser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// atRuleStart reports whether `name ::=` starts at the current position.
func (p *gbnfParser) atRuleStart() bool {
	save := p.pos
	defer func() { p.pos = save }()
	if p.name() == "" {
		return false
	}
	p.skip()
	return strings.HasPrefix(p.src[p.pos:], "::=")
}

const maxGBNFDepth = 100

func (p *gbnfParser) alternatives(depth int) (*expr, error) {
	if depth > maxGBNFDepth {
		return nil, p.fail("groups nested too deeply")
	}
	var alts []*expr
	for {
		s, err := p.sequence(depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, s)
		p.skip()
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			continue
		}
		return alt(alts...), nil
	}
}

func (p *gbnfParser) sequence(depth int) (*expr, error) {
	var items []*expr
	for {
		p.skip()
		if p.pos >= len(p.src) {
			break
		}
		c := p.src[p.pos]
		if c == '|' || c == ')' || (isNameByte(c) && p.atRuleStart()) {
			break
		}
		e, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		if e, err = p.quantifiers(e); err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return seq(items...), nil
}

func (p *gbnfParser) quantifiers(e *expr) (*expr, error) {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '*':
			e = star(e)
		case '+':
			e = repeat(e, 1, -1)
		case '?':
			e = opt(e)
		case '{':
			end := strings.IndexByte(p.src[p.pos:], '}')
			if end < 0 {
				return nil, p.fail("missing }")
			}
			body := strings.TrimSpace(p.src[p.pos+1 : p.pos+end])
			a, b, comma := strings.Cut(body, ",")
			lo, err := strconv.Atoi(strings.TrimSpace(a))
			if err != nil || lo < 0 || lo > maxRepeat {
				return nil, p.fail("bad repetition count")
			}
			hi := lo
			if comma {
				hi = -1
				if b = strings.TrimSpace(b); b != "" {
					if hi, err = strconv.Atoi(b); err != nil || hi < lo || hi > maxRepeat {
						return nil, p.fail("bad repetition count")
					}
				}
			}
			p.pos += end
			e = repeat(e, lo, hi)
		default:
			return e, nil
		}
		p.pos++
	}
	return e, nil
}

func (p *gbnfParser) primary(depth int) (*expr, error) {
	c := p.src[p.pos]
	switch {
	case c == '"':
		p.pos++
		var sb strings.Builder
		for {
			if p.pos >= len(p.src) || p.src[p.pos] == '\n' {
				return nil, p.fail("unterminated literal")
			}
			if p.src[p.pos] == '"' {
				p.pos++
				return lit(sb.String()), nil
			}
			r, err := p.char()
			if err != nil {
				return nil, err
			}
			sb.WriteRune(r)
		}
	case c == '[':
		p.pos++
		negate := false
		if p.pos < len(p.src) && p.src[p.pos] == '^' {
			negate = true
			p.pos++
		}
		var ranges []runeRange
		for {
			if p.pos >= len(p.src) {
				return nil, p.fail("unterminated class")
			}
			if p.src[p.pos] == ']' {
				p.pos++
				break
			}
			lo, err := p.char()
			if err != nil {
				return nil, err
			}
			hi := lo
			if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
				p.pos++
				if hi, err = p.char(); err != nil {
					return nil, err
				}
			}
			if hi < lo {
				return nil, p.fail("bad class range")
			}
			ranges = append(ranges, runeRange{lo, hi})
		}
		if negate {
			ranges = negateRanges(ranges)
		}
		return utf8Expr(ranges), nil
	case c == '.':
		p.pos++
		return utf8Expr([]runeRange{{0, utf8.MaxRune}}), nil
	case c == '(':
		p.pos++
		e, err := p.alternatives(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.src) || p.src[p.pos] != ')' {
			return nil, p.fail("missing )")
		}
		p.pos++
		return e, nil
	case isNameByte(c):
		return ref(p.ruleID(p.name())), nil
	}
	return nil, p.fail(fmt.Sprintf("unexpected %q", c))
}

// char reads one possibly escaped character of a literal or class.
func (p *gbnfParser) char() (rune, error) {
	if p.src[p.pos] != '\\' {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		p.pos += n
		return r, nil
	}
	p.pos++
	if p.pos >= len(p.src) {
		return 0, p.fail("trailing backslash")
	}
	c := p.src[p.pos]
	p.pos++
	hex := 0
	switch c {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'x':
		hex = 2
	case 'u':
		hex = 4
	case 'U':
		hex = 8
	default:
		return rune(c), nil
	}
	if p.pos+hex > len(p.src) {
		return 0, p.fail("short escape")
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+hex], 16, 32)
	if err != nil || v > utf8.MaxRune {
		return 0, p.fail("bad escape")
	}
	p.pos += hex
	return rune(v), nil
}
