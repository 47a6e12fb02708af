package runner

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// TestReusedSamplers checks that requests served by the samplers of
// finished requests (one slot, so every request after the first reuses
// one) give exactly what they give on a fresh runner.
func TestReusedSamplers(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 6})
	prompt := m.Tokenizer().Encode("the", true, false)
	seed := int64(42)
	params := map[string]sample.Params{}
	p := sample.DefaultParams()
	p.Seed = &seed
	params["default"] = p
	p.TopP, p.Temperature, p.FrequencyPenalty, p.RepetitionPenalty = 0.9, 0.8, 0.3, 1.2
	params["top_p penalties"] = p
	p = sample.DefaultParams()
	p.Seed = &seed
	p.Logprobs, p.TopLogprobs, p.TopK = true, 3, 10
	params["logprobs top_k"] = p
	params["greedy"] = greedy()
	run := func(r *Runner, p sample.Params) result {
		res := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 12, Params: p}))
		res.Usage.CachedTokens = 0
		return res
	}
	fresh := map[string]result{}
	for name, p := range params {
		fresh[name] = run(start(t, m, Options{MaxSeqs: 1, PrefixCacheBytes: -1}), p)
		if n := len(fresh[name].IDs); n < 4 {
			t.Fatalf("%s: only %d tokens, too few to compare", name, n)
		}
	}
	r := start(t, m, Options{MaxSeqs: 1, PrefixCacheBytes: -1})
	for range 2 {
		for name, p := range params {
			if diff := cmp.Diff(fresh[name], run(r, p)); diff != "" {
				t.Errorf("%s: a reused sampler differs from a fresh one (-fresh +reused):\n%s", name, diff)
			}
		}
	}
}

// TestNewSamplerReuses checks that newSampler hands back a finished
// sequence's sampler, reset.
func TestNewSamplerReuses(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 6})
	r := New(m, Options{MaxSeqs: 2})
	a := r.newSampler(greedy())
	r.samplers = append(r.samplers, a)
	p := sample.DefaultParams()
	p.TopK = 5
	b := r.newSampler(p)
	if b != a || len(r.samplers) != 0 {
		t.Fatalf("newSampler did not reuse the spare sampler")
	}
	if b.Params().TopK != 5 {
		t.Errorf("reused sampler has params %+v", b.Params())
	}
	if c := r.newSampler(p); c == a {
		t.Errorf("newSampler handed out the same sampler twice")
	}
}
