package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
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
			// Six tokens in turns of eight: one turn.
			if b == nil || b.Turns != 1 || b.SustainedBytesPerSecond <= 0 || b.InterleavedTokensPerSecond <= 0 {
				t.Fatalf("sustained bandwidth %+v", b)
			}
			if want := b.SustainedBytesPerSecond / float64(r.WeightsBytes+r.KVBytesPerToken); b.SustainedBoundTokensPerSecond != want {
				t.Errorf("sustained bound %v, want %v", b.SustainedBoundTokensPerSecond, want)
			}
			if want := b.InterleavedTokensPerSecond / b.SustainedBoundTokensPerSecond; math.Abs(b.SustainedRatio-want) > 1e-12*want ||
				b.MinTurnRatio != b.MaxTurnRatio || math.Abs(b.MinTurnRatio-want) > 1e-9*want {
				t.Errorf("sustained ratio %v, turns %v–%v, want %v", b.SustainedRatio, b.MinTurnRatio, b.MaxTurnRatio, want)
			}
		}},
		{"bandwidth turns", EngineOptions{Bandwidth: true, BandwidthFor: 10 * time.Millisecond, Gen: 20}, func(t *testing.T, r EngineResult) {
			// Twenty tokens in turns of eight: 8, 8, 4.
			b := r.Bandwidth
			if b == nil || b.Turns != 3 || b.SustainedRatio <= 0 || b.MinTurnRatio <= 0 || b.MinTurnRatio > b.MaxTurnRatio {
				t.Fatalf("sustained bandwidth %+v", b)
			}
			if r.GenTokens != 20 || r.KVBytes != 28*r.KVBytesPerToken/18 {
				t.Errorf("%d tokens generated, KV %d bytes, %d per token", r.GenTokens, r.KVBytes, r.KVBytesPerToken)
			}
		}},
		{"concurrency", EngineOptions{Concurrency: 3, Rounds: 2}, func(t *testing.T, r EngineResult) {
			c := r.Concurrency
			if c == nil || c.Streams != 3 || len(c.Rounds) != 2 || c.MedianSingleTokensPerSecond <= 0 ||
				c.MedianAggregateTokensPerSecond <= 0 || c.MedianRatio <= 0 || c.MinRatio > c.MedianRatio || c.MaxRatio < c.MedianRatio {
				t.Fatalf("concurrency %+v", c)
			}
			for i, rd := range c.Rounds {
				if rd.SingleTokensPerSecond <= 0 || rd.AggregateTokensPerSecond <= 0 || rd.Ratio <= 0 ||
					rd.Generated < 3 || rd.Generated > 3*r.GenTokens {
					t.Errorf("round %d: %+v", i+1, rd)
				}
			}
		}},
		{"concurrency default rounds", EngineOptions{Concurrency: 2}, func(t *testing.T, r EngineResult) {
			if c := r.Concurrency; c == nil || len(c.Rounds) != DefaultRounds {
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
			o.Model, o.Threads, o.Prompt, o.Seed = path, 1, 8, 1
			if o.Gen == 0 {
				o.Gen = 6
			}
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
	if m.Ratio <= 0 {
		t.Errorf("ratio %v", m.Ratio)
	}
}

func TestMemoryResult(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		load, gen                      int64 // RSS
		weights, repacked, kv, scratch int64
		fixed, expected                int64
		ratio                          float64
	}{
		{"exact", 60, 500, 400, 0, 10, 30, 90, 500, 1},
		{"repacked", 460, 500, 400, 400, 10, 30, 90, 500, 1},
		{"partly repacked", 160, 550, 400, 100, 10, 30, 90, 500, 1.1},
		{"over", 50, 660, 500, 0, 0, 50, 100, 600, 1.1},
		{"under", 100, 450, 800, 0, 50, 50, 150, 1000, 0.45},
		{"no rss", 0, 0, 400, 0, 10, 30, 30, 440, 0},
		{"nothing", 0, 100, 0, 0, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load, gen := MemorySnapshot{RSS: tc.load, RSSAnon: 1}, MemorySnapshot{RSS: tc.gen, RSSFile: 2}
			r := memoryResult(load, gen, tc.weights, tc.repacked, tc.kv, tc.scratch)
			if r.FixedOverheadBytes != tc.fixed || r.ExpectedBytes != tc.expected || math.Abs(r.Ratio-tc.ratio) > 1e-12 {
				t.Errorf("fixed %d, expected %d, ratio %v; want %d, %d, %v", r.FixedOverheadBytes, r.ExpectedBytes, r.Ratio, tc.fixed, tc.expected, tc.ratio)
			}
			if r.AfterLoad != load || r.AfterGen != gen || r.WeightsBytes != tc.weights || r.RepackedBytes != tc.repacked || r.KVBytes != tc.kv || r.ScratchBytes != tc.scratch {
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

func TestSummarize(t *testing.T) {
	type rates struct{ single, agg float64 }
	for _, tc := range []struct {
		name                       string
		rounds                     []rates
		ratios                     []float64 // per round
		single, agg, ratio, lo, hi float64
	}{
		{"one", []rates{{40, 120}}, []float64{3}, 40, 120, 3, 3, 3},
		{"odd", []rates{{40, 100}, {50, 100}, {20, 60}}, []float64{2.5, 2, 3}, 40, 100, 2.5, 2, 3},
		{"median ratio is not ratio of medians", []rates{{10, 40}, {40, 60}, {20, 100}}, []float64{4, 1.5, 5}, 20, 60, 4, 1.5, 5},
		{"even", []rates{{40, 80}, {20, 80}, {30, 120}, {50, 50}}, []float64{2, 4, 4, 1}, 35, 80, 3, 1, 4},
		{"zero single", []rates{{0, 80}, {20, 40}}, []float64{0, 2}, 10, 60, 1, 0, 2},
		{"none", nil, nil, 0, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rounds []ConcurrencyRound
			for i, r := range tc.rounds {
				rounds = append(rounds, ConcurrencyRound{SingleTokensPerSecond: r.single, AggregateTokensPerSecond: r.agg, Ratio: -1, Generated: i})
			}
			c := summarize(8, rounds)
			if c.Streams != 8 || len(c.Rounds) != len(tc.rounds) {
				t.Fatalf("result %+v", c)
			}
			for i, r := range c.Rounds {
				if r.SingleTokensPerSecond != tc.rounds[i].single || r.AggregateTokensPerSecond != tc.rounds[i].agg || r.Generated != i {
					t.Errorf("round %d changed: %+v", i, r)
				}
				if math.Abs(r.Ratio-tc.ratios[i]) > 1e-12 {
					t.Errorf("round %d ratio %v, want %v", i, r.Ratio, tc.ratios[i])
				}
			}
			got := []float64{c.MedianSingleTokensPerSecond, c.MedianAggregateTokensPerSecond, c.MedianRatio, c.MinRatio, c.MaxRatio}
			want := []float64{tc.single, tc.agg, tc.ratio, tc.lo, tc.hi}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Errorf("median single, median aggregate, median ratio, min, max = %v, want %v", got, want)
					break
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{7, 7, 1, 9, 7}, 7},
	} {
		if got := median(slices.Clone(tc.xs)); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

func TestKernelsNamed(t *testing.T) {
	k, err := KernelsNamed("")
	if err != nil || k.Name != tensor.DefaultKernels().Name {
		t.Errorf(`KernelsNamed("") = %v, %v; want the default table %q`, k, err, tensor.DefaultKernels().Name)
	}
	names := KernelNames()
	if len(names) == 0 || names[0] != "go" || names[len(names)-1] != tensor.DefaultKernels().Name {
		t.Errorf("KernelNames() = %v, want the reference first and the default last", names)
	}
	for _, name := range names {
		k, err := KernelsNamed(name)
		if err != nil || k.Name != name {
			t.Errorf("KernelsNamed(%q) = %v, %v", name, k, err)
		}
	}
	k, err = KernelsNamed("avx1024")
	if !errors.Is(err, ErrNoKernels) {
		t.Fatalf(`KernelsNamed("avx1024") = %v, %v; want ErrNoKernels`, k, err)
	}
	for _, name := range names {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

// TestEngineKernels runs the benchmark with the reference kernels and
// checks that the model ran with them.
func TestEngineKernels(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	r, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 4, Gen: 2, Seed: 1, Kernels: "go"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Kernels != "go" {
		t.Errorf("ran with %q kernels, want go", r.Kernels)
	}
	if _, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 4, Gen: 2, Kernels: "nope"}); !errors.Is(err, ErrNoKernels) {
		t.Errorf("unknown kernels: %v, want ErrNoKernels", err)
	}
}
