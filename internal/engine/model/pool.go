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

// job is one parallel loop. Its range is split into one contiguous part
// per participant; each takes chunks of grain iterations from the front
// of its own part and, once that is empty, steals chunks from the back of
// the others'. A participant thus streams through one contiguous stretch
// of memory (as a matrix product's weights are), touching no cache line
// that another writes until the parts run out, and the loop still ends
// balanced to within a chunk even when one participant starts late or
// runs slowly.
type job struct {
	ids   atomic.Int32 // participant ids handed out so far
	left  atomic.Int32 // helpers still working
	grain int64
	fn    func(lo, hi int)
	parts []part
	wg    sync.WaitGroup
}

// part is the unclaimed remainder [lo, hi) of one participant's share,
// packed as hi<<32 | lo so that one compare-and-swap claims a chunk, and
// padded to a cache line of its own.
type part struct {
	r atomic.Uint64
	_ [56]byte
}

func pack(lo, hi int64) uint64 { return uint64(hi)<<32 | uint64(lo) }

func unpack(v uint64) (lo, hi int64) { return int64(v & (1<<32 - 1)), int64(v >> 32) }

// front claims up to grain iterations from the front of the part.
func (pt *part) front(grain int64) (lo, hi int64, ok bool) {
	for {
		v := pt.r.Load()
		lo, end := unpack(v)
		if lo >= end {
			return 0, 0, false
		}
		hi = min(lo+grain, end)
		if pt.r.CompareAndSwap(v, pack(hi, end)) {
			return lo, hi, true
		}
	}
}

// back claims the last chunk of the part: the same chunks, grain
// iterations from the part's start, that front would claim.
func (pt *part) back(grain int64) (lo, hi int64, ok bool) {
	for {
		v := pt.r.Load()
		start, hi := unpack(v)
		if start >= hi {
			return 0, 0, false
		}
		lo = start + (hi-start-1)/grain*grain
		if pt.r.CompareAndSwap(v, pack(start, lo)) {
			return lo, hi, true
		}
	}
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

// work runs the participant's own part, then steals from the others.
func (j *job) work() {
	np := int32(len(j.parts))
	id := (j.ids.Add(1) - 1) % np
	own := &j.parts[id]
	for {
		lo, hi, ok := own.front(j.grain)
		if !ok {
			break
		}
		j.fn(int(lo), int(hi))
	}
	for k := int32(1); k < np; k++ {
		victim := &j.parts[(id+k)%np]
		for {
			lo, hi, ok := victim.back(j.grain)
			if !ok {
				break
			}
			j.fn(int(lo), int(hi))
		}
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
	if n >= 1<<31 {
		// Too long to pack into a part: run it on the caller alone.
		fn(0, n)
		return
	}
	j, _ := p.idle.Get().(*job)
	if j == nil {
		j = &job{parts: make([]part, p.threads)}
	}
	helpers := min(p.threads-1, chunks-1)
	np := helpers + 1
	j.parts = j.parts[:np]
	for t := range np {
		// Whole chunks, as evenly as they go.
		lo, hi := min(n, t*chunks/np*grain), min(n, (t+1)*chunks/np*grain)
		j.parts[t].r.Store(pack(int64(lo), int64(hi)))
	}
	j.ids.Store(0)
	j.grain, j.fn = int64(grain), fn
	j.wg.Add(helpers)
	j.left.Store(int32(helpers))
	for range helpers {
		p.jobs <- j
	}
	j.work()
	j.wait()
	// Every helper is past its last use of j once wait returns.
	j.fn = nil
	j.parts = j.parts[:cap(j.parts)]
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
