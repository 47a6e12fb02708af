package model

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// ErrBatch is wrapped by errors about a malformed Batch.
var ErrBatch = errors.New("model: invalid batch")

// Sequence is one sequence's share of a Batch: new tokens that continue
// what its Cache holds.
type Sequence struct {
	// Tokens are the new token ids. They take the cache positions
	// Cache.Len(), Cache.Len()+1, ...; each attends to every earlier
	// position of the cache and of Tokens, and to itself.
	Tokens []int32
	// Positions are the RoPE positions of Tokens; nil means the cache
	// positions (Cache.Len()+i), which is what plain decoding wants.
	Positions []int32
	// Cache holds the sequence's keys and values (from Model.NewCache).
	// Forward appends Tokens to it, and leaves it unchanged on error.
	Cache *kvcache.Cache
	// Outputs are the indices into Tokens whose logits are wanted. If it
	// is nil and Logits is not, the last token's logits are returned.
	Outputs []int
	// Logits receives the logits of Outputs, VocabSize values each, one
	// after another; it must have exactly that length (or be nil for no
	// logits).
	Logits []float32
}

// Batch is the work of one Forward call: one or more sequences, each with
// its own cache, run through the model together.
type Batch struct {
	Seqs []Sequence
}

// tokenRef locates one token of a batch.
type tokenRef struct {
	seq  int
	slot int // cache position
	pos  int // RoPE position
}

