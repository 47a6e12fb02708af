package runner

import (
	"sync/atomic"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

// prefixPool keeps the KV caches of finished sequences so that a later
// request sharing a prefix with one of them (a system prompt, the chat
// history of a conversation) copies those positions instead of computing
// them again. It is bounded in bytes and evicts the least recently used
// cache first; the runner also evicts from it before preempting a live
// sequence for KV memory.
//
// Matching is a linear scan for the longest common token prefix. A scan
// stops at the first differing token of each entry, so its cost is the
// number of entries plus the length of the matches, which is small next to
// a forward pass over even one token.
//
// The pool is owned by the Run goroutine; only its byte count is read by
// other goroutines (Stats).
type prefixPool struct {
	limit   int64
	used    int64
	shared  atomic.Int64 // copy of used for Stats
	clock   uint64
	entries []*prefixEntry
}

// prefixEntry is one finished sequence's cache: tokens are the tokens whose
// keys and values it holds.
type prefixEntry struct {
	tokens []int32
	cache  *kvcache.Cache
	used   uint64 // clock of the last match or insertion
}

func newPrefixPool(limit int64) *prefixPool { return &prefixPool{limit: limit} }

// bytes returns the memory the pooled caches hold; it is safe for
// concurrent use.
func (p *prefixPool) bytes() int64 { return p.shared.Load() }

// commonPrefix returns the length of the longest common prefix of a and b.
func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// match returns the entry sharing the longest prefix with tokens and the
// length of that prefix (ties go to the most recently used entry), or nil
// and 0. The entry counts as used.
func (p *prefixPool) match(tokens []int32) (*prefixEntry, int) {
	var best *prefixEntry
	n := 0
	for _, e := range p.entries {
		if k := commonPrefix(e.tokens, tokens); k > n || (k == n && k > 0 && e.used > best.used) {
			best, n = e, k
		}
	}
	if best != nil {
		p.clock++
		best.used = p.clock
	}
	return best, n
}

// put takes ownership of c, whose positions hold tokens[:c.Len()], and
// keeps it unless it is empty, larger than the pool, or a prefix of an
// entry already kept. Entries that are a prefix of it are dropped, since
// it serves every request they would. Least recently used entries are then
// evicted down to the limit.
func (p *prefixPool) put(tokens []int32, c *kvcache.Cache) {
	tokens = tokens[:c.Len()]
	if len(tokens) == 0 || c.Bytes() > p.limit {
		c.Free()
		return
	}
	p.clock++
	for _, e := range p.entries {
		if commonPrefix(e.tokens, tokens) == len(tokens) { // c adds nothing to e
			e.used = p.clock
			c.Free()
			return
		}
	}
	kept := p.entries[:0]
	for _, e := range p.entries {
		if commonPrefix(e.tokens, tokens) == len(e.tokens) { // e adds nothing to c
			p.drop(e)
			continue
		}
		kept = append(kept, e)
	}
	clear(p.entries[len(kept):])
	p.entries = append(kept, &prefixEntry{tokens: append([]int32(nil), tokens...), cache: c, used: p.clock})
	p.used += c.Bytes()
	for p.used > p.limit && p.evict(nil) {
	}
	p.shared.Store(p.used)
}

// drop frees e's cache; the caller removes e from the entries.
func (p *prefixPool) drop(e *prefixEntry) {
	p.used -= e.cache.Bytes()
	e.cache.Free()
	e.cache = nil
}

// evict frees the least recently used entry other than keep and reports
// whether there was one.
func (p *prefixPool) evict(keep *prefixEntry) bool {
	lru := -1
	for i, e := range p.entries {
		if e != keep && (lru < 0 || e.used < p.entries[lru].used) {
			lru = i
		}
	}
	if lru < 0 {
		return false
	}
	p.drop(p.entries[lru])
	p.entries = append(p.entries[:lru], p.entries[lru+1:]...)
	p.entries[:cap(p.entries)][len(p.entries)] = nil
	p.shared.Store(p.used)
	return true
}

// clear frees every entry.
func (p *prefixPool) clear() {
	for _, e := range p.entries {
		p.drop(e)
	}
	clear(p.entries)
	p.entries = p.entries[:0]
	p.shared.Store(p.used)
}
