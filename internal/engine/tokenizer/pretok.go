package tokenizer

import (
	"fmt"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Pre-tokenizers split text into words before byte-level BPE. llama.cpp
// describes each as a list of regular expressions applied one after the
// other: each expression splits every piece left by the previous one into
// its matches and the gaps between them. The expressions need look-ahead,
// which Go's regexp lacks, so each is a hand-written matcher here.

// Character classes, computed once per rune.
const (
	cSpace uint8 = 1 << iota // Unicode White_Space (llama.cpp's is_whitespace)
	cLetter
	cNumber
	cPunct
)

// runeText is the text being split: its runes, their classes and the byte
// offset of each rune (plus one past the end).
type runeText struct {
	r   []rune
	c   []uint8
	off []int
}

func newRuneText(s string) *runeText {
	n := utf8.RuneCountInString(s)
	rt := &runeText{r: make([]rune, 0, n), c: make([]uint8, 0, n), off: make([]int, 0, n+1)}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		rt.r = append(rt.r, r)
		rt.c = append(rt.c, classOf(r))
		rt.off = append(rt.off, i)
		i += w
	}
	rt.off = append(rt.off, len(s))
	return rt
}

func classOf(r rune) uint8 {
	if r < utf8.RuneSelf {
		switch {
		case r == ' ' || (r >= '\t' && r <= '\r'):
			return cSpace
		case (r|0x20) >= 'a' && (r|0x20) <= 'z':
			return cLetter
		case r >= '0' && r <= '9':
			return cNumber
		case unicode.IsPunct(r):
			return cPunct
		}
		return 0
	}
	switch {
	case unicode.IsSpace(r):
		return cSpace
	case unicode.IsLetter(r):
		return cLetter
	case unicode.IsNumber(r):
		return cNumber
	case unicode.IsPunct(r):
		return cPunct
	}
	return 0
}

func (rt *runeText) is(i, end int, c uint8) bool { return i < end && rt.c[i]&c != 0 }

// stage splits rt[a:b] and appends the end index of every piece, the last
// being b.
type stage func(rt *runeText, a, b int, ends []int) []int

// matcher returns the end of a match starting at p (before end), or -1.
type matcher func(rt *runeText, p, end int) int

// search turns a matcher into a stage with regex-search semantics: leftmost
// matches become pieces, and so do the gaps between them.
func search(m matcher) stage {
	return func(rt *runeText, a, b int, ends []int) []int {
		gap := a
		for p := a; p < b; {
			e := m(rt, p, b)
			if e <= p {
				p++
				continue
			}
			if p > gap {
				ends = append(ends, p)
			}
			ends = append(ends, e)
			p, gap = e, e
		}
		if gap < b {
			ends = append(ends, b)
		}
		return ends
	}
}

// run returns the end of the run of runes satisfying ok from p.
func run(rt *runeText, p, end int, ok func(r rune, c uint8) bool) int {
	for p < end && ok(rt.r[p], rt.c[p]) {
		p++
	}
	return p
}

// runOf matches X+ for a rune predicate.
func runOf(ok func(r rune, c uint8) bool) matcher {
	return func(rt *runeText, p, end int) int {
		if e := run(rt, p, end, ok); e > p {
			return e
		}
		return -1
	}
}

// oneOf matches a single rune satisfying ok.
func oneOf(ok func(r rune, c uint8) bool) matcher {
	return func(rt *runeText, p, end int) int {
		if ok(rt.r[p], rt.c[p]) {
			return p + 1
		}
		return -1
	}
}

// spaceThenRun matches \s?X+.
func spaceThenRun(ok func(r rune, c uint8) bool) matcher {
	return func(rt *runeText, p, end int) int {
		q := p
		if rt.c[q]&cSpace != 0 && q+1 < end && ok(rt.r[q+1], rt.c[q+1]) {
			q++
		}
		if e := run(rt, q, end, ok); e > q {
			return e
		}
		return -1
	}
}

func isNewline(r rune, _ uint8) bool { return r == '\r' || r == '\n' }
func isNumber(_ rune, c uint8) bool  { return c&cNumber != 0 }
func isLetter(_ rune, c uint8) bool  { return c&cLetter != 0 }
func isPunct(_ rune, c uint8) bool   { return c&cPunct != 0 }

