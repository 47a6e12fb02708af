package cli

import (
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/bench"
)

func TestEngineTable(t *testing.T) {
	var b strings.Builder
	engineTable(&b, bench.EngineResult{
		Model: "m.gguf", Architecture: "qwen2", Threads: 2, Kernels: "avx2", KVCacheType: "f16", PromptTokens: 16, GenTokens: 8,
		Memory: bench.MemoryResult{
			AfterLoad:    bench.MemorySnapshot{RSS: 60 << 20, RSSAnon: 15 << 20, RSSFile: 45 << 20, HeapInUse: 12 << 20},
			AfterGen:     bench.MemorySnapshot{RSS: 500 << 20, RSSAnon: 30 << 20, RSSFile: 470 << 20, HeapInUse: 25 << 20},
			WeightsBytes: 408 << 20, RepackedBytes: 300 << 20, KVBytes: 2 << 20, ScratchBytes: 1 << 20, FixedOverheadBytes: 61 << 20,
			ExpectedBytes: 471 << 20, Ratio: 500.0 / 471,
		},
		Concurrency: &bench.ConcurrencyResult{Streams: 8, MedianSingleTokensPerSecond: 40, MedianAggregateTokensPerSecond: 120,
			MedianRatio: 3, MinRatio: 2.5, MaxRatio: 3.25, Rounds: []bench.ConcurrencyRound{
				{SingleTokensPerSecond: 40, AggregateTokensPerSecond: 120, Ratio: 3},
				{SingleTokensPerSecond: 48, AggregateTokensPerSecond: 120, Ratio: 2.5},
				{SingleTokensPerSecond: 36, AggregateTokensPerSecond: 117, Ratio: 3.25},
			}},
	})
	out := b.String()
	for _, want := range []string{
		"m.gguf (qwen2, 2 threads, avx2 kernels, f16 KV cache, loaded in",
		"s, settled in 0.00 s more)",
		"RSS 60.0 MiB (anon 15.0 MiB, file 45.0 MiB), Go heap in use 12.0 MiB",
		"RSS 500.0 MiB (anon 30.0 MiB, file 470.0 MiB)",
		"471.0 MiB = weights 408.0 MiB (repacked on load 300.0 MiB) + KV 2.0 MiB + fixed overhead 61.0 MiB (after-load RSS − repacked + scratch 1.0 MiB)",
		"RSS after gen / expected:\t1.062",
		"8 streams, 3 rounds: median 120.0 tokens/s together, 40.0 alone; median ratio of rounds 3.00 (2.50–3.25)",
		"Round 1:\t120.0 tokens/s together, 40.0 alone, ratio 3.00",
		"Round 2:\t120.0 tokens/s together, 48.0 alone, ratio 2.50",
		"Round 3:\t117.0 tokens/s together, 36.0 alone, ratio 3.25",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Bandwidth") || strings.Contains(out, "Time to first token") {
		t.Errorf("table shows measurements not made:\n%s", out)
	}
}

func TestBenchKernelsFlag(t *testing.T) {
	res, _ := runRecorded(t, env(nil), "", "bench", "--model", "m.gguf", "--kernels", "avx1024")
	if res.code != 2 || !strings.Contains(res.stderr, `--kernels`) || !strings.Contains(res.stderr, `"avx1024"`) || !strings.Contains(res.stderr, "go") {
		t.Errorf("exit %d, stderr %q; want a usage error naming the tables", res.code, res.stderr)
	}
}

func TestBenchRoundsFlag(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--model", "m.gguf", "--rounds", "0", "--concurrency", "2"},
		{"bench", "--model", "m.gguf", "--rounds", "-1"},
	} {
		res, _ := runRecorded(t, env(nil), "", args...)
		if res.code != 2 || !strings.Contains(res.stderr, "--rounds must be at least 1") {
			t.Errorf("%v: exit %d, stderr %q", args, res.code, res.stderr)
		}
	}
}
