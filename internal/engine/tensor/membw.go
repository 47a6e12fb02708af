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
	threads = max(1, threads)
	buf := make([]byte, bandwidthBytes)
	for i := 0; i < len(buf); i += 4096 { // fault the pages in
		buf[i] = byte(i >> 12)
	}
	part := len(buf) / threads / 256 * 256
	var sink uint64
	sums := make([]uint64, threads)
	best := 0.0
	deadline := time.Now().Add(d)
	for pass := 0; pass < 2 || time.Now().Before(deadline); pass++ {
		start := time.Now()
		Goroutines(threads).Run(threads, 1, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				sums[t] += sumWords(buf[t*part : (t+1)*part])
			}
		})
		if el := time.Since(start).Seconds(); el > 0 {
			best = max(best, float64(part*threads)/el)
		}
	}
	for _, s := range sums {
		sink += s
	}
	runtime.KeepAlive(sink)
	return best
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
