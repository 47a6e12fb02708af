package sample

import "strings"

// StopMatcher removes stop strings from streamed text: the text up to the
// first stop string is emitted, the stop string and everything after it
// never are. Text that could be the beginning of a stop string is held back
// until the next push shows whether it is, so stop strings are found across
// token boundaries.
//
// "First" means the stop string that is completed first while reading the
// text from the start (the earliest end; at equal ends, the earliest start),
// which is when generation would have stopped. The result therefore does
// not depend on how the text is split into pushes.
//
// Text is handled as bytes. Given valid UTF-8 in whole characters (as a
// streaming detokenizer yields) and valid UTF-8 stop strings, every split
// point falls on a character boundary: a held-back suffix equals the start
// of a stop string, which begins with a whole character.
//
// A StopMatcher is not safe for concurrent use.
type StopMatcher struct {
	stops   []string
	held    string
	stopped bool
}

// NewStopMatcher returns a matcher for stops. Empty strings are ignored; with
// no stop strings, Push emits its text unchanged.
func NewStopMatcher(stops []string) *StopMatcher {
	m := &StopMatcher{}
	for _, s := range stops {
		if s != "" && !containsString(m.stops, s) {
			m.stops = append(m.stops, s)
		}
	}
	return m
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Push adds text and returns the part of the text seen so far that is now
// known not to belong to a stop string. stopped reports that a stop string
// was completed: emit then holds the text before it, and the matcher ignores
// any further text.
func (m *StopMatcher) Push(text string) (emit string, stopped bool) {
	if m.stopped {
		return "", true
	}
	if len(m.stops) == 0 {
		return text, false
	}
	buf := m.held + text
	start, end := -1, -1
	for _, s := range m.stops {
		// Earlier pushes found no stop string, so a new one ends in text:
		// skip the starts that cannot reach it.
		from := max(0, len(m.held)-len(s)+1)
		i := strings.Index(buf[from:], s)
		if i < 0 {
			continue
		}
		i += from
		if e := i + len(s); end < 0 || e < end || (e == end && i < start) {
			start, end = i, e
		}
	}
	if start >= 0 {
		m.stopped, m.held = true, ""
		return buf[:start], true
	}
	h := m.holdLen(buf)
	m.held = strings.Clone(buf[len(buf)-h:])
	return buf[:len(buf)-h], false
}

// holdLen returns the length of the longest suffix of buf that is a proper
// prefix of a stop string.
func (m *StopMatcher) holdLen(buf string) int {
	best := 0
	for _, s := range m.stops {
		for k := min(len(s)-1, len(buf)); k > best; k-- {
			if strings.HasSuffix(buf, s[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

// Held returns the text currently held back.
func (m *StopMatcher) Held() string { return m.held }

// Stopped reports whether a stop string has been found.
func (m *StopMatcher) Stopped() bool { return m.stopped }

// Flush returns the held-back text at the end of generation (it was not the
// start of a stop string after all) and empties the matcher's buffer. After
// a stop it returns "".
func (m *StopMatcher) Flush() string {
	h := m.held
	m.held = ""
	return h
}
