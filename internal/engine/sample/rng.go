package sample

import (
	"crypto/rand"
	"encoding/binary"
)

// splitmix64 is the generator behind every draw. It is written out here,
// rather than taken from math/rand, so that a seed names the same stream of
// numbers in every process, on every platform and with every Go release:
// the algorithm (Steele, Lea and Flood, "Fast splittable pseudorandom
// number generators", 2014) is fixed and uses only integer arithmetic.
//
// The zero value is a valid generator (seed 0).
type splitmix64 struct {
	state uint64
}

const golden = 0x9e3779b97f4a7c15

// mix64 is the splitmix64 output function, a bijective avalanche of x.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// next returns the next 64 random bits.
func (r *splitmix64) next() uint64 {
	r.state += golden
	return mix64(r.state)
}

// float64 returns a number uniformly distributed in [0, 1) with 53 random
// bits.
func (r *splitmix64) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}

// DeriveSeed returns the seed for choice number choice (0-based) of a request
// that asked for n > 1 choices with the given seed. Choice 0 keeps the seed
// itself, so the first choice of a request is the same whether it asked for
// one choice or several; other choices get well-mixed, distinct seeds.
func DeriveSeed(seed int64, choice int) int64 {
	if choice == 0 {
		return seed
	}
	return int64(mix64(uint64(seed) ^ mix64(uint64(choice)*golden)))
}

// randomSeed returns a seed from the operating system's secure generator,
// for requests that did not ask for reproducibility.
func randomSeed() int64 {
	var b [8]byte
	// crypto/rand.Read never returns an error since Go 1.24: it crashes the
	// program if the operating system's generator fails.
	_, _ = rand.Read(b[:])
	return int64(binary.LittleEndian.Uint64(b[:]))
}
