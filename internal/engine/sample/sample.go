// Package sample turns the logits a model produces for the next position
// into a token, the way OpenAI-compatible clients and llama.cpp users expect.
//
// # Pipeline
//
// For every call to Sampler.Sample, in this order:
//
//  1. logit_bias is added to the raw logits (−100 effectively bans a token,
//     +100 effectively forces it).
//  2. The llama.cpp repetition penalty (if not 1) is applied to every token
//     that occurs in the last RepetitionWindow generated tokens: a positive
//     logit is divided by it, a negative one multiplied.
//  3. OpenAI's presence and frequency penalties are applied to every token
//     generated so far: logit −= count·frequency + (count > 0)·presence.
//     Only tokens passed to Sampler.Accept count; the prompt does not.
//  4. Logprobs, if requested, are taken here: the log-softmax of the logits
//     after steps 1–3, at temperature 1 and before any truncation. OpenAI
//     documents its logprobs as the log probabilities of the model's tokens;
//     what it reports does not change with temperature or top_p, which is
//     what this matches.
//  5. If Temperature is 0, the token with the largest logit is chosen (ties
//     go to the lowest id) and nothing else happens.
//  6. top_k keeps the k largest logits; top_p keeps the smallest set of most
//     likely tokens whose probability (renormalized over what top_k kept, at
//     temperature 1) reaches top_p, always at least one; min_p keeps the
//     tokens whose probability is at least min_p times that of the most
//     likely token. This is llama.cpp's default order: truncation sees the
//     distribution at temperature 1.
//  7. The surviving logits are divided by the temperature, soft-maxed, and a
//     token is drawn with the sampler's own deterministic generator.
//
// The same seed and the same sequence of logits give the same tokens in every
// process and with every Go version (see DeriveSeed for n > 1 choices).
//
// Constrained decoding (JSON schemas, forced tool calls) goes through
// Sampler.SampleConstrained, which checks only the chosen token against the
// grammar and filters the whole vocabulary only when that token is rejected.
//
// StopMatcher implements stop strings over streamed text.
package sample

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrInvalidParams is wrapped by the errors for out-of-range Params.
var ErrInvalidParams = errors.New("invalid sampling parameters")

// ErrNoToken is wrapped by the error Sample returns when no token can be
// chosen: every logit is −Inf or NaN, or a constraint allows none of the
// others.
var ErrNoToken = errors.New("no token can be sampled")

// ErrLogits is wrapped by the error Sample returns for a logits vector of the
// wrong length.
var ErrLogits = errors.New("logits do not match the vocabulary")

// DefaultRepetitionWindow is the number of most recent generated tokens the
// repetition penalty looks at when Params.RepetitionWindow is 0 (llama.cpp's
// repeat_last_n default).
const DefaultRepetitionWindow = 64

// Params are the sampling parameters of one sequence. Start from
// DefaultParams: the zero value means temperature 0 (greedy) and top_p 0.
type Params struct {
	// Temperature divides the logits before the final softmax; 0 means
	// greedy decoding. OpenAI's range is 0–2; any finite value >= 0 works.
	Temperature float32
	// TopP is the nucleus size in [0, 1]; 1 disables it, 0 keeps only the
	// most likely token.
	TopP float32
	// MinP in [0, 1] drops tokens less likely than MinP times the most likely
	// one; 0 disables it.
	MinP float32
	// TopK keeps only the TopK most likely tokens; 0 disables it.
	TopK int
	// PresencePenalty is subtracted once from the logit of every token
	// generated so far (OpenAI: −2..2).
	PresencePenalty float32
	// FrequencyPenalty is subtracted from the logit of every generated token
	// once per time it was generated (OpenAI: −2..2).
	FrequencyPenalty float32
	// RepetitionPenalty is llama.cpp's repeat_penalty: 1 (or 0) disables it;
	// values above 1 discourage the tokens of the last RepetitionWindow
	// generated tokens.
	RepetitionPenalty float32
	// RepetitionWindow is how many of the most recent generated tokens the
	// repetition penalty considers: 0 means DefaultRepetitionWindow, a
	// negative value means all of them.
	RepetitionWindow int
	// LogitBias is added to the logits of the given token ids (OpenAI:
	// −100..100).
	LogitBias map[int32]float32
	// Seed makes sampling reproducible; nil seeds from crypto/rand.
	Seed *int64
	// Logprobs asks for Token.Logprob.
	Logprobs bool
	// TopLogprobs asks for that many most likely alternatives in Token.Top
	// (OpenAI: 0–20); it requires Logprobs.
	TopLogprobs int
}

