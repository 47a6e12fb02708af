package sample

import (
	"math"
	"testing"
)

// qwen2Vocab is the vocabulary size of Qwen2 models.
const qwen2Vocab = 151936

// benchLogits returns logits shaped roughly like a language model's: a
// normal background (σ = 2.5) and a few strong candidates, so that the top
// tokens hold most but not all of the mass.
func benchLogits() []float32 {
	rng := splitmix64{state: 2024}
	l := make([]float32, qwen2Vocab)
	for i := range l {
		l[i] = float32(2.5 * gaussian(&rng))
	}
	for i, v := range []float32{22, 21.5, 20, 19, 18.5, 17} {
		l[(i*7919+13)%qwen2Vocab] = v
	}
	return l
}

func BenchmarkSample(b *testing.B) {
	logits := benchLogits()
	bias := map[int32]float32{}
	for i := range 10 {
		bias[int32(i*1000)] = -100
	}
	for _, bc := range []struct {
		name string
		p    func(*Params)
	}{
		{"greedy", func(p *Params) { p.Temperature = 0 }},
		{"default", func(p *Params) {}},
		{"t0.7_top_p0.9", func(p *Params) { p.Temperature = 0.7; p.TopP = 0.9 }},
		{"top_k40", func(p *Params) { p.TopK = 40 }},
		{"min_p0.05", func(p *Params) { p.MinP = 0.05 }},
		{"penalties", func(p *Params) {
			p.Temperature = 0.8
			p.FrequencyPenalty, p.PresencePenalty, p.RepetitionPenalty = 0.5, 0.3, 1.1
			p.LogitBias = bias
		}},
		{"logprobs5", func(p *Params) { p.Logprobs, p.TopLogprobs = true, 5 }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := DefaultParams()
			bc.p(&p)
			s := seeded(p, qwen2Vocab, 1)
			for i := range 500 {
				s.Accept(int32((i * 104729) % qwen2Vocab))
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sample(logits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTopPFlat is top_p over a flat distribution, the worst case for
// the nucleus: most of the vocabulary is in it.
func BenchmarkTopPFlat(b *testing.B) {
	rng := splitmix64{state: 7}
	logits := make([]float32, qwen2Vocab)
	for i := range logits {
		logits[i] = float32(0.3 * gaussian(&rng))
	}
	p := DefaultParams()
	p.TopP = 0.9
	s := seeded(p, qwen2Vocab, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sample(logits); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExp32(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = -float32(i) / 64
	}
	var sink float32
	for b.Loop() {
		for _, v := range x {
			sink += exp32(v)
		}
	}
	b.SetBytes(int64(len(x) * 4))
	_ = math.Abs(float64(sink))
}

func BenchmarkStopMatcher(b *testing.B) {
	stops := []string{"\n\nUser:", "</s>", "###"}
	pieces := []string{"The", " quick", " brown", " fox", "\n", " jumps", " over", " the", " lazy", " dog", "."}
	b.ReportAllocs()
	for b.Loop() {
		m := NewStopMatcher(stops)
		for _, p := range pieces {
			m.Push(p)
		}
		m.Flush()
	}
}
