package bench

import (
	"context"
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
