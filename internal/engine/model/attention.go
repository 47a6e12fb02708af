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
func (st *state) attention(b *Batch, li int) {
	c := &st.m.cfg
	st.attnBatch, st.attnLayer = b, li
	st.m.pool.run(len(st.refs)*c.Heads/st.headsPerItem(), 1, st.attendFn)
	st.attnBatch = nil
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
		need := vecmath.AttendScratch(n)
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