// DefaultParams returns OpenAI's defaults: temperature 1, top_p 1, no
// penalties, no truncation.
func DefaultParams() Params {
	return Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1}
}

func finite(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// Validate reports whether p can be used with a vocabulary of vocabSize
// tokens. The errors wrap ErrInvalidParams.
func (p Params) Validate(vocabSize int) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("sample: %s: %w", fmt.Sprintf(format, args...), ErrInvalidParams)
	}
	switch {
	case vocabSize <= 0 || vocabSize > math.MaxInt32:
		return bad("vocabulary size %d", vocabSize)
	case !finite(p.Temperature) || p.Temperature < 0:
		return bad("temperature %v is not a finite number >= 0", p.Temperature)
	case !(p.TopP >= 0 && p.TopP <= 1):
		return bad("top_p %v is not in [0, 1]", p.TopP)
	case !(p.MinP >= 0 && p.MinP <= 1):
		return bad("min_p %v is not in [0, 1]", p.MinP)
	case p.TopK < 0:
		return bad("top_k %d is negative", p.TopK)
	case !finite(p.PresencePenalty):
		return bad("presence_penalty %v is not finite", p.PresencePenalty)
	case !finite(p.FrequencyPenalty):
		return bad("frequency_penalty %v is not finite", p.FrequencyPenalty)
	case !finite(p.RepetitionPenalty) || p.RepetitionPenalty < 0:
		return bad("repetition_penalty %v is not a finite number >= 0", p.RepetitionPenalty)
	case p.TopLogprobs < 0:
		return bad("top_logprobs %d is negative", p.TopLogprobs)
	case p.TopLogprobs > 0 && !p.Logprobs:
		return bad("top_logprobs requires logprobs")
	}
	for id, b := range p.LogitBias {
		if id < 0 || int(id) >= vocabSize {
			return bad("logit_bias token id %d is outside the vocabulary [0, %d)", id, vocabSize)
		}
		if math.IsNaN(float64(b)) {
			return bad("logit_bias for token %d is NaN", id)
		}
	}
	return nil
}

// Token is one sampled token.
type Token struct {
	// ID is the chosen token.
	ID int32
	// Logprob is the log probability of ID (see the package comment); it is
	// set only when Params.Logprobs is.
	Logprob float32
	// Top holds the Params.TopLogprobs most likely tokens, most likely first
	// (ties by lower id). The chosen token need not be among them.
	Top []Alt
}

// Alt is one of the most likely tokens at a position.
type Alt struct {
	ID      int32
	Logprob float32
}

// Sampler samples the tokens of one sequence. It remembers the tokens
// generated so far (for penalties) and owns a random generator and scratch
// buffers, so it must not be used by several goroutines at once.
//
// The scratch space is allocated on first use and reused: at most about 20
// bytes per vocabulary entry (a copy of the logits, their exponentials and a
// candidate list), less when top_k is small, and none for greedy sampling
// without logit_bias, penalties or logprobs. Reset keeps it for the next
// sequence.
type Sampler struct {
	p       Params
	vocab   int
	err     error // from Validate, returned by every Sample
	rng     splitmix64
	greedy  bool // temperature 0 (or so small its inverse overflows)
	invTemp float32
	logMinP float32 // ln(MinP)
	repWin  int     // repetition window; < 0 means unbounded

	counts  map[int32]int32 // every generated token
	window  map[int32]int32 // tokens among the last repWin generated
	history []int32         // generated tokens, oldest first

	// Per-call state.
	work     []float32 // logits after bias, penalties and masks, when workOK
	workOK   bool      // work holds this call's logits (see prepare)
	maxLogit float32   // max of work
	argmax   int32     // lowest id holding maxLogit
	probs    []float32 // exp((work-maxLogit)*probsT), when probsOK
	probsT   float32
	probsSum float64
	probsOK  bool
	// blockSums[b] is the sum of probs[b*drawBlock:][:drawBlock].
	blockSums []float64
	cand      []cand // surviving candidates after truncation
	alts      []cand // scratch for the top logprobs
}

