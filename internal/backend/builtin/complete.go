package builtin

import (
	"cmp"
	"context"
	"math"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// defaultCompletionTokens is the legacy API's max_tokens default.
const defaultCompletionTokens = 16

// completion is a legacy request prepared for the runner: one job per
// prompt, each of bestOf sequences, of which n are returned.
type completion struct {
	jobs     []job
	echoes   []string // each prompt's text, for echo
	n        int
	bestOf   int
	logprobs bool // the client asked for logprobs
}

// Complete answers a legacy completions request.
//
// best_of runs best_of sequences per prompt (in one batch) and returns the
// n with the highest mean token log probability, best first; usage counts
// every sequence, as OpenAI bills it.
func (b *Backend) Complete(ctx context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error) {
	lm, err := b.acquire(ctx, t.Version.File)
	if err != nil {
		return nil, err
	}
	defer b.release(lm)
	c, err := lm.completionJobs(t, req)
	if err != nil {
		return nil, err
	}
	g, err := lm.generateAll(ctx, c.jobs)
	if err != nil {
		return nil, err
	}
	defer g.close()
	outs, err := g.collect(ctx)
	if err != nil {
		return nil, err
	}
	resp := &inference.Completion{
		ID: newID("cmpl-"), Object: "text_completion", Created: time.Now().Unix(),
		Model: lm.name, SystemFingerprint: lm.fingerprint, Usage: g.usage(),
	}
	for pi := range c.jobs {
		group := outs[pi*c.bestOf : (pi+1)*c.bestOf]
		if c.bestOf > c.n {
			group = best(group, c.n)
		}
		for k, o := range group {
			finish := o.finish
			ch := inference.CompletionChoice{Index: pi*c.n + k, Text: o.text, FinishReason: &finish}
			if req.Echo {
				ch.Text = c.echoes[pi] + o.text
			}
			if c.logprobs {
				ch.Logprobs = lm.legacyLogprobs(o.tokens, 0)
			}
			resp.Choices = append(resp.Choices, ch)
		}
	}
	return resp, nil
}

// CompleteStream answers a streamed legacy completions request: the echo
// (if asked), text chunks, and a last chunk per choice with its finish
// reason.
func (b *Backend) CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error) {
	lm, err := b.acquire(ctx, t.Version.File)
	if err != nil {
		return nil, err
	}
	defer b.release(lm)
	c, err := lm.completionJobs(t, req)
	if err != nil {
		return nil, err
	}
	if c.bestOf > c.n {
		return nil, fault.Param("best_of", inference.CodeInvalidValue, "best_of greater than n cannot be used with stream.")
	}
	g, err := lm.generateAll(ctx, c.jobs)
	if err != nil {
		return nil, err
	}
	defer g.close()
	id, created := newID("cmpl-"), time.Now().Unix()
	chunk := func(ch inference.CompletionChoice) *inference.Completion {
		return &inference.Completion{
			ID: id, Object: "text_completion", Created: created, Model: lm.name,
			SystemFingerprint: lm.fingerprint, Choices: []inference.CompletionChoice{ch},
		}
	}
	offsets := make([]int, len(g.streams))
	if req.Echo {
		for i := range g.streams {
			if err := ctx.Err(); err != nil {
				return g.usage(), err
			}
			text := c.echoes[i/c.n]
			offsets[i] = len(text)
			if text == "" {
				continue
			}
			if err := emit(chunk(inference.CompletionChoice{Index: i, Text: text})); err != nil {
				return g.usage(), err
			}
		}
	}
	err = g.each(ctx, func(i int, e runner.Event) error {
		ch := inference.CompletionChoice{Index: i, Text: e.Text}
		send := e.Text != "" || e.Done
		if c.logprobs && e.Token != nil {
			ch.Logprobs = lm.legacyLogprobs([]sample.Token{*e.Token}, offsets[i])
			offsets[i] += len(lm.tok.Piece(e.Token.ID))
			send = true
		}
		if e.Done {
			reason := e.FinishReason
			ch.FinishReason = &reason
		}
		if !send {
			return nil
		}
		return emit(chunk(ch))
	})
	return g.usage(), err
}

