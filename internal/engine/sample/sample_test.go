package sample

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func seeded(p Params, vocab int, seed int64) *Sampler {
	p.Seed = &seed
	return New(p, vocab)
}

// logitsOf returns logits whose softmax is probs (up to normalization).
func logitsOf(probs ...float64) []float32 {
	out := make([]float32, len(probs))
	for i, p := range probs {
		out[i] = float32(math.Log(p))
	}
	return out
}

func softmax(l []float32, temp float64) []float64 {
	m := math.Inf(-1)
	for _, v := range l {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(l))
	var z float64
	for i, v := range l {
		out[i] = math.Exp((float64(v) - m) / temp)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

func TestGreedy(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	tests := []struct {
		name   string
		logits []float32
		bias   map[int32]float32
		want   int32
	}{
		{"max", []float32{1, 5, 3, -2}, nil, 1},
		{"ties go to the lowest id", []float32{1, 5, 3, 5}, nil, 1},
		{"negative", []float32{-7, -3, -5}, nil, 1},
		{"NaN is never chosen", []float32{nan, 1, nan}, nil, 1},
		{"+Inf wins", []float32{1, inf, 3}, nil, 1},
		{"-Inf skipped", []float32{-inf, -inf, -50}, nil, 2},
		{"bias forces", []float32{10, 2, 3}, map[int32]float32{2: 100}, 2},
		{"bias bans", []float32{10, 2, 3}, map[int32]float32{0: -100}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature = 0
			p.LogitBias = tc.bias
			s := seeded(p, len(tc.logits), 1)
			for range 3 {
				got, err := s.Sample(tc.logits)
				if err != nil {
					t.Fatal(err)
				}
				if got.ID != tc.want {
					t.Errorf("got token %d, want %d", got.ID, tc.want)
				}
			}
		})
	}
}

func TestLogitBiasSampling(t *testing.T) {
	logits := []float32{8, 7.5, 7, 1, 0}
	tests := []struct {
		name string
		bias map[int32]float32
		// allowed holds the only tokens that may come out.
		allowed []int32
	}{
		{"+100 forces a weak token", map[int32]float32{4: 100}, []int32{4}},
		{"-100 bans the strong tokens", map[int32]float32{0: -100, 1: -100, 2: -100}, []int32{3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Temperature = 1.5
			p.LogitBias = tc.bias
			s := seeded(p, len(logits), 7)
			for range 500 {
				got, err := s.Sample(logits)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(tc.allowed, got.ID) {
					t.Fatalf("sampled %d, want one of %v", got.ID, tc.allowed)
				}
			}
		})
	}
}

func TestPenalties(t *testing.T) {
	logits := []float32{2, -2, 4, -4, 1, 0}
	tests := []struct {
		name     string
		p        func(*Params)
		accepted []int32
		want     []float32
	}{
		{
			name:     "frequency counts every occurrence",
			p:        func(p *Params) { p.FrequencyPenalty = 0.5 },
			accepted: []int32{0, 0, 0, 3},
			want:     []float32{2 - 1.5, -2, 4, -4 - 0.5, 1, 0},
		},
		{
			name:     "presence counts once",
			p:        func(p *Params) { p.PresencePenalty = 0.75 },
			accepted: []int32{0, 0, 3},
			want:     []float32{2 - 0.75, -2, 4, -4 - 0.75, 1, 0},
		},
		{
			name:     "frequency and presence together",
			p:        func(p *Params) { p.PresencePenalty = 1; p.FrequencyPenalty = 0.25 },
			accepted: []int32{2, 2, 4},
			want:     []float32{2, -2, 4 - 0.5 - 1, -4, 1 - 0.25 - 1, 0},
		},
		{
			name:     "negative penalties encourage",
			p:        func(p *Params) { p.PresencePenalty = -1; p.FrequencyPenalty = -0.5 },
			accepted: []int32{1, 1},
			want:     []float32{2, -2 + 1 + 1, 4, -4, 1, 0},
		},
		{
			name:     "repetition divides positive and multiplies negative",
			p:        func(p *Params) { p.RepetitionPenalty = 2 },
			accepted: []int32{0, 1, 5, 5},
			want:     []float32{1, -4, 4, -4, 1, 0},
		},
		{
			name:     "repetition window forgets old tokens",
			p:        func(p *Params) { p.RepetitionPenalty = 2; p.RepetitionWindow = 2 },
			accepted: []int32{0, 1, 2, 2},
			want:     []float32{2, -2, 2, -4, 1, 0},
		},
		{
			name:     "repetition window counts repeats inside it",
			p:        func(p *Params) { p.RepetitionPenalty = 2; p.RepetitionWindow = 3 },
			accepted: []int32{2, 0, 2, 1},
			want:     []float32{1, -4, 2, -4, 1, 0},
		},
		{
			name:     "negative window means all tokens",
			p:        func(p *Params) { p.RepetitionPenalty = 2; p.RepetitionWindow = -1 },
			accepted: append([]int32{0}, make([]int32, 100)...),
			want:     []float32{1, -2, 4, -4, 1, 0},
		},
		{
			name:     "repetition then frequency and presence (llama.cpp order)",
			p:        func(p *Params) { p.RepetitionPenalty = 2; p.FrequencyPenalty = 1; p.PresencePenalty = 1 },
			accepted: []int32{2, 3},
			want:     []float32{2, -2, 4/2 - 1 - 1, -4*2 - 1 - 1, 1, 0},
		},
		{
			name:     "bias before repetition",
			p:        func(p *Params) { p.RepetitionPenalty = 2; p.LogitBias = map[int32]float32{1: 6} },
			accepted: []int32{1},
			want:     []float32{2, (-2 + 6) / 2, 4, -4, 1, 0},
		},
		{
			name:     "zero repetition penalty is off",
			p:        func(p *Params) { p.RepetitionPenalty = 0 },
			accepted: []int32{0, 1},
			want:     []float32{2, -2, 4, -4, 1, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.p(&p)
			s := seeded(p, len(logits), 1)
			for _, id := range tc.accepted {
				s.Accept(id)
			}
			s.prepare(logits)
			if diff := cmp.Diff(tc.want, s.work, cmpopts.EquateApprox(0, 1e-6)); diff != "" {
				t.Errorf("adjusted logits (-want +got):\n%s", diff)
			}
		})
	}
	// The caller's logits are never modified.
	if diff := cmp.Diff([]float32{2, -2, 4, -4, 1, 0}, logits); diff != "" {
		t.Errorf("logits modified (-want +got):\n%s", diff)
	}
}

// candidates returns the ids that survive truncation, sorted.
func candidates(t *testing.T, p Params, logits []float32) []int32 {
	t.Helper()
	s := seeded(p, len(logits), 1)
	if err := s.err; err != nil {
		t.Fatal(err)
	}
	s.prepare(logits)
	var ids []int32
	if s.truncate() {
		for i, v := range s.work {
			if !math.IsInf(float64(v), -1) {
				ids = append(ids, int32(i))
			}
		}
		return ids
	}
	for _, c := range s.cand {
		ids = append(ids, c.id)
	}
	slices.Sort(ids)
	return ids
}

func TestTruncation(t *testing.T) {
	// Probabilities 0.4, 0.3, 0.15, 0.1, 0.05 in a shuffled order.
	five := logitsOf(0.1, 0.4, 0.05, 0.3, 0.15)
	tests := []struct {
		name   string
		p      func(*Params)
		logits []float32
		want   []int32
	}{
		{"none", func(p *Params) {}, five, []int32{0, 1, 2, 3, 4}},
		{"top_k 2", func(p *Params) { p.TopK = 2 }, five, []int32{1, 3}},
		{"top_k 1", func(p *Params) { p.TopK = 1 }, five, []int32{1}},
		{"top_k >= vocab", func(p *Params) { p.TopK = 9 }, five, []int32{0, 1, 2, 3, 4}},
		{"top_k ties to lower ids", func(p *Params) { p.TopK = 2 }, []float32{1, 3, 3, 3, 0}, []int32{1, 2}},
		{"top_k skips -Inf", func(p *Params) { p.TopK = 3 }, []float32{float32(math.Inf(-1)), 1, float32(math.Inf(-1))}, []int32{1}},
		{"top_p below the first", func(p *Params) { p.TopP = 0.35 }, five, []int32{1}},
		{"top_p 0 keeps one", func(p *Params) { p.TopP = 0 }, five, []int32{1}},
		{"top_p crossing token kept", func(p *Params) { p.TopP = 0.5 }, five, []int32{1, 3}},
		{"top_p 0.8", func(p *Params) { p.TopP = 0.8 }, five, []int32{1, 3, 4}},
		{"top_p 0.9", func(p *Params) { p.TopP = 0.9 }, five, []int32{0, 1, 3, 4}},
		{"top_p 0.99", func(p *Params) { p.TopP = 0.99 }, five, []int32{0, 1, 2, 3, 4}},
		// After top_k 3 the mass is 0.4/0.85, 0.3/0.85, 0.15/0.85.
		{"top_k then top_p renormalizes", func(p *Params) { p.TopK = 3; p.TopP = 0.8 }, five, []int32{1, 3}},
		{"top_k then top_p 0.83", func(p *Params) { p.TopK = 3; p.TopP = 0.83 }, five, []int32{1, 3, 4}},
		{"min_p 0.3", func(p *Params) { p.MinP = 0.3 }, five, []int32{1, 3, 4}},
		{"min_p 0.5", func(p *Params) { p.MinP = 0.5 }, five, []int32{1, 3}},
		{"min_p 1", func(p *Params) { p.MinP = 1 }, five, []int32{1}},
		{"min_p 0.2", func(p *Params) { p.MinP = 0.2 }, five, []int32{0, 1, 3, 4}},
		{"top_p then min_p", func(p *Params) { p.TopP = 0.9; p.MinP = 0.3 }, five, []int32{1, 3, 4}},
		{"top_k then min_p", func(p *Params) { p.TopK = 2; p.MinP = 0.1 }, five, []int32{1, 3}},
		{"all three", func(p *Params) { p.TopK = 4; p.TopP = 0.95; p.MinP = 0.3 }, five, []int32{1, 3, 4}},
		{"truncation ignores temperature", func(p *Params) { p.TopP = 0.5; p.Temperature = 5 }, five, []int32{1, 3}},
		{"bias applies before truncation", func(p *Params) {
			p.TopK = 1
			p.LogitBias = map[int32]float32{2: 100}
		}, five, []int32{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.p(&p)
			if diff := cmp.Diff(tc.want, candidates(t, p, tc.logits)); diff != "" {
				t.Errorf("candidates (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNucleusMatchesSort checks the quickselect nucleus against sorting the
// whole vocabulary, on random logits of different shapes.
func TestNucleusMatchesSort(t *testing.T) {
	rng := splitmix64{state: 99}
	for trial := range 60 {
		n := 1 + int(rng.next()%3000)
		scale := float32(0.1 + 6*rng.float64())
		logits := make([]float32, n)
		for i := range logits {
			logits[i] = scale * float32(gaussian(&rng))
			if rng.next()%50 == 0 {
				logits[i] = float32(math.Round(float64(logits[i]))) // ties
			}
		}
		topP := float32(rng.float64())
		topK := 0
		if trial%3 == 0 {
			topK = 1 + int(rng.next()%uint64(n))
		}
		p := DefaultParams()
		p.TopP, p.TopK = topP, topK

		// Reference: sort everything, top_k, renormalize, walk.
		order := make([]cand, n)
		for i, v := range logits {
			order[i] = cand{id: int32(i), l: v}
		}
		slices.SortFunc(order, cmpBetter)
		if topK > 0 {
			order = order[:topK]
		}
		m := order[0].l
		var z float64
		for _, c := range order {
			z += float64(exp32(c.l - m))
		}
		var want []int32
		var cum float64
		for _, c := range order {
			want = append(want, c.id)
			if cum += float64(exp32(c.l - m)); cum >= float64(topP)*z*(1-1e-12) {
				break
			}
		}
		slices.Sort(want)
		got := candidates(t, p, logits)
		// The data are fixed, so rounding at the boundary cannot make this
		// flaky: it either always holds or never does.
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("trial %d (n=%d top_p=%v top_k=%d): candidates (-want +got):\n%s", trial, n, topP, topK, diff)
		}
	}
}

// gaussian returns a standard normal number (Box–Muller).
func gaussian(r *splitmix64) float64 {
	u := 1 - r.float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float64())
}

func TestEmpiricalFrequencies(t *testing.T) {
	logits := []float32{2.0, 1.5, 1.2, 0.3, 0, -0.4, -1, -3}
	tests := []struct {
		name string
		p    func(*Params)
		want []float64
	}{
		{"t=1", func(p *Params) {}, softmax(logits, 1)},
		{"t=0.7", func(p *Params) { p.Temperature = 0.7 }, softmax(logits, 0.7)},
		{"t=1.8", func(p *Params) { p.Temperature = 1.8 }, softmax(logits, 1.8)},
		{"t=0.7 top_k=3", func(p *Params) { p.Temperature = 0.7; p.TopK = 3 },
			append(softmax(logits[:3], 0.7), 0, 0, 0, 0, 0)},
		// At temperature 1 the probabilities are .397 .241 .178 .072 .054
		// .036 .020 .003: top_p 0.6 keeps two, min_p 0.15 keeps four.
		{"t=0.7 top_p=0.6", func(p *Params) { p.Temperature = 0.7; p.TopP = 0.6 },
			append(softmax(logits[:2], 0.7), 0, 0, 0, 0, 0, 0)},
		{"t=1.3 min_p=0.15", func(p *Params) { p.Temperature = 1.3; p.MinP = 0.15 },
			append(softmax(logits[:4], 1.3), 0, 0, 0, 0)},
	}
	const draws = 20000
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.p(&p)
			s := seeded(p, len(logits), 20240601)
			counts := make([]float64, len(logits))
			for range draws {
				tok, err := s.Sample(logits)
				if err != nil {
					t.Fatal(err)
				}
				counts[tok.ID]++
			}
			var chi2 float64
			cells := 0
			for i, w := range tc.want {
				if w == 0 {
					if counts[i] != 0 {
						t.Errorf("token %d sampled %v times, want never", i, counts[i])
					}
					continue
				}
				cells++
				exp := w * draws
				chi2 += (counts[i] - exp) * (counts[i] - exp) / exp
				if got := counts[i] / draws; math.Abs(got-w) > 0.02 {
					t.Errorf("token %d: frequency %.4f, want %.4f ± 0.02", i, got, w)
				}
			}
			// 99.9th percentiles of chi-square by degrees of freedom; the
			// seed is fixed, so this never flakes.
			crit := [...]float64{0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32}[cells-1]
			if chi2 > crit {
				t.Errorf("chi-square %.1f over %d cells, want <= %.1f", chi2, cells, crit)
			} else {
				t.Logf("chi-square %.2f over %d cells", chi2, cells)
			}
		})
	}
}

func TestSeededDeterminism(t *testing.T) {
	logits := make([]float32, 1000)
	rng := splitmix64{state: 5}
	for i := range logits {
		logits[i] = float32(2 * gaussian(&rng))
	}
	configs := map[string]func(*Params){
		"default":   func(p *Params) {},
		"top_p":     func(p *Params) { p.Temperature = 0.7; p.TopP = 0.9 },
		"top_k":     func(p *Params) { p.TopK = 40 },
		"min_p":     func(p *Params) { p.MinP = 0.05 },
		"penalties": func(p *Params) { p.FrequencyPenalty = 0.5; p.PresencePenalty = 0.5; p.RepetitionPenalty = 1.1 },
		"top_k 100": func(p *Params) { p.TopK = 100 },
	}
	run := func(p Params, seed int64) []int32 {
		s := seeded(p, len(logits), seed)
		var out []int32
		for range 100 {
			tok, err := s.SampleConstrained(logits, func(id int32) bool { return id%2 == 0 })
			if err != nil {
				t.Fatal(err)
			}
			s.Accept(tok.ID)
			out = append(out, tok.ID)
		}
		return out
	}
	for name, f := range configs {
		t.Run(name, func(t *testing.T) {
			p := DefaultParams()
			f(&p)
			a, b := run(p, 42), run(p, 42)
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("same seed, different tokens (-first +second):\n%s", diff)
			}
			if c := run(p, 43); slices.Equal(a, c) {
				t.Errorf("seeds 42 and 43 gave the same 100 tokens")
			}
			if c := run(p, DeriveSeed(42, 1)); slices.Equal(a, c) {
				t.Errorf("choice 1 repeats choice 0")
			}
		})
	}
}

// TestSeedGolden pins the token stream of a seed, so that a change to the
// generator or to the order of the draw (which would break reproducibility
// across versions of Cerulean) is noticed.
func TestSeedGolden(t *testing.T) {
	logits := []float32{1, 2, 3, 0.5, 2.5, -1, 1.5, 0}
	p := DefaultParams()
	s := seeded(p, len(logits), 12345)
	var got []int32
	for range 20 {
		tok, err := s.Sample(logits)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tok.ID)
	}
	want := []int32{1, 2, 1, 1, 2, 2, 1, 2, 2, 4, 1, 2, 4, 4, 6, 2, 4, 2, 4, 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token stream (-want +got):\n%s", diff)
	}
}

