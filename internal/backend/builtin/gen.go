package builtin

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"strconv"
	"sync"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// sampling holds the sampling fields that chat and completions share.
type sampling struct {
	Temperature, TopP, MinP         *float64
	Presence, Frequency, Repetition *float64
	TopK                            *int
	LogitBias                       map[string]float64
	Seed                            *int64
	Logprobs                        bool
	TopLogprobs                     int
}

// params maps the request's sampling fields onto the engine's, checking
// what depends on the model (logit_bias token ids).
func (lm *loaded) params(s sampling) (sample.Params, error) {
	p := sample.DefaultParams()
	f32 := func(dst *float32, v *float64) {
		if v != nil {
			*dst = float32(*v)
		}
	}
	f32(&p.Temperature, s.Temperature)
	f32(&p.TopP, s.TopP)
	f32(&p.MinP, s.MinP)
	f32(&p.PresencePenalty, s.Presence)
	f32(&p.FrequencyPenalty, s.Frequency)
	f32(&p.RepetitionPenalty, s.Repetition)
	if s.TopK != nil {
		p.TopK = *s.TopK
	}
	if len(s.LogitBias) > 0 {
		p.LogitBias = make(map[int32]float32, len(s.LogitBias))
		for k, v := range s.LogitBias {
			id, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return p, fault.Param("logit_bias", inference.CodeInvalidValue, "Invalid key in 'logit_bias': %q is not a token id.", k)
			}
			if id < 0 || id >= int64(lm.vocab) {
				return p, fault.Param("logit_bias", inference.CodeInvalidValue,
					"Invalid 'logit_bias': token id %d is outside this model's vocabulary of %d tokens (ids 0 to %d).", id, lm.vocab, lm.vocab-1)
			}
			p.LogitBias[int32(id)] = float32(max(-100, min(100, v)))
		}
	}
	p.Seed = s.Seed
	p.Logprobs = s.Logprobs
	p.TopLogprobs = s.TopLogprobs
	if err := p.Validate(lm.vocab); err != nil {
		return p, fault.Param("", inference.CodeInvalidValue, "Invalid sampling parameters: %v", err)
	}
	return p, nil
}

// job is what one request asks the runner for.
type job struct {
	prompt    []int32
	n         int // sequences
	params    sample.Params
	maxTokens int
	stops     []string
	ctxLimit  int    // the target's context length, 0 for the model's
	param     string // the request field a too-long prompt is blamed on
	what      string // "messages" or "prompt", for the message
	weight    int    // scheduler share
	// constraint, when set, restricts every sequence to a grammar.
	constraint *runner.Constraint
	// tools, when set, is how tool calls are parsed out of the output.
	tools *toolPlan
	// structured is the StructuredOutput mode to report ("" for none).
	structured string
}

// weightOf is the scheduler share of requests to t.
func (lm *loaded) weightOf(t inference.Target) int {
	if lm.weight == nil {
		return 1
	}
	return max(lm.weight(t), 1)
}

// generation is the running sequences of one request.
type generation struct {
	lm      *loaded
	streams []*runner.Stream
	prompt  int
}

// generate submits the job's n sequences; choice i samples with
// sample.DeriveSeed(seed, i).
func (lm *loaded) generate(ctx context.Context, j job) (*generation, error) {
	g := &generation{lm: lm, prompt: len(j.prompt)}
	for i := range j.n {
		p := j.params
		if p.Seed != nil {
			s := sample.DeriveSeed(*p.Seed, i)
			p.Seed = &s
		}
		st, err := lm.r.Submit(ctx, runner.Request{
			Prompt: j.prompt, MaxTokens: j.maxTokens, Params: p, Stops: j.stops, ContextLength: j.ctxLimit,
			Weight: j.weight, Constraint: j.constraint,
		})
		if err != nil {
			g.close()
			return nil, mapError(ctx, err, j)
		}
		g.streams = append(g.streams, st)
	}
	return g, nil
}

// close abandons whatever is still running.
func (g *generation) close() {
	for _, st := range g.streams {
		st.Close()
	}
}

