package builtin

import (
	"strings"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// toolScanner splits one choice's generated text, as it streams, into
// content and tool-call deltas: the first delta of a call carries its
// index, id, type and name with empty arguments, later ones fragments of
// the arguments, as OpenAI streams them.
type toolScanner struct {
	plan    *toolPlan
	inCalls bool   // past the marker: the text is calls
	decided bool   // the first non-space character was seen
	held    string // content held back: a possible marker prefix, or leading space
	raw     strings.Builder
	ext     callExtractor
}

func newToolScanner(p *toolPlan) *toolScanner {
	return &toolScanner{plan: p, inCalls: p.forced, ext: callExtractor{names: p.names}}
}

// push takes the next generated text and returns the content to emit and
// the tool-call deltas found.
func (s *toolScanner) push(text string) (string, []inference.ToolCall) {
	if s.inCalls {
		s.raw.WriteString(text)
		return "", s.ext.feed(text)
	}
	s.held += text
	f := s.plan.format
	if f.start != "" && !s.decided {
		t := trimSpace(s.held)
		if t == "" {
			return "", nil
		}
		s.decided = true
		if strings.HasPrefix(t, f.start) {
			return s.enter(0, 0)
		}
	}
	if f.marker == "" {
		out := s.held
		s.held = ""
		return out, nil
	}
	if i := strings.Index(s.held, f.marker); i >= 0 {
		return s.enter(i, len(f.marker))
	}
	keep := 0
	for k := min(len(f.marker)-1, len(s.held)); k > 0; k-- {
		if strings.HasSuffix(s.held, f.marker[:k]) {
			keep = k
			break
		}
	}
	out := s.held[:len(s.held)-keep]
	s.held = s.held[len(s.held)-keep:]
	return out, nil
}

// enter switches to calls at held[i:], skipping a marker of length skip.
func (s *toolScanner) enter(i, skip int) (string, []inference.ToolCall) {
	content, region := s.held[:i], s.held[i+skip:]
	s.raw.WriteString(s.held[i:]) // the marker too, in case no call follows
	s.held, s.inCalls = "", true
	return content, s.ext.feed(region)
}

// finish returns the content still held at the end of the generation: a
// held marker prefix, or the whole call text when it held no call.
func (s *toolScanner) finish() string {
	out := s.held
	s.held = ""
	if s.inCalls && s.ext.calls == 0 && !s.plan.forced {
		out += s.raw.String()
	}
	return out
}

// calls reports how many calls were found.
func (s *toolScanner) calls() int { return s.ext.calls }

// callExtractor finds calls {"name": "f", "arguments": value} in text that
// arrives in pieces, skipping whatever lies between them (markers,
// brackets, separators, a wrapper object).
type callExtractor struct {
	names map[string]bool
	buf   string
	calls int
	// inside the arguments of call calls:
	inArgs     bool
	started    bool
	depth      int
	inStr, esc bool
}

// feed consumes text and returns the deltas it completes.
func (x *callExtractor) feed(text string) []inference.ToolCall {
	x.buf += text
	var out []inference.ToolCall
	for {
		if x.inArgs {
			frag, done := x.args()
			if frag != "" {
				idx := x.calls
				out = append(out, inference.ToolCall{Index: &idx, Function: inference.FunctionCall{Arguments: frag}})
			}
			if !done {
				return out
			}
			x.inArgs = false
			x.calls++
			continue
		}
		i := strings.IndexByte(x.buf, '{')
		if i < 0 {
			x.buf = ""
			return out
		}
		x.buf = x.buf[i:]
		name, n, st := parseCallHeader(x.buf)
		switch {
		case st == headerIncomplete:
			return out
		case st == headerMismatch || !x.names[name]:
			x.buf = x.buf[1:]
			continue
		}
		x.buf = x.buf[n:]
		idx := x.calls
		out = append(out, inference.ToolCall{Index: &idx, ID: newID("call_"), Type: "function",
			Function: inference.FunctionCall{Name: name, Arguments: ""}})
		x.inArgs, x.started, x.depth, x.inStr, x.esc = true, false, 0, false, false
	}
}

// args scans the arguments value in buf and returns the fragment read and
// whether the value is complete.
func (x *callExtractor) args() (string, bool) {
	b := x.buf
	if !x.started {
		b = strings.TrimLeft(b, " \t\r\n")
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if x.inStr {
			switch {
			case x.esc:
				x.esc = false
			case c == '\\':
				x.esc = true
			case c == '"':
				x.inStr = false
				if x.depth == 0 {
					x.buf = b[i+1:]
					return b[:i+1], true
				}
			}
			continue
		}
		switch c {
		case '"':
			x.inStr, x.started = true, true
		case '{', '[':
			x.depth++
			x.started = true
		case '}', ']':
			if x.depth == 0 {
				x.buf = b[i:]
				return b[:i], true
			}
			x.depth--
			if x.depth == 0 {
				x.buf = b[i+1:]
				return b[:i+1], true
			}
		case ',', ' ', '\t', '\r', '\n':
			if x.depth == 0 && x.started {
				x.buf = b[i:]
				return b[:i], true
			}
		default:
			x.started = true
		}
	}
	x.buf = ""
	return b, false
}

// Results of parseCallHeader.
const (
	headerOK = iota
	headerIncomplete
	headerMismatch
)

// parseCallHeader reads `{"name": "<name>", "arguments":` (or
// "parameters", any JSON whitespace) at the start of s and returns the name
// and the header's length.
func parseCallHeader(s string) (name string, n int, status int) {
	i := 0
	ws := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	// lit matches one of the literals at i.
	lit := func(alts ...string) int {
		partial := false
		for _, a := range alts {
			rest := s[i:]
			if strings.HasPrefix(rest, a) {
				i += len(a)
				return headerOK
			}
			if len(rest) < len(a) && strings.HasPrefix(a, rest) {
				partial = true
			}
		}
		if partial {
			return headerIncomplete
		}
		return headerMismatch
	}
	steps := []func() int{
		func() int { return lit("{") },
		func() int { ws(); return lit(`"name"`) },
		func() int { ws(); return lit(":") },
		func() int { ws(); return lit(`"`) },
		func() int {
			end := strings.IndexByte(s[i:], '"')
			if end < 0 {
				if strings.ContainsAny(s[i:], "\\\n{}") {
					return headerMismatch
				}
				return headerIncomplete
			}
			name = s[i : i+end]
			if strings.ContainsAny(name, "\\\n{}") {
				return headerMismatch
			}
			i += end + 1
			return headerOK
		},
		func() int { ws(); return lit(",") },
		func() int { ws(); return lit(`"arguments"`, `"parameters"`) },
		func() int { ws(); return lit(":") },
	}
	for _, step := range steps {
		if i >= len(s) {
			return "", 0, headerIncomplete
		}
		if st := step(); st != headerOK {
			return "", 0, st
		}
	}
	return name, i, headerOK
}
