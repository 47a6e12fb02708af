package grammar

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrTooLarge is wrapped by errors about grammars whose automata exceed the
// size limits (see Options.MaxStates).
var ErrTooLarge = errors.New("grammar: automaton too large")

// ErrLeftRecursion is wrapped by errors about rules that can call themselves
// without consuming a byte; the matcher cannot run them.
var ErrLeftRecursion = errors.New("grammar: left recursion")

// defaultMaxStates bounds the DFA states of one grammar.
const defaultMaxStates = 1 << 18

// Grammar is a compiled grammar: one deterministic byte automaton per rule,
// whose states may also call other rules (a pushdown automaton). A Grammar
// is immutable and safe for concurrent use; matchers hold the per-sequence
// state.
type Grammar struct {
	// Warnings lists what the compiler ignored or approximated (unsupported
	// schema keywords, unenforced numeric bounds...), one sentence each.
	Warnings []string

	nclass int        // number of byte equivalence classes
	class  [256]uint8 // byte -> class
	// trans[s*nclass+c] is the state after a byte of class c in state s,
	// or -1.
	trans []int32
	// calls[callStart[s]:callStart[s+1]] are the calls state s makes.
	calls     []call
	callStart []int32
	flags     []uint8 // per state: stFinal, stHasBytes, stHasCalls
	ruleStart []int32 // rule -> its start state
	root      int     // root rule
	ruleNames []string
}

// call is a call edge: run the rule starting at state start, then continue
// in state ret.
type call struct{ start, ret int32 }

const (
	stFinal    uint8        = 1 << iota // the rule may end here
	stHasBytes                          // some byte leads on
	stHasCalls                          // the state calls rules
	stPlain    = stHasBytes             // only bytes: the matcher's fast path
)

// ruleSet is a grammar under construction: rule bodies as exprs.
type ruleSet struct {
	names  []string
	bodies []*expr
}

// add creates a rule with a nil body (to be set later) and returns its id.
func (rs *ruleSet) add(name string) int {
	rs.names = append(rs.names, name)
	rs.bodies = append(rs.bodies, nil)
	return len(rs.bodies) - 1
}

// nfa is a Thompson automaton with epsilon, byte and call edges.
type nfa struct {
	eps   [][]int32
	edges [][]nfaEdge
	calls [][]nfaCall
}

type nfaEdge struct {
	set byteSet
	to  int32
}

type nfaCall struct {
	rule int
	ret  int32
}

func (n *nfa) state() int32 {
	n.eps = append(n.eps, nil)
	n.edges = append(n.edges, nil)
	n.calls = append(n.calls, nil)
	return int32(len(n.eps) - 1)
}

// build adds e between from and to.
func (n *nfa) build(e *expr, from, to int32) {
	switch e.kind {
	case exEmpty:
		n.eps[from] = append(n.eps[from], to)
	case exNever:
	case exBytes:
		n.edges[from] = append(n.edges[from], nfaEdge{e.set, to})
	case exRef:
		n.calls[from] = append(n.calls[from], nfaCall{e.ref, to})
	case exSeq:
		cur := from
		for i, s := range e.subs {
			next := to
			if i < len(e.subs)-1 {
				next = n.state()
			}
			n.build(s, cur, next)
			cur = next
		}
	case exAlt:
		for _, s := range e.subs {
			n.build(s, from, to)
		}
	case exRepeat:
		sub := e.subs[0]
		cur := from
		for range e.min {
			next := n.state()
			n.build(sub, cur, next)
			cur = next
		}
		if e.max < 0 {
			loop := n.state()
			n.eps[cur] = append(n.eps[cur], loop)
			body := n.state()
			n.build(sub, loop, body)
			n.eps[body] = append(n.eps[body], loop)
			n.eps[loop] = append(n.eps[loop], to)
			return
		}
		for range e.max - e.min {
			n.eps[cur] = append(n.eps[cur], to)
			next := n.state()
			n.build(sub, cur, next)
			cur = next
		}
		n.eps[cur] = append(n.eps[cur], to)
	case exProps:
		p := e.props
		k := len(p.members)
		// a[i]: before member i, nothing emitted; b[i]: something emitted.
		a, b := make([]int32, k+1), make([]int32, k+1)
		a[0], b[0] = from, n.state()
		for i := 1; i <= k; i++ {
			a[i], b[i] = n.state(), n.state()
		}
		for i, m := range p.members {
			n.build(m, a[i], b[i+1])
			n.build(seq(p.sep, m), b[i], b[i+1])
			if !p.required[i] {
				n.eps[a[i]] = append(n.eps[a[i]], a[i+1])
				n.eps[b[i]] = append(n.eps[b[i]], b[i+1])
			}
		}
		n.eps[a[k]] = append(n.eps[a[k]], to)
		n.eps[b[k]] = append(n.eps[b[k]], to)
	}
}

