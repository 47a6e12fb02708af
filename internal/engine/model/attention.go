package model

import (
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
)

// attention computes, for every token and query head, softmax(q·Kᵀ/√dk)·V
// over the cache positions up to the token's own, in parallel over
// (token, head) pairs. Each pair takes three vecmath calls over all its
// positions: the scores of the query against the keys (rows kvd floats
// apart), softmax, and the probability-weighted sum of the values. Pairs
// are taken last token first: later tokens of a prompt attend to more
// positions, so the largest pieces of work go out first and the small
// ones balance the cores at the end. Each pair's result
// depends only on its own inputs, so batching and threads do not change
// it.
func (st *state) attention(b *Batch, li int) {
	c := &st.m.cfg
	kl, vl, kvd, vd := c.KeyLength, c.ValueLength, c.KVDim(), c.VDim()
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(kl)))
	items := len(st.refs) * c.Heads
	st.m.pool.run(items, 1, func(lo, hi int) {
		buf, _ := st.m.scores.Get().(*[]float32)
		if buf == nil {
			buf = new([]float32)
		}
		for i := lo; i < hi; i++ {
			it := items - 1 - i
			t, h := it/c.Heads, it%c.Heads
			r := st.refs[t]
			cache := b.Seqs[r.seq].Cache
			keys, vals := cache.Keys(li), cache.Values(li)
			kh := h / group
			q := st.q[t*c.Heads*kl+h*kl : t*c.Heads*kl+(h+1)*kl]
			n := r.slot + 1
			if cap(*buf) < n {
				*buf = make([]float32, max(n, 256))
			}
			scores := (*buf)[:n]
			vecmath.Dots(scores, q, keys[kh*kl:], kvd, scale)
			softmax(scores)
			out := st.att[t*c.Heads*vl+h*vl : t*c.Heads*vl+(h+1)*vl]
			clear(out)
			vecmath.AddWeightedRows(out, scores, vals[kh*vl:], vd)
		}
		st.m.scores.Put(buf)
	})
}
