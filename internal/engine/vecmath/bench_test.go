package vecmath_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

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
// heads that share a KV head in qwen2.5-0.5b, over 512 positions, in
// cache: each head over all positions in turn (perhead), the heads
// interleaved over blocks of 32 positions so that each block of keys and
// values is read from L2 once (tiled), or AttendGroup (group).
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
	b.Run("group", func(b *testing.B) {
		buf := make([]float32, vecmath.AttendScratch(n, heads, d))
		for b.Loop() {
			vecmath.AttendGroup(out, qs, keys, vals, buf, n, heads, stride, stride, scale)
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

// BenchmarkAttentionCold is one token's attention at every layer of
// qwen2.5-0.5b (24 layers, 14 query heads over 2 KV heads of 64 dims, 512
// positions: 12.6 MB of cache) with the cache cold, as in decoding, where
// each layer's 16 MB of weights stream through the caches between two
// uses of its keys and values: before each layer it reads 4 MB of a 64 MB
// buffer (96 MB a pass, so the cache comes from memory, not L3). Each
// iteration times the layers' attention the per-head way (Dots, Softmax
// and AddWeightedRows for each query head, as the model did) and with
// AttendGroup per KV head, one after the other, and reports the time per
// layer of both and their ratio (new/old). With threads=2 a second
// goroutine takes the second KV head's query heads at each layer, as the
// model's two threads do; its times include starting that goroutine (and
// waking a thread for it) at every layer, which the model's spinning pool
// avoids, so they exceed one goroutine's.
func BenchmarkAttentionCold(b *testing.B) {
	const (
		layers, heads, kvHeads, d, n = 24, 14, 2, 64, 512
		group, kvd                   = heads / kvHeads, kvHeads * d
		evict, evictBuf              = 4 << 20, 64 << 20
	)
	keys := make([][]float32, layers)
	vals := make([][]float32, layers)
	for l := range layers {
		keys[l] = benchFloats(n*kvd, 1)
		vals[l] = benchFloats(n*kvd, 1)
	}
	q := benchFloats(heads*d, 1)
	out := make([]float32, heads*d)
	var scores [kvHeads][]float32
	for kh := range scores {
		scores[kh] = make([]float32, vecmath.AttendScratch(n, group, d))
	}
	scale := float32(1 / math.Sqrt(d))
	stream, sink := evictor(evict, evictBuf)
	// old and grouped compute the query heads of KV head kh at layer l.
	old := func(l, kh int) {
		s := scores[kh][:n]
		for h := kh * group; h < (kh+1)*group; h++ {
			vecmath.Dots(s, q[h*d:(h+1)*d], keys[l][kh*d:], kvd, scale)
			vecmath.Softmax(s)
			o := out[h*d : (h+1)*d]
			clear(o)
			vecmath.AddWeightedRows(o, s, vals[l][kh*d:], kvd)
		}
	}
	grouped := func(l, kh int) {
		vecmath.AttendGroup(out[kh*group*d:(kh+1)*group*d], q[kh*group*d:(kh+1)*group*d],
			keys[l][kh*d:], vals[l][kh*d:], scores[kh], n, group, kvd, kvd, scale)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			pass := func(f func(l, kh int)) time.Duration {
				var t time.Duration
				for l := range layers {
					stream()
					start := time.Now()
					if threads == 1 {
						for kh := range kvHeads {
							f(l, kh)
						}
					} else {
						var wg sync.WaitGroup
						wg.Go(func() { f(l, 1) })
						f(l, 0)
						wg.Wait()
					}
					t += time.Since(start)
				}
				return t
			}
			var tOld, tNew time.Duration
			for b.Loop() {
				tOld += pass(old)
				tNew += pass(grouped)
			}
			per := float64(b.N * layers)
			b.ReportMetric(float64(tOld.Microseconds())/per, "old-µs/layer")
			b.ReportMetric(float64(tNew.Microseconds())/per, "new-µs/layer")
			b.ReportMetric(float64(tNew)/float64(tOld), "new/old")
		})
	}
	runtime.KeepAlive(*sink)
}

// evictor returns stream, which reads the next evict bytes of a buffer of
// size bytes (wrapping around), a cache line at a time, so that what a
// benchmark touched before is pushed out of the caches; the bytes read are
// summed into *sink, which the caller keeps alive.
func evictor(evict, size int) (stream func(), sink *byte) {
	junk := make([]byte, size)
	for i := range junk {
		junk[i] = byte(i)
	}
	sink = new(byte)
	var off int
	stream = func() {
		s := junk[off : off+evict]
		for i := 0; i < len(s); i += 64 {
			*sink += s[i]
		}
		off = (off + evict) % size
	}
	return stream, sink
}

// BenchmarkAttentionColdF16 is BenchmarkAttentionCold's decoding step
// (qwen2.5-0.5b: 24 layers, 14 query heads over 2 KV heads of 64 dims,
// key and value rows 128 elements apart) with AttendGroup per KV head
// over a float32 cache and AttendGroupF16 over the same cache in binary16
// (half the bytes), at 512 and 2048 positions. In the cold runs each layer
// first streams 4 MB of a 64 MB buffer, as there, so that the caches come
// from memory; in the warm runs every layer uses the first layer's cache,
// which stays in L2 (512) or L2 and L3 (2048). Each iteration times a
// pass over the layers in float32 and one in binary16, in turn first,
// and it reports both times per layer and their ratio (f16/f32).
func BenchmarkAttentionColdF16(b *testing.B) {
	const (
		layers, heads, kvHeads, d = 24, 14, 2, 64
		group, kvd                = heads / kvHeads, kvHeads * d
		evict, evictBuf           = 4 << 20, 64 << 20
	)
	stream, sink := evictor(evict, evictBuf)
	q := benchFloats(heads*d, 1)
	out := make([]float32, heads*d)
	scale := float32(1 / math.Sqrt(d))
	for _, n := range []int{512, 2048} {
		keys := make([][]float32, layers)
		vals := make([][]float32, layers)
		keys16 := make([][]uint16, layers)
		vals16 := make([][]uint16, layers)
		for l := range layers {
			keys[l] = benchFloats(n*kvd, 1)
			vals[l] = benchFloats(n*kvd, 1)
			keys16[l] = make([]uint16, n*kvd)
			vals16[l] = make([]uint16, n*kvd)
			vecmath.ToF16(keys16[l], keys[l])
			vecmath.ToF16(vals16[l], vals[l])
		}
		scratch := make([]float32, vecmath.AttendScratch(n, group, d))
		f32 := func(l, kh int) {
			vecmath.AttendGroup(out[kh*group*d:(kh+1)*group*d], q[kh*group*d:(kh+1)*group*d],
				keys[l][kh*d:], vals[l][kh*d:], scratch, n, group, kvd, kvd, scale)
		}
		f16 := func(l, kh int) {
			vecmath.AttendGroupF16(out[kh*group*d:(kh+1)*group*d], q[kh*group*d:(kh+1)*group*d],
				keys16[l][kh*d:], vals16[l][kh*d:], scratch, n, group, kvd, kvd, scale)
		}
		for _, cold := range []bool{true, false} {
			name := fmt.Sprintf("n=%d/warm", n)
			if cold {
				name = fmt.Sprintf("n=%d/cold", n)
			}
			b.Run(name, func(b *testing.B) {
				pass := func(f func(l, kh int)) time.Duration {
					var t time.Duration
					for l := range layers {
						cl := 0
						if cold {
							stream()
							cl = l
						}
						start := time.Now()
						for kh := range kvHeads {
							f(cl, kh)
						}
						t += time.Since(start)
					}
					return t
				}
				var t32, t16 time.Duration
				for i := 0; b.Loop(); i++ {
					if i%2 == 0 {
						t32 += pass(f32)
						t16 += pass(f16)
					} else {
						t16 += pass(f16)
						t32 += pass(f32)
					}
				}
				per := float64(b.N * layers)
				b.ReportMetric(float64(t32.Microseconds())/per, "f32-µs/layer")
				b.ReportMetric(float64(t16.Microseconds())/per, "f16-µs/layer")
				b.ReportMetric(float64(t16)/float64(t32), "f16/f32")
			})
		}
	}
	runtime.KeepAlive(*sink)
}
