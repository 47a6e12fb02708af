package grammar

// The matcher is a recognizer for the pushdown automaton a Grammar
// compiles to. Each rule is a deterministic byte automaton (DFA) whose
// states may also call rules; the only nondeterminism left is between
// reading a byte, calling a rule and returning from one. The matcher keeps
// the set of live configurations ("threads"): a DFA state plus a return
// stack. Stacks are persistent linked lists stored in an append-only arena
// (index of the top node, -1 for empty), so threads share their tails and
// a clone shares the arena's prefix.
//
// After every byte the thread set is closed: a thread in a state that
// calls rule R spawns a thread at R's start with the return state pushed,
// and a thread in a final state pops its stack (or, with an empty stack,
// marks that the whole input may end here). Only threads whose state reads
// bytes are kept. For the JSON grammars of this package the set nearly
// always holds one thread, and reading a byte inside a string or number is
// one table lookup (the fast path in step).

// maxThreads bounds the configurations explored in one step; a step that
// needs more (a hugely ambiguous GBNF grammar) is treated as a rejection.
const maxThreads = 4096

type thread struct{ state, stack int32 }

type stackNode struct{ ret, parent int32 }

// Matcher tracks how far a byte string has got through a Grammar. It is not
// safe for concurrent use; Clone gives an independent copy.
type Matcher struct {
	g      *Grammar
	cur    []thread
	canEnd bool
	arena  []stackNode

	// scratch
	next, save, work, visited []thread
	stepBase                  int // arena index where the current step's nodes start
	levels                    [][]thread
	single                    []thread
	arenaAt                   []int
	mask                      *Bitset
}

// NewMatcher returns a matcher at the start of g.
func (g *Grammar) NewMatcher() *Matcher {
	m := &Matcher{g: g}
	m.Reset()
	return m
}

// Reset returns m to the start of its grammar.
func (m *Matcher) Reset() {
	m.arena = m.arena[:0]
	m.canEnd = false
	m.visited = m.visited[:0]
	m.stepBase = 0
	var ok bool
	m.cur, ok = m.closure(m.g.ruleStart[m.g.root], -1, m.cur[:0], &m.canEnd)
	_ = ok
}

// Clone returns an independent copy of m.
func (m *Matcher) Clone() *Matcher {
	c := &Matcher{g: m.g, canEnd: m.canEnd}
	c.cur = append([]thread(nil), m.cur...)
	// Sharing the arena is safe: nodes are immutable and both matchers
	// append only past the shared length (the clipped capacity forces a
	// copy on the clone's first push).
	c.arena = m.arena[:len(m.arena):len(m.arena)]
	return c
}

// Grammar returns the grammar m runs.
func (m *Matcher) Grammar() *Grammar { return m.g }

// CanEnd reports whether the bytes so far form a complete sentence of the
// grammar.
func (m *Matcher) CanEnd() bool { return m.canEnd }

// Finished reports whether no byte can follow: the input is complete and
// the grammar allows nothing more.
func (m *Matcher) Finished() bool { return len(m.cur) == 0 }

// Advance feeds b to the matcher. If some prefix of b is rejected it
// returns false and leaves m unchanged.
func (m *Matcher) Advance(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	m.save = append(m.save[:0], m.cur...)
	saveEnd, saveArena := m.canEnd, len(m.arena)
	for _, c := range b {
		var end, ok bool
		m.next, end, ok = m.step(m.cur, c, m.next[:0])
		if !ok {
			m.cur = append(m.cur[:0], m.save...)
			m.canEnd = saveEnd
			m.arena = m.arena[:saveArena]
			return false
		}
		m.cur, m.next = m.next, m.cur
		m.canEnd = end
	}
	return true
}

// step reads byte b from the threads src and appends the closed result to
// dst. It returns whether the input may end after b and whether b was
// accepted at all.
func (m *Matcher) step(src []thread, b byte, dst []thread) ([]thread, bool, bool) {
	g := m.g
	c := int(g.class[b])
	if len(src) == 1 {
		t := src[0]
		ns := g.trans[int(t.state)*g.nclass+c]
		if ns < 0 {
			return dst, false, false
		}
		if g.flags[ns] == stPlain {
			return append(dst, thread{ns, t.stack}), false, true
		}
	}
	m.visited = m.visited[:0]
	m.stepBase = len(m.arena)
	end := false
	ok := true
	for _, t := range src {
		ns := g.trans[int(t.state)*g.nclass+c]
		if ns < 0 {
			continue
		}
		if dst, ok = m.closure(ns, t.stack, dst, &end); !ok {
			return dst[:0], false, false
		}
	}
	return dst, end, len(dst) > 0 || end
}