// cand is a candidate token with its (adjusted) logit and a weight whose
// meaning depends on the stage.
type cand struct {
	id int32
	l  float32
	w  float32
}

// New returns a sampler for a vocabulary of vocabSize tokens. If p is
// invalid (see Params.Validate), every call to Sample returns the error.
func New(p Params, vocabSize int) *Sampler {
	s := new(Sampler)
	s.init(p, vocabSize)
	return s
}

// Reset makes s a sampler for p and a vocabulary of vocabSize tokens, as
// New(p, vocabSize) would return, but keeps its scratch buffers (and the
// storage of its token counts) for reuse when their size fits: a sampler
// that served one sequence can serve the next without allocating again.
// Reset gives exactly the tokens New would for the same parameters, seed
// and logits.
func (s *Sampler) Reset(p Params, vocabSize int) {
	vocab, work, probs, blockSums := s.vocab, s.work, s.probs, s.blockSums
	cand, alts := s.cand[:0], s.alts[:0]
	counts, window, history := s.counts, s.window, s.history[:0]
	clear(counts)
	clear(window)
	*s = Sampler{}
	s.init(p, vocabSize)
	if vocab == vocabSize {
		s.work, s.probs, s.blockSums = work, probs, blockSums
	}
	s.cand, s.alts = cand, alts
	s.counts, s.window, s.history = counts, window, history
}

// init sets s up as New documents; s must be the zero Sampler.
func (s *Sampler) init(p Params, vocabSize int) {
	s.p, s.vocab, s.err = p, vocabSize, p.Validate(vocabSize)
	var seed int64
	if p.Seed != nil {
		seed = *p.Seed
	} else {
		seed = randomSeed()
	}
	s.rng = splitmix64{state: uint64(seed)}
	s.greedy = true
	if p.Temperature > 0 {
		s.invTemp = 1 / p.Temperature
		s.greedy = math.IsInf(float64(s.invTemp), 0)
	}
	if p.MinP > 0 {
		s.logMinP = float32(math.Log(float64(p.MinP)))
	}
	s.repWin = p.RepetitionWindow
	if s.repWin == 0 {
		s.repWin = DefaultRepetitionWindow
	}
	if p.RepetitionPenalty == 0 {
		s.p.RepetitionPenalty = 1
	}
}

// Params returns the parameters the sampler was made with.
func (s *Sampler) Params() Params { return s.p }

// Accept records that id was generated, for the penalties. Call it once for
// every token added to the sequence, including ones forced by a grammar.
func (s *Sampler) Accept(id int32) {
	if s.counts == nil {
		s.counts = make(map[int32]int32)
		s.window = make(map[int32]int32)
	}
	s.counts[id]++
	s.history = append(s.history, id)
	s.window[id]++
	if s.repWin > 0 && len(s.history) > s.repWin {
		old := s.history[len(s.history)-1-s.repWin]
		if s.window[old]--; s.window[old] == 0 {
			delete(s.window, old)
		}
	}
}

// Sample chooses the next token from logits, which must hold one logit per
// vocabulary entry. It does not modify logits and does not call Accept.
func (s *Sampler) Sample(logits []float32) (Token, error) {
	return s.sample(logits, nil)
}

