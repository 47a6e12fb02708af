package runner

import (
	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// Constraint restricts a request's generation to the sentences of a
// grammar (structured outputs, forced tool calls).
//
// Each sequence runs its own grammar.Matcher. At every step the next token
// is sampled with Sampler.SampleConstrained and the vocabulary index's
// Filter, so only tokens the grammar allows are drawn; an end-of-generation
// token is allowed only where the grammar can end. After each sampled
// token the tokens the grammar forces (key names, punctuation) are
// appended without sampling when Encode is set: they join the sequence's
// pending tokens and are evaluated in the next forward pass of the batch,
// like a prompt chunk, so forced text costs no extra scheduler steps. The
// sequence ends with FinishStop as soon as the grammar is finished (no
// byte can follow), so a generation that ends with FinishStop is always a
// complete sentence; one cut by MaxTokens or the context (FinishLength)
// may not be.
//
// Stop strings still apply to a constrained request; callers that need the
// guarantee should not pass any (a stop string can cut a sentence short).
// Forced tokens have no logprobs: their text is streamed with the event
// of the sampled token before them.
type Constraint struct {
	// Grammar is the grammar the output must match.
	Grammar *grammar.Grammar
	// Vocab is the model's vocabulary index (grammar.NewVocabIndex over
	// the tokenizer's pieces and end-of-generation ids), built once per
	// model.
	Vocab *grammar.VocabIndex
	// Encode tokenizes forced text without special tokens; nil disables
	// fast-forwarding.
	Encode func([]byte) []int32
}

// sampleNext samples s's next token, under its constraint if it has one.
func (s *seq) sampleNext() (sample.Token, error) {
	if s.matcher == nil {
		return s.sampler.Sample(s.logits)
	}
	return s.sampler.SampleConstrained(s.logits, s.req.Constraint.Vocab.Filter(s.matcher))
}

// advance moves s's matcher past the sampled token id and returns the
// tokens the grammar forces after it, at most room of them. cut reports
// that more were forced than fit: the matcher went past tokens the
// sequence will not get, so it must end (FinishLength). A sequence without
// a constraint forces nothing.
func (s *seq) advance(id int32, room int) (forced []int32, cut bool) {
	if s.matcher == nil {
		return nil, false
	}
	c := s.req.Constraint
	c.Vocab.Accept(s.matcher, id)
	if c.Encode == nil || room <= 0 || s.matcher.Finished() {
		return nil, false
	}
	forced = c.Vocab.ForcedTokens(s.matcher, c.Encode)
	if len(forced) > room {
		return forced[:room], true
	}
	return forced, false
}

// room is how many tokens s may still append after its last sampled one:
// what is left of MaxTokens and of the context.
func (s *seq) room() int {
	n := s.limit - len(s.tokens)
	if s.req.MaxTokens > 0 {
		n = min(n, s.req.MaxTokens-s.generated)
	}
	return n
}

// grammarDone reports whether s's grammar admits nothing more.
func (s *seq) grammarDone() bool { return s.matcher != nil && s.matcher.Finished() }
