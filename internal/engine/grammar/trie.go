package grammar

import (
	"bytes"
	"math/bits"
	"slices"
)

// Bitset is a set of token ids.
type Bitset struct{ words []uint64 }

// NewBitset returns an empty set for ids 0..n-1.
func NewBitset(n int) *Bitset { return &Bitset{words: make([]uint64, (n+63)/64)} }

// Has reports whether id is in the set.
func (s *Bitset) Has(id int32) bool {
	w := int(id >> 6)
	return id >= 0 && w < len(s.words) && s.words[w]&(1<<(uint(id)&63)) != 0
}

// Set adds id, growing the set if needed.
func (s *Bitset) Set(id int32) {
	w := int(id >> 6)
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (uint(id) & 63)
}

// ClearAll empties the set.
func (s *Bitset) ClearAll() { clear(s.words) }

// Count returns the number of ids in the set.
func (s *Bitset) Count() int {
	n := 0
	for _, w := range s.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// VocabIndex is a vocabulary prepared for constrained decoding: the token
// byte strings in a trie, flattened in preorder so that the full-mask walk
// is a linear scan that skips whole subtrees when a byte is rejected. Build
// it once per vocabulary; it is immutable and safe for concurrent use.
type VocabIndex struct {
	tokens [][]byte
	eog    []int32
	isEOG  []bool
	nodes  []trieNode
	ids    []int32 // token ids, grouped per node
	depth  int     // longest token
}

// trieNode is one node of the flattened trie: the edge byte into it, its
// depth (1 for children of the root), the index just past its subtree and
// the tokens spelled exactly by the path to it (ids[idStart:idEnd]).
type trieNode struct {
	skip    int32
	idStart int32
	idEnd   int32
	depth   uint16
	b       byte
	_       byte
}

// NewVocabIndex indexes a vocabulary: tokens[id] is the bytes token id
// stands for (tokenizer Piece), and eog lists the end-of-generation tokens,
// which are allowed exactly where the grammar can end. Other tokens with no
// bytes (control tokens) are never allowed.
func NewVocabIndex(tokens [][]byte, eog []int32) *VocabIndex {
	v := &VocabIndex{tokens: tokens, eog: slices.Clone(eog), isEOG: make([]bool, len(tokens))}
	for _, id := range eog {
		if id >= 0 && int(id) < len(tokens) {
			v.isEOG[id] = true
		}
	}
	order := make([]int32, 0, len(tokens))
	for id, t := range tokens {
		if len(t) > 0 && !v.isEOG[id] {
			order = append(order, int32(id))
		}
		v.depth = max(v.depth, len(t))
	}
	slices.SortStableFunc(order, func(a, b int32) int { return bytes.Compare(tokens[a], tokens[b]) })
	// Preorder flattening of the sorted strings: the path of the current
	// node is the previous token; a new token shares its longest common
	// prefix with the path, then adds one node per remaining byte.
	var path []int32 // node index per depth-1
	var prev []byte
	for _, id := range order {
		t := tokens[id]
		lcp := 0
		for lcp < len(prev) && lcp < len(t) && prev[lcp] == t[lcp] {
			lcp++
		}
		// Close the nodes deeper than the common prefix.
		for len(path) > lcp {
			v.nodes[path[len(path)-1]].skip = int32(len(v.nodes))
			path = path[:len(path)-1]
		}
		for d := lcp; d < len(t); d++ {
			v.nodes = append(v.nodes, trieNode{b: t[d], depth: uint16(d + 1)})
			path = append(path, int32(len(v.nodes)-1))
		}
		n := &v.nodes[path[len(path)-1]]
		if n.idEnd == n.idStart {
			n.idStart = int32(len(v.ids))
		}
		v.ids = append(v.ids, id)
		n.idEnd = int32(len(v.ids))
		prev = t
	}
	for _, p := range path {
		v.nodes[p].skip = int32(len(v.nodes))
	}
	return v
}

// Len returns the vocabulary size.
func (v *VocabIndex) Len() int { return len(v.tokens) }

// AllowedTokens sets dst to the tokens the grammar allows next: those whose
// bytes m can read, plus the end-of-generation tokens if m.CanEnd. m is
// not changed (its scratch space is used).
func (v *VocabIndex) AllowedTokens(m *Matcher, dst *Bitset) {
	if len(dst.words) < (len(v.tokens)+63)/64 {
		dst.words = make([]uint64, (len(v.tokens)+63)/64)
	}
	dst.ClearAll()
	if m.canEnd {
		for _, id := range v.eog {
			dst.Set(id)
		}
	}
	if len(m.cur) == 0 {
		return
	}
	for len(m.levels) <= v.depth {
		m.levels = append(m.levels, nil)
		m.arenaAt = append(m.arenaAt, 0)
		m.single = append(m.single, thread{})
	}
	base := len(m.arena)
	m.levels[0] = append(m.levels[0][:0], m.cur...)
	m.arenaAt[0] = base
	// single[d].state >= 0 when the thread set at depth d is one thread,
	// the common case, which then needs no slice at all: reading a byte
	// into a plain state is one table lookup (the inner loop below).
	m.single[0] = thread{-1, -1}
	if len(m.cur) == 1 {
		m.single[0] = m.cur[0]
	}
	g := m.g
	nc, trans, flags, class := g.nclass, g.trans, g.flags, &g.class
	nodes, single, words := v.nodes, m.single, dst.words
	for i := 0; i < len(nodes); {
		n := &nodes[i]
		d := int(n.depth)
		if t := single[d-1]; t.state >= 0 {
			ns := trans[int(t.state)*nc+int(class[n.b])]
			if ns < 0 {
				i = int(n.skip)
				continue
			}
			if flags[ns] == stPlain {
				single[d] = thread{ns, t.stack}
				for _, id := range v.ids[n.idStart:n.idEnd] {
					words[id>>6] |= 1 << (uint(id) & 63)
				}
				m.arenaAt[d] = m.arenaAt[d-1]
				i++
				continue
			}
			m.levels[d-1] = append(m.levels[d-1][:0], t)
		}
		m.arena = m.arena[:m.arenaAt[d-1]]
		next, _, ok := m.step(m.levels[d-1], n.b, m.levels[d][:0])
		m.levels[d] = next
		if !ok {
			i = int(n.skip)
			continue
		}
		for _, id := range v.ids[n.idStart:n.idEnd] {
			words[id>>6] |= 1 << (uint(id) & 63)
		}
		if len(next) == 0 {
			i = int(n.skip)
			continue
		}
		single[d] = thread{-1, -1}
		if len(next) == 1 {
			single[d] = next[0]
		}
		m.arenaAt[d] = len(m.arena)
		i++
	}
	m.arena = m.arena[:base]
}

// walk runs token bytes t through a scratch copy of m's threads and
// reports whether they are accepted; m is unchanged.
func (v *VocabIndex) walk(m *Matcher, t []byte) bool {
	base := len(m.arena)
	src := append(m.save[:0], m.cur...)
	ok := true
	for _, c := range t {
		// A step on an empty set (the grammar completed before the last
		// byte) rejects.
		m.next, _, ok = m.step(src, c, m.next[:0])
		if !ok {
			break
		}
		src, m.next = m.next, src
	}
	m.save = src
	m.arena = m.arena[:base]
	return ok
}

// Allows reports whether token id may come next. It is the fast check for
// a sampled token: it reads only that token's bytes.
func (v *VocabIndex) Allows(m *Matcher, id int32) bool {
	if id < 0 || int(id) >= len(v.tokens) {
		return false
	}
	if v.isEOG[id] {
		return m.canEnd
	}
	t := v.tokens[id]
	if len(t) == 0 || len(m.cur) == 0 {
		return false
	}
	return v.walk(m, t)
}

// Accept advances m past token id and reports whether it was allowed (if
// not, m is unchanged). An end-of-generation token is accepted where the
// grammar can end and leaves m as it is.
func (v *VocabIndex) Accept(m *Matcher, id int32) bool {
	if id < 0 || int(id) >= len(v.tokens) {
		return false
	}
	if v.isEOG[id] {
		return m.canEnd
	}
	t := v.tokens[id]
	if len(t) == 0 {
		return false
	}
	return m.Advance(t)
}

// Filter returns the allowed-token predicate for one sampling step, made
// for sample.Sampler.SampleConstrained: the first call (the sampled token)
// is the cheap single-token check; a second call means the sampler is
// scanning the whole vocabulary, so the full mask is computed once with
// the trie and later calls are bit lookups. Call Filter again after every
// Accept; the predicate must not be used after m changes.
func (v *VocabIndex) Filter(m *Matcher) func(id int32) bool {
	calls := 0
	return func(id int32) bool {
		calls++
		if calls == 1 {
			return v.Allows(m, id)
		}
		if calls == 2 {
			if m.mask == nil {
				m.mask = NewBitset(len(v.tokens))
			}
			v.AllowedTokens(m, m.mask)
		}
		return m.mask.Has(id)
	}
}

// ForcedTokens returns tokens the engine may append without sampling:
// Forced(m) tokenized with encode (the model's tokenizer, without special
// tokens), minus the last token unless the grammar is finished after the
// forced text, cut at the first token m would not accept. It advances m
// past the returned tokens; the caller must append them to the sequence
// (and Sampler.Accept them) in order.
func (v *VocabIndex) ForcedTokens(m *Matcher, encode func([]byte) []int32) []int32 {
	f := Forced(m)
	if len(f) == 0 {
		return nil
	}
	toks := encode(f)
	c := m.Clone()
	if !c.Advance(f) || !c.Finished() {
		if len(toks) > 0 {
			toks = toks[:len(toks)-1]
		}
	}
	out := toks[:0]
	for _, id := range toks {
		if !v.Accept(m, id) {
			break
		}
		out = append(out, id)
	}
	return out
}