// SampleConstrained is Sample for a sequence whose next token must satisfy
// allowed (typically a grammar for structured output). It samples as usual
// and asks allowed about the chosen token only; if that token is rejected, it
// asks about every remaining token, removes the rejected ones and samples
// again from what is left (top_k, top_p and min_p then apply to the allowed
// tokens). It returns an error wrapping ErrNoToken if no token is allowed.
//
// Logprobs describe the distribution before the constraint, as the model saw
// it. A nil allowed means no constraint.
func (s *Sampler) SampleConstrained(logits []float32, allowed func(id int32) bool) (Token, error) {
	return s.sample(logits, allowed)
}

func (s *Sampler) sample(logits []float32, allowed func(int32) bool) (Token, error) {
	if s.err != nil {
		return Token{}, s.err
	}
	if len(logits) != s.vocab {
		return Token{}, fmt.Errorf("sample: %d logits for a vocabulary of %d: %w", len(logits), s.vocab, ErrLogits)
	}
	s.prepare(logits)
	if s.argmax < 0 {
		return Token{}, fmt.Errorf("sample: every logit is -Inf or NaN: %w", ErrNoToken)
	}
	var tok Token
	var logZ float64
	if s.p.Logprobs {
		logZ = float64(s.maxLogit) + math.Log(s.expAll(1))
		tok.Top = s.topAlternatives(logZ)
	}
	id := s.choose()
	if allowed != nil && !allowed(id) {
		if !s.workOK {
			s.fill(logits) // prepare only found the argmax
		}
		s.mask(allowed, id)
		if s.argmax < 0 {
			return Token{}, fmt.Errorf("sample: the constraint allows no token: %w", ErrNoToken)
		}
		id = s.choose()
	}
	tok.ID = id
	if s.p.Logprobs {
		tok.Logprob = float32(float64(s.work[id]) - logZ)
	}
	return tok, nil
}

// prepare copies logits into the scratch vector and applies logit_bias and
// the penalties, then finds the maximum.
//
// When nothing of that can change the choice (greedy, no logit_bias, no
// penalty that applies yet, no logprobs), it only finds the argmax, without
// copying the logits (work is then not set, and workOK false).
func (s *Sampler) prepare(logits []float32) {
	s.probsOK = false
	if s.greedy && !s.p.Logprobs && !s.adjusts() {
		s.workOK = false
		s.maxLogit, s.argmax = argmaxClamped(logits)
		return
	}
	s.fill(logits)
	w := s.work
	changed := false
	for id, b := range s.p.LogitBias {
		w[id] += b
		changed = true
	}
	if rp := s.p.RepetitionPenalty; rp != 1 {
		for id := range s.window {
			if id < 0 || int(id) >= len(w) {
				continue
			}
			if w[id] > 0 {
				w[id] /= rp
			} else {
				w[id] *= rp
			}
			changed = true
		}
	}
	if fp, pp := s.p.FrequencyPenalty, s.p.PresencePenalty; fp != 0 || pp != 0 {
		for id, c := range s.counts {
			if id < 0 || int(id) >= len(w) {
				continue
			}
			w[id] -= float32(float32(c)*fp) + pp
			changed = true
		}
	}
	// Scan again only if something changed.
	if changed {
		s.scan(w)
	}
}

// fill copies and scans logits into work (see scan), allocating it once.
func (s *Sampler) fill(logits []float32) {
	if s.work == nil {
		s.work = make([]float32, s.vocab)
	}
	s.scan(logits)
	s.workOK = true
}

// adjusts reports whether prepare changes any logit now: a logit_bias, or
// a penalty with generated tokens to apply to.
func (s *Sampler) adjusts() bool {
	if len(s.p.LogitBias) > 0 {
		return true
	}
	if s.p.RepetitionPenalty != 1 && len(s.window) > 0 {
		return true
	}
	return (s.p.FrequencyPenalty != 0 || s.p.PresencePenalty != 0) && len(s.counts) > 0
}

