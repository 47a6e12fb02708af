package model

import (
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
)

// groupTokens is the fewest tokens in a pass for which attention takes a
// whole group of query heads (those sharing a KV head) per work item:
// with fewer, as in decoding, there are too few (token, KV head) items
// to keep the threads busy, and each query head is its own item.
const groupTokens = 16

// attnBlock is how many cache positions a group of query heads takes
// together: a block of keys or values of one KV head (attnBlock rows of
// 64-128 floats) stays in L1 while every head of the group reads it, so
// that the cache is read from L2 once per group instead of once per head.
const attnBlock = 32

// attention computes, for every token and query head, softmax(q·Kᵀ/√dk)·V
// over the cache positions up to the token's own, in parallel over
// (token, head) pairs, or (token, group of heads sharing a KV head) for
// long batches. Each head takes vecmath calls over all its positions: the
// scores of the query against the keys (rows kvd floats apart), softmax,
// and the probability-weighted sum of the values; a group interleaves its
// heads over blocks of attnBlock positions, which changes no result (each
// score is one dot product, and the weighted sum adds the rows in order
// either way). Items are numbered last token first (later tokens of a
// prompt attend to more positions), so the pool's contiguous parts start
// at the large items and stealing from their backs takes the small ones
// that balance the cores at the end. Each head's result
// depends only on its own inputs, so batching and threads do not change
// it.
func (st *state) attention(b *Batch, li int) {
	c := &st.m.cfg
	st.attnBatch, st.attnLayer = b, li
	st.m.pool.run(len(st.refs)*c.Heads/st.headsPerItem(), 1, st.attendFn)
	st.attnBatch = nil
}

// headsPerItem is how many query heads one attention work item takes:
// a KV head's whole group for passes of groupTokens or more, else one.
func (st *state) headsPerItem() int {
	if c := &st.m.cfg; len(st.refs) >= groupTokens {
		return c.Heads / c.KVHeads
	}
	return 1
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
		keys, vals := cache.Keys(li)[kh*kl:], cache.Values(li)[kh*vl:]
		q := st.q[t*c.Heads*kl+h0*kl : t*c.Heads*kl+(h0+per)*kl]
		out := st.att[t*c.Heads*vl+h0*vl : t*c.Heads*vl+(h0+per)*vl]
		n := r.slot + 1
		if cap(*buf) < per*n {
			*buf = make([]float32, max(per*n, 256))
		}
		scores := (*buf)[:per*n]
		block := n
		if per > 1 {
			block = attnBlock
		}
		for j := 0; j < n; j += block {
			e := min(j+block, n)
			for h := range per {
				vecmath.Dots(scores[h*n+j:h*n+e], q[h*kl:(h+1)*kl], keys[j*kvd:], kvd, scale)
			}
		}
		for h := range per {
			vecmath.Softmax(scores[h*n : (h+1)*n])
		}
		clear(out)
		for j := 0; j < n; j += block {
			e := min(j+block, n)
			for h := range per {
				vecmath.AddWeightedRows(out[h*vl:(h+1)*vl], scores[h*n+j:h*n+e], vals[j*vd:], vd)
			}
		}
	}
	st.m.scores.Put(buf)
}