func isASCIIDigit(r rune, _ uint8) bool { return r >= '0' && r <= '9' }

// isCJK is [一-龥ࠀ-一가-퟿]. llama.cpp matches it against text in which
// non-ASCII whitespace was replaced, so whitespace never matches.
func isCJK(r rune, c uint8) bool {
	return c&cSpace == 0 && ((r >= 0x4E00 && r <= 0x9FA5) || (r >= 0x0800 && r <= 0x4E00) ||
		(r >= 0xAC00 && r <= 0xD7FF))
}

// punctOrSymbol is [\p{P}\$\+<=>\^~\|] (plus the backtick for falcon).
func punctOrSymbol(backtick bool) func(r rune, c uint8) bool {
	return func(r rune, c uint8) bool {
		switch r {
		case '$', '+', '<', '=', '>', '^', '~', '|':
			return true
		case '`':
			return backtick
		}
		return c&cPunct != 0
	}
}

// threeDigits is [0-9][0-9][0-9].
func threeDigits(rt *runeText, p, end int) int {
	if p+3 <= end && isASCIIDigit(rt.r[p], 0) && isASCIIDigit(rt.r[p+1], 0) && isASCIIDigit(rt.r[p+2], 0) {
		return p + 3
	}
	return -1
}

// trailingSpace is the stage for \s+$: only the whitespace run that ends the
// piece is split off.
func trailingSpace(rt *runeText, a, b int, ends []int) []int {
	p := b
	for p > a && rt.c[p-1]&cSpace != 0 {
		p--
	}
	if p > a && p < b {
		ends = append(ends, p)
	}
	return append(ends, b)
}

// contraction matches 's 't 're 've 'm 'll 'd at p (any case if fold).
func contraction(rt *runeText, p, end int, fold bool) int {
	if rt.r[p] != '\'' || p+1 >= end {
		return -1
	}
	lower := func(r rune) rune {
		if fold && r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	switch lower(rt.r[p+1]) {
	case 's', 't', 'm', 'd':
		return p + 2
	}
	if p+2 < end {
		a, b := lower(rt.r[p+1]), lower(rt.r[p+2])
		if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
			return p + 3
		}
	}
	return -1
}

// gpt2Stage implements
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
// where every rune ends up in some piece.
func gpt2Stage(rt *runeText, a, b int, ends []int) []int {
	for p := a; p < b; {
		if e := contraction(rt, p, b, false); e > 0 {
			p = e
			ends = append(ends, p)
			continue
		}
		q := p
		if rt.r[p] == ' ' && p+1 < b {
			q = p + 1
		}
		switch c := rt.c[q]; {
		case c&cLetter != 0:
			p = run(rt, q, b, isLetter)
		case c&cNumber != 0:
			p = run(rt, q, b, isNumber)
		case c&cSpace == 0:
			p = run(rt, q, b, func(_ rune, c uint8) bool { return c&(cSpace|cLetter|cNumber) == 0 })
		default:
			n := run(rt, p, b, func(_ rune, c uint8) bool { return c&cSpace != 0 }) - p
			switch {
			case n > 1 && p+n < b:
				p += n - 1 // \s+(?!\S) leaves the last space to the next word
			case n > 0:
				p += n
			default:
				p++
			}
		}
		ends = append(ends, p)
	}
	return ends
}