// argmaxClamped returns what scan records for src, without copying it: the
// maximum (NaN counting as −Inf and +Inf as the largest float32) and the
// lowest id holding it, or −1 if every logit is −Inf or NaN.
func argmaxClamped(src []float32) (float32, int32) {
	m, arg := float32(math.Inf(-1)), int32(-1)
	for i, v := range src {
		if v > m { // false for NaN
			if v > math.MaxFloat32 {
				if m == math.MaxFloat32 {
					continue // +Inf ties with an earlier largest float32
				}
				v = math.MaxFloat32
			}
			m, arg = v, int32(i)
		}
	}
	return m, arg
}

// scan copies src into work (src may be work itself), replacing NaN by −Inf
// and +Inf by the largest float32, and records the maximum logit and the
// lowest id holding it (argmax −1 if every logit is −Inf).
func (s *Sampler) scan(src []float32) {
	w := s.work[:len(src)]
	m, arg := float32(math.Inf(-1)), int32(-1)
	for i, v := range src {
		if !(v <= math.MaxFloat32) {
			if v > 0 {
				v = math.MaxFloat32
			} else {
				v = float32(math.Inf(-1))
			}
		}
		w[i] = v
		if v > m {
			m, arg = v, int32(i)
		}
	}
	s.maxLogit, s.argmax = m, arg
}

// mask sets the logits of every token allowed rejects to −Inf. rejected is
// known to be rejected; tokens already at −Inf are not asked about.
func (s *Sampler) mask(allowed func(int32) bool, rejected int32) {
	w := s.work
	negInf := float32(math.Inf(-1))
	w[rejected] = negInf
	for i, v := range w {
		if v != negInf && !allowed(int32(i)) {
			w[i] = negInf
		}
	}
	s.probsOK = false
	s.scan(w)
}

// drawBlock is the number of tokens per partial sum in expAll, so that a
// draw over the whole vocabulary walks block sums first and then a single
// block.
const drawBlock = 256

// expAll fills probs with exp((work−max)·scale) for every token, and
// blockSums with their sums per drawBlock tokens, and returns the total,
// reusing the previous result when nothing changed.
func (s *Sampler) expAll(scale float32) float64 {
	if s.probsOK && s.probsT == scale {
		return s.probsSum
	}
	if s.probs == nil {
		s.probs = make([]float32, s.vocab)
		s.blockSums = make([]float64, (s.vocab+drawBlock-1)/drawBlock)
	}
	m := s.maxLogit
	w, probs := s.work, s.probs[:len(s.work)]
	var sum float64
	for b := range s.blockSums {
		lo, hi := b*drawBlock, min((b+1)*drawBlock, len(w))
		var bs float64
		for i := lo; i < hi; i++ {
			e := exp32(float32((w[i] - m) * scale))
			probs[i] = e
			bs += float64(e)
		}
		s.blockSums[b] = bs
		sum += bs
	}
	s.probsT, s.probsSum, s.probsOK = scale, sum, true
	return sum
}

// topAlternatives returns the TopLogprobs most likely tokens.
func (s *Sampler) topAlternatives(logZ float64) []Alt {
	n := min(s.p.TopLogprobs, s.vocab)
	if n == 0 {
		return nil
	}
	if cap(s.alts) < n {
		s.alts = make([]cand, 0, n)
	}
	s.alts = selectTop(s.alts[:0], s.work, n)
	slices.SortFunc(s.alts, func(a, b cand) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	top := make([]Alt, len(s.alts))
	for i, c := range s.alts {
		top[i] = Alt{ID: c.id, Logprob: float32(float64(c.l) - logZ)}
	}
	return top
}

// choose picks a token from work: the argmax when greedy, otherwise a draw
// from the truncated, tempered distribution. Every non-greedy choice uses
// exactly one number from the generator.
func (s *Sampler) choose() int32 {
	if s.greedy {
		return s.argmax
	}
	u := s.rng.float64()
	if s.truncate() {
		z := s.expAll(s.invTemp)
		return drawFull(s.probs, s.blockSums, z, u)
	}
	return drawCand(s.cand, s.weigh(), u)
}
