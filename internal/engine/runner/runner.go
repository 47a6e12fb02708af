// Package runner serves one loaded model to many concurrent requests with
// continuous batching.
//
// A Runner owns a scheduler loop (Run). Requests are submitted as token
// prompts and wait in a queue; each step of the loop admits waiting
// requests while there are free slots (Options.MaxSeqs), then runs one
// model.Forward over a batch holding every active sequence: a sequence
// still reading its prompt contributes up to Options.PrefillChunk prompt
// tokens, a generating sequence its last sampled token. Sequences whose
// batch share ends their pending tokens get logits, sample their next
// token, and stream its text out through a UTF-8-safe decoder and a stop
// matcher. A sequence leaves the batch as soon as it ends (end-of-generation
// token, stop string, MaxTokens, full context) or its request's context is
// cancelled, and its KV cache is freed at once, so a waiting request can
// take the slot at the next step.
//
// The scheduler never blocks on a consumer: every Stream buffers its events
// without bound.
//
// When Options.MaxKVBytes is set, all KV caches share that budget. A
// sequence that cannot grow its cache preempts the most recently admitted
// sequence, which goes back to the front of the queue and later recomputes
// its cache from its prompt and the tokens it had generated (what it already
// streamed stays streamed).
//
// Finished sequences keep their KV caches in a pool bounded by
// Options.PrefixCacheBytes. A new sequence starts from a copy of the cached
// positions it shares with the pooled cache of longest common prefix, and
// prefills only the rest; Usage.CachedTokens reports how many prompt tokens
// it reused. Outputs are the same as without the pool, because every
// position's keys and values are computed the same way whatever the batch
// they are computed in. Pooled caches count against MaxKVBytes and are
// evicted, least recently used first, before any live sequence is
// preempted.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/engine/tokenizer"
)

// Defaults of Options.
const (
	DefaultMaxSeqs      = 8
	DefaultPrefillChunk = 256
	// DefaultContextCap caps the default context length of models trained
	// for very long contexts, so that one sequence cannot claim gigabytes
	// of KV cache unless the operator asks for it.
	DefaultContextCap = 8192
	// DefaultPrefixCacheBytes bounds the KV caches of finished sequences
	// kept for prefix reuse.
	DefaultPrefixCacheBytes = 256 << 20
)

// ErrClosed is returned by Submit, and ends streams, once the runner is
// closed or its Run has returned.
var ErrClosed = errors.New("runner: closed")

// ContextLengthError is returned by Submit for a prompt that does not fit
// the context.
type ContextLengthError struct {
	Limit  int // the context length, in tokens
	Tokens int // the prompt's tokens
}

func (e *ContextLengthError) Error() string {
	return fmt.Sprintf("runner: the prompt has %d tokens, more than the context length of %d", e.Tokens, e.Limit)
}

// Options configure a Runner. The zero value means the defaults.
type Options struct {
	// MaxSeqs is the number of sequences decoded together (default 8).
	MaxSeqs int
	// ContextLength is the positions each sequence may use: the default is
	// the model's context length, capped at DefaultContextCap. A larger
	// value than the model's is allowed (llama.cpp allows it too) and is
	// logged as a warning.
	ContextLength int
	// PrefillChunk is the number of prompt tokens one sequence feeds per
	// step (default 256).
	PrefillChunk int
	// MaxKVBytes bounds the memory of all KV caches together; 0 means no
	// bound.
	MaxKVBytes int64
	// PrefixCacheBytes bounds the memory of the finished sequences' KV
	// caches kept for prefix reuse (default DefaultPrefixCacheBytes); a
	// negative value turns prefix reuse off.
	PrefixCacheBytes int64
	// Logger receives the runner's logs (default slog.Default()).
	Logger *slog.Logger
}

// Request is one sequence to generate.
type Request struct {
	// Prompt is the tokens the generation continues (at least one).
	Prompt []int32
	// MaxTokens bounds the generated tokens; 0 means until the context is
	// full.
	MaxTokens int
	// Params are the sampling parameters.
	Params sample.Params
	// Stops are strings that end the generation; they are never streamed.
	Stops []string
	// Weight is the request's share when the scheduler picks the next
	// waiting request (0 means 1). With equal weights admission is FIFO; a
	// request of weight w is admitted as if it had waited w times longer.
	Weight int
	// ContextLength, if positive and smaller than the runner's, is this
	// request's context limit.
	ContextLength int
	// Constraint, when set, restricts the output to a grammar (see
	// Constraint).
	Constraint *Constraint
}

