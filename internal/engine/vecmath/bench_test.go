package vecmath_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/engine/vecmath"
)

// The benchmarks pair the float64 math.Exp loops and per-position kernel
// calls that the model used before (old) with this package (new), in the
// same run.

var benchSizes = []int{64, 512, 896, 4864}

func benchFloats(n int, scale float32) []float32 {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = (r.Float32()*2 - 1) * scale
	}
	return x
}

func BenchmarkExp(b *testing.B) {
	for _, n := range benchSizes {
		src := benchFloats(n, 10)
		dst := make([]float32, n)
		b.Run(fmt.Sprintf("n=%d/old", n), func(b *testing.B) {
			for b.Loop() {
				for i, v := range src {
					dst[i] = float32(math.Exp(float64(v)))
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/new", n), func(b *testing.B) {
			for b.Loop() {
				vecmath.Exp(dst, src)
			}
		})
	}
}

func oldSwiGLU(gate, up []float32) {
	up = up[:len(gate)]
	for i, g := range gate {
		gate[i] = g / (1 + float32(math.Exp(float64(-g)))) * up[i]
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	for _, n := range benchSizes {
		g0 := benchFloats(n, 6)
		u := benchFloats(n, 2)
		g := make([]float32, n)
		b.Run(fmt.Sprintf("n=%d/old", n), func(b *testing.B) {
			for b.Loop() {
				copy(g, g0)
				oldSwiGLU(g, u)
			}
		})
		b.Run(fmt.Sprintf("n=%d/new", n), func(b *testing.B) {
			for b.Loop() {
				copy(g, g0)
				vecmath.SwiGLU(g, u)
			}
		})
	}
}

func oldSoftmax(x []float32) {
	mx := float32(math.Inf(-1))
	for _, v := range x {
		mx = max(mx, v)
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - mx)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

func BenchmarkSoftmax(b *testing.B) {
	for _, n := range benchSizes {
		x0 := benchFloats(n, 8)
		x := make([]float32, n)
		b.Run(fmt.Sprintf("n=%d/old", n), func(b *testing.B) {
			for b.Loop() {
				copy(x, x0)
				oldSoftmax(x)
			}
		})
		b.Run(fmt.Sprintf("n=%d/new", n), func(b *testing.B) {
			for b.Loop() {
				copy(x, x0)
				vecmath.Softmax(x)
			}
		})
	}
}

// BenchmarkAttention is one (token, head) of attention over a cache of
// qwen2.5-0.5b's shape: head dim 64, rows 128 floats apart (two KV heads).
func BenchmarkAttention(b *testing.B) {
	const d, stride = 64, 128
	for _, n := range []int{64, 512} {
		q := benchFloats(d, 1)
		keys := benchFloats(n*stride, 1)
		vals := benchFloats(n*stride, 1)
		scores := make([]float32, n)
		out := make([]float32, d)
		scale := float32(1 / math.Sqrt(d))
		b.Run(fmt.Sprintf("pos=%d/old", n), func(b *testing.B) {
			for b.Loop() {
				for j := range scores {
					scores[j] = tensor.DotF32s(q, keys[j*stride:]) * scale
				}
				oldSoftmax(scores)
				clear(out)
				for j, p := range scores {
					tensor.AxpyF32(out, p, vals[j*stride:])
				}
			}
		})
		b.Run(fmt.Sprintf("pos=%d/new", n), func(b *testing.B) {
			for b.Loop() {
				vecmath.Dots(scores, q, keys, stride, scale)
				vecmath.Softmax(scores)
				clear(out)
				vecmath.AddWeightedRows(out, scores, vals, stride)
			}
		})
		b.Run(fmt.Sprintf("pos=%d/dots-old", n), func(b *testing.B) {
			for b.Loop() {
				for j := range scores {
					scores[j] = tensor.DotF32s(q, keys[j*stride:]) * scale
				}
			}
		})
		b.Run(fmt.Sprintf("pos=%d/dots-new", n), func(b *testing.B) {
			for b.Loop() {
				vecmath.Dots(scores, q, keys, stride, scale)
			}
		})
		b.Run(fmt.Sprintf("pos=%d/rows-old", n), func(b *testing.B) {
			for b.Loop() {
				for j, p := range scores {
					tensor.AxpyF32(out, p, vals[j*stride:])
				}
			}
		})
		b.Run(fmt.Sprintf("pos=%d/rows-new", n), func(b *testing.B) {
			for b.Loop() {
				vecmath.AddWeightedRows(out, scores, vals, stride)
			}
		})
	}
}

// BenchmarkAttentionGroup is one token of attention for the seven query
// heads that share a KV head in qwen2.5-0.5b, over 512 positions: each
// head over all positions in turn (perhead), or the heads interleaved
// over blocks of 32 positions so that each block of keys and values is
// read from L2 once (tiled), as the model does for long batches.
func BenchmarkAttentionGroup(b *testing.B) {
	const d, stride, heads, n, blk = 64, 128, 7, 512, 32
	qs := benchFloats(d*heads, 1)
	keys := benchFloats(n*stride, 1)
	vals := benchFloats(n*stride, 1)
	scores := make([]float32, n*heads)
	out := make([]float32, d*heads)
	scale := float32(1 / math.Sqrt(d))
	b.Run("old", func(b *testing.B) {
		for b.Loop() {
			for h := range heads {
				s, q := scores[h*n:(h+1)*n], qs[h*d:(h+1)*d]
				for j := range s {
					s[j] = tensor.DotF32s(q, keys[j*stride:]) * scale
				}
				oldSoftmax(s)
				o := out[h*d : (h+1)*d]
				clear(o)
				for j, p := range s {
					tensor.AxpyF32(o, p, vals[j*stride:])
				}
			}
		}
	})
	b.Run("perhead", func(b *testing.B) {
		for b.Loop() {
			for h := range heads {
				s := scores[h*n : (h+1)*n]
				vecmath.Dots(s, qs[h*d:(h+1)*d], keys, stride, scale)
				vecmath.Softmax(s)
				o := out[h*d : (h+1)*d]
				clear(o)
				vecmath.AddWeightedRows(o, s, vals, stride)
			}
		}
	})
	b.Run("tiled", func(b *testing.B) {
		for b.Loop() {
			for j := 0; j < n; j += blk {
				for h := range heads {
					vecmath.Dots(scores[h*n+j:h*n+j+blk], qs[h*d:(h+1)*d], keys[j*stride:], stride, scale)
				}
			}
			for h := range heads {
				vecmath.Softmax(scores[h*n : (h+1)*n])
			}
			clear(out)
			for j := 0; j < n; j += blk {
				for h := range heads {
					vecmath.AddWeightedRows(out[h*d:(h+1)*d], scores[h*n+j:h*n+j+blk], vals[j*stride:], stride)
				}
			}
		}
	})
}