// llama3Stage implements the Llama 3 expression (maxDigits 3) and the
// Qwen2 one (maxDigits 1):
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func llama3Stage(maxDigits int) stage {
	return func(rt *runeText, a, b int, ends []int) []int {
		for p := a; p < b; {
			if e := contraction(rt, p, b, true); e > 0 {
				p = e
				ends = append(ends, p)
				continue
			}
			r, c := rt.r[p], rt.c[p]
			if r != '\r' && r != '\n' && c&cNumber == 0 && (c&cLetter != 0 || rt.is(p+1, b, cLetter)) {
				p = run(rt, p+1, b, isLetter)
				ends = append(ends, p)
				continue
			}
			if c&cNumber != 0 {
				for p < b && rt.c[p]&cNumber != 0 {
					e := p
					for e < b && e-p < maxDigits && rt.c[e]&cNumber != 0 {
						e++
					}
					p = e
					ends = append(ends, p)
				}
				continue
			}
			q := p
			if r == ' ' && p+1 < b {
				q = p + 1
			}
			if rt.c[q]&(cSpace|cLetter|cNumber) == 0 {
				p = run(rt, q, b, func(_ rune, c uint8) bool { return c&(cSpace|cLetter|cNumber) == 0 })
				p = run(rt, p, b, isNewline)
				ends = append(ends, p)
				continue
			}
			n, lastNL := 0, -1
			for p+n < b && rt.c[p+n]&cSpace != 0 {
				if rt.r[p+n] == '\r' || rt.r[p+n] == '\n' {
					lastNL = p + n + 1
				}
				n++
			}
			switch {
			case lastNL > 0:
				p = lastNL
			case n > 1 && p+n < b:
				p += n - 1
			case n > 0:
				p += n
			default:
				p++
			}
			ends = append(ends, p)
		}
		return ends
	}
}

// deepseekLetters is the explicit letter class of the deepseek-llm
// expression (ranges are inclusive).
var deepseekLetters = sync.OnceValue(func() *unicode.RangeTable {
	return &unicode.RangeTable{R16: []unicode.Range16{
		{0x41, 0x5A, 1}, {0x61, 0x7A, 1}, {0xB5, 0xB5, 1}, {0xC0, 0xD6, 1}, {0xD8, 0xF6, 1},
		{0xF8, 0x1BA, 1}, {0x1BC, 0x1BF, 1}, {0x1C4, 0x293, 1}, {0x295, 0x2AF, 1}, {0x370, 0x373, 1},
		{0x376, 0x377, 1}, {0x37B, 0x37D, 1}, {0x37F, 0x37F, 1}, {0x386, 0x386, 1}, {0x388, 0x38A, 1},
		{0x38C, 0x38C, 1}, {0x38E, 0x3A1, 1}, {0x3A3, 0x3F5, 1}, {0x3F7, 0x481, 1}, {0x48A, 0x52F, 1},
		{0x531, 0x556, 1}, {0x10A0, 0x10C5, 1}, {0x13A0, 0x13F5, 1}, {0x13F8, 0x13FD, 1},
		{0x1C90, 0x1CBA, 1}, {0x1CBD, 0x1CBF, 1}, {0x1D00, 0x1D2B, 1}, {0x1D6B, 0x1D77, 1},
		{0x1D79, 0x1D9A, 1}, {0x1E00, 0x1F15, 1}, {0x1F18, 0x1F1D, 1}, {0x1F20, 0x1F45, 1},
		{0x1F48, 0x1F4D, 1}, {0x1F50, 0x1F57, 1}, {0x1F59, 0x1F59, 1}, {0x1F5B, 0x1F5B, 1},
		{0x1F5D, 0x1F5D, 1}, {0x1F5F, 0x1F7D, 1}, {0x1F80, 0x1FB4, 1}, {0x1FB6, 0x1FBC, 1},
		{0x1FBE, 0x1FBE, 1}, {0x1FC2, 0x1FC4, 1}, {0x1FC6, 0x1FCC, 1}, {0x1FD0, 0x1FD3, 1},
		{0x1FD6, 0x1FDB, 1}, {0x1FE0, 0x1FEC, 1}, {0x1FF2, 0x1FF4, 1}, {0x1FF6, 0x1FFC, 1},
		{0x2102, 0x2102, 1}, {0x2107, 0x2107, 1}, {0x210A, 0x2113, 1}, {0x2115, 0x2115, 1},
		{0x2119, 0x211D, 1}, {0x2124, 0x2124, 1}, {0x2126, 0x2126, 1}, {0x2128, 0x2128, 1},
		{0x212A, 0x212D, 1}, {0x212F, 0x2134, 1}, {0x2139, 0x2139, 1}, {0x213C, 0x213F, 1},
		{0x2145, 0x2149, 1}, {0x214E, 0x214E, 1}, {0x2183, 0x2184, 1}, {0x2C00, 0x2C7B, 1},
		{0x2C7E, 0x2CE4, 1}, {0x2CEB, 0x2CEE, 1}, {0x2CF2, 0x2CF3, 1}, {0xA640, 0xA66D, 1},
		{0xA680, 0xA69B, 1}, {0xA722, 0xA76F, 1}, {0xA771, 0xA787, 1}, {0xA78B, 0xA78E, 1},
		{0xAB70, 0xABBF, 1}, {0xFB00, 0xFB06, 1}, {0xFB13, 0xFB17, 1}, {0xFF21, 0xFF3A, 1},
		{0xFF41, 0xFF5A, 1},
	}, R32: []unicode.Range32{
		{0x10400, 0x1044F, 1}, {0x104B0, 0x104D3, 1}, {0x104D8, 0x104FB, 1}, {0x10C80, 0x10CB2, 1},
		{0x10CC0, 0x10CF2, 1}, {0x118A0, 0x118DF, 1}, {0x1E900, 0x1E943, 1},
	}, LatinOffset: 5}
})