func TestSplitmixReference(t *testing.T) {
	// Reference outputs of splitmix64.c (Vigna) for seed 1234567.
	r := splitmix64{state: 1234567}
	var got []uint64
	for range 5 {
		got = append(got, r.next())
	}
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("splitmix64 stream (-want +got):\n%s", diff)
	}
}

func TestDeriveSeed(t *testing.T) {
	if got := DeriveSeed(77, 0); got != 77 {
		t.Errorf("DeriveSeed(77, 0) = %d, want 77", got)
	}
	seen := map[int64]bool{}
	for _, seed := range []int64{0, 1, -1, 77} {
		for choice := range 128 {
			d := DeriveSeed(seed, choice)
			if d != DeriveSeed(seed, choice) {
				t.Fatal("DeriveSeed is not a function")
			}
			if seen[d] {
				t.Errorf("DeriveSeed(%d, %d) = %d collides", seed, choice, d)
			}
			seen[d] = true
		}
	}
}

func TestUnseededDiffers(t *testing.T) {
	logits := make([]float32, 50000)
	a, b := New(DefaultParams(), len(logits)), New(DefaultParams(), len(logits))
	same := 0
	for range 10 {
		x, _ := a.Sample(logits)
		y, _ := b.Sample(logits)
		if x.ID == y.ID {
			same++
		}
	}
	if same == 10 {
		t.Error("two unseeded samplers drew the same 10 tokens from a uniform 50k vocabulary")
	}
}

