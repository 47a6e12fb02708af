package sample

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// resetVariants are parameter sets that use different scratch buffers.
var resetVariants = map[string]func(*Params){
	"greedy":           func(p *Params) { p.Temperature = 0 },
	"greedy penalties": func(p *Params) { p.Temperature = 0; p.RepetitionPenalty = 1.3; p.PresencePenalty = 0.5 },
	"default":          func(p *Params) {},
	"top_p":            func(p *Params) { p.Temperature = 0.7; p.TopP = 0.9 },
	"top_k top_p":      func(p *Params) { p.TopK = 20; p.TopP = 0.8 },
	"min_p":            func(p *Params) { p.MinP = 0.05; p.Temperature = 1.5 },
	"logprobs":         func(p *Params) { p.Logprobs = true; p.TopLogprobs = 5; p.TopP = 0.95 },
	"penalties":        func(p *Params) { p.FrequencyPenalty = 0.4; p.RepetitionPenalty = 1.1; p.RepetitionWindow = 8 },
	"bias":             func(p *Params) { p.Temperature = 0.5; p.LogitBias = map[int32]float32{3: 4, 4: -100} },
}

// run samples n tokens from a fixed series of logits (the same for every
// sampler of the vocabulary), accepting each; every third position is
// constrained to odd ids when constrained is set.
func run(t *testing.T, s *Sampler, vocab, n int, constrained bool) []Token {
	t.Helper()
	rng := splitmix64{state: uint64(vocab)}
	logits := make([]float32, vocab)
	var out []Token
	for i := range n {
		for j := range logits {
			logits[j] = float32(4 * gaussian(&rng))
		}
		var allowed func(int32) bool
		if constrained && i%3 == 0 {
			allowed = func(id int32) bool { return id%2 == 1 }
		}
		tok, err := s.SampleConstrained(logits, allowed)
		if err != nil {
			t.Fatal(err)
		}
		s.Accept(tok.ID)
		out = append(out, tok)
	}
	return out
}

// TestResetMatchesNew checks that a sampler reset after serving a sequence
// with other parameters gives exactly the tokens (and logprobs) of a new
// one with the same seed and parameters.
func TestResetMatchesNew(t *testing.T) {
	const vocab = 3000
	for before, fb := range resetVariants {
		for after, fa := range resetVariants {
			t.Run(before+"/"+after, func(t *testing.T) {
				pb, pa := DefaultParams(), DefaultParams()
				fb(&pb)
				fa(&pa)
				for _, constrained := range []bool{false, true} {
					used := seeded(pb, vocab, 5)
					run(t, used, vocab, 30, !constrained)
					seed := int64(99)
					pa.Seed = &seed
					used.Reset(pa, vocab)
					got := run(t, used, vocab, 40, constrained)
					want := run(t, New(pa, vocab), vocab, 40, constrained)
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("constrained %v: reset sampler differs from a new one (-new +reset):\n%s", constrained, diff)
					}
				}
			})
		}
	}
}

// TestResetVocabulary checks Reset to another vocabulary size, and to
// invalid parameters and back.
func TestResetVocabulary(t *testing.T) {
	p := DefaultParams()
	p.TopP = 0.9
	s := seeded(p, 3000, 1)
	run(t, s, 3000, 10, false)
	seed := int64(7)
	p.Seed = &seed
	for _, vocab := range []int{100, 5000, 5000} {
		s.Reset(p, vocab)
		got := run(t, s, vocab, 20, true)
		want := run(t, New(p, vocab), vocab, 20, true)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("vocabulary %d: (-new +reset):\n%s", vocab, diff)
		}
	}
	bad := p
	bad.TopP = 2
	s.Reset(bad, 5000)
	if _, err := s.Sample(make([]float32, 5000)); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("reset to invalid parameters: %v", err)
	}
	s.Reset(p, 5000)
	if _, err := s.Sample(make([]float32, 5000)); err != nil {
		t.Errorf("reset to valid parameters again: %v", err)
	}
}

