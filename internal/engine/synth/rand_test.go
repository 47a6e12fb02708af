package synth

import (
	"math"
	"testing"
)

func TestLn(t *testing.T) {
	r := newRNG(1)
	xs := []float64{1, 0.5, 1e-300, 1e-30, 0.999999999, math.Sqrt2 / 2}
	for range 10000 {
		xs = append(xs, r.uniform())
	}
	for _, x := range xs {
		if x == 0 {
			continue
		}
		got, want := ln(x), math.Log(x)
		if d := math.Abs(got - want); d > 4e-16*math.Max(1, math.Abs(want)) {
			t.Errorf("ln(%g) = %.17g, want %.17g", x, got, want)
		}
	}
}

func TestNormal(t *testing.T) {
	r := newRNG(tensorSeed(42, "x"))
	const n = 200000
	var sum, sq, tail float64
	for range n {
		z := r.normal()
		sum += z
		sq += z * z
		if math.Abs(z) > 3 {
			tail++
		}
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	if math.Abs(mean) > 0.01 || math.Abs(variance-1) > 0.01 {
		t.Errorf("mean %.4f variance %.4f, want 0 and 1", mean, variance)
	}
	// P(|z| > 3) = 0.0027.
	if p := tail / n; math.Abs(p-0.0027) > 0.0005 {
		t.Errorf("P(|z|>3) = %.4f, want 0.0027", p)
	}
}

func TestStreamsDiffer(t *testing.T) {
	a, b, c := newRNG(tensorSeed(1, "a")), newRNG(tensorSeed(1, "b")), newRNG(tensorSeed(2, "a"))
	x, y, z := a.next(), b.next(), c.next()
	if x == y || x == z {
		t.Errorf("streams collide: %x %x %x", x, y, z)
	}
	if again := newRNG(tensorSeed(1, "a")).next(); again != x {
		t.Errorf("the same seed and name gave %x, then %x", x, again)
	}
}