// completionJobs tokenizes the prompts and maps the parameters.
func (lm *loaded) completionJobs(t inference.Target, req *inference.CompletionRequest) (completion, error) {
	if req.Suffix != "" {
		return completion{}, notYet("suffix", "'suffix' (fill-in-the-middle)")
	}
	if req.Echo && req.Logprobs != nil {
		return completion{}, notYet("logprobs", "'logprobs' together with 'echo' (prompt log probabilities)")
	}
	c := completion{n: max(req.Choices(), 1), logprobs: req.Logprobs != nil}
	c.bestOf = max(deref(req.BestOf), c.n)
	maxTokens := defaultCompletionTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	s := sampling{
		Temperature: req.Temperature, TopP: req.TopP, MinP: req.MinP, TopK: req.TopK,
		Presence: req.PresencePenalty, Frequency: req.FrequencyPenalty,
		LogitBias: req.LogitBias, Seed: req.Seed,
		Logprobs: c.logprobs || c.bestOf > c.n, TopLogprobs: deref(req.Logprobs),
	}
	p, err := lm.params(s)
	if err != nil {
		return completion{}, err
	}
	var prompts [][]int32
	switch {
	case req.Prompt.Tokens != nil:
		for i, ids := range req.Prompt.Tokens {
			prompt := make([]int32, len(ids))
			for k, id := range ids {
				if id < 0 || id >= lm.vocab {
					return completion{}, fault.Param("prompt", inference.CodeInvalidValue,
						"Invalid token in prompt %d: %d is outside this model's vocabulary of %d tokens.", i, id, lm.vocab)
				}
				prompt[k] = int32(id)
			}
			prompts = append(prompts, prompt)
			c.echoes = append(c.echoes, lm.tok.Decode(prompt))
		}
	default:
		for _, text := range req.Prompt.Texts {
			prompts = append(prompts, lm.encode(text))
			c.echoes = append(c.echoes, text)
		}
	}
	for i, prompt := range prompts {
		if len(prompt) == 0 {
			return completion{}, fault.Param("prompt", inference.CodeInvalidValue, "Prompt %d is empty, and this model has no BOS token to start from.", i)
		}
		c.jobs = append(c.jobs, job{
			prompt: prompt, n: c.bestOf, params: p, maxTokens: maxTokens, stops: req.Stop,
			ctxLimit: t.Version.ContextLength, weight: lm.weightOf(t), param: "prompt", what: "prompt",
		})
	}
	return c, nil
}

// generateAll runs several jobs as one generation; its streams are the
// jobs' sequences in order.
func (lm *loaded) generateAll(ctx context.Context, jobs []job) (*generation, error) {
	all := &generation{lm: lm}
	for _, j := range jobs {
		if j.maxTokens == 0 {
			// Echo only: no sequence runs, but the prompt counts.
			all.prompt += len(j.prompt)
			all.streams = append(all.streams, emptyStreams(j.n)...)
			continue
		}
		g, err := lm.generate(ctx, j)
		if err != nil {
			all.close()
			return nil, err
		}
		all.streams = append(all.streams, g.streams...)
		all.prompt += g.prompt
	}
	return all, nil
}

// emptyStreams returns n streams that end at once with finish "length".
func emptyStreams(n int) []*runner.Stream {
	out := make([]*runner.Stream, n)
	for i := range out {
		out[i] = runner.Finished(runner.FinishLength)
	}
	return out
}

// best returns the n outputs with the highest mean token log probability,
// best first (stable for ties).
func best(outs []output, n int) []output {
	score := func(o output) float64 {
		if len(o.tokens) == 0 {
			return math.Inf(-1)
		}
		var sum float64
		for _, t := range o.tokens {
			sum += float64(t.Logprob)
		}
		return sum / float64(len(o.tokens))
	}
	sorted := slices.Clone(outs)
	slices.SortStableFunc(sorted, func(a, b output) int { return cmp.Compare(score(b), score(a)) })
	return sorted[:n]
}

// legacyLogprobs converts sampled tokens into the legacy logprobs shape;
// offset is the text offset of the first token.
func (lm *loaded) legacyLogprobs(toks []sample.Token, offset int) *inference.CompletionLogprobs {
	lp := &inference.CompletionLogprobs{
		Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{},
	}
	for _, t := range toks {
		piece := lm.tok.Piece(t.ID)
		lp.Tokens = append(lp.Tokens, piece)
		lp.TokenLogprobs = append(lp.TokenLogprobs, logprob(t.Logprob))
		top := make(map[string]float64, len(t.Top))
		for _, a := range t.Top {
			if _, dup := top[lm.tok.Piece(a.ID)]; !dup {
				top[lm.tok.Piece(a.ID)] = logprob(a.Logprob)
			}
		}
		lp.TopLogprobs = append(lp.TopLogprobs, top)
		lp.TextOffset = append(lp.TextOffset, offset)
		offset += len(piece)
	}
	return lp
}