// closure adds to dst the byte-reading threads reachable from (s, stk)
// without input, setting *end if the input may end. It reports false if
// the exploration exceeded maxThreads.
func (m *Matcher) closure(s, stk int32, dst []thread, end *bool) ([]thread, bool) {
	g := m.g
	work := append(m.work[:0], thread{s, stk})
	for len(work) > 0 {
		t := work[len(work)-1]
		work = work[:len(work)-1]
		if m.seen(t) {
			continue
		}
		if len(m.visited) >= maxThreads {
			m.work = work
			return dst, false
		}
		m.visited = append(m.visited, t)
		fl := g.flags[t.state]
		if fl&stHasBytes != 0 {
			dst = append(dst, t)
		}
		if fl&stHasCalls != 0 {
			for _, c := range g.statesCalls(t.state) {
				work = append(work, thread{c.start, m.push(c.ret, t.stack)})
			}
		}
		if fl&stFinal != 0 {
			if t.stack < 0 {
				*end = true
			} else {
				n := m.arena[t.stack]
				work = append(work, thread{n.ret, n.parent})
			}
		}
	}
	m.work = work
	return dst, true
}

// seen reports whether an equivalent thread was visited in this step.
func (m *Matcher) seen(t thread) bool {
	for _, v := range m.visited {
		if v.state == t.state && m.sameStack(v.stack, t.stack) {
			return true
		}
	}
	return false
}

func (m *Matcher) sameStack(a, b int32) bool {
	for a != b {
		if a < 0 || b < 0 {
			return false
		}
		na, nb := m.arena[a], m.arena[b]
		if na.ret != nb.ret {
			return false
		}
		a, b = na.parent, nb.parent
	}
	return true
}

// push returns a stack with ret on top of parent, reusing a node made in
// this step when there is one.
func (m *Matcher) push(ret, parent int32) int32 {
	for i := len(m.arena) - 1; i >= m.stepBase; i-- {
		if n := m.arena[i]; n.ret == ret && n.parent == parent {
			return int32(i)
		}
	}
	m.arena = append(m.arena, stackNode{ret, parent})
	return int32(len(m.arena) - 1)
}

// nextByte returns the only byte that can follow, if exactly one can.
func (m *Matcher) nextByte() (byte, bool) {
	if m.canEnd || len(m.cur) == 0 {
		return 0, false
	}
	g := m.g
	var set byteSet
	for _, t := range m.cur {
		row := g.trans[int(t.state)*g.nclass:][:g.nclass]
		for b := range 256 {
			if row[g.class[b]] >= 0 {
				set.add(byte(b))
			}
		}
		if set.count() > 1 {
			return 0, false
		}
	}
	if set.count() != 1 {
		return 0, false
	}
	for b := range 256 {
		if set.has(byte(b)) {
			return byte(b), true
		}
	}
	return 0, false
}

// maxForced bounds Forced for grammars that force an endless string.
const maxForced = 4096

// Forced returns the bytes the grammar forces next: while exactly one byte
// can follow and the input cannot end, that byte is forced. After `{` in an
// object with a required first key this is `"name":` and so on. m is not
// changed.
//
// How the engine should use it without breaking tokenization: forced bytes
// are known text, but tokenizing them on their own can differ from how the
// model would have split them together with what comes next (a forced `"`
// might be the start of the model's `"Hello` token). So tokenize the forced
// text, drop the LAST token (unless the matcher is Finished after the whole
// text), check each remaining token with VocabIndex.Accept, append them to
// the sequence without sampling (evaluate them in one batch), and resume
// sampling; the dropped tail is then sampled normally, constrained as
// usual. VocabIndex.ForcedTokens does exactly this.
func Forced(m *Matcher) []byte {
	b, ok := m.nextByte()
	if !ok {
		return nil
	}
	c := m.Clone()
	var out []byte
	for ok && len(out) < maxForced {
		if !c.Advance([]byte{b}) {
			break
		}
		out = append(out, b)
		b, ok = c.nextByte()
	}
	return out
}