// Forward runs the new tokens of every sequence of b through the model,
// appends their keys and values to the sequences' caches and writes the
// requested logits. On error (including cancellation of ctx, which is
// checked between layers) no cache changes length.
func (m *Model) Forward(ctx context.Context, b *Batch) error {
	release, err := m.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	refs, outs, err := m.prepare(b)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	st := newState(m, refs)
	defer st.done()
	if err := st.run(ctx, b); err != nil {
		return err
	}
	if len(outs) > 0 {
		if err := st.logits(b, outs); err != nil {
			return err
		}
	}
	for i := range b.Seqs {
		if err := b.Seqs[i].Cache.Commit(len(b.Seqs[i].Tokens)); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	return nil
}

// output is one requested logits row: token index in the batch and
// destination.
type output struct {
	tok int
	dst []float32
}

// prepare checks b, reserves cache room and lists the batch's tokens and
// requested outputs.
func (m *Model) prepare(b *Batch) ([]tokenRef, []output, error) {
	if b == nil {
		return nil, nil, fmt.Errorf("%w: nil batch", ErrBatch)
	}
	spec := m.cacheSpec(1)
	seen := make(map[*kvcache.Cache]bool, len(b.Seqs))
	var refs []tokenRef
	var outs []output
	vocab := m.cfg.VocabSize
	for si := range b.Seqs {
		s := &b.Seqs[si]
		c := s.Cache
		switch {
		case c == nil:
			return nil, nil, fmt.Errorf("%w: sequence %d has no cache", ErrBatch, si)
		case seen[c]:
			return nil, nil, fmt.Errorf("%w: sequence %d shares its cache with another sequence", ErrBatch, si)
		case c.Spec().Layers != spec.Layers || c.Spec().KeyDim != spec.KeyDim || c.Spec().ValueDim != spec.ValueDim:
			return nil, nil, fmt.Errorf("%w: sequence %d: cache %+v does not fit this model", ErrBatch, si, c.Spec())
		case s.Positions != nil && len(s.Positions) != len(s.Tokens):
			return nil, nil, fmt.Errorf("%w: sequence %d has %d positions for %d tokens", ErrBatch, si, len(s.Positions), len(s.Tokens))
		case len(s.Tokens) > c.Cap()-c.Len():
			return nil, nil, fmt.Errorf("%w: sequence %d: %d tokens after %d do not fit a context of %d", ErrBatch, si, len(s.Tokens), c.Len(), c.Cap())
		}
		seen[c] = true
		base := len(refs)
		for i, id := range s.Tokens {
			if id < 0 || int(id) >= vocab {
				return nil, nil, fmt.Errorf("%w: sequence %d: token id %d outside the vocabulary of %d", ErrBatch, si, id, vocab)
			}
			r := tokenRef{seq: si, slot: c.Len() + i, pos: c.Len() + i}
			if s.Positions != nil {
				if s.Positions[i] < 0 {
					return nil, nil, fmt.Errorf("%w: sequence %d: negative position %d", ErrBatch, si, s.Positions[i])
				}
				r.pos = int(s.Positions[i])
			}
			refs = append(refs, r)
		}
		want := s.Outputs
		if want == nil && s.Logits != nil && len(s.Tokens) > 0 {
			want = []int{len(s.Tokens) - 1}
		}
		if len(want)*vocab != len(s.Logits) {
			return nil, nil, fmt.Errorf("%w: sequence %d: %d logits buffer for %d outputs of %d", ErrBatch, si, len(s.Logits), len(want), vocab)
		}
		for k, i := range want {
			if i < 0 || i >= len(s.Tokens) {
				return nil, nil, fmt.Errorf("%w: sequence %d: output index %d of %d tokens", ErrBatch, si, i, len(s.Tokens))
			}
			outs = append(outs, output{tok: base + i, dst: s.Logits[k*vocab : (k+1)*vocab]})
		}
	}
	for si := range b.Seqs {
		if err := b.Seqs[si].Cache.Reserve(len(b.Seqs[si].Tokens)); err != nil {
			return nil, nil, fmt.Errorf("model: sequence %d: %w", si, err)
		}
	}
	return refs, outs, nil
}

// state holds the buffers of one forward pass over T tokens.
type state struct {
	m     *Model
	refs  []tokenRef
	ropes []ropeTable // per token
	x     []float32   // T × Embedding: the residual stream
	xn    []float32   // T × Embedding: normalized input of a sub-layer
	q     []float32   // T × Heads·KeyLength
	k, v  []float32   // T × KVDim, T × VDim
	att   []float32   // T × Heads·ValueLength
	tmp   []float32   // T × Embedding: sub-layer output
	g, u  []float32   // T × FeedForward
	in    acts
	ids   []int32   // the batch's token ids
	res   []float32 // logits of several outputs
}

// reuseTokens is the largest forward pass whose buffers are kept for the
// next one: decode steps, single or batched, then allocate nothing, while
// a long prompt's buffers are left to the garbage collector.
const reuseTokens = 64

// swigluGrain is the fewest SwiGLU values per parallel chunk: an
// exponential each, so a decode step's few thousand are worth splitting.
const swigluGrain = 2048

// maxKeptOutputs is the most logits rows whose buffer a state keeps.
const maxKeptOutputs = 16

// newState returns the buffers for a forward pass over refs, reusing a
// previous small pass's when there is one. Every buffer is overwritten
// before it is read, so none is cleared. Call done when finished.
func newState(m *Model, refs []tokenRef) *state {
	c := &m.cfg
	t := len(refs)
	st, _ := m.states.Get().(*state)
	if st == nil || t > reuseTokens {
		st = &state{}
	}
	st.m, st.refs = m, refs
	st.x = grow(st.x, t*c.Embedding)
	st.xn = grow(st.xn, t*c.Embedding)
	st.q = grow(st.q, t*c.Heads*c.KeyLength)
	st.k = grow(st.k, t*c.KVDim())
	st.v = grow(st.v, t*c.VDim())
	st.att = grow(st.att, t*c.Heads*c.ValueLength)
	st.tmp = grow(st.tmp, t*c.Embedding)
	st.g = grow(st.g, t*c.FeedForward)
	st.u = grow(st.u, t*c.FeedForward)
	if cap(st.ropes) < t {
		st.ropes = append(st.ropes[:cap(st.ropes)], make([]ropeTable, t-cap(st.ropes))...)
	}
	st.ropes = st.ropes[:t]
	for i, r := range refs {
		st.ropes[i].fill(c, m.ropeFreqs, r.pos)
	}
	return st
}

// done hands st's buffers back for reuse if the pass was small.
func (st *state) done() {
	if len(st.refs) <= reuseTokens {
		st.refs = nil
		st.m.states.Put(st)
	}
}

// grow returns s resliced to n values, or a new slice if s is too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// run computes the residual stream after the last layer for every token
// and writes the keys and values into the reserved cache positions.
func (st *state) run(ctx context.Context, b *Batch) error {
	m, c := st.m, &st.m.cfg
	n, d := len(st.refs), c.Embedding
	st.ids = st.ids[:0]
	for _, s := range b.Seqs {
		st.ids = append(st.ids, s.Tokens...)
	}
	if err := m.embed(st.ids, st.x); err != nil {
		return err
	}
	for li := range m.layers {
		if err := ctx.Err(); err != nil {
			return err
		}
		ly := &m.layers[li]
		for t := range n {
			rmsNorm(st.xn[t*d:(t+1)*d], st.x[t*d:(t+1)*d], ly.attnNorm, c.NormEpsilon)
		}
		st.in.reset(st.xn, n, d)
		for _, p := range []struct {
			w    *matrix
			bias []float32
			out  []float32
		}{{&ly.wq, ly.bq, st.q}, {&ly.wk, ly.bk, st.k}, {&ly.wv, ly.bv, st.v}} {
			if err := matMul(m.pool, m.kern, p.w, &st.in, p.out); err != nil {
				return fmt.Errorf("model: %s: %w", p.w.name, err)
			}
			if p.bias != nil {
				for t := range n {
					addTo(p.out[t*p.w.rows:(t+1)*p.w.rows], p.bias)
				}
			}
		}
		st.ropeAndStore(b, li)
		st.attention(b, li)
		st.in.reset(st.att, n, c.Heads*c.ValueLength)
		if err := matMul(m.pool, m.kern, &ly.wo, &st.in, st.tmp); err != nil {
			return fmt.Errorf("model: %s: %w", ly.wo.name, err)
		}
		addTo(st.x, st.tmp)

		for t := range n {
			rmsNorm(st.xn[t*d:(t+1)*d], st.x[t*d:(t+1)*d], ly.ffnNorm, c.NormEpsilon)
		}
		st.in.reset(st.xn, n, d)
		if err := matMul(m.pool, m.kern, &ly.gate, &st.in, st.g); err != nil {
			return fmt.Errorf("model: %s: %w", ly.gate.name, err)
		}
		if err := matMul(m.pool, m.kern, &ly.up, &st.in, st.u); err != nil {
			return fmt.Errorf("model: %s: %w", ly.up.name, err)
		}
		m.pool.run(len(st.g), swigluGrain, func(lo, hi int) {
			swiglu(st.g[lo:hi], st.u[lo:hi])
		})
		st.in.reset(st.g, n, c.FeedForward)
		if err := matMul(m.pool, m.kern, &ly.down, &st.in, st.tmp); err != nil {
			return fmt.Errorf("model: %s: %w", ly.down.name, err)
		}
		addTo(st.x, st.tmp)
	}
	return ctx.Err()
}

// embed writes the embedding rows of ids to dst.
func (m *Model) embed(ids []int32, dst []float32) error {
	e, d := &m.embd, m.cfg.Embedding
	for i, id := range ids {
		row := e.data[int(id)*e.rowBytes : (int(id)+1)*e.rowBytes]
		if err := tensor.Dequantize(e.typ, row, dst[i*d:(i+1)*d]); err != nil {
			return fmt.Errorf("model: token_embd row %d: %w", id, err)
		}
	}
	return nil
}

// ropeAndStore rotates the queries and keys of every token and copies the
// keys and values into their cache positions.
func (st *state) ropeAndStore(b *Batch, li int) {
	c := &st.m.cfg
	kl, kvd, vd := c.KeyLength, c.KVDim(), c.VDim()
	for t, r := range st.refs {
		rt := &st.ropes[t]
		q := st.q[t*c.Heads*kl : (t+1)*c.Heads*kl]
		for h := range c.Heads {
			rope(q[h*kl:(h+1)*kl], rt, c.RopeStyle)
		}
		k := st.k[t*kvd : (t+1)*kvd]
		for h := range c.KVHeads {
			rope(k[h*kl:(h+1)*kl], rt, c.RopeStyle)
		}
		cache := b.Seqs[r.seq].Cache
		copy(cache.Keys(li)[r.slot*kvd:(r.slot+1)*kvd], k)
		copy(cache.Values(li)[r.slot*vd:(r.slot+1)*vd], st.v[t*vd:(t+1)*vd])
	}
}

// logits normalizes the final hidden state of each requested token and
// multiplies it by the output matrix into the sequences' buffers.
func (st *state) logits(b *Batch, outs []output) error {
	m, c := st.m, &st.m.cfg
	d, vocab := c.Embedding, c.VocabSize
	xn := st.xn[:len(outs)*d]
	for i, o := range outs {
		rmsNorm(xn[i*d:(i+1)*d], st.x[o.tok*d:(o.tok+1)*d], m.outNorm, c.NormEpsilon)
	}
	st.in.reset(xn, len(outs), d)
	if len(outs) == 1 {
		// The usual decode step: straight into the caller's buffer.
		if err := matMul(m.pool, m.kern, &m.output, &st.in, outs[0].dst); err != nil {
			return fmt.Errorf("model: %s: %w", m.output.name, err)
		}
		return nil
	}
	// A batched decode step's rows are kept for the next step; many
	// outputs of a prompt get a buffer of their own.
	var res []float32
	if len(outs) <= maxKeptOutputs {
		st.res = grow(st.res, len(outs)*vocab)
		res = st.res
	} else {
		res = make([]float32, len(outs)*vocab)
	}
	if err := matMul(m.pool, m.kern, &m.output, &st.in, res); err != nil {
		return fmt.Errorf("model: %s: %w", m.output.name, err)
	}
	for i, o := range outs {
		copy(o.dst, res[i*vocab:(i+1)*vocab])
	}
	return nil
}

// Embed returns the embedding of a text's tokens: the final hidden states
// (after the output norm) averaged over all tokens and scaled to unit L2
// length. It uses a temporary cache; tokens must fit the context length.
func (m *Model) Embed(ctx context.Context, tokens []int32) ([]float32, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%w: no tokens to embed", ErrBatch)
	}
	if len(tokens) > m.cfg.ContextLength {
		return nil, fmt.Errorf("%w: %d tokens exceed the context length %d", ErrBatch, len(tokens), m.cfg.ContextLength)
	}
	release, err := m.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	cache, err := m.NewCache(len(tokens), nil)
	if err != nil {
		return nil, err
	}
	b := &Batch{Seqs: []Sequence{{Tokens: tokens, Cache: cache}}}
	refs, _, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	st := newState(m, refs)
	defer st.done()
	if err := st.run(ctx, b); err != nil {
		return nil, err
	}
	d := m.cfg.Embedding
	sum := make([]float64, d)
	h := st.xn[:d]
	for t := range tokens {
		rmsNorm(h, st.x[t*d:(t+1)*d], m.outNorm, m.cfg.NormEpsilon)
		for i, v := range h {
			sum[i] += float64(v)
		}
	}
	var norm float64
	for i := range sum {
		sum[i] /= float64(len(tokens))
		norm += sum[i] * sum[i]
	}
	out := make([]float32, d)
	if norm = math.Sqrt(norm); norm > 0 {
		for i := range out {
			out[i] = float32(sum[i] / norm)
		}
	}
	return out, nil
}
