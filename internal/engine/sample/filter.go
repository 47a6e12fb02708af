package sample

import (
	"math"
	"slices"
)

// better reports whether a ranks before b: a larger logit, or the same logit
// and a lower id. It is a strict total order, so every selection below is
// deterministic.
func better(a, b cand) bool {
	return a.l > b.l || (a.l == b.l && a.id < b.id)
}

func cmpBetter(a, b cand) int {
	if better(a, b) {
		return -1
	}
	if better(b, a) {
		return 1
	}
	return 0
}

// selectTop appends to dst[:0] the k best finite entries of w, in heap order
// (not sorted), and returns it. It keeps a min-heap of the k best seen so far,
// so a scan costs one comparison per entry once the heap is full and
// O(log k) only for the entries that enter it.
func selectTop(dst []cand, w []float32, k int) []cand {
	dst = dst[:0]
	negInf := float32(math.Inf(-1))
	for i, v := range w {
		if len(dst) < k {
			if v == negInf {
				continue
			}
			dst = append(dst, cand{id: int32(i), l: v})
			heapUp(dst, len(dst)-1)
			continue
		}
		// Later ids lose ties, so only a strictly larger logit enters.
		if v > dst[0].l {
			dst[0] = cand{id: int32(i), l: v}
			heapDown(dst, 0)
		}
	}
	return dst
}

