package model

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker polls for the next loop, and the
// caller of run for its helpers to finish, before blocking. A decode step
// runs a few hundred short loops with serial work in between; waking a
// parked goroutine costs several microseconds each time, while polling
// for a moment keeps the threads ready. After spinFor of no work the
// workers park, so an idle model costs no CPU.
var spinFor = 50 * time.Microsecond

// pool runs parallel loops on a fixed set of worker goroutines, started
// once per Model. The caller of run takes part in the work, so a pool of n
// threads has n-1 workers.
type pool struct {
	threads int
	jobs    chan *job
	done    sync.WaitGroup
	idle    sync.Pool // *job, reused so that a loop allocates nothing
}

// job is one parallel loop: participants claim chunks of grain iterations
// until none are left.
type job struct {
	next  atomic.Int64
	left  atomic.Int32 // helpers still working
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
	for {
		j, ok := p.receive()
		if !ok {
			return
		}
		j.work()
		j.left.Add(-1)
		j.wg.Done()
	}
}

// receive returns the next job, polling the queue for up to spinFor
// before blocking on it; ok is false once the pool is closed.
func (p *pool) receive() (j *job, ok bool) {
	if spinFor > 0 {
		start := time.Now()
		for i := 1; ; i++ {
			select {
			case j, ok = <-p.jobs:
				return j, ok
			default:
			}
			if i%64 == 0 {
				if time.Since(start) > spinFor {
					break
				}
				runtime.Gosched()
			}
		}
	}
	j, ok = <-p.jobs
	return j, ok
}

// wait returns when every helper of j is done, polling for up to spinFor
// before blocking.
func (j *job) wait() {
	if spinFor > 0 && j.left.Load() > 0 {
		start := time.Now()
		for i := 1; j.left.Load() > 0; i++ {
			if i%64 == 0 {
				if time.Since(start) > spinFor {
					break
				}
				runtime.Gosched()
			}
		}
	}
	j.wg.Wait()
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
	j, _ := p.idle.Get().(*job)
	if j == nil {
		j = new(job)
	}
	j.next.Store(0)
	j.n, j.grain, j.fn = int64(n), int64(grain), fn
	helpers := min(p.threads-1, chunks-1)
	j.wg.Add(helpers)
	j.left.Store(int32(helpers))
	for range helpers {
		p.jobs <- j
	}
	j.work()
	j.wait()
	// Every helper is past its last use of j once wait returns.
	j.fn = nil
	p.idle.Put(j)
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
