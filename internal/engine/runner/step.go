package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
)

// Finish reasons.
const (
	FinishStop   = "stop"   // an end-of-generation token or a stop string
	FinishLength = "length" // MaxTokens or the context length
)

// seq is one request's sequence.
type seq struct {
	id     uint64
	ctx    context.Context
	req    Request
	stream *Stream
	weight int
	enq    uint64 // admission clock when queued
	limit  int    // context length of this sequence

	cache *kvcache.Cache // nil until first scheduled, and after release
	// tokens are the prompt and the generated tokens; tokens[:fed] are in
	// the cache, tokens[fed:] are pending (the prompt, or the last sampled
	// token, or everything after a preemption).
	tokens    []int32
	fed       int
	generated int
	preempted bool
	// cached is the prompt tokens reused from the prefix pool when the
	// sequence first got a cache; started marks that moment.
	cached  int
	started bool

	sampler *sample.Sampler  // nil until the first token is sampled
	matcher *grammar.Matcher // nil without a constraint
	dec     *tokenizer.Decoder
	stop    *sample.StopMatcher
	logits  []float32
	n       int // tokens fed in the current step
}

func (s *seq) usage() Usage {
	return Usage{PromptTokens: len(s.req.Prompt), CompletionTokens: s.generated, CachedTokens: s.cached}
}

// chunk is how many pending tokens the sequence feeds in one step.
func (s *seq) chunk(prefill int) int {
	return min(len(s.tokens)-s.fed, prefill)
}

// step runs one forward pass over every active sequence and handles its
// results.
func (r *Runner) step(ctx context.Context) {
	r.reap()
	r.reserve()
	if len(r.active) == 0 {
		return
	}
	r.batch, r.inStep = r.batch[:0], r.inStep[:0]
	for _, s := range r.active {
		s.n = s.chunk(r.o.PrefillChunk)
		ms := model.Sequence{Tokens: s.tokens[s.fed : s.fed+s.n], Cache: s.cache}
		if s.fed+s.n == len(s.tokens) {
			if s.logits == nil {
				s.logits = r.logitsBuf()
			}
			ms.Logits = s.logits
		}
		r.batch = append(r.batch, ms)
		r.inStep = append(r.inStep, s)
	}
	r.fwd.Seqs = r.batch
	err := r.m.Forward(ctx, &r.fwd)
	clear(r.batch) // drop references to caches and tokens
	r.fwd.Seqs = nil
	if err != nil {
		if ctx.Err() != nil {
			return // Run returns and fails everything
		}
		r.log.Error("runner: forward failed", "err", err, "sequences", len(r.inStep))
		for _, s := range r.inStep {
			r.finish(s, Event{Err: fmt.Errorf("runner: forward: %w", err)})
		}
		r.compact()
		return
	}
	for _, s := range r.inStep {
		s.fed += s.n
		if s.fed == len(s.tokens) {
			r.next(s)
		}
	}
	r.compact()
}

// logitsBuf returns a logits buffer of a finished sequence, or a new one.
// Each is 4·vocabulary bytes (200 kB for a vocabulary of 50k), so reusing
// them spares the garbage collector one per request.
func (r *Runner) logitsBuf() []float32 {
	if n := len(r.spare); n > 0 {
		b := r.spare[n-1]
		r.spare[n-1] = nil
		r.spare = r.spare[:n-1]
		return b
	}
	return make([]float32, r.vocab)
}

// newSampler returns a sampler for p: one of a finished sequence, reset,
// or a new one. A sampler allocates its scratch buffers (up to about 20
// bytes per vocabulary entry, depending on the parameters) on first use
// and keeps them across Reset, so reusing one spares the garbage
// collector those buffers per request; Reset samples exactly as a new
// sampler would.
func (r *Runner) newSampler(p sample.Params) *sample.Sampler {
	if n := len(r.samplers); n > 0 {
		sp := r.samplers[n-1]
		r.samplers[n-1] = nil
		r.samplers = r.samplers[:n-1]
		sp.Reset(p, r.vocab)
		return sp
	}
	return sample.New(p, r.vocab)
}

// reap drops the active sequences whose request is gone.
func (r *Runner) reap() {
	for _, s := range r.active {
		if s.ctx.Err() != nil {
			r.finish(s, Event{Err: context.Cause(s.ctx)})
		}
	}
	r.compact()
}

// reserve makes cache room for every active sequence's next chunk. When
// the memory budget is exhausted, the most recently admitted sequence is
// preempted (its cache freed, itself queued again at the front); a
// sequence that cannot fit even alone fails.
func (r *Runner) reserve() {
	for i := 0; i < len(r.active); {
		s := r.active[i]
		if s.cache == nil {
			c, err := r.m.NewCache(s.limit, r.budget)
			if err != nil {
				r.finish(s, Event{Err: fmt.Errorf("runner: %w", err)})
				r.active = append(r.active[:i], r.active[i+1:]...)
				continue
			}
			s.cache = c
			r.reuse(s)
		}
		err := s.cache.Reserve(s.chunk(r.o.PrefillChunk))
		if err == nil {
			i++
			continue
		}
		if errors.Is(err, kvcache.ErrBudget) && r.pool != nil && r.pool.evict(nil) {
			continue // retry with a pooled cache's memory freed
		}
		if !errors.Is(err, kvcache.ErrBudget) || len(r.active) == 1 {
			r.finish(s, Event{Err: fmt.Errorf("runner: %w", err)})
			r.active = append(r.active[:i], r.active[i+1:]...)
			continue
		}
		last := len(r.active) - 1
		v := r.active[last]
		r.active[last] = nil
		r.active = r.active[:last]
		r.preempt(v)
	}
	r.nActive.Store(int64(len(r.active)))
}

