package tensor

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Runner runs parallel loops. Run calls fn on disjoint ranges [lo, hi)
// that together cover [0, n), each of about grain iterations (the last may
// be shorter), possibly concurrently, and returns when every call has
// returned. An engine implements it with a pool of workers started once;
// Goroutines is a simple implementation for tests, benchmarks and tools.
type Runner interface {
	Run(n, grain int, fn func(lo, hi int))
}

// Goroutines is a Runner that uses up to that many goroutines per loop,
// the caller included, claiming chunks of grain iterations from a shared
// counter (so a core slowed by other work takes fewer chunks). Values
// below 2 run the loop on the caller alone.
type Goroutines int

// Run implements Runner.
func (g Goroutines) Run(n, grain int, fn func(lo, hi int)) {
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	if g < 2 || chunks < 2 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			lo := int(next.Add(int64(grain))) - grain
			if lo >= n {
				return
			}
			fn(lo, min(lo+grain, n))
		}
	}
	var wg sync.WaitGroup
	for range min(int(g), chunks) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// chunkBytes is about how many bytes of weights one parallel chunk of a
// matrix product reads: large enough to amortise claiming the chunk, small
// enough to balance two cores that other processes share.
const chunkBytes = 64 << 10

// repackChunkBytes is chunkBytes for the repacked layouts, whose tiles
// work out the activations' side once per call and stream their weights
// without software prefetch: longer runs per chunk decoded the 0.5B test
// models at two threads a median 1.03 times faster (eight alternated
// rounds each of the Q8_0 and Q4_K files, 0.90-1.44 per round on a
// shared machine); in one run of BenchmarkRepackedDRAM at two goroutines
// the repacked tiles went from 0.66-0.92 times the row-major ones (64 KiB
// chunks, an earlier run) to 1.17-1.56 times.
const repackChunkBytes = 256 << 10

// MatVecParallel is MatVec with the rows split across r. Each row is
// computed exactly as MatVec computes it, so the results are identical for
// any Runner.
func (k *Kernels) MatVecParallel(r Runner, t Type, cols int, w, x []byte, y []float32) error {
	return k.MatMul(r, t, cols, w, x, 1, y)
}

// MatMul computes the product of a matrix with a batch of nx activation
// vectors: y[i*rows+r] = Σ_c W[r][c]·x_i[c], where w holds rows =
// len(y)/nx rows of cols values of type t and x holds nx vectors of cols
// activations, each encoded as VecDotType(t) (QuantizeActivations), one
// after another. This is the prompt-processing (prefill) product.
//
// The rows are split across r in chunks of about 64 KiB of weights, and
// each chunk is multiplied with tiles of activation vectors that fit in
// the L2 cache, so that every weight row is read from memory once per
// batch and reused from cache for every vector. The type's MatFunc, where
// the table has one, computes each chunk × tile in register tiles of
// several rows and vectors; otherwise its DotFunc runs per row and vector.
// The two agree bit for bit, so results do not depend on r or on nx. The
// repacked layouts (Q4_0x8, Q8_0x8, Q4_Kx8) have only a MatFunc; their rows are
// split in whole groups of 8.
func (k *Kernels) MatMul(r Runner, t Type, cols int, w, x []byte, nx int, y []float32) error {
	fn, mf := k.Func(t), k.MatFunc(t)
	xt, ok := VecDotType(t)
	if fn == nil && mf == nil || !ok {
		return fmt.Errorf("matmul: %w: no %s kernel for %v", ErrUnsupported, k.Name, t)
	}
	if nx < 1 || len(y)%nx != 0 {
		return fmt.Errorf("matmul: %w: %d outputs are not %d vectors' worth", ErrBadLength, len(y), nx)
	}
	rows := len(y) / nx
	group := RepackRows(t)
	if rows%group != 0 {
		return fmt.Errorf("matmul: %w: %d rows of %v are not whole groups of %d", ErrBadLength, rows, t, group)
	}
	rowBytes, err := t.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("matmul: %w", err)
	}
	if rows > 0 && rowBytes > maxInt/rows || len(w) != rowBytes*rows {
		return fmt.Errorf("matmul: %w: %d bytes of weights are not %d rows of %d %v", ErrBadLength, len(w), rows, cols, t)
	}
	xrb, err := xt.RowBytes(cols)
	if err != nil {
		return fmt.Errorf("matmul: activations: %w", err)
	}
	if xrb > maxInt/nx || len(x) != xrb*nx {
		return fmt.Errorf("matmul: %w: %d bytes of activations are not %d vectors of %d %v", ErrBadLength, len(x), nx, cols, xt)
	}
	if rows == 0 {
		return nil
	}
	if r == nil {
		r = Goroutines(1)
	}
	const tileBytes = 256 << 10 // activations per tile, well inside L2
	j := matJobs.Get().(*matJob)
	*j = matJob{
		fn: fn, mf: mf, cols: cols, rows: rows, nx: nx, rowBytes: rowBytes, xrb: xrb,
		tile: max(1, min(nx, tileBytes/max(1, xrb))), group: group,
		w: w, x: x, y: y, loop: j.loop,
	}
	// Chunks of whole groups (of 8 rows for a repacked layout, else 1).
	cb := chunkBytes
	if group > 1 {
		cb = repackChunkBytes
	}
	r.Run(rows/group, max(1, cb/max(1, rowBytes*group)), j.loop)
	*j = matJob{loop: j.loop} // drop the references to the caller's slices
	matJobs.Put(j)
	return nil
}

// matJob is one MatMul call's loop over chunks of rows. Jobs are pooled,
// and each binds its loop method to a func value once, so that a call
// allocates nothing (a closure per call was most of a decode step's
// allocations).
type matJob struct {
	fn                                         DotFunc
	mf                                         MatFunc
	cols, rows, nx, rowBytes, xrb, tile, group int
	w, x                                       []byte
	y                                          []float32
	loop                                       func(lo, hi int) // j.run
}

var matJobs = sync.Pool{New: func() any {
	j := new(matJob)
	j.loop = j.run
	return j
}}

// run computes the rows of groups [lo, hi) for every vector, tile by tile.
func (j *matJob) run(lo, hi int) {
	lo, hi = lo*j.group, hi*j.group
	w, x, y, rb, xrb, rows := j.w, j.x, j.y, j.rowBytes, j.xrb, j.rows
	for i0 := 0; i0 < j.nx; i0 += j.tile {
		i1 := min(j.nx, i0+j.tile)
		if j.mf != nil {
			j.mf(j.cols, hi-lo, i1-i0, w[lo*rb:hi*rb], rb, x[i0*xrb:i1*xrb], xrb, y[i0*rows+lo:], rows)
			continue
		}
		for row := lo; row < hi; row++ {
			wr := w[row*rb : (row+1)*rb]
			for i := i0; i < i1; i++ {
				y[i*rows+row] = j.fn(j.cols, wr, x[i*xrb:(i+1)*xrb])
			}
		}
	}
}
