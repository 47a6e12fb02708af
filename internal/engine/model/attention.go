package model

import (
	"math"

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
		st.mergeSegments()
	} else {
		st.m.pool.run(len(st.refs)*c.Heads/st.headsPerItem(), 1, st.attendFn)
	}
	st.attnBatch = nil
}

// segItem is one work item of attention by segments: KV head kh of token
// t over segment g of its cache positions, or over all of them when the
// token has one segment (segs 1), written to st.att; otherwise to the
// token's parts at st.attParts[part:] and st.attStats[stat:].
type segItem struct {
	t, g, kh, segs int
	part, stat     int
}

// segmentItems reports whether attention goes by segments this pass
// and, if so, lists its items in st.segItems (each token's segments in
// order, every KV head of a segment together) and sizes st.attParts and
// st.attStats.
func (st *state) segmentItems() bool {
	c := &st.m.cfg
	if len(st.refs)*c.KVHeads >= 2*st.m.pool.threads {
		return false
	}
	long := false
	for _, r := range st.refs {
		long = long || r.slot+1 > vecmath.AttendSegment
	}
	if !long {
		return false
	}
	st.segItems = st.segItems[:0]
	parts, stats := 0, 0
	for t, r := range st.refs {
		segs := (r.slot + vecmath.AttendSegment) / vecmath.AttendSegment
		for g := range segs {
			for kh := range c.KVHeads {
				st.segItems = append(st.segItems, segItem{t: t, g: g, kh: kh, segs: segs, part: parts, stat: stats})
			}
		}
		if segs > 1 {
			parts += segs * c.Heads * c.ValueLength
			stats += segs * 2 * c.Heads
		}
	}
	if cap(st.attParts) < parts {
		st.attParts = make([]float32, parts)
	}
	if cap(st.attStats) < stats {
		st.attStats = make([]float32, stats)
	}
	st.attParts, st.attStats = st.attParts[:parts], st.attStats[:stats]
	return true
}

// attendSegments computes attention items [lo, hi) of st.segItems; it
// is the parallel loop body of attention by segments.
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
		n, j0 := r.slot+1, it.g*vecmath.AttendSegment
		m := min(n-j0, vecmath.AttendSegment)
		need := vecmath.AttendScratch(m, group, vl)
		if cap(*buf) < need {
			*buf = make([]float32, max(need, 2048))
		}
		ks, vs := cache.KeysF16(li), cache.ValuesF16(li)
		if it.segs == 1 {
			out := st.att[(it.t*c.Heads+h0)*vl : (it.t*c.Heads+h0+group)*vl]
			if ks != nil {
				vecmath.AttendGroupF16(out, q, ks[it.kh*kl:], vs[it.kh*vl:], (*buf)[:need], n, group, kvd, vd, scale)
			} else {
				vecmath.AttendGroup(out, q, cache.Keys(li)[it.kh*kl:], cache.Values(li)[it.kh*vl:], (*buf)[:need], n, group, kvd, vd, scale)
			}
			continue
		}
		po := it.part + (it.g*c.Heads+h0)*vl
		so := it.stat + 2*(it.g*c.Heads+h0)
		out, stats := st.attParts[po:po+group*vl], st.attStats[so:so+2*group]
		if ks != nil {
			vecmath.AttendGroupF16Part(out, q, ks[j0*kvd+it.kh*kl:], vs[j0*vd+it.kh*vl:], (*buf)[:need], m, group, kvd, vd, scale, stats)
		} else {
			vecmath.AttendGroupPart(out, q, cache.Keys(li)[j0*kvd+it.kh*kl:], cache.Values(li)[j0*vd+it.kh*vl:], (*buf)[:need], m, group, kvd, vd, scale, stats)
		}
	}
	st.m.scores.Put(buf)
}

// mergeSegments merges the segments of every token that has more than
// one into its attention output.
func (st *state) mergeSegments() {
	c := &st.m.cfg
	hv := c.Heads * c.ValueLength
	for _, it := range st.segItems {
		if it.segs == 1 || it.g != 0 || it.kh != 0 {
			continue
		}
		vecmath.MergeAttention(st.att[it.t*hv:(it.t+1)*hv], st.attParts[it.part:it.part+it.segs*hv], st.attStats[it.stat:it.stat+it.segs*2*c.Heads], it.segs, c.Heads)
	}
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