// Stats are a snapshot of the scheduler's load.
type Stats struct {
	Active  int   // sequences in the batch
	Waiting int   // requests waiting for a slot
	KVBytes int64 // memory held by KV caches, the pooled ones included (when MaxKVBytes is set)
	// PrefixBytes is the memory held by finished sequences' caches kept
	// for prefix reuse.
	PrefixBytes int64
}

// Runner schedules requests on one model. Submit, Stats and Close are safe
// for concurrent use; Run must be called once.
type Runner struct {
	m      *model.Model
	tok    *tokenizer.Tokenizer
	vocab  int
	o      Options
	ctxLen int
	budget *kvcache.Budget
	pool   *prefixPool // nil when prefix reuse is off
	log    *slog.Logger

	wake    chan struct{} // a request arrived or Close was called
	started atomic.Bool
	nActive atomic.Int64

	mu      sync.Mutex
	waiting []*seq
	closed  bool
	tick    uint64 // admission clock for weighted picks
	nextID  uint64

	// Owned by the Run goroutine.
	active []*seq
	batch  []model.Sequence
	fwd    model.Batch // the batch of a step, kept to spare an allocation
	inStep []*seq
	spare  [][]float32 // logits buffers of finished sequences, for reuse
	// samplers are the samplers of finished sequences, kept for their
	// vocabulary-sized scratch buffers (see newSampler).
	samplers []*sample.Sampler
	// squeezed is set when a preemption happened: no new admissions until
	// a sequence ends and frees memory.
	squeezed bool
}

// New returns a runner for m. It does not start the loop: call Run.
func New(m *model.Model, o Options) *Runner {
	cfg := m.Config()
	if o.MaxSeqs <= 0 {
		o.MaxSeqs = DefaultMaxSeqs
	}
	if o.PrefillChunk <= 0 {
		o.PrefillChunk = DefaultPrefillChunk
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PrefixCacheBytes == 0 {
		o.PrefixCacheBytes = DefaultPrefixCacheBytes
	}
	ctxLen := o.ContextLength
	switch {
	case ctxLen <= 0:
		ctxLen = min(cfg.ContextLength, DefaultContextCap)
	case ctxLen > cfg.ContextLength:
		o.Logger.Warn("runner: context length above the model's trained length", "context_length", ctxLen, "trained", cfg.ContextLength)
	}
	r := &Runner{
		m: m, tok: m.Tokenizer(), vocab: cfg.VocabSize, o: o, ctxLen: ctxLen,
		log:  o.Logger,
		wake: make(chan struct{}, 1),
	}
	if o.MaxKVBytes > 0 {
		r.budget = kvcache.NewBudget(o.MaxKVBytes)
	}
	if o.PrefixCacheBytes > 0 {
		r.pool = newPrefixPool(o.PrefixCacheBytes)
	}
	return r
}

// ContextLength returns the context length of the runner's sequences.
func (r *Runner) ContextLength() int { return r.ctxLen }

// Model returns the runner's model.
func (r *Runner) Model() *model.Model { return r.m }

// Stats returns the current load.
func (r *Runner) Stats() Stats {
	r.mu.Lock()
	w := len(r.waiting)
	r.mu.Unlock()
	s := Stats{Active: int(r.nActive.Load()), Waiting: w}
	if r.budget != nil {
		s.KVBytes = r.budget.Used()
	}
	if r.pool != nil {
		s.PrefixBytes = r.pool.bytes()
	}
	return s
}

// Submit queues a request and returns the stream of its events. The
// sequence is dropped, and its slot and cache freed, at the next step after
// ctx is done or the stream is closed. Submit fails with a
// *ContextLengthError for a prompt longer than the context, with an error
// wrapping sample.ErrInvalidParams for invalid parameters, and with
// ErrClosed after Close.
func (r *Runner) Submit(ctx context.Context, req Request) (*Stream, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := r.ctxLen
	if req.ContextLength > 0 && req.ContextLength < limit {
		limit = req.ContextLength
	}
	switch {
	case len(req.Prompt) == 0:
		return nil, errors.New("runner: empty prompt")
	case len(req.Prompt) > limit:
		return nil, &ContextLengthError{Limit: limit, Tokens: len(req.Prompt)}
	case req.MaxTokens < 0:
		return nil, fmt.Errorf("runner: negative max tokens %d", req.MaxTokens)
	}
	for i, id := range req.Prompt {
		if id < 0 || int(id) >= r.vocab {
			return nil, fmt.Errorf("runner: prompt token %d is %d, outside the vocabulary of %d", i, id, r.vocab)
		}
	}
	if err := req.Params.Validate(r.vocab); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if c := req.Constraint; c != nil && (c.Grammar == nil || c.Vocab == nil || c.Vocab.Len() > r.vocab) {
		return nil, errors.New("runner: a constraint needs a grammar and a vocabulary index of the model")
	}
	sctx, cancel := context.WithCancel(ctx)
	st := newStream(cancel, len(req.Prompt))
	s := &seq{
		ctx:    sctx,
		req:    req,
		stream: st,
		limit:  limit,
		tokens: append(make([]int32, 0, len(req.Prompt)+min(req.MaxTokens, 256)+1), req.Prompt...),
		dec:    r.tok.NewDecoder(false),
		stop:   sample.NewStopMatcher(req.Stops),
		weight: max(req.Weight, 1),
	}
	if req.Constraint != nil {
		s.matcher = req.Constraint.Grammar.NewMatcher()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	r.nextID++
	s.id = r.nextID
	s.enq = r.tick
	r.waiting = append(r.waiting, s)
	r.mu.Unlock()
	r.nudge()
	return st, nil
}

func (r *Runner) nudge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Close stops the runner: waiting requests fail with ErrClosed at once,
// active ones when Run notices (at the end of its current step), and Run
// returns. Close does not close the model.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	w := r.waiting
	r.waiting = nil
	r.mu.Unlock()
	for _, s := range w {
		s.stream.end(Event{Err: ErrClosed}, s.usage())
	}
	r.nudge()
}

func (r *Runner) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Run runs the scheduler until ctx is done or Close is called, and returns
// nil then. Requests still in flight end with ErrClosed.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("runner: Run called twice")
	}
	defer r.shutdown()
	for {
		if ctx.Err() != nil || r.isClosed() {
			return nil
		}
		r.admit()
		if len(r.active) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-r.wake:
			}
			continue
		}
		r.step(ctx)
	}
}