func TestLogprobs(t *testing.T) {
	logits := []float32{1, 3, 2, 3, -1, 0.5}
	bias := map[int32]float32{4: 2}
	for _, tc := range []struct {
		name string
		p    func(*Params)
	}{
		{"t=1", func(p *Params) {}},
		{"greedy", func(p *Params) { p.Temperature = 0 }},
		{"t=0.3 top_k=2 top_p=0.5", func(p *Params) { p.Temperature = 0.3; p.TopK = 2; p.TopP = 0.5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			p.Logprobs, p.TopLogprobs, p.LogitBias = true, 6, bias
			tc.p(&p)
			s := seeded(p, len(logits), 3)
			biased := slices.Clone(logits)
			biased[4] += 2
			want := softmax(biased, 1)
			for range 20 {
				tok, err := s.Sample(logits)
				if err != nil {
					t.Fatal(err)
				}
				if got := math.Exp(float64(tok.Logprob)); math.Abs(got-want[tok.ID]) > 1e-5 {
					t.Errorf("token %d: probability %v, want %v", tok.ID, got, want[tok.ID])
				}
				var ids []int32
				var sum float64
				for i, a := range tok.Top {
					ids = append(ids, a.ID)
					sum += math.Exp(float64(a.Logprob))
					if math.Abs(math.Exp(float64(a.Logprob))-want[a.ID]) > 1e-5 {
						t.Errorf("alternative %d: probability %v, want %v", a.ID, math.Exp(float64(a.Logprob)), want[a.ID])
					}
					if i > 0 && a.Logprob > tok.Top[i-1].Logprob {
						t.Errorf("alternatives out of order: %v", tok.Top)
					}
				}
				// 3 and 1 tie: lower id first; the bias lifts 4 above 5.
				if diff := cmp.Diff([]int32{1, 3, 2, 0, 4, 5}, ids); diff != "" {
					t.Errorf("alternatives (-want +got):\n%s", diff)
				}
				if math.Abs(sum-1) > 1e-5 {
					t.Errorf("probabilities of the whole vocabulary sum to %v", sum)
				}
			}
		})
	}
}

