package bench

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// sharedModel is ../shared/testdata/models/NAME beside the repository.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	path := filepath.Join(filepath.Dir(dir), "shared", "testdata", "models", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no shared test data (%s); the engine benchmark is not checked", path)
	}
	return path
}

func TestEngine(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	r, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 16, Gen: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "llama" || r.PromptTokens != 16 || r.GenTokens != 8 || r.PromptPerSecond <= 0 || r.GenPerSecond <= 0 {
		t.Errorf("result %+v", r)
	}
	if _, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 100, Gen: 100}); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("prompt+gen beyond the context: %v", err)
	}
}

// TestEngineExtras runs the bandwidth, concurrency and time-to-first-token
// measurements on stories260K.
func TestEngineExtras(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		o     EngineOptions
		check func(t *testing.T, r EngineResult)
	}{
		{"bandwidth", EngineOptions{Bandwidth: true, BandwidthFor: 50 * time.Millisecond}, func(t *testing.T, r EngineResult) {
			b := r.Bandwidth
			// The 256 MiB bandwidth buffer comes after the snapshots.
			if rss := r.Memory.AfterGen.RSS; rss >= 256<<20 {
				t.Errorf("RSS after generation %d includes the bandwidth buffer", rss)
			}
			if b == nil || b.BytesPerSecond <= 0 || b.BoundTokensPerSecond <= 0 || b.Ratio <= 0 {
				t.Errorf("bandwidth %+v", b)
			} else if want := b.BytesPerSecond / float64(r.WeightsBytes+r.KVBytesPerToken); b.BoundTokensPerSecond != want {
				t.Errorf("bound %v, want %v", b.BoundTokensPerSecond, want)
			}
		}},
		{"concurrency", EngineOptions{Concurrency: 3}, func(t *testing.T, r EngineResult) {
			c := r.Concurrency
			if c == nil || c.Streams != 3 || c.SingleTokensPerSecond <= 0 || c.AggregateTokensPerSecond <= 0 || c.Ratio <= 0 ||
				c.Generated < 3 || c.Generated > 3*r.GenTokens {
				t.Errorf("concurrency %+v", c)
			}
		}},
		{"ttft", EngineOptions{TTFT: true}, func(t *testing.T, r EngineResult) {
			if r.TTFTSeconds <= 0 || r.TTFTSeconds < r.LoadSeconds {
				t.Errorf("ttft %v s after a load of %v s", r.TTFTSeconds, r.LoadSeconds)
			}
			if runtime.GOOS == "linux" && r.TTFTFromStartSeconds < 0 {
				t.Errorf("ttft from process start %v", r.TTFTFromStartSeconds)
			}
		}},
		{"plain", EngineOptions{}, func(t *testing.T, r EngineResult) {
			if r.Bandwidth != nil || r.Concurrency != nil || r.TTFTSeconds != 0 {
				t.Errorf("extras without asking: %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Model, o.Threads, o.Prompt, o.Gen, o.Seed = path, 1, 8, 6, 1
			r, err := Engine(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// Every tensor but token_embd (stories260K has output.weight).
			if r.WeightsBytes <= 0 || r.WeightsBytes >= fi.Size() {
				t.Errorf("weights %d bytes in a file of %d", r.WeightsBytes, fi.Size())
			}
			if r.KVBytes <= 0 || r.KVBytesPerToken <= 0 {
				t.Errorf("kv %d bytes, %d per token", r.KVBytes, r.KVBytesPerToken)
			}
			if runtime.GOOS == "linux" && (r.RSSAfterLoad <= 0 || r.RSSAfterGen <= 0) {
				t.Errorf("rss %d after load, %d after generation", r.RSSAfterLoad, r.RSSAfterGen)
			}
			checkMemory(t, r)
			tc.check(t, r)
		})
	}
}

func TestProcessAge(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	age, err := processAge()
	if err != nil {
		t.Fatal(err)
	}
	// At clock-tick resolution, and the test binary has been running for
	// less than an hour.
	if age < -20*time.Millisecond || age > time.Hour {
		t.Errorf("process age %v", age)
	}
}

// checkMemory checks the memory figures of an engine benchmark: present
// on Linux, and consistent with the rest of the result.
func checkMemory(t *testing.T, r EngineResult) {
	t.Helper()
	m := r.Memory
	if m.WeightsBytes != r.WeightsBytes || m.KVBytes != r.KVBytes || m.ScratchBytes <= 0 {
		t.Errorf("memory parts %+v, weights %d, kv %d", m, r.WeightsBytes, r.KVBytes)
	}
	if m.AfterLoad.RSS != r.RSSAfterLoad || m.AfterGen.RSS != r.RSSAfterGen {
		t.Errorf("memory snapshots %+v, rss %d and %d", m, r.RSSAfterLoad, r.RSSAfterGen)
	}
	if m.AfterGen.HeapInUse <= 0 {
		t.Errorf("Go heap in use %d", m.AfterGen.HeapInUse)
	}
	if runtime.GOOS != "linux" {
		return
	}
	for _, s := range []MemorySnapshot{m.AfterLoad, m.AfterGen} {
		if s.RSS <= 0 || s.RSSAnon <= 0 || s.RSSFile <= 0 || s.RSSAnon+s.RSSFile > s.RSS {
			t.Errorf("snapshot %+v", s)
		}
	}
	if want := memoryResult(m.AfterLoad, m.AfterGen, m.WeightsBytes, m.KVBytes, m.ScratchBytes); m != want {
		t.Errorf("memory %+v, want %+v", m, want)
	}
	if m.Ratio <= 0 {
		t.Errorf("ratio %v", m.Ratio)
	}
}

func TestMemoryResult(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		load, gen            int64 // RSS
		weights, kv, scratch int64
		fixed, expected      int64
		ratio                float64
	}{
		{"exact", 60, 500, 400, 10, 30, 90, 500, 1},
		{"over", 50, 660, 500, 0, 50, 100, 600, 1.1},
		{"under", 100, 450, 800, 50, 50, 150, 1000, 0.45},
		{"no rss", 0, 0, 400, 10, 30, 30, 440, 0},
		{"nothing", 0, 100, 0, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load, gen := MemorySnapshot{RSS: tc.load, RSSAnon: 1}, MemorySnapshot{RSS: tc.gen, RSSFile: 2}
			r := memoryResult(load, gen, tc.weights, tc.kv, tc.scratch)
			if r.FixedOverheadBytes != tc.fixed || r.ExpectedBytes != tc.expected || math.Abs(r.Ratio-tc.ratio) > 1e-12 {
				t.Errorf("fixed %d, expected %d, ratio %v; want %d, %d, %v", r.FixedOverheadBytes, r.ExpectedBytes, r.Ratio, tc.fixed, tc.expected, tc.ratio)
			}
			if r.AfterLoad != load || r.AfterGen != gen || r.WeightsBytes != tc.weights || r.KVBytes != tc.kv || r.ScratchBytes != tc.scratch {
				t.Errorf("parts not kept: %+v", r)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tbench.test\nVmPeak:\t  999 kB\nVmRSS:\t  1000 kB\nRssAnon:\t   600 kB\nRssFile:\t   398 kB\nRssShmem:\t     2 kB\nThreads:\t4\n"
	rss, anon, file := parseStatus([]byte(status))
	if rss != 1000<<10 || anon != 600<<10 || file != 398<<10 {
		t.Errorf("parseStatus = %d, %d, %d", rss, anon, file)
	}
	if rss, anon, file := parseStatus([]byte("VmRSS: lots\nRssAnon:\n")); rss != 0 || anon != 0 || file != 0 {
		t.Errorf("malformed: %d, %d, %d", rss, anon, file)
	}
}
