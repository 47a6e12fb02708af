package synth

import "math"

// rng is xoshiro256** (Blackman and Vigna), seeded through splitmix64. It is
// written out here, rather than taken from math/rand, so that the stream of a
// seed is fixed by this file alone and can never change under us.
type rng struct {
	s [4]uint64
	// spare holds the second normal of the last polar-method pair.
	spare    float64
	hasSpare bool
}

// splitmix64 advances *x and returns the next output of splitmix64.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG returns a generator whose state is derived from seed.
func newRNG(seed uint64) *rng {
	r := &rng{}
	for i := range r.s {
		r.s[i] = splitmix64(&seed)
	}
	return r
}

// tensorSeed derives the seed of one tensor's stream from the model seed and
// the tensor's name, so each tensor can be generated on its own and adding a
// tensor does not change the others.
func tensorSeed(seed int64, name string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a 64
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	x := uint64(seed) ^ h
	return splitmix64(&x)
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

// next returns the next 64 random bits.
func (r *rng) next() uint64 {
	s := &r.s
	out := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return out
}

// uniform returns a float64 uniform on [0, 1) with 53 random bits.
func (r *rng) uniform() float64 {
	return float64(r.next()>>11) * (1.0 / (1 << 53))
}

// normal returns a standard normal variate by Marsaglia's polar method. It
// uses only IEEE-exact operations (+, -, *, /, sqrt) and the portable ln
// below, never math.Log, whose assembly versions differ between
// architectures, so a seed gives the same bits on every platform.
func (r *rng) normal() float64 {
	if r.hasSpare {
		r.hasSpare = false
		return r.spare
	}
	for {
		u := float64(2*r.uniform()) - 1
		v := float64(2*r.uniform()) - 1
		s := float64(u*u) + float64(v*v)
		if s >= 1 || s == 0 {
			continue
		}
		f := math.Sqrt(float64(-2*ln(s)) / s)
		r.spare = float64(v * f)
		r.hasSpare = true
		return float64(u * f)
	}
}

// ln is the natural logarithm of x in (0, 1], accurate to a few ulps, built
// from exactly rounded operations only. x = m·2^e with m in [1/√2, √2), and
// ln m = 2·atanh(t) with t = (m-1)/(m+1), |t| < 0.172, summed as a series.
// Every product is converted explicitly so the compiler cannot fuse it into
// an FMA, which would change the rounding on some architectures.
func ln(x float64) float64 {
	m, e := math.Frexp(x) // m in [0.5, 1)
	if m < math.Sqrt2/2 {
		m *= 2
		e--
	}
	t := (m - 1) / (m + 1)
	t2 := float64(t * t)
	// atanh(t)/t = 1 + t²/3 + t⁴/5 + ...; |t|^2 < 0.0295, so 11 terms
	// leave an error below 0.0295^11 ≈ 1.5e-17.
	sum := 0.0
	for k := 21; k >= 1; k -= 2 {
		sum = float64(sum*t2) + 1/float64(k)
	}
	return float64(2*float64(t*sum)) + float64(float64(e)*math.Ln2)
}