// TestResetAllocations checks that a reset sampler reuses its buffers.
func TestResetAllocations(t *testing.T) {
	const vocab = 20000
	logits := make([]float32, vocab)
	rng := splitmix64{state: 1}
	for i := range logits {
		logits[i] = float32(3 * gaussian(&rng))
	}
	p := DefaultParams()
	p.TopP = 0.9
	p.FrequencyPenalty = 0.1
	seed := int64(1)
	p.Seed = &seed // an unseeded sampler reads the system's generator
	s := New(p, vocab)
	s.Accept(1)
	if _, err := s.Sample(logits); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(20, func() {
		s.Reset(p, vocab)
		s.Accept(1)
		_, _ = s.Sample(logits)
	})
	if n != 0 {
		t.Errorf("%v allocations per Reset, Accept and Sample", n)
	}
}

// TestGreedyShortcut checks that greedy sampling without adjustments,
// which only looks for the argmax, chooses what the full path (copy,
// adjust, scan) chooses, with NaN and infinities anywhere.
func TestGreedyShortcut(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	big := float32(math.MaxFloat32)
	cases := [][]float32{
		{1, 5, 3, -2},
		{big, inf, 3},
		{inf, big, 3},
		{3, inf, inf, big},
		{nan, nan, -inf, 2},
		{-inf, nan, -inf},
		{nan},
		{-inf, -inf, -3e38, -inf},
	}
	rng := splitmix64{state: 3}
	for range 200 {
		l := make([]float32, 1+rng.next()%40)
		for i := range l {
			switch rng.next() % 10 {
			case 0:
				l[i] = nan
			case 1:
				l[i] = inf
			case 2:
				l[i] = -inf
			case 3:
				l[i] = big
			default:
				l[i] = float32(rng.next()%5) - 2
			}
		}
		cases = append(cases, l)
	}
	// Logprobs force the full path and do not change the choice.
	full := DefaultParams()
	full.Temperature = 0
	full.Logprobs = true
	greedy := DefaultParams()
	greedy.Temperature = 0
	odd := func(id int32) bool { return id%2 == 1 }
	for _, l := range cases {
		for _, allowed := range []func(int32) bool{nil, odd} {
			fast := seeded(greedy, len(l), 1)
			got, gerr := fast.SampleConstrained(l, allowed)
			want, werr := seeded(full, len(l), 1).SampleConstrained(l, allowed)
			if (gerr != nil) != (werr != nil) || got.ID != want.ID {
				t.Errorf("logits %v, constrained %v: token %d (%v), want %d (%v)", l, allowed != nil, got.ID, gerr, want.ID, werr)
			}
			if allowed == nil && fast.work != nil {
				t.Errorf("logits %v: greedy sampling copied the logits", l)
			}
		}
	}
}

// TestGreedyPenaltiesStillApply checks that the shortcut is not taken once
// a penalty has tokens to apply to.
func TestGreedyPenaltiesStillApply(t *testing.T) {
	logits := []float32{1, 5, 4.5, -2}
	for name, f := range map[string]func(*Params){
		"repetition": func(p *Params) { p.RepetitionPenalty = 2 },
		"presence":   func(p *Params) { p.PresencePenalty = 1 },
		"frequency":  func(p *Params) { p.FrequencyPenalty = 1 },
		"bias":       func(p *Params) { p.LogitBias = map[int32]float32{1: -1} },
	} {
		t.Run(name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature = 0
			f(&p)
			s := seeded(p, len(logits), 1)
			first, err := s.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			s.Accept(first.ID)
			second, err := s.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			want := [2]int32{1, 2}
			if name == "bias" {
				want = [2]int32{2, 2}
			}
			if got := [2]int32{first.ID, second.ID}; got != want {
				t.Errorf("tokens %v, want %v", got, want)
			}
		})
	}
}
