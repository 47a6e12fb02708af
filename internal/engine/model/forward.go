package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
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
	id   int32 // token id
	seq  int
	slot int // cache position
	pos  int // RoPE position
}

// DefaultPassTokens is the default Options.PassTokens, the most tokens
// one pass through the layers computes at once: a longer batch (a long
// prompt, or several sequences' prompt chunks) runs as consecutive passes
// of at most this many tokens, in batch order, each attending to the keys
// and values the earlier ones stored. Every token's results are computed
// the same way whatever the pass it falls in, so the split changes no
// output, while it bounds the scratch memory of a forward pass
// (ScratchBytes) and lets the same buffers serve every pass. 256 tokens
// keep the matrix products as fast per token as any longer pass.
const DefaultPassTokens = 256

// Forward runs the new tokens of every sequence of b through the model,
// appends their keys and values to the sequences' caches and writes the
// requested logits. On error (including cancellation of ctx, which is
// checked between layers) no cache changes length.
func (m *Model) Forward(ctx context.Context, b *Batch) error {
	if err := m.acquire(ctx); err != nil {
		return err
	}
	defer m.mu.RUnlock()
	st := m.getState()
	defer m.putState(st)
	if err := m.prepare(b, st); err != nil {
		return err
	}
	if len(st.all) == 0 {
		return nil
	}
	err := st.passes(ctx, b, func(lo int) error {
		outs := st.chunkOutputs(lo)
		if len(outs) == 0 {
			return nil
		}
		return st.logits(outs)
	})
	if err != nil {
		return err
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
// requested outputs in st.all and st.outs.
func (m *Model) prepare(b *Batch, st *state) error {
	if b == nil {
		return fmt.Errorf("%w: nil batch", ErrBatch)
	}
	spec := m.cacheSpec(1)
	refs, outs := st.all[:0], st.outs[:0]
	defer func() { st.all, st.outs = refs, outs }()
	vocab := m.cfg.VocabSize
	for si := range b.Seqs {
		s := &b.Seqs[si]
		c := s.Cache
		switch {
		case c == nil:
			return fmt.Errorf("%w: sequence %d has no cache", ErrBatch, si)
		case sharesCache(b.Seqs[:si], c):
			return fmt.Errorf("%w: sequence %d shares its cache with another sequence", ErrBatch, si)
		case c.Spec().Layers != spec.Layers || c.Spec().KeyDim != spec.KeyDim || c.Spec().ValueDim != spec.ValueDim || c.Spec().DType != spec.DType:
			return fmt.Errorf("%w: sequence %d: cache %+v does not fit this model", ErrBatch, si, c.Spec())
		case s.Positions != nil && len(s.Positions) != len(s.Tokens):
			return fmt.Errorf("%w: sequence %d has %d positions for %d tokens", ErrBatch, si, len(s.Positions), len(s.Tokens))
		case len(s.Tokens) > c.Cap()-c.Len():
			return fmt.Errorf("%w: sequence %d: %d tokens after %d do not fit a context of %d", ErrBatch, si, len(s.Tokens), c.Len(), c.Cap())
		}
		base := len(refs)
		for i, id := range s.Tokens {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("%w: sequence %d: token id %d outside the vocabulary of %d", ErrBatch, si, id, vocab)
			}
			r := tokenRef{id: id, seq: si, slot: c.Len() + i, pos: c.Len() + i}
			if s.Positions != nil {
				if s.Positions[i] < 0 {
					return fmt.Errorf("%w: sequence %d: negative position %d", ErrBatch, si, s.Positions[i])
				}
				r.pos = int(s.Positions[i])
			}
			refs = append(refs, r)
		}
		n := len(s.Outputs)
		if s.Outputs == nil && s.Logits != nil && len(s.Tokens) > 0 {
			n = 1 // the last token's
		}
		if n*vocab != len(s.Logits) {
			return fmt.Errorf("%w: sequence %d: %d logits buffer for %d outputs of %d", ErrBatch, si, len(s.Logits), n, vocab)
		}
		for k := range n {
			i := len(s.Tokens) - 1
			if s.Outputs != nil {
				i = s.Outputs[k]
			}
			if i < 0 || i >= len(s.Tokens) {
				return fmt.Errorf("%w: sequence %d: output index %d of %d tokens", ErrBatch, si, i, len(s.Tokens))
			}
			outs = append(outs, output{tok: base + i, dst: s.Logits[k*vocab : (k+1)*vocab]})
		}
	}
	for si := range b.Seqs {
		if err := b.Seqs[si].Cache.Reserve(len(b.Seqs[si].Tokens)); err != nil {
			return fmt.Errorf("model: sequence %d: %w", si, err)
		}
	}
	return nil
}

// sharesCache reports whether one of seqs has cache c. Batches hold a
// few sequences, so a scan costs less than a map.
func sharesCache(seqs []Sequence, c *kvcache.Cache) bool {
	for i := range seqs {
		if seqs[i].Cache == c {
			return true
		}
	}
	return false
}

// state holds the buffers of a forward pass over up to Options.PassTokens
// tokens, and the lists of a whole batch. States are kept by the model
// and reused, so a decode step allocates nothing.
type state struct {
	m     *Model
	all   []tokenRef  // every token of the batch
	outs  []output    // every requested output of the batch
	refs  []tokenRef  // the tokens of the current pass: a window of all
	souts []output    // the outputs of the current pass, tok relative to it
	ropes []ropeTable // per token
	x     []float32   // T × Embedding: the residual stream
	xn    []float32   // T × Embedding: normalized input of a sub-layer
	q     []float32   // T × Heads·KeyLength
	k, v  []float32   // T × KVDim, T × VDim
	att   []float32   // T × Heads·ValueLength
	tmp   []float32   // T × Embedding: sub-layer output
	g, u  []float32   // T × FeedForward
	in    acts
	ids   []int32   // the pass's token ids
	res   []float32 // logits of several outputs
	row   []byte    // an embedding row unpacked from a repacked output
	// swigluFn and attendFn are the parallel SwiGLU and attention loop
	// bodies, made once per state; attention's reads its batch and layer
	// from attnBatch and attnLayer.
	swigluFn, attendFn, segmentFn func(lo, hi int)
	attnBatch                     *Batch
	attnLayer                     int
	// segItems, attParts, attStats and attDone hold attention by
	// segments (see attention): the work items, and the segments'
	// results, statistics and count of each (token, KV head) with more
	// than one.
	segItems []segItem
	attParts []float32
	attStats []float32
	attDone  []atomic.Int32
}

// swigluGrain is the fewest SwiGLU values per parallel chunk: an
// exponential each, so a decode step's few thousand are worth splitting.
const swigluGrain = 2048

// maxKeptOutputs is the most logits rows whose buffer a state keeps.
const maxKeptOutputs = 16

// maxKeptStates is the most idle states a model keeps: one per Forward
// that ran at the same time as another, up to this many. Their buffers
// are sized for Options.PassTokens at most, so they are kept whatever the
// size of the pass that grew them.
const maxKeptStates = 2

// getState returns an idle state of m, or a new one. Call putState when
// finished with it.
func (m *Model) getState() *state {
	m.statesMu.Lock()
	var st *state
	if n := len(m.states); n > 0 {
		st = m.states[n-1]
		m.states[n-1] = nil
		m.states = m.states[:n-1]
	}
	m.statesMu.Unlock()
	if st == nil {
		st = &state{m: m}
		st.swigluFn = func(lo, hi int) { vecmath.SwiGLU(st.g[lo:hi], st.u[lo:hi]) }
		st.attendFn = st.attend
		st.segmentFn = st.attendSegments
	}
	return st
}

// putState keeps st for the next forward pass, dropping its references
// to the batch.
func (m *Model) putState(st *state) {
	clear(st.outs)
	clear(st.souts)
	st.all, st.outs, st.refs, st.souts = st.all[:0], st.outs[:0], nil, st.souts[:0]
	m.statesMu.Lock()
	if len(m.states) < maxKeptStates {
		m.states = append(m.states, st)
	}
	m.statesMu.Unlock()
}

// begin points st at the pass over refs, growing the buffers as needed.
// Every buffer is overwritten before it is read, so none is cleared.
func (st *state) begin(refs []tokenRef) {
	m, c := st.m, &st.m.cfg
	t := len(refs)
	st.refs = refs
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
	st.ids = st.ids[:0]
	for i, r := range refs {
		st.ropes[i].fill(c, m.ropeFreqs, r.pos)
		st.ids = append(st.ids, r.id)
	}
}

// passes runs the batch's tokens through the layers in passes of at most
// Options.PassTokens, calling each after every pass with the index in
// st.all of its first token; st.x then holds the final hidden states of
// the pass's tokens.
func (st *state) passes(ctx context.Context, b *Batch, each func(lo int) error) error {
	pass := st.m.passTokens
	for lo := 0; lo < len(st.all); lo += pass {
		st.begin(st.all[lo:min(lo+pass, len(st.all))])
		if err := st.run(ctx, b); err != nil {
			return err
		}
		if err := each(lo); err != nil {
			return err
		}
	}
	return nil
}

// chunkOutputs returns the requested outputs whose token is in the pass
// starting at st.all[lo], with tok relative to the pass.
func (st *state) chunkOutputs(lo int) []output {
	if lo == 0 && len(st.refs) == len(st.all) {
		return st.outs // one pass: the common case
	}
	st.souts = st.souts[:0]
	for _, o := range st.outs {
		if o.tok >= lo && o.tok < lo+len(st.refs) {
			st.souts = append(st.souts, output{tok: o.tok - lo, dst: o.dst})
		}
	}
	return st.souts
}

// ScratchBytes returns the memory of the buffers the model keeps after a
// Forward of a batch of tokens tokens with outputs logits rows: the
// activations of one pass (at most Options.PassTokens tokens), their 8-bit
// encodings, the RoPE tables and, for 2 to maxKeptOutputs outputs in one
// pass, the logits rows. Small per-token lists and the attention score
// rows (a context's worth of float32 per thread) are left out.
func (m *Model) ScratchBytes(tokens, outputs int) int64 {
	c := &m.cfg
	t := int64(min(tokens, m.passTokens))
	floats := t * int64(3*c.Embedding+c.Heads*c.KeyLength+c.KVDim()+c.VDim()+c.Heads*c.ValueLength+2*c.FeedForward+c.RopeDims)
	if o := min(outputs, int(t)); o > 1 && o <= maxKeptOutputs {
		floats += int64(o * c.VocabSize)
	}
	return 4*floats + t*int64(m.encodedRowBytes())
}

// encodedRowBytes returns the bytes of one token's encoded activations
// that a state keeps: for each activation type the matrices use, the
// longest row of it.
func (m *Model) encodedRowBytes() int {
	longest := map[tensor.Type]int{}
	note := func(w *matrix) {
		if rb, err := w.xType.RowBytes(w.cols); err == nil {
			longest[w.xType] = max(longest[w.xType], rb)
		}
	}
	for i := range m.layers {
		ly := &m.layers[i]
		for _, w := range []*matrix{&ly.wq, &ly.wk, &ly.wv, &ly.wo, &ly.gate, &ly.up, &ly.down} {
			note(w)
		}
	}
	note(&m.output)
	n := 0
	for _, rb := range longest {
		n += rb
	}
	return n
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
	if err := st.embed(st.ids, st.x); err != nil {
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
		m.pool.run(len(st.g), swigluGrain, st.swigluFn)
		st.in.reset(st.g, n, c.FeedForward)
		if err := matMul(m.pool, m.kern, &ly.down, &st.in, st.tmp); err != nil {
			return fmt.Errorf("model: %s: %w", ly.down.name, err)
		}
		addTo(st.x, st.tmp)
	}
	return ctx.Err()
}

// embed writes the embedding rows of ids to dst.
func (st *state) embed(ids []int32, dst []float32) error {
	m := st.m
	e, d := &m.embd, m.cfg.Embedding
	for i, id := range ids {
		row := e.data[int(id)*e.rowBytes : (int(id)+1)*e.rowBytes]
		if m.embdRepacked {
			// Tied embeddings repacked as the output: unpack the row
			// (or take it from the row-major tail), so that lookups
			// keep no file pages resident.
			if h := m.output.rows; int(id) < h {
				if cap(st.row) < e.rowBytes {
					st.row = make([]byte, e.rowBytes)
				}
				st.row = st.row[:e.rowBytes]
				if err := tensor.UnpackRow(m.output.typ, d, m.output.data, int(id), st.row); err != nil {
					return fmt.Errorf("model: token_embd row %d: %w", id, err)
				}
				row = st.row
			} else {
				row = m.outTail.data[(int(id)-h)*e.rowBytes : (int(id)-h+1)*e.rowBytes]
			}
		}
		if err := tensor.Dequantize(e.typ, row, dst[i*d:(i+1)*d]); err != nil {
			return fmt.Errorf("model: token_embd row %d: %w", id, err)
		}
	}
	return nil
}

// ropeAndStore rotates the queries and keys of every token and copies the
// keys and values into their cache positions (rounded to binary16 in an
// F16 cache).
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
		cache, v := b.Seqs[r.seq].Cache, st.v[t*vd:(t+1)*vd]
		if ks := cache.KeysF16(li); ks != nil {
			vecmath.ToF16(ks[r.slot*kvd:(r.slot+1)*kvd], k)
			vecmath.ToF16(cache.ValuesF16(li)[r.slot*vd:(r.slot+1)*vd], v)
			continue
		}
		copy(cache.Keys(li)[r.slot*kvd:(r.slot+1)*kvd], k)
		copy(cache.Values(li)[r.slot*vd:(r.slot+1)*vd], v)
	}
}

