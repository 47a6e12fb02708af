package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// MemorySnapshot is this process's memory at one moment.
type MemorySnapshot struct {
	// RSS, RSSAnon and RSSFile are VmRSS, RssAnon and RssFile from
	// /proc/self/status (0 where there is none): all resident memory, the
	// anonymous part (Go heap, stacks, runtime) and the file-backed part
	// (the binary's pages and the memory-mapped model file's, weights
	// included once touched). RSS also counts RssShmem, normally 0.
	RSS     int64 `json:"rss_bytes"`
	RSSAnon int64 `json:"rss_anon_bytes"`
	RSSFile int64 `json:"rss_file_bytes"`
	// HeapInUse is the Go heap's spans in use (live and not yet swept
	// objects, and the unused room in their spans); HeapFree is free heap
	// memory the runtime has not yet returned to the operating system,
	// which counts in RSSAnon where it was touched.
	HeapInUse int64 `json:"go_heap_in_use_bytes"`
	HeapFree  int64 `json:"go_heap_free_bytes"`
}

// MemoryResult relates the resident memory after generation to its
// expected parts:
//
//	expected = weights + KV cache + fixed overhead
//	fixed overhead = RSS after load − repacked weights + scratch
//
// RSS after load is measured once the model is loaded but before any of
// its weights is read for a token (only its metadata and norm vectors
// are): the binary, the Go runtime and the loaded model's heap
// (tokenizer, norm vectors), plus the weights repacked on load, which are
// resident from then on and counted among the weights instead. Scratch is the buffers the model keeps after the benchmark's
// largest forward pass (model.Model.ScratchBytes: one pass of at most 256
// tokens). Weights are WeightsBytes, the bytes every token reads, which
// are resident after the first one; KV is the cache's storage.
type MemoryResult struct {
	AfterLoad          MemorySnapshot `json:"after_load"`
	AfterGen           MemorySnapshot `json:"after_gen"`
	WeightsBytes       int64          `json:"weights_bytes"`
	KVBytes            int64          `json:"kv_bytes"`
	RepackedBytes      int64          `json:"repacked_bytes"`
	ScratchBytes       int64          `json:"scratch_bytes"`
	FixedOverheadBytes int64          `json:"fixed_overhead_bytes"`
	ExpectedBytes      int64          `json:"expected_bytes"`
	// Ratio is AfterGen.RSS ÷ ExpectedBytes (0 without an RSS).
	Ratio float64 `json:"ratio"`
}

// memoryResult computes the fixed overhead, the expected resident memory
// and the ratio from the measured parts.
func memoryResult(load, gen MemorySnapshot, weights, repacked, kv, scratch int64) MemoryResult {
	r := MemoryResult{AfterLoad: load, AfterGen: gen, WeightsBytes: weights, RepackedBytes: repacked, KVBytes: kv, ScratchBytes: scratch}
	r.FixedOverheadBytes = load.RSS - repacked + scratch
	r.ExpectedBytes = weights + kv + r.FixedOverheadBytes
	if gen.RSS > 0 && r.ExpectedBytes > 0 {
		r.Ratio = float64(gen.RSS) / float64(r.ExpectedBytes)
	}
	return r
}

// heapMetrics are the runtime/metrics samples a snapshot reads.
var heapMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

// memorySnapshot reads this process's memory now.
func memorySnapshot() MemorySnapshot {
	var s MemorySnapshot
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		s.RSS, s.RSSAnon, s.RSSFile = parseStatus(b)
	}
	samples := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	v := make([]int64, len(samples))
	for i, sm := range samples {
		if sm.Value.Kind() == metrics.KindUint64 {
			v[i] = int64(sm.Value.Uint64())
		}
	}
	s.HeapInUse, s.HeapFree = v[0]+v[1], v[2]
	return s
}

// parseStatus returns VmRSS, RssAnon and RssFile, in bytes, from the text
// of /proc/self/status; a missing or malformed field is 0.
func parseStatus(b []byte) (rss, anon, file int64) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &rss
		case "RssAnon":
			dst = &anon
		case "RssFile":
			dst = &file
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err == nil {
			*dst = kb << 10
		}
	}
	return rss, anon, file
}
