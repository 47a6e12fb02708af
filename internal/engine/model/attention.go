package model

import (
	"math"
	"sync/atomic"

	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
)

// attention computes, for every token and query head, softmax(q·Kᵀ/√dk)·V
// over the cache positions up to the token's own, in parallel over
// (token, KV head) pairs: vecmath.AttendGroup takes all the query heads
// that share a KV head at once, reading each key and value row once for
// all of them (with AVX-512; otherwise head by head). When there are
// fewer such pairs than threads, as in decoding with few KV heads, each
// group is split into parts of about equal size so that every thread has
// work (see headsPerItem). Items are numbered last token first (later
// tokens of a prompt attend to more positions), so the pool's contiguous
// parts start at the large items and stealing from their backs takes the
// small ones that balance the cores at the end. AttendGroup computes each
// head's result independently of the others in its call, so batching,
// threads and the split do not change it.
//
// Long caches are attended over in segments of vecmath.AttendSegment
// positions, each segment's result merged with the others'
// (vecmath.MergeAttention), whoever computes them, so that a token's
// result is the same bits whether its segments are one work item or
// several. When there are fewer (token, KV head) pairs than twice the
// threads and some token attends to more than a segment, as in decoding
// one or two sequences with long contexts, the items are the segments
// (see segmentItems): the threads share the positions rather than the
// heads, each thread reads whole cache rows, every KV head's, from one
// stretch of the cache, and the many items balance a thread that runs
// slow.
func (st *state) attention(b *Batch, li int) {
	c := &st.m.cfg
	st.attnBatch, st.attnLayer = b, li
	if st.segmentItems() {
		st.m.pool.run(len(st.segItems), 1, st.segmentFn)
	} else {
		st.m.pool.run(len(st.refs)*c.Heads/st.headsPerItem(), 1, st.attendFn)
	}
	st.attnBatch = nil
}

// segItem is one work item of attention by segments: KV head kh of token
// t over segment g of its cache positions, or over all of them when the
// token has one segment (segs 1), written to st.att; otherwise to the
// parts of (t, kh) at st.attParts[part:] and st.attStats[stat:], segment
// after segment, and counted in st.attDone[done] so that the item that
// finishes the last of them merges them.
type segItem struct {
	t, g, kh, segs   int
	part, stat, done int
}

// segmentItems reports whether attention goes by segments this pass
// and, if so, lists its items in st.segItems (each token's segments in
// order, every KV head of a segment together) and sizes st.attParts,
// st.attStats and st.attDone: what the scratch of the (token, KV head)
// items holds for the tokens' long caches, for fewer than twice as many
// heads as the threads take at once.
func (st *state) segmentItems() bool {
	c := &st.m.cfg
	threads := st.m.pool.threads
	if st.m.noSegmentItems || threads == 1 || len(st.refs)*c.KVHeads >= 2*threads {
		return false
	}
	long := false
	for _, r := range st.refs {
		long = long || r.slot+1 > vecmath.AttendSegment
	}
	if !long {
		return false
	}
	group := c.Heads / c.KVHeads
	st.segItems = st.segItems[:0]
	parts, stats, done := 0, 0, 0
	for t, r := range st.refs {
		segs := (r.slot + vecmath.AttendSegment) / vecmath.AttendSegment
		for g := range segs {
			for kh := range c.KVHeads {
				it := segItem{t: t, g: g, kh: kh, segs: segs}
				if segs > 1 {
					it.part = parts + kh*segs*group*c.ValueLength
					it.stat = stats + kh*segs*2*group
					it.done = done + kh
				}
				st.segItems = append(st.segItems, it)
			}
		}
		if segs > 1 {
			parts += segs * c.Heads * c.ValueLength
			stats += segs * 2 * c.Heads
			done += c.KVHeads
		}
	}
	if cap(st.attParts) < parts {
		st.attParts = make([]float32, parts)
	}
	if cap(st.attStats) < stats {
		st.attStats = make([]float32, stats)
	}
	if cap(st.attDone) < done {
		st.attDone = make([]atomic.Int32, done)
	}
	st.attParts, st.attStats, st.attDone = st.attParts[:parts], st.attStats[:stats], st.attDone[:done]
	for i := range st.attDone {
		st.attDone[i].Store(0)
	}
	return true
}