func isDeepseekLetter(r rune, c uint8) bool {
	return c&cSpace == 0 && unicode.Is(deepseekLetters(), r)
}

// isDeepseekPunct is [!-/:-~！-／：-～‘-‟　-。] over text whose non-ASCII
// whitespace was replaced (so U+3000 never matches).
func isDeepseekPunct(r rune, c uint8) bool {
	if c&cSpace != 0 {
		return false
	}
	return (r >= '!' && r <= '/') || (r >= ':' && r <= '~') || (r >= 0xFF01 && r <= 0xFF0F) ||
		(r >= 0xFF1A && r <= 0xFF5E) || (r >= 0x2018 && r <= 0x201F) || (r >= 0x3000 && r <= 0x3002)
}

// preTokenizer is a named sequence of stages.
type preTokenizer struct {
	name         string
	stages       []stage
	ignoreMerges bool
}

// newPreTokenizer selects the stages for a tokenizer.ggml.pre value.
func newPreTokenizer(name string) (preTokenizer, error) {
	gpt2 := stage(gpt2Stage)
	p := preTokenizer{name: name}
	switch name {
	case "", "default":
		p.stages = []stage{search(runOf(punctOrSymbol(false))), gpt2,
			search(runOf(isNumber)), search(threeDigits)}
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
		p.stages = []stage{llama3Stage(3)}
		p.ignoreMerges = true
	case "dbrx", "smaug-bpe", "chatglm-bpe":
		p.stages = []stage{llama3Stage(3)}
	case "qwen2", "stablelm2", "deepseek-r1-qwen", "hunyuan", "kormo", "grok-2":
		p.stages = []stage{llama3Stage(1)}
	case "deepseek-llm":
		p.stages = []stage{search(oneOf(isNewline)), search(spaceThenRun(isDeepseekLetter)),
			search(spaceThenRun(isDeepseekPunct)), trailingSpace, search(runOf(isCJK)),
			search(runOf(isNumber))}
	case "deepseek-coder":
		p.stages = []stage{search(oneOf(isNewline)), search(spaceThenRun(isLetter)),
			search(spaceThenRun(isPunct)), search(runOf(isCJK)), search(oneOf(isNumber))}
	case "falcon":
		p.stages = []stage{search(runOf(punctOrSymbol(true))), gpt2, search(threeDigits)}
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
		p.stages = []stage{search(oneOf(isNumber)), gpt2}
	case "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling", "jina-es", "jina-de",
		"gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de", "jina-v2-code", "roberta-bpe",
		"a.x-4.0", "mellum":
		p.stages = []stage{gpt2}
	default:
		return p, fmt.Errorf("tokenizer: pre-tokenizer %q: %w", name, ErrUnsupported)
	}
	return p, nil
}

// split cuts text into words (byte slices of text) by running all stages.
func (p preTokenizer) split(text string) []string {
	if text == "" {
		return nil
	}
	rt := newRuneText(text)
	ends := []int{len(rt.r)}
	var next []int
	for _, st := range p.stages {
		next = next[:0]
		a := 0
		for _, b := range ends {
			next = st(rt, a, b, next)
			a = b
		}
		ends, next = next, ends
	}
	words := make([]string, 0, len(ends))
	a := 0
	for _, b := range ends {
		words = append(words, text[rt.off[a]:rt.off[b]])
		a = b
	}
	return words
}