// closure returns the sorted epsilon closure of set.
func (n *nfa) closure(set []int32, seen []uint32, mark uint32) []int32 {
	out := set[:0:0]
	stack := append([]int32(nil), set...)
	for _, s := range set {
		seen[s] = mark
	}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out = append(out, s)
		for _, t := range n.eps[s] {
			if seen[t] != mark {
				seen[t] = mark
				stack = append(stack, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

// compile turns the rule set into a Grammar rooted at rule root.
func compile(rs *ruleSet, root int, maxStates int) (*Grammar, error) {
	if maxStates <= 0 {
		maxStates = defaultMaxStates
	}
	var n nfa
	starts := make([]int32, len(rs.bodies))
	accepts := make([]int32, len(rs.bodies))
	for r, body := range rs.bodies {
		if body == nil {
			return nil, fmt.Errorf("grammar: rule %q has no body", rs.names[r])
		}
		starts[r], accepts[r] = n.state(), n.state()
		n.build(body, starts[r], accepts[r])
		if len(n.eps) > 8*maxStates {
			return nil, fmt.Errorf("grammar: more than %d automaton states: %w", 8*maxStates, ErrTooLarge)
		}
	}
	g := &Grammar{root: root, ruleNames: rs.names}
	g.computeClasses(&n)

	seen := make([]uint32, len(n.eps))
	mark := uint32(0)
	type dstate struct {
		set  []int32
		rule int
	}
	var states []dstate
	index := map[string]int32{}
	key := func(rule int, set []int32) string {
		var sb strings.Builder
		sb.WriteString(strconv.Itoa(rule))
		for _, s := range set {
			sb.WriteByte(',')
			sb.WriteString(strconv.Itoa(int(s)))
		}
		return sb.String()
	}
	intern := func(rule int, set []int32) (int32, error) {
		k := key(rule, set)
		if id, ok := index[k]; ok {
			return id, nil
		}
		if len(states) >= maxStates {
			return 0, fmt.Errorf("grammar: more than %d states: %w", maxStates, ErrTooLarge)
		}
		id := int32(len(states))
		index[k] = id
		states = append(states, dstate{set, rule})
		return id, nil
	}
	g.ruleStart = make([]int32, len(rs.bodies))
	for r := range rs.bodies {
		mark++
		id, err := intern(r, n.closure([]int32{starts[r]}, seen, mark))
		if err != nil {
			return nil, err
		}
		g.ruleStart[r] = id
	}
	nc := g.nclass
	reps := make([]byte, nc) // a representative byte per class
	for b := 255; b >= 0; b-- {
		reps[g.class[b]] = byte(b)
	}
	var target []int32
	for i := 0; i < len(states); i++ {
		st := states[i]
		var fl uint8
		row := make([]int32, nc)
		for c := range nc {
			target = target[:0]
			for _, s := range st.set {
				for _, e := range n.edges[s] {
					if e.set.has(reps[c]) {
						target = append(target, e.to)
					}
				}
			}
			row[c] = -1
			if len(target) == 0 {
				continue
			}
			mark++
			id, err := intern(st.rule, n.closure(dedup(target), seen, mark))
			if err != nil {
				return nil, err
			}
			row[c] = id
			fl |= stHasBytes
		}
		g.trans = append(g.trans, row...)
		// Calls, grouped by callee.
		var byRule map[int][]int32
		var order []int
		for _, s := range st.set {
			if s == accepts[st.rule] {
				fl |= stFinal
			}
			for _, c := range n.calls[s] {
				if byRule == nil {
					byRule = map[int][]int32{}
				}
				if _, ok := byRule[c.rule]; !ok {
					order = append(order, c.rule)
				}
				byRule[c.rule] = append(byRule[c.rule], c.ret)
			}
		}
		g.callStart = append(g.callStart, int32(len(g.calls)))
		for _, r := range order {
			mark++
			ret, err := intern(st.rule, n.closure(dedup(byRule[r]), seen, mark))
			if err != nil {
				return nil, err
			}
			g.calls = append(g.calls, call{g.ruleStart[r], ret})
			fl |= stHasCalls
		}
		g.flags = append(g.flags, fl)
	}
	g.callStart = append(g.callStart, int32(len(g.calls)))
	if err := g.checkLeftRecursion(); err != nil {
		return nil, err
	}
	return g, nil
}

func dedup(s []int32) []int32 {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// computeClasses partitions the bytes into classes no edge set splits.
func (g *Grammar) computeClasses(n *nfa) {
	// Signature refinement: bytes with equal membership in every distinct
	// set share a class.
	sets := map[byteSet]bool{}
	for _, es := range n.edges {
		for _, e := range es {
			sets[e.set] = true
		}
	}
	var sig [256][]byte
	for s := range sets {
		for b := range 256 {
			if s.has(byte(b)) {
				sig[b] = append(sig[b], 1)
			} else {
				sig[b] = append(sig[b], 0)
			}
		}
	}
	// Map iteration order differs between runs, but the signatures of all
	// bytes use the same order within this call.
	ids := map[string]uint8{}
	for b := range 256 {
		k := string(sig[b])
		id, ok := ids[k]
		if !ok {
			id = uint8(len(ids))
			ids[k] = id
		}
		g.class[b] = id
	}
	g.nclass = len(ids)
}

func (g *Grammar) statesCalls(s int32) []call {
	return g.calls[g.callStart[s]:g.callStart[s+1]]
}

// checkLeftRecursion reports a rule that can reach a call of itself
// without consuming input.
func (g *Grammar) checkLeftRecursion() error {
	nr := len(g.ruleStart)
	startRule := make(map[int32]int, nr)
	for r, s := range g.ruleStart {
		startRule[s] = r
	}
	// Nullable rules: fixpoint over "start state reaches final through
	// calls of nullable rules".
	nullable := make([]bool, nr)
	for changed := true; changed; {
		changed = false
		for r := range nr {
			if !nullable[r] && g.zeroReach(g.ruleStart[r], startRule, nullable, nil) {
				nullable[r] = true
				changed = true
			}
		}
	}
	// Left-call graph.
	edges := make([][]int, nr)
	for r := range nr {
		g.zeroReach(g.ruleStart[r], startRule, nullable, func(callee int32) {
			edges[r] = append(edges[r], startRule[callee])
		})
	}
	color := make([]uint8, nr)
	var visit func(r int) error
	visit = func(r int) error {
		color[r] = 1
		for _, c := range edges[r] {
			if color[c] == 1 {
				return fmt.Errorf("grammar: rule %q: %w", g.ruleNames[c], ErrLeftRecursion)
			}
			if color[c] == 0 {
				if err := visit(c); err != nil {
					return err
				}
			}
		}
		color[r] = 2
		return nil
	}
	for r := range nr {
		if color[r] == 0 {
			if err := visit(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// zeroReach explores the states reachable from s without consuming bytes
// (following calls of nullable rules to their return states), reporting
// every callee start to onCall; it returns whether a final state is
// reachable.
func (g *Grammar) zeroReach(s int32, startRule map[int32]int, nullable []bool, onCall func(int32)) bool {
	seen := map[int32]bool{s: true}
	stack := []int32{s}
	final := false
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g.flags[x]&stFinal != 0 {
			final = true
		}
		for _, c := range g.statesCalls(x) {
			if onCall != nil {
				onCall(c.start)
			}
			if nullable[startRule[c.start]] && !seen[c.ret] {
				seen[c.ret] = true
				stack = append(stack, c.ret)
			}
		}
	}
	return final
}
