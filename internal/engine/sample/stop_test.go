package sample

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStopMatcher(t *testing.T) {
	tests := []struct {
		name   string
		stops  []string
		pushes []string
		// emits holds what each push returns; stoppedAt is the index of the
		// push that reports the stop (-1: none).
		emits     []string
		stoppedAt int
		flush     string
	}{
		{
			name:      "no stops",
			stops:     nil,
			pushes:    []string{"Hello", "\n\nUser:"},
			emits:     []string{"Hello", "\n\nUser:"},
			stoppedAt: -1,
		},
		{
			name:      "stop split over three pushes",
			stops:     []string{"\n\nUser:"},
			pushes:    []string{"Sure.\n", "\nUs", "er: next"},
			emits:     []string{"Sure.", "", ""},
			stoppedAt: 2,
		},
		{
			name:      "false alarm released",
			stops:     []string{"\n\nUser:"},
			pushes:    []string{"a\n", "\nUse", "d it"},
			emits:     []string{"a", "", "\n\nUsed it"},
			stoppedAt: -1,
		},
		{
			name:      "false alarm restarts a match",
			stops:     []string{"abc"},
			pushes:    []string{"xa", "ab", "c!"},
			emits:     []string{"x", "a", ""},
			stoppedAt: 2,
		},
		{
			name:      "held text flushed at the end",
			stops:     []string{"###"},
			pushes:    []string{"done #", "#"},
			emits:     []string{"done ", ""},
			stoppedAt: -1,
			flush:     "##",
		},
		{
			name:      "stop at the very start",
			stops:     []string{"STOP"},
			pushes:    []string{"STOP", "more"},
			emits:     []string{"", ""},
			stoppedAt: 0,
		},
		{
			name:      "stop inside one push",
			stops:     []string{"<|end|>"},
			pushes:    []string{"answer<|end|>trailing"},
			emits:     []string{"answer"},
			stoppedAt: 0,
		},
		{
			name:      "multiple stops, the first completed wins",
			stops:     []string{"abcd", "bc"},
			pushes:    []string{"xab", "cd"},
			emits:     []string{"x", "a"},
			stoppedAt: 1,
		},
		{
			name:      "same end, earlier start wins",
			stops:     []string{"c", "abc"},
			pushes:    []string{"xabc"},
			emits:     []string{"x"},
			stoppedAt: 0,
		},
		{
			name:      "longest possible prefix held",
			stops:     []string{"aab", "ab"},
			pushes:    []string{"xaa", "ac"},
			emits:     []string{"x", "aaac"},
			stoppedAt: -1,
		},
		{
			name:      "multibyte stop across pushes",
			stops:     []string{"ユーザー:"},
			pushes:    []string{"こんにちは", "ユー", "ザ", "ー:"},
			emits:     []string{"こんにちは", "", "", ""},
			stoppedAt: 3,
		},
		{
			name:      "multibyte false alarm",
			stops:     []string{"。\n"},
			pushes:    []string{"はい。", "いいえ。"},
			emits:     []string{"はい", "。いいえ"},
			stoppedAt: -1,
			flush:     "。",
		},
		{
			name:      "empty stop strings ignored",
			stops:     []string{"", "z"},
			pushes:    []string{"abc", "yz"},
			emits:     []string{"abc", "y"},
			stoppedAt: 1,
		},
		{
			name:      "empty pushes",
			stops:     []string{"ab"},
			pushes:    []string{"", "a", "", "b"},
			emits:     []string{"", "", "", ""},
			stoppedAt: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewStopMatcher(tc.stops)
			var emits []string
			stoppedAt := -1
			for i, p := range tc.pushes {
				e, stopped := m.Push(p)
				emits = append(emits, e)
				if stopped && stoppedAt < 0 {
					stoppedAt = i
				}
				if !stopped && stoppedAt >= 0 {
					t.Errorf("push %d: no longer stopped", i)
				}
			}
			if diff := cmp.Diff(tc.emits, emits); diff != "" {
				t.Errorf("emitted (-want +got):\n%s", diff)
			}
			if stoppedAt != tc.stoppedAt {
				t.Errorf("stopped at push %d, want %d", stoppedAt, tc.stoppedAt)
			}
			if got := m.Flush(); got != tc.flush {
				t.Errorf("Flush() = %q, want %q", got, tc.flush)
			}
			if got := m.Flush(); got != "" {
				t.Errorf("second Flush() = %q, want empty", got)
			}
		})
	}
}