// heapUp and heapDown maintain a heap whose root is the worst candidate.
func heapUp(h []cand, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func heapDown(h []cand, i int) {
	n := len(h)
	for {
		worst := i
		if l := 2*i + 1; l < n && better(h[worst], h[l]) {
			worst = l
		}
		if r := 2*i + 2; r < n && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// truncate applies top_k, top_p and min_p. It reports true if none of them is
// active, in which case the whole vocabulary is the candidate set; otherwise
// the survivors are in s.cand (in no particular order).
func (s *Sampler) truncate() (full bool) {
	p := s.p
	topK := p.TopK > 0 && p.TopK < s.vocab
	topP := p.TopP < 1
	minP := p.MinP > 0
	if !topK && !topP && !minP {
		return true
	}
	m := s.maxLogit
	switch {
	case topK:
		if cap(s.cand) < p.TopK {
			s.cand = make([]cand, 0, p.TopK)
		}
		s.cand = selectTop(s.cand, s.work, p.TopK)
		if topP {
			// top_p renormalizes over what top_k kept.
			var z float64
			for i := range s.cand {
				e := exp32(s.cand[i].l - m)
				s.cand[i].w = e
				z += float64(e)
			}
			s.cand = nucleus(s.cand, float64(p.TopP)*z)
		}
	case topP:
		target := float64(p.TopP) * s.expAll(1)
		s.collectNucleus(target)
		s.cand = nucleus(s.cand, target)
	default:
		s.growCand()
		thr := m + s.logMinP
		s.cand = s.cand[:0]
		for i, v := range s.work {
			if v >= thr {
				s.cand = append(s.cand, cand{id: int32(i), l: v})
			}
		}
		return false
	}
	if minP {
		thr := m + s.logMinP
		s.cand = slices.DeleteFunc(s.cand, func(c cand) bool { return c.l < thr })
	}
	return false
}

// growCand makes room for the whole vocabulary in s.cand, once.
func (s *Sampler) growCand() {
	if cap(s.cand) < s.vocab {
		s.cand = make([]cand, 0, s.vocab)
	}
}

// collectNucleus puts into s.cand a set of the most likely tokens that is
// sure to contain the nucleus of probability mass target (s.probs must hold
// the exponentials at temperature 1): first only the tokens within e^10 of
// the most likely one, then wider, until their mass reaches target. For the
// peaked distributions of language models the first pass keeps a small
// fraction of the vocabulary.
func (s *Sampler) collectNucleus(target float64) {
	s.growCand()
	m := s.maxLogit
	negInf := float32(math.Inf(-1))
	for _, d := range [...]float32{10, 20, float32(math.Inf(1))} {
		thr := m - d
		s.cand = s.cand[:0]
		var mass float64
		for i, v := range s.work {
			if v >= thr && v != negInf {
				e := s.probs[i]
				s.cand = append(s.cand, cand{id: int32(i), l: v, w: e})
				mass += float64(e)
			}
		}
		if mass >= target {
			return
		}
	}
}

// nucleus reorders c so that its smallest prefix of best candidates whose
// weights sum to at least target comes first, and returns that prefix
// (always at least one candidate, all of c if the weights never reach
// target). The prefix is not sorted: it is found by a quickselect that
// partitions on the candidates' order and descends into the side that holds
// the boundary, in expected linear time.
func nucleus(c []cand, target float64) []cand {
	if len(c) <= 1 {
		return c
	}
	// Invariant: c[:lo] is in the nucleus, the nucleus ends in (lo, hi], and
	// need is target minus the weight of c[:lo].
	lo, hi, need := 0, len(c), target
	for iter := 0; hi-lo > 1; iter++ {
		if iter > 64 {
			// Pathological pivots: sort what is left and walk it.
			slices.SortFunc(c[lo:hi], cmpBetter)
			for i := lo; i < hi; i++ {
				if need -= float64(c[i].w); need <= 0 {
					return c[:i+1]
				}
			}
			return c[:hi]
		}
		p := partition(c, lo, hi)
		var mass float64
		for i := lo; i < p; i++ {
			mass += float64(c[i].w)
		}
		if p > lo && mass >= need {
			hi = p
			continue
		}
		if need -= mass + float64(c[p].w); need <= 0 {
			return c[:p+1]
		}
		lo = p + 1
	}
	return c[:hi]
}

// partition picks a pivot in c[lo:hi] (median of three), moves the
// candidates better than it before it and the others after it, and returns
// its final index.
func partition(c []cand, lo, hi int) int {
	a, b, z := lo, lo+(hi-lo)/2, hi-1
	// Order so that c[a] is better than c[b] is better than c[z]: c[b] is
	// then the median.
	if better(c[b], c[a]) {
		c[a], c[b] = c[b], c[a]
	}
	if better(c[z], c[b]) {
		c[b], c[z] = c[z], c[b]
		if better(c[b], c[a]) {
			c[a], c[b] = c[b], c[a]
		}
	}
	c[b], c[z] = c[z], c[b]
	pivot := c[z]
	store := lo
	for i := lo; i < z; i++ {
		if better(c[i], pivot) {
			c[i], c[store] = c[store], c[i]
			store++
		}
	}
	c[store], c[z] = c[z], c[store]
	return store
}

// weigh sets the weight of every candidate to exp((l − max)/temperature) and
// returns their sum.
func (s *Sampler) weigh() float64 {
	m, t := s.maxLogit, s.invTemp
	var z float64
	for i := range s.cand {
		e := exp32(float32((s.cand[i].l - m) * t))
		s.cand[i].w = e
		z += float64(e)
	}
	return z
}

// drawFull picks index i with probability w[i]/z, given u uniform in
// [0, 1), where blockSums holds the sums of w per drawBlock entries and z is
// their sum in order. It finds the block first, then the entry in it.
func drawFull(w []float32, blockSums []float64, z, u float64) int32 {
	target := u * z
	var acc float64
	for b, bs := range blockSums {
		if acc+bs <= target {
			acc += bs
			continue
		}
		last := int32(-1)
		for i := b * drawBlock; i < min((b+1)*drawBlock, len(w)); i++ {
			if e := w[i]; e > 0 {
				acc += float64(e)
				last = int32(i)
				if acc > target {
					return last
				}
			}
		}
		// Summing within the block rounded differently from bs.
		return last
	}
	// Only reachable through rounding of u·z up to z: take the last token
	// with any weight.
	for i := len(w) - 1; i >= 0; i-- {
		if w[i] > 0 {
			return int32(i)
		}
	}
	return -1
}

// drawCand is drawFull over candidates.
func drawCand(c []cand, z, u float64) int32 {
	target := u * z
	var acc float64
	last := int32(-1)
	for _, x := range c {
		if x.w > 0 {
			acc += float64(x.w)
			last = x.id
			if acc > target {
				return last
			}
		}
	}
	return last
}