// logits normalizes the final hidden state of each requested token and
// multiplies it by the output matrix into the sequences' buffers.
func (st *state) logits(outs []output) error {
	m, c := st.m, &st.m.cfg
	d, vocab := c.Embedding, c.VocabSize
	xn := st.xn[:len(outs)*d]
	for i, o := range outs {
		rmsNorm(xn[i*d:(i+1)*d], st.x[o.tok*d:(o.tok+1)*d], m.outNorm, c.NormEpsilon)
	}
	st.in.reset(xn, len(outs), d)
	head, tail := m.output.rows, vocab-m.output.rows // tail: outTail's rows
	if len(outs) == 1 {
		// The usual decode step: straight into the caller's buffer.
		return st.outputs(outs[0].dst[:head], outs[0].dst[head:vocab])
	}
	// A batched decode step's rows are kept for the next step; many
	// outputs of a prompt get a buffer of their own.
	n := len(outs)
	var res []float32
	if n <= maxKeptOutputs {
		st.res = grow(st.res, n*vocab)
		res = st.res
	} else {
		res = make([]float32, n*vocab)
	}
	if err := st.outputs(res[:n*head], res[n*head:n*vocab]); err != nil {
		return err
	}
	for i, o := range outs {
		copy(o.dst[:head], res[i*head:(i+1)*head])
		copy(o.dst[head:vocab], res[n*head+i*tail:n*head+(i+1)*tail])
	}
	return nil
}

