package model

import (
	"math"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// The element-wise operations below follow ggml's CPU code in float32,
// including where it sums in float64, so that results land on llama.cpp's
// to rounding noise. Explicit float32(...) conversions keep the compiler
// from fusing a product into a following addition.

// rmsNorm writes x / sqrt(mean(x²) + eps) · w to dst.
func rmsNorm(dst, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	w = w[:len(x)]
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = float32(v*scale) * w[i]
	}
}

// addTo adds x to dst element-wise.
func addTo(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// ropeTable holds cos and sin for each rotated pair at one position.
type ropeTable struct {
	cos, sin []float32
}

// fill computes the angles for position pos as ggml does: the angle of
// pair i is pos·base^(-2i/dims), built by repeated float32 multiplication,
// divided by the pair's frequency factor and multiplied by the linear
// scale.
func (r *ropeTable) fill(c *Config, freqs []float32, pos int) {
	half := c.RopeDims / 2
	if cap(r.cos) < half {
		r.cos, r.sin = make([]float32, half), make([]float32, half)
	}
	r.cos, r.sin = r.cos[:half], r.sin[:half]
	step := float32(math.Pow(float64(c.RopeFreqBase), float64(-2/float32(c.RopeDims))))
	theta := float32(pos)
	for i := range half {
		t := theta
		if freqs != nil {
			t /= freqs[i]
		}
		t *= c.RopeFreqScale
		r.cos[i] = float32(math.Cos(float64(t))) * c.RopeAttnScale
		r.sin[i] = float32(math.Sin(float64(t))) * c.RopeAttnScale
		theta *= step
	}
}

// rope rotates the first 2·len(r.cos) values of one head x in place.
func rope(x []float32, r *ropeTable, style RopeStyle) {
	half := len(r.cos)
	if style == RopeNeox {
		a, b := x[:half], x[half:2*half]
		for i := range half {
			c, s := r.cos[i], r.sin[i]
			x0, x1 := a[i], b[i]
			a[i] = float32(x0*c) - float32(x1*s)
			b[i] = float32(x0*s) + float32(x1*c)
		}
		return
	}
	x = x[:2*half]
	for i := range half {
		c, s := r.cos[i], r.sin[i]
		x0, x1 := x[2*i], x[2*i+1]
		x[2*i] = float32(x0*c) - float32(x1*s)
		x[2*i+1] = float32(x0*s) + float32(x1*c)
	}
}

// acts holds a batch of activation rows (rows × cols float32) and their
// encodings for the kernels, made on first use per activation type.
type acts struct {
	x          []float32
	rows, cols int
	enc        [4]encoded
}

type encoded struct {
	typ      tensor.Type
	rowBytes int
	data     []byte
	valid    bool
}

// reset points a at new values; earlier encodings become stale but their
// buffers are kept.
func (a *acts) reset(x []float32, rows, cols int) {
	a.x, a.rows, a.cols = x[:rows*cols], rows, cols
	for i := range a.enc {
		a.enc[i].valid = false
	}
}

// encode returns the rows encoded as t, one row after another, each
// rowBytes long.
func (a *acts) encode(p *pool, t tensor.Type) ([]byte, int, error) {
	slot := -1
	for i := range a.enc {
		e := &a.enc[i]
		if e.valid && e.typ == t {
			return e.data, e.rowBytes, nil
		}
		if slot < 0 && (!e.valid || e.typ == t) {
			slot = i
		}
	}
	if slot < 0 {
		slot = 0
	}
	e := &a.enc[slot]
	rb, err := t.RowBytes(a.cols)
	if err != nil {
		return nil, 0, err
	}
	if cap(e.data) < rb*a.rows {
		e.data = make([]byte, rb*a.rows)
	}
	e.typ, e.rowBytes, e.data = t, rb, e.data[:rb*a.rows]
	if t == tensor.F32 || a.rows == 1 {
		// One call, and no closure to allocate in a decode step.
		err = tensor.QuantizeActivations(t, a.x, e.data)
	} else {
		var firstErr error
		p.run(a.rows, 4, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				if err := tensor.QuantizeActivations(t, a.x[r*a.cols:(r+1)*a.cols], e.data[r*rb:(r+1)*rb]); err != nil && r == 0 {
					firstErr = err
				}
			}
		})
		err = firstErr
	}
	if err != nil {
		return nil, 0, err
	}
	e.valid = true
	return e.data, rb, nil
}

// matMul computes out[t][r] = W[r]·x[t] for every activation row t of in
// and every row r of w (out is in.rows × w.rows), in parallel over rows of
// w so that each weight row is read once for the whole batch.
func matMul(p *pool, k *tensor.Kernels, w *matrix, in *acts, out []float32) error {
	xq, _, err := in.encode(p, w.xType)
	if err != nil {
		return err
	}
	return k.MatMul(p, w.typ, w.cols, w.data, xq, in.rows, out[:in.rows*w.rows])
}
