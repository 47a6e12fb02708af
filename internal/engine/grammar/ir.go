package grammar

import (
	"math/bits"
	"unicode/utf8"
)

// byteSet is a set of byte values.
type byteSet [4]uint64

func (s *byteSet) add(b byte)      { s[b>>6] |= 1 << (b & 63) }
func (s *byteSet) has(b byte) bool { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *byteSet) addRange(lo, hi byte) {
	for c := int(lo); c <= int(hi); c++ {
		s.add(byte(c))
	}
}
func (s byteSet) empty() bool { return s[0]|s[1]|s[2]|s[3] == 0 }
func (s byteSet) count() int {
	return bits.OnesCount64(s[0]) + bits.OnesCount64(s[1]) + bits.OnesCount64(s[2]) + bits.OnesCount64(s[3])
}

// exprKind tells what an expr node is.
type exprKind uint8

const (
	exEmpty  exprKind = iota // matches the empty string
	exBytes                  // one byte from set
	exSeq                    // subs in order
	exAlt                    // one of subs
	exRepeat                 // sub repeated min..max times (max < 0: unbounded)
	exRef                    // a call of rule ref
	exProps                  // object members, see propsExpr
	exNever                  // matches nothing
)

// expr is the intermediate representation of grammars: regular expressions
// over bytes extended with references to rules. Every front end (JSON
// schema, regex, GBNF) produces exprs; compile turns them into automata.
type expr struct {
	kind     exprKind
	set      byteSet
	subs     []*expr
	min, max int
	ref      int
	props    *propsExpr
}

// propsExpr describes the members of an object whose keys come in a fixed
// order and some of which may be absent: members[i] is `"key":value` and
// sep goes between two present members. It is compiled to a graph of size
// linear in the number of members (an expression tree would be quadratic).
type propsExpr struct {
	members  []*expr
	required []bool
	sep      *expr
}

func empty() *expr { return &expr{kind: exEmpty} }
func never() *expr { return &expr{kind: exNever} }
func ref(r int) *expr {
	return &expr{kind: exRef, ref: r}
}
func bytesOf(s byteSet) *expr { return &expr{kind: exBytes, set: s} }

func oneByte(b byte) *expr {
	var s byteSet
	s.add(b)
	return bytesOf(s)
}

func byteRange(lo, hi byte) *expr {
	var s byteSet
	s.addRange(lo, hi)
	return bytesOf(s)
}

// lit matches s exactly.
func lit(s string) *expr {
	if len(s) == 0 {
		return empty()
	}
	if len(s) == 1 {
		return oneByte(s[0])
	}
	subs := make([]*expr, len(s))
	for i := range len(s) {
		subs[i] = oneByte(s[i])
	}
	return &expr{kind: exSeq, subs: subs}
}

func seq(subs ...*expr) *expr {
	out := make([]*expr, 0, len(subs))
	for _, e := range subs {
		switch e.kind {
		case exEmpty:
			continue
		case exNever:
			return never()
		case exSeq:
			out = append(out, e.subs...)
			continue
		}
		out = append(out, e)
	}
	switch len(out) {
	case 0:
		return empty()
	case 1:
		return out[0]
	}
	return &expr{kind: exSeq, subs: out}
}

func alt(subs ...*expr) *expr {
	out := make([]*expr, 0, len(subs))
	for _, e := range subs {
		switch e.kind {
		case exNever:
			continue
		case exAlt:
			out = append(out, e.subs...)
			continue
		}
		out = append(out, e)
	}
	switch len(out) {
	case 0:
		return never()
	case 1:
		return out[0]
	}
	return &expr{kind: exAlt, subs: out}
}

func repeat(e *expr, lo, hi int) *expr {
	if hi >= 0 && hi < lo {
		return never()
	}
	if hi == 0 {
		return empty()
	}
	if lo == 1 && hi == 1 {
		return e
	}
	return &expr{kind: exRepeat, subs: []*expr{e}, min: lo, max: hi}
}

func opt(e *expr) *expr  { return repeat(e, 0, 1) }
func star(e *expr) *expr { return repeat(e, 0, -1) }

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// utf8Expr matches the UTF-8 encoding of one code point from ranges,
// surrogates excluded. Ranges need not be sorted or disjoint.
func utf8Expr(ranges []runeRange) *expr {
	var alts []*expr
	var ascii byteSet
	for _, r := range normalizeRanges(ranges) {
		lo, hi := r.lo, r.hi
		if lo <= 0x7f {
			ascii.addRange(byte(lo), byte(min(hi, 0x7f)))
			lo = 0x80
		}
		// Split at the encoding-length and surrogate boundaries.
		for _, b := range [][2]rune{{0x80, 0x7ff}, {0x800, 0xd7ff}, {0xe000, 0xffff}, {0x10000, 0x10ffff}} {
			a, z := max(lo, b[0]), min(hi, b[1])
			if a <= z {
				alts = append(alts, utf8Seqs(a, z)...)
			}
		}
	}
	if !ascii.empty() {
		alts = append([]*expr{bytesOf(ascii)}, alts...)
	}
	return alt(alts...)
}

// utf8Seqs returns byte-class sequences matching the encodings of
// lo..hi, which have the same encoded length: the range is split until
// every piece is a product of per-byte ranges.
func utf8Seqs(lo, hi rune) []*expr {
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				return append(utf8Seqs(lo, lo|m), utf8Seqs((lo|m)+1, hi)...)
			}
			if hi&m != m {
				return append(utf8Seqs(lo, (hi&^m)-1), utf8Seqs(hi&^m, hi)...)
			}
		}
	}
	var a, z [utf8.UTFMax]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(z[:], hi)
	parts := make([]*expr, n)
	for j := range n {
		parts[j] = byteRange(a[j], z[j])
	}
	return []*expr{seq(parts...)}
}

// normalizeRanges sorts and merges ranges, clipping to valid code points.
func normalizeRanges(rs []runeRange) []runeRange {
	out := make([]runeRange, 0, len(rs))
	for _, r := range rs {
		if r.lo < 0 {
			r.lo = 0
		}
		if r.hi > utf8.MaxRune {
			r.hi = utf8.MaxRune
		}
		if r.lo <= r.hi {
			out = append(out, r)
		}
	}
	// insertion sort: range lists are short
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].lo < out[j-1].lo; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi+1 {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// negateRanges returns the code points (surrogates aside) not in rs.
func negateRanges(rs []runeRange) []runeRange {
	rs = normalizeRanges(rs)
	var out []runeRange
	next := rune(0)
	for _, r := range rs {
		if r.lo > next {
			out = append(out, runeRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, runeRange{next, utf8.MaxRune})
	}
	return out
}