// outputs multiplies the encoded final states st.in with the output
// matrix: the rows of m.output into head (one vector's rows after
// another), and those of m.outTail, if any, into tail.
func (st *state) outputs(head, tail []float32) error {
	m := st.m
	if err := matMul(m.pool, m.kern, &m.output, &st.in, head); err != nil {
		return fmt.Errorf("model: %s: %w", m.output.name, err)
	}
	if m.outTail.rows > 0 {
		if err := matMul(m.pool, m.kern, &m.outTail, &st.in, tail); err != nil {
			return fmt.Errorf("model: %s: %w", m.outTail.name, err)
		}
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
	if err := m.acquire(ctx); err != nil {
		return nil, err
	}
	defer m.mu.RUnlock()
	cache, err := m.NewCache(len(tokens), nil)
	if err != nil {
		return nil, err
	}
	b := &Batch{Seqs: []Sequence{{Tokens: tokens, Cache: cache}}}
	st := m.getState()
	defer m.putState(st)
	if err := m.prepare(b, st); err != nil {
		return nil, err
	}
	d := m.cfg.Embedding
	sum := make([]float64, d)
	err = st.passes(ctx, b, func(int) error {
		h := st.xn[:d]
		for t := range st.refs {
			rmsNorm(h, st.x[t*d:(t+1)*d], m.outNorm, m.cfg.NormEpsilon)
			for i, v := range h {
				sum[i] += float64(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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