func TestStopMatcherHoldsOnlyPossibleStarts(t *testing.T) {
	m := NewStopMatcher([]string{"\n\nUser:", "</s>"})
	for _, tc := range []struct{ push, held string }{
		{"text\n", "\n"},
		{"\n", "\n\n"},
		{"U", "\n\nU"},
		{"x", ""},
		{"<", "<"},
		{"/", "</"},
		{"t", ""},
	} {
		if _, stopped := m.Push(tc.push); stopped {
			t.Fatalf("stopped on %q", tc.push)
		}
		if got := m.Held(); got != tc.held {
			t.Errorf("after %q: held %q, want %q", tc.push, got, tc.held)
		}
	}
}

// stopOracle returns the text before the first completed stop string (the
// earliest end, then the earliest start) and whether there is one.
func stopOracle(text string, stops []string) (string, bool) {
	for end := 1; end <= len(text); end++ {
		best := -1
		for _, s := range stops {
			if s != "" && strings.HasSuffix(text[:end], s) && (best < 0 || end-len(s) < best) {
				best = end - len(s)
			}
		}
		if best >= 0 {
			return text[:best], true
		}
	}
	return text, false
}

// longestStopPrefix returns the longest suffix of text that is a proper
// prefix of a stop string.
func longestStopPrefix(text string, stops []string) string {
	best := ""
	for _, s := range stops {
		for k := 1; k < len(s) && k <= len(text); k++ {
			if strings.HasSuffix(text, s[:k]) && k > len(best) {
				best = s[:k]
			}
		}
	}
	return best
}

func FuzzStopMatcher(f *testing.F) {
	f.Add("Sure.\n\nUser: hi", "\n\nUser:", "</s>", []byte{3, 1, 4, 1, 5})
	f.Add("xabcd", "abcd", "bc", []byte{2, 2})
	f.Add("aaaab", "aab", "ab", []byte{1})
	f.Add("はい。いいえ。\n", "。\n", "ー", []byte{3, 3, 3})
	f.Fuzz(func(t *testing.T, text, stopA, stopB string, cuts []byte) {
		stops := []string{stopA, stopB}
		m := NewStopMatcher(stops)
		var out strings.Builder
		stopped := false
		rest := text
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i]%8))
			}
			emit, st := m.Push(rest[:n])
			rest = rest[n:]
			if stopped && emit != "" {
				t.Fatalf("emitted %q after the stop", emit)
			}
			out.WriteString(emit)
			stopped = st
			if stopped {
				continue
			}
			consumed := text[:len(text)-len(rest)]
			if out.String()+m.Held() != consumed {
				t.Fatalf("emitted %q + held %q is not the input so far %q", out.String(), m.Held(), consumed)
			}
			if want := longestStopPrefix(consumed, stops); m.Held() != want {
				t.Fatalf("after %q: held %q, want %q", consumed, m.Held(), want)
			}
		}
		if !stopped {
			out.WriteString(m.Flush())
		}
		want, wantStop := stopOracle(text, stops)
		if out.String() != want || stopped != wantStop {
			t.Fatalf("text %q stops %q: emitted %q (stopped %v), want %q (stopped %v)", text, stops, out.String(), stopped, want, wantStop)
		}
		for _, s := range stops {
			if s != "" && strings.Contains(out.String(), s) {
				t.Fatalf("emitted %q contains stop %q", out.String(), s)
			}
		}
	})
}