func TestTopLogprobsCount(t *testing.T) {
	p := DefaultParams()
	p.Logprobs, p.TopLogprobs = true, 2
	s := seeded(p, 4, 1)
	tok, err := s.Sample([]float32{0, 1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int32{3, 2}, []int32{tok.Top[0].ID, tok.Top[1].ID}); diff != "" || len(tok.Top) != 2 {
		t.Errorf("top = %v", tok.Top)
	}
	p.Logprobs, p.TopLogprobs = false, 0
	tok, _ = seeded(p, 4, 1).Sample([]float32{0, 1, 2, 3})
	if tok.Logprob != 0 || tok.Top != nil {
		t.Errorf("logprobs not requested, got %+v", tok)
	}
}

func TestConstrained(t *testing.T) {
	const vocab = 1000
	logits := make([]float32, vocab)
	for i := range logits {
		logits[i] = float32(i%17) / 4
	}
	logits[500] = 20 // nearly always sampled first

	for _, tc := range []struct {
		name      string
		p         func(*Params)
		allowed   func(int32) bool
		wantCalls int
		check     func(int32) bool
	}{
		{"accepted: one check", func(p *Params) {}, func(id int32) bool { return true }, 1, nil},
		{"rejected: whole vocabulary once", func(p *Params) {}, func(id int32) bool { return id != 500 }, vocab,
			func(id int32) bool { return id != 500 }},
		{"greedy picks best allowed", func(p *Params) { p.Temperature = 0 }, func(id int32) bool { return id < 100 }, vocab,
			func(id int32) bool { return id == 16 }},
		{"top_k applies to allowed tokens", func(p *Params) { p.TopK = 1 }, func(id int32) bool { return id%2 == 1 }, vocab,
			func(id int32) bool { return id == 33 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.p(&p)
			s := seeded(p, vocab, 11)
			calls := 0
			allowed := func(id int32) bool { calls++; return tc.allowed(id) }
			tok, err := s.SampleConstrained(logits, allowed)
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.wantCalls {
				t.Errorf("allowed called %d times, want %d", calls, tc.wantCalls)
			}
			if tc.check != nil && !tc.check(tok.ID) {
				t.Errorf("sampled %d", tok.ID)
			}
		})
	}

	t.Run("logprobs describe the unconstrained distribution", func(t *testing.T) {
		p := DefaultParams()
		p.Temperature, p.Logprobs, p.TopLogprobs = 0, true, 1
		s := seeded(p, vocab, 1)
		tok, err := s.SampleConstrained(logits, func(id int32) bool { return id != 500 })
		if err != nil {
			t.Fatal(err)
		}
		want := softmax(logits, 1)
		if tok.ID != 16 || math.Abs(math.Exp(float64(tok.Logprob))-want[16]) > 1e-6 {
			t.Errorf("got token %d with probability %v, want 16 with %v", tok.ID, math.Exp(float64(tok.Logprob)), want[16])
		}
		if tok.Top[0].ID != 500 {
			t.Errorf("top alternative %d, want the rejected 500", tok.Top[0].ID)
		}
	})
	t.Run("nothing allowed", func(t *testing.T) {
		s := seeded(DefaultParams(), vocab, 1)
		_, err := s.SampleConstrained(logits, func(int32) bool { return false })
		if !errors.Is(err, ErrNoToken) {
			t.Errorf("err = %v, want ErrNoToken", err)
		}
	})
	t.Run("banned tokens are not asked about", func(t *testing.T) {
		p := DefaultParams()
		p.LogitBias = map[int32]float32{}
		l := slices.Clone(logits)
		for i := range 900 {
			l[i] = float32(math.Inf(-1))
		}
		l[950] = 30
		s := seeded(p, vocab, 1)
		calls := 0
		if _, err := s.SampleConstrained(l, func(id int32) bool { calls++; return id != 950 }); err != nil {
			t.Fatal(err)
		}
		if calls != 100 {
			t.Errorf("allowed called %d times, want 100", calls)
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		p    func(*Params)
		want error
	}{
		{"negative temperature", func(p *Params) { p.Temperature = -1 }, ErrInvalidParams},
		{"NaN temperature", func(p *Params) { p.Temperature = float32(math.NaN()) }, ErrInvalidParams},
		{"top_p above 1", func(p *Params) { p.TopP = 1.5 }, ErrInvalidParams},
		{"min_p negative", func(p *Params) { p.MinP = -0.1 }, ErrInvalidParams},
		{"top_k negative", func(p *Params) { p.TopK = -1 }, ErrInvalidParams},
		{"infinite presence", func(p *Params) { p.PresencePenalty = float32(math.Inf(1)) }, ErrInvalidParams},
		{"negative repetition", func(p *Params) { p.RepetitionPenalty = -1 }, ErrInvalidParams},
		{"bias outside vocabulary", func(p *Params) { p.LogitBias = map[int32]float32{4: 1} }, ErrInvalidParams},
		{"top_logprobs without logprobs", func(p *Params) { p.TopLogprobs = 2 }, ErrInvalidParams},
		{"fine", func(p *Params) { p.TopK = 2; p.TopP = 0.5; p.MinP = 0.1 }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultParams()
			tc.p(&p)
			_, err := seeded(p, 4, 1).Sample([]float32{1, 2, 3, 4})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := seeded(DefaultParams(), 4, 1).Sample([]float32{1, 2}); !errors.Is(err, ErrLogits) {
		t.Errorf("short logits: err = %v, want ErrLogits", err)
	}
	inf := float32(math.Inf(-1))
	if _, err := seeded(DefaultParams(), 2, 1).Sample([]float32{inf, float32(math.NaN())}); !errors.Is(err, ErrNoToken) {
		t.Errorf("all -Inf: err = %v, want ErrNoToken", err)
	}
}

func TestTinyTemperatureIsGreedy(t *testing.T) {
	p := DefaultParams()
	p.Temperature = 1e-45
	s := seeded(p, 3, 1)
	for range 50 {
		if tok, err := s.Sample([]float32{1, 1.0001, 0}); err != nil || tok.ID != 1 {
			t.Fatalf("got %v, %v; want token 1", tok.ID, err)
		}
	}
}

func TestExp32(t *testing.T) {
	for x := -90.0; x <= 0; x += 0.0137 {
		got, want := float64(exp32(float32(x))), math.Exp(float64(float32(x)))
		if want < 0x1p-126 { // below the normal range: 0 is close enough
			if math.Abs(got-want) > 0x1p-126 {
				t.Errorf("exp32(%v) = %v, want about %v", x, got, want)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > 3e-7 {
			t.Errorf("exp32(%v) = %v, want %v (relative error %.2g)", x, got, want, rel)
		}
	}
	if got := exp32(float32(math.Inf(-1))); got != 0 {
		t.Errorf("exp32(-Inf) = %v", got)
	}
}

func TestNoAllocations(t *testing.T) {
	const vocab = 20000
	logits := make([]float32, vocab)
	rng := splitmix64{state: 1}
	for i := range logits {
		logits[i] = float32(3 * gaussian(&rng))
	}
	for name, f := range map[string]func(*Params){
		"greedy":    func(p *Params) { p.Temperature = 0 },
		"default":   func(p *Params) {},
		"top_p":     func(p *Params) { p.Temperature = 0.7; p.TopP = 0.9 },
		"top_k":     func(p *Params) { p.TopK = 40 },
		"min_p":     func(p *Params) { p.MinP = 0.05 },
		"logprobs":  func(p *Params) { p.Logprobs = true },
		"penalties": func(p *Params) { p.FrequencyPenalty = 0.1; p.RepetitionPenalty = 1.1 },
	} {
		t.Run(name, func(t *testing.T) {
			p := DefaultParams()
			f(&p)
			s := seeded(p, vocab, 1)
			for i := range 100 {
				s.Accept(int32(i * 7))
			}
			if _, err := s.Sample(logits); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(20, func() { _, _ = s.Sample(logits) }); n != 0 {
				t.Errorf("%v allocations per Sample", n)
			}
		})
	}
}

func TestDrawFull(t *testing.T) {
	// Weight 1 at ids 3, 255, 256, 600 and 1000 of 1030; nothing after 1000.
	w := make([]float32, 1030)
	for _, id := range []int{3, 255, 256, 600, 1000} {
		w[id] = 1
	}
	blocks := make([]float64, (len(w)+drawBlock-1)/drawBlock)
	var z float64
	for i, e := range w {
		blocks[i/drawBlock] += float64(e)
	}
	for _, b := range blocks {
		z += b
	}
	tests := []struct {
		u    float64
		want int32
	}{
		{0, 3},
		{0.19, 3},
		{0.2, 255},
		{0.39, 255},
		{0.4, 256},
		{0.7, 600},
		{0.8, 1000},
		{math.Nextafter(1, 0), 1000},
	}
	for _, tc := range tests {
		if got := drawFull(w, blocks, z, tc.u); got != tc.want {
			t.Errorf("u=%v: got %d, want %d", tc.u, got, tc.want)
		}
	}
	// u·z rounding up to z falls back to the last token with weight.
	if got := drawFull(w, blocks, z, 1); got != 1000 {
		t.Errorf("u=1: got %d, want 1000", got)
	}
}
