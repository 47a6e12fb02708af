package tensor

import (
	"encoding/binary"
	"runtime"
	"time"
)

// bandwidthBytes is the size of the buffer MeasureBandwidth streams
// through: far larger than the last-level caches of the machines we run on.
const bandwidthBytes = 256 << 20

// MeasureBandwidth estimates this machine's memory read bandwidth in bytes
// per second, as MeasureBandwidthThreads with GOMAXPROCS goroutines.
func MeasureBandwidth(d time.Duration) float64 {
	return MeasureBandwidthThreads(d, runtime.GOMAXPROCS(0))
}

// MeasureBandwidthThreads estimates the memory read bandwidth in bytes per
// second reached by threads goroutines streaming through disjoint parts of
// a 256 MiB buffer (summing its 64-bit words, with AVX2 where available).
// It repeats full passes for about d (at least two passes) and reports the
// fastest, since other processes on a shared machine only ever slow a pass
// down. It allocates the buffer for the duration of the call.
func MeasureBandwidthThreads(d time.Duration, threads int) float64 {
	p := NewBandwidthProbe(threads)
	defer p.Close()
	return p.Fastest(d)
}

// BandwidthProbe streams a buffer of 256 MiB, far larger than the
// last-level caches, with a number of goroutines that each sum the 64-bit
// words of their own contiguous part: a plain read stream, the fastest
// way these goroutines read memory. Passes can be interleaved with other
// work, to measure the bandwidth the machine gives while that work runs.
type BandwidthProbe struct {
	buf     []byte
	free    func()
	threads int
	part    int      // bytes per goroutine
	sums    []uint64 // one per goroutine, kept so the reads are not dead
}

// NewBandwidthProbe allocates the probe's buffer, outside the Go heap and
// on huge pages where Linux has them (as the engine's repacked weights
// are), and faults its pages in. Close frees it.
func NewBandwidthProbe(threads int) *BandwidthProbe {
	threads = max(1, threads)
	buf, free := probeBuffer(bandwidthBytes)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = byte(i >> 12)
	}
	return &BandwidthProbe{buf: buf, free: free, threads: threads, part: len(buf) / threads / 256 * 256, sums: make([]uint64, threads)}
}

// Close frees the buffer; the probe must not be used afterwards.
func (p *BandwidthProbe) Close() {
	p.free()
	p.buf = nil
}

// Bytes returns the bytes one pass reads.
func (p *BandwidthProbe) Bytes() int { return p.part * p.threads }

// Fastest repeats passes for about d (at least two) and returns the
// bandwidth of the fastest in bytes per second.
func (p *BandwidthProbe) Fastest(d time.Duration) float64 {
	best := 0.0
	deadline := time.Now().Add(d)
	for pass := 0; pass < 2 || time.Now().Before(deadline); pass++ {
		if el := p.Pass().Seconds(); el > 0 {
			best = max(best, float64(p.Bytes())/el)
		}
	}
	return best
}

// Pass reads the whole buffer once, with the probe's goroutines, and
// returns the time it took.
func (p *BandwidthProbe) Pass() time.Duration {
	start := time.Now()
	Goroutines(p.threads).Run(p.threads, 1, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			p.sums[t] += sumWords(p.buf[t*p.part : (t+1)*p.part])
		}
	})
	return time.Since(start)
}

// sumWordsGo is the portable sumWords.
func sumWordsGo(p []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for ; len(p) >= 32; p = p[32:] {
		s0 += binary.LittleEndian.Uint64(p)
		s1 += binary.LittleEndian.Uint64(p[8:])
		s2 += binary.LittleEndian.Uint64(p[16:])
		s3 += binary.LittleEndian.Uint64(p[24:])
	}
	return s0 + s1 + s2 + s3
}