// attendSegments computes attention items [lo, hi) of st.segItems; it
// is the parallel loop body of attention by segments. The item that
// completes the segments of a (token, KV head) merges them into st.att
// (the atomic count orders every part's writes before the merge).
func (st *state) attendSegments(lo, hi int) {
	c := &st.m.cfg
	b, li := st.attnBatch, st.attnLayer
	kl, vl, kvd, vd := c.KeyLength, c.ValueLength, c.KVDim(), c.VDim()
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(kl)))
	buf, _ := st.m.scores.Get().(*[]float32)
	if buf == nil {
		buf = new([]float32)
	}
	for _, it := range st.segItems[lo:hi] {
		r := st.refs[it.t]
		cache := b.Seqs[r.seq].Cache
		h0 := it.kh * group
		q := st.q[(it.t*c.Heads+h0)*kl : (it.t*c.Heads+h0+group)*kl]
		out := st.att[(it.t*c.Heads+h0)*vl : (it.t*c.Heads+h0+group)*vl]
		n, j0 := r.slot+1, it.g*vecmath.AttendSegment
		m := min(n-j0, vecmath.AttendSegment)
		need := vecmath.AttendScratch(m, group, vl)
		if cap(*buf) < need {
			*buf = make([]float32, max(need, 2048))
		}
		ks, vs := cache.KeysF16(li), cache.ValuesF16(li)
		if it.segs == 1 {
			if ks != nil {
				vecmath.AttendGroupF16(out, q, ks[it.kh*kl:], vs[it.kh*vl:], (*buf)[:need], n, group, kvd, vd, scale)
			} else {
				vecmath.AttendGroup(out, q, cache.Keys(li)[it.kh*kl:], cache.Values(li)[it.kh*vl:], (*buf)[:need], n, group, kvd, vd, scale)
			}
			continue
		}
		parts := st.attParts[it.part : it.part+it.segs*group*vl]
		stats := st.attStats[it.stat : it.stat+it.segs*2*group]
		po, so := parts[it.g*group*vl:(it.g+1)*group*vl], stats[it.g*2*group:(it.g+1)*2*group]
		if ks != nil {
			vecmath.AttendGroupF16Part(po, q, ks[j0*kvd+it.kh*kl:], vs[j0*vd+it.kh*vl:], (*buf)[:need], m, group, kvd, vd, scale, so)
		} else {
			vecmath.AttendGroupPart(po, q, cache.Keys(li)[j0*kvd+it.kh*kl:], cache.Values(li)[j0*vd+it.kh*vl:], (*buf)[:need], m, group, kvd, vd, scale, so)
		}
		if int(st.attDone[it.done].Add(1)) == it.segs {
			vecmath.MergeAttention(out, parts, stats, it.segs, group)
		}
	}
	st.m.scores.Put(buf)
}

// headsPerItem is how many query heads one attention work item takes: a
// KV head's whole group, or, when there are fewer (token, KV head) pairs
// than threads, an equal share of it such that every thread gets an item.
// It divides the group, so that no item spans two KV heads.
func (st *state) headsPerItem() int {
	c := &st.m.cfg
	group := c.Heads / c.KVHeads
	pairs := len(st.refs) * c.KVHeads
	parts := (st.m.pool.threads + pairs - 1) / pairs
	for parts < group && group%parts != 0 {
		parts++
	}
	return group / min(parts, group)
}

// attend computes attention items [lo, hi) of the pass over
// st.attnBatch at layer st.attnLayer (see attention); it is the parallel
// loop body, reached through st.attendFn so that a decode step does not
// allocate a closure per layer.
func (st *state) attend(lo, hi int) {
	c := &st.m.cfg
	b, li := st.attnBatch, st.attnLayer
	kl, vl, kvd, vd := c.KeyLength, c.ValueLength, c.KVDim(), c.VDim()
	group := c.Heads / c.KVHeads
	per := st.headsPerItem()
	scale := float32(1 / math.Sqrt(float64(kl)))
	perTok := c.Heads / per
	items := len(st.refs) * perTok
	buf, _ := st.m.scores.Get().(*[]float32)
	if buf == nil {
		buf = new([]float32)
	}
	for i := lo; i < hi; i++ {
		it := items - 1 - i
		t, h0 := it/perTok, it%perTok*per
		r := st.refs[t]
		cache := b.Seqs[r.seq].Cache
		kh := h0 / group
		n := r.slot + 1
		need := vecmath.AttendScratch(n, per, vl)
		if cap(*buf) < need {
			*buf = make([]float32, max(need, 2048))
		}
		q := st.q[t*c.Heads*kl+h0*kl : t*c.Heads*kl+(h0+per)*kl]
		out := st.att[t*c.Heads*vl+h0*vl : t*c.Heads*vl+(h0+per)*vl]
		if ks := cache.KeysF16(li); ks != nil {
			vecmath.AttendGroupF16(out, q, ks[kh*kl:], cache.ValuesF16(li)[kh*vl:], (*buf)[:need], n, per, kvd, vd, scale)
			continue
		}
		vecmath.AttendGroup(out, q, cache.Keys(li)[kh*kl:], cache.Values(li)[kh*vl:], (*buf)[:need], n, per, kvd, vd, scale)
	}
	st.m.scores.Put(buf)
}