// usage is the prompt once plus every sequence's completion tokens, as far
// as they got, with the prompt tokens the first sequence reused from the
// runner's prefix cache as cached tokens.
func (g *generation) usage() *inference.Usage {
	u := &inference.Usage{PromptTokens: g.prompt}
	for i, st := range g.streams {
		su := st.Usage()
		u.CompletionTokens += su.CompletionTokens
		if i == 0 && su.CachedTokens > 0 {
			u.PromptTokensDetails = &inference.PromptTokensDetails{CachedTokens: su.CachedTokens}
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// output is what one sequence produced.
type output struct {
	text   string
	tokens []sample.Token
	finish string
}

// collect reads every sequence to its end.
func (g *generation) collect(ctx context.Context) ([]output, error) {
	outs := make([]output, len(g.streams))
	err := g.each(ctx, func(i int, e runner.Event) error {
		o := &outs[i]
		o.text += e.Text
		if e.Token != nil {
			o.tokens = append(o.tokens, *e.Token)
		}
		if e.Done {
			o.finish = e.FinishReason
		}
		return nil
	})
	return outs, err
}

// each calls fn with every event of every sequence, in order within a
// sequence, never concurrently, and returns when all have ended, fn fails
// or ctx is done. Events carrying an error end the whole generation.
func (g *generation) each(ctx context.Context, fn func(i int, e runner.Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	type tagged struct {
		i int
		e runner.Event
	}
	ch := make(chan tagged)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs first: stops the readers wg.Wait waits for
	for i, st := range g.streams {
		wg.Go(func() {
			for {
				e, ok := st.Next(ctx)
				if !ok {
					return
				}
				select {
				case ch <- tagged{i, e}:
				case <-ctx.Done():
					return
				}
				if e.Done {
					return
				}
			}
		})
	}
	for left := len(g.streams); left > 0; {
		var t tagged
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case t = <-ch:
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if t.e.Err != nil {
			return mapError(ctx, t.e.Err, job{})
		}
		if err := fn(t.i, t.e); err != nil {
			return err
		}
		if t.e.Done {
			left--
		}
	}
	return nil
}

// mapError turns an engine error into a *fault.Error, or the context's
// error when ctx is done.
func mapError(ctx context.Context, err error, j job) error {
	var cle *runner.ContextLengthError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &cle):
		return fault.Param(j.param, "context_length_exceeded",
			"This model's maximum context length is %d tokens. However, your %s resulted in %d tokens. Please reduce the length of the %s.",
			cle.Limit, j.what, cle.Tokens, j.what)
	case errors.Is(err, runner.ErrClosed):
		return &fault.Error{Kind: fault.Unavailable, Code: "ModelNotLoaded", Message: "the model was unloaded while serving the request", Err: err}
	case errors.Is(err, kvcache.ErrBudget):
		return &fault.Error{Kind: fault.Unavailable, Code: "InsufficientMemory", Message: "the request does not fit the engine's KV cache memory", Err: err}
	case errors.Is(err, sample.ErrInvalidParams):
		return &fault.Error{Kind: fault.Invalid, Code: inference.CodeInvalidValue, Message: err.Error(), Err: err}
	}
	return &fault.Error{Kind: fault.Internal, Code: "EngineError", Message: "the built-in engine failed", Err: err}
}

// newID returns prefix followed by a random suffix.
func newID(prefix string) string { return prefix + rand.Text() }

// bytesOf returns the bytes of s as ints, as the wire format wants them.
func bytesOf(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

// logprob converts a float32 log probability, keeping -Inf representable
// in JSON.
func logprob(v float32) float64 {
	if math.IsInf(float64(v), -1) || math.IsNaN(float64(v)) {
		return -9999
	}
	return float64(v)
}

// chatLogprobs converts sampled tokens into chat logprobs.
func (lm *loaded) chatLogprobs(toks []sample.Token) []inference.TokenLogprob {
	out := make([]inference.TokenLogprob, 0, len(toks))
	for _, t := range toks {
		piece := lm.tok.Piece(t.ID)
		tl := inference.TokenLogprob{Token: piece, Logprob: logprob(t.Logprob), Bytes: bytesOf(piece), TopLogprobs: []inference.TopLogprob{}}
		for _, a := range t.Top {
			ap := lm.tok.Piece(a.ID)
			tl.TopLogprobs = append(tl.TopLogprobs, inference.TopLogprob{Token: ap, Logprob: logprob(a.Logprob), Bytes: bytesOf(ap)})
		}
		out = append(out, tl)
	}
	return out
}

// badRequest is the error for a request the engine cannot serve.
func badRequest(param, format string, args ...any) error {
	return fault.Param(param, inference.CodeUnsupportedValue, format, args...)
}

// notYet is the error for a feature the engine does not have yet.
func notYet(param, what string) error {
	return fault.Param(param, inference.CodeUnsupportedValue, "%s is not supported by the built-in engine yet.", what)
}