// reuse starts s's new, empty cache with a copy of the longest prefix of
// its tokens that a pooled cache holds, leaving at least one token to feed
// (its logits are needed). Pooled caches other than the source are evicted
// if the copy does not fit the KV budget; if it still does not, the
// sequence simply computes everything.
func (r *Runner) reuse(s *seq) {
	first := !s.started
	s.started = true
	if r.pool == nil || len(s.tokens) < 2 {
		return
	}
	e, n := r.pool.match(s.tokens[:len(s.tokens)-1])
	if e == nil || n == 0 {
		return
	}
	for {
		err := s.cache.CopyPrefix(e.cache, n)
		if err == nil {
			break
		}
		if errors.Is(err, kvcache.ErrBudget) && r.pool.evict(e) {
			continue
		}
		r.log.Debug("runner: prefix not reused", "seq", s.id, "tokens", n, "err", err)
		return
	}
	s.fed = n
	if first {
		s.cached = min(n, len(s.req.Prompt))
	}
}

// preempt frees v's cache and queues it again, first in line; it will
// recompute its cache from all its tokens.
func (r *Runner) preempt(v *seq) {
	r.log.Debug("runner: preempting a sequence for KV memory", "seq", v.id, "tokens", len(v.tokens))
	r.release(v)
	v.fed = 0
	v.preempted = true
	r.squeezed = true
	r.mu.Lock()
	r.waiting = append([]*seq{v}, r.waiting...)
	r.mu.Unlock()
}

// next samples the sequence's next token from its logits and streams it.
func (r *Runner) next(s *seq) {
	if s.sampler == nil {
		s.sampler = r.newSampler(s.req.Params)
	}
	tok, err := s.sampleNext()
	if err != nil {
		r.finish(s, Event{Err: fmt.Errorf("runner: sample: %w", err)})
		return
	}
	s.sampler.Accept(tok.ID)
	s.generated++
	s.tokens = append(s.tokens, tok.ID)
	if r.tok.IsEOG(tok.ID) {
		r.finish(s, Event{Text: s.flush(), FinishReason: FinishStop})
		return
	}
	text, stopped := s.stop.Push(s.dec.Add(tok.ID))
	if stopped {
		r.finish(s, Event{Text: text, FinishReason: FinishStop})
		return
	}
	forced, cut := s.advance(tok.ID, s.room())
	for _, id := range forced {
		s.sampler.Accept(id)
		s.generated++
		s.tokens = append(s.tokens, id)
		t, stopped := s.stop.Push(s.dec.Add(id))
		text += t
		if stopped {
			r.finish(s, Event{Text: text, FinishReason: FinishStop})
			return
		}
	}
	if s.grammarDone() {
		r.finish(s, Event{Text: text + s.flush(), Token: &tok, FinishReason: FinishStop})
		return
	}
	if cut {
		r.finish(s, Event{Text: text + s.flush(), Token: &tok, FinishReason: FinishLength})
		return
	}
	if (s.req.MaxTokens > 0 && s.generated >= s.req.MaxTokens) || s.fed >= s.limit {
		text += s.flush()
		r.finish(s, Event{Text: text, Token: &tok, FinishReason: FinishLength})
		return
	}
	s.stream.push(Event{Text: text, Token: &tok}, s.usage())
}

// flush returns the text still held by the decoder and the stop matcher at
// the end of a generation.
func (s *seq) flush() string {
	text, stopped := s.stop.Push(s.dec.Flush())
	if !stopped {
		text += s.stop.Flush()
	}
	return text
}

// finish ends s with e (marked Done, with the usage), frees its cache and
// marks it for removal from the active list by compact.
func (r *Runner) finish(s *seq, e Event) {
	if r.pool != nil && s.cache != nil && (e.Err == nil || s.ctx.Err() != nil) {
		// The cache is intact (Forward leaves it unchanged on error), and
		// what it holds is worth keeping after a normal end or a request
		// that went away.
		r.pool.put(s.tokens, s.cache)
		s.cache = nil
	}
	r.release(s)
	s.stream.end(e, s.usage())
	if s.logits != nil && len(r.spare) < r.o.MaxSeqs {
		r.spare = append(r.spare, s.logits)
	}
	s.logits = nil
	if s.sampler != nil && len(r.samplers) < r.o.MaxSeqs {
		r.samplers = append(r.samplers, s.sampler)
	}
	s.sampler = nil
	s.fed = -1 // marks a finished sequence for compact
	r.squeezed = false
}

// compact removes finished sequences from the active list.
func (r *Runner) compact() {
	kept := r.active[:0]
	for _, s := range r.active {
		if s.fed >= 0 {
			kept = append(kept, s)
		}
	}
	clear(r.active[len(kept):])
	r.active = kept
	clear(r.inStep)
	r.nActive.Store(int64(len(r.active)))
}