// shutdown fails every request still in flight.
func (r *Runner) shutdown() {
	r.mu.Lock()
	r.closed = true
	w := r.waiting
	r.waiting = nil
	r.mu.Unlock()
	for _, s := range append(r.active, w...) {
		r.release(s)
		s.stream.end(Event{Err: ErrClosed}, s.usage())
	}
	r.active = nil
	r.nActive.Store(0)
	if r.pool != nil {
		r.pool.clear()
	}
}

// admit moves waiting requests into free slots, dropping cancelled ones.
func (r *Runner) admit() {
	r.mu.Lock()
	var dropped []*seq
	kept := r.waiting[:0]
	for _, s := range r.waiting {
		if s.ctx.Err() != nil {
			dropped = append(dropped, s)
			continue
		}
		kept = append(kept, s)
	}
	clear(r.waiting[len(kept):])
	r.waiting = kept
	for len(r.active) < r.o.MaxSeqs && len(r.waiting) > 0 && !(r.squeezed && len(r.active) > 0) {
		s := r.pickLocked()
		r.active = append(r.active, s)
	}
	r.mu.Unlock()
	r.nActive.Store(int64(len(r.active)))
	for _, s := range dropped {
		r.release(s)
		s.stream.end(Event{Err: context.Cause(s.ctx)}, s.usage())
	}
}

// pickLocked removes and returns the waiting request to admit next: a
// preempted sequence first, otherwise the one with the largest weight ×
// waiting time (ties to the earliest), which is FIFO for equal weights.
func (r *Runner) pickLocked() *seq {
	r.tick++
	best := 0
	score := func(s *seq) uint64 { return uint64(s.weight) * (r.tick - s.enq) }
	for i, s := range r.waiting {
		b := r.waiting[best]
		switch {
		case s.preempted != b.preempted:
			if s.preempted {
				best = i
			}
		case score(s) > score(b) || (score(s) == score(b) && s.id < b.id):
			best = i
		}
	}
	s := r.waiting[best]
	r.waiting = append(r.waiting[:best], r.waiting[best+1:]...)
	s.preempted = false
	return s
}

// release frees the sequence's cache.
func (r *Runner) release(s *seq) {
	if s.cache != nil {
		s.cache.Free()
		s.cache = nil
	}
}
