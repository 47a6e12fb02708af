package model

import (
	"sync"
	"sync/atomic"
)

// pool runs parallel loops on a fixed set of worker goroutines, started
// once per Model. The caller of run takes part in the work, so a pool of n
// threads has n-1 workers.
type pool struct {
	threads int
	jobs    chan *job
	done    sync.WaitGroup
}

// job is one parallel loop: participants claim chunks of grain iterations
// until none are left.
type job struct {
	next  atomic.Int64
	n     int64
	grain int64
	fn    func(lo, hi int)
	wg    sync.WaitGroup
}

func newPool(threads int) *pool {
	p := &pool{threads: max(1, threads)}
	if p.threads > 1 {
		p.jobs = make(chan *job, p.threads)
		p.done.Add(p.threads - 1)
		for range p.threads - 1 {
			go p.worker()
		}
	}
	return p
}

func (p *pool) worker() {
	defer p.done.Done()
	for j := range p.jobs {
		j.work()
		j.wg.Done()
	}
}

func (j *job) work() {
	for {
		lo := j.next.Add(j.grain) - j.grain
		if lo >= j.n {
			return
		}
		j.fn(int(lo), int(min(lo+j.grain, j.n)))
	}
}

// run calls fn on disjoint ranges [lo, hi) covering [0, n), of about grain
// iterations each, in parallel, and returns when all are done.
func (p *pool) run(n, grain int, fn func(lo, hi int)) {
	grain = max(grain, 1)
	chunks := (n + grain - 1) / grain
	if p.threads <= 1 || chunks <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	// Smaller chunks than threads balance load when cores are shared, but
	// never smaller than the caller asked for.
	if per := n / (4 * p.threads); per > grain {
		grain = per
		chunks = (n + grain - 1) / grain
	}
	j := &job{n: int64(n), grain: int64(grain), fn: fn}
	helpers := min(p.threads-1, chunks-1)
	j.wg.Add(helpers)
	for range helpers {
		p.jobs <- j
	}
	j.work()
	j.wg.Wait()
}

// close stops the workers; run must not be called afterwards.
func (p *pool) close() {
	if p.jobs != nil {
		close(p.jobs)
		p.done.Wait()
	}
}

// Run implements tensor.Runner.
func (p *pool) Run(n, grain int, fn func(lo, hi int)) { p.run(n, grain, fn) }
