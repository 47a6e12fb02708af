package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
)

// EngineOptions tune the engine benchmark.
type EngineOptions struct {
	Model   string // GGUF path
	Threads int
	// Kernels names the kernel table (tensor.KernelSets) to run with;
	// empty means the default, the fastest this machine has.
	Kernels string
	// NoRepack keeps every weight in the memory-mapped file
	// (model.Options.NoRepack); by default Q4_0 and Q8_0 matrices are
	// repacked on load where the kernel table has repacked kernels.
	NoRepack bool
	// CacheType is how the KV caches store keys and values
	// (model.Options.CacheType; the zero value is kvcache.F32).
	CacheType kvcache.DType
	Prompt    int // prompt tokens, processed as one batch
	Gen       int // tokens generated one at a time after the prompt
	Seed      uint64
	// Bandwidth measures the memory read bandwidth (for BandwidthFor) and
	// reports generation against the bound it sets.
	Bandwidth    bool
	BandwidthFor time.Duration // measuring time (default 3s)
	// Concurrency, if above 1, also runs that many streams through a
	// runner at once, each generating Gen tokens after its own Prompt
	// random tokens, and one stream alone, for comparison: Rounds times
	// (0 means DefaultRounds), alternating, one alone first in each round.
	Concurrency int
	Rounds      int
	// TTFT measures the time to the first token of a fresh load: loading
	// the model, a one-token prompt, the first token.
	TTFT bool
}

// EngineResult is what `cerulean bench --model` prints.
type EngineResult struct {
	Model        string  `json:"model"`
	Architecture string  `json:"architecture"`
	Threads      int     `json:"threads"`
	Kernels      string  `json:"kernels"`
	KVCacheType  string  `json:"kv_cache_type"`
	LoadSeconds  float64 `json:"load_seconds"`
	// SettleSeconds is how long the benchmark waited, after loading (and
	// the time to first token, if measured), for the model's background
	// work to finish (model.Model.Settle) before measuring.
	SettleSeconds   float64 `json:"settle_seconds"`
	PromptTokens    int     `json:"prompt_tokens"`
	PromptSeconds   float64 `json:"prompt_seconds"`
	PromptPerSecond float64 `json:"prompt_tokens_per_second"`
	GenTokens       int     `json:"gen_tokens"`
	GenSeconds      float64 `json:"gen_seconds"`
	GenPerSecond    float64 `json:"gen_tokens_per_second"`

	// WeightsBytes is what one generated token reads of the weights: every
	// tensor but the token embedding, which is read once as the output
	// head when the embeddings are tied.
	WeightsBytes int64 `json:"weights_bytes"`
	// RepackedBytes are the weights copied into memory on load in a
	// repacked layout (part of WeightsBytes; 0 with NoRepack).
	RepackedBytes int64 `json:"repacked_bytes"`
	// KVBytes is the KV cache after the prompt and the generation, and
	// KVBytesPerToken what one generated token reads of it at the middle
	// of the generation.
	KVBytes         int64 `json:"kv_bytes"`
	KVBytesPerToken int64 `json:"kv_bytes_per_token"`
	// RSSAfterLoad and RSSAfterGen are VmRSS from /proc/self/status (0
	// where there is none), as in Memory; the weights are memory-mapped,
	// so they count only once touched.
	RSSAfterLoad int64 `json:"rss_after_load_bytes,omitempty"`
	RSSAfterGen  int64 `json:"rss_after_gen_bytes,omitempty"`
	// Memory breaks the resident memory after generation down into
	// weights, KV cache and fixed overhead (see MemoryResult). Both
	// snapshots are taken before the bandwidth and concurrency
	// measurements, whose buffers and caches they leave out.
	Memory MemoryResult `json:"memory"`

	Bandwidth *BandwidthResult `json:"bandwidth,omitempty"`
	// TTFTSeconds is the wall time of a fresh load, a one-token prompt and
	// its first token; TTFTFromStartSeconds counts from the start of the
	// process instead (Linux only, in clock ticks).
	TTFTSeconds          float64            `json:"ttft_seconds,omitempty"`
	TTFTFromStartSeconds float64            `json:"ttft_from_process_start_seconds,omitempty"`
	Concurrency          *ConcurrencyResult `json:"concurrency,omitempty"`
}

// BandwidthResult is generation speed against the memory-bandwidth bound,
// measured two ways. BytesPerSecond is the fastest of many short passes
// of a bandwidth probe (a quarter of a GiB each, tensor.BandwidthProbe)
// over a few seconds after generation: on a machine whose bandwidth other
// tenants move from moment to moment it catches the best moments, while
// generation runs through good and bad ones alike. The sustained figures
// compare like with like: generation (the same tokens again) and passes
// of the probe take turns, a few tokens then passes for as long as those
// tokens took, so that both see the same conditions, and each side's rate
// is its bytes over its time.
type BandwidthResult struct {
	// BytesPerSecond is the read bandwidth of Threads goroutines.
	BytesPerSecond float64 `json:"bytes_per_second"`
	// BoundTokensPerSecond is BytesPerSecond ÷ (WeightsBytes +
	// KVBytesPerToken): the generation speed if every token only streamed
	// its bytes from memory.
	BoundTokensPerSecond float64 `json:"bound_tokens_per_second"`
	// Ratio is GenPerSecond ÷ BoundTokensPerSecond.
	Ratio float64 `json:"ratio"`

	// SustainedBytesPerSecond is the bandwidth of the passes interleaved
	// with generation.
	SustainedBytesPerSecond float64 `json:"sustained_bytes_per_second,omitempty"`
	// SustainedBoundTokensPerSecond is SustainedBytesPerSecond ÷
	// (WeightsBytes + KVBytesPerToken).
	SustainedBoundTokensPerSecond float64 `json:"sustained_bound_tokens_per_second,omitempty"`
	// InterleavedTokensPerSecond is the generation rate of the
	// interleaved tokens.
	InterleavedTokensPerSecond float64 `json:"interleaved_tokens_per_second,omitempty"`
	// SustainedRatio is InterleavedTokensPerSecond ÷
	// SustainedBoundTokensPerSecond; MinTurnRatio and MaxTurnRatio are
	// the range of the same ratio over single turns.
	SustainedRatio float64 `json:"sustained_ratio,omitempty"`
	MinTurnRatio   float64 `json:"min_turn_ratio,omitempty"`
	MaxTurnRatio   float64 `json:"max_turn_ratio,omitempty"`
	Turns          int     `json:"turns,omitempty"`
}

// bandwidth measures the memory bandwidth both ways BandwidthResult
// describes and generation against it, perToken being the bytes one token
// reads and genRate the generation rate measured before. The cache holds
// the prompt and the generated tokens; it is truncated to the prompt and
// the tokens generated again.
func bandwidth(ctx context.Context, m *model.Model, cache *kvcache.Cache, logits []float32, o EngineOptions, perToken, genRate float64) (*BandwidthResult, error) {
	d := o.BandwidthFor
	if d <= 0 {
		d = 3 * time.Second
	}
	probe := tensor.NewBandwidthProbe(o.Threads)
	defer probe.Close()
	b := &BandwidthResult{BytesPerSecond: probe.Fastest(d)}
	if perToken > 0 {
		b.BoundTokensPerSecond = b.BytesPerSecond / perToken
		b.Ratio = genRate / b.BoundTokensPerSecond
	}
	if o.Gen > 0 {
		if err := cache.Truncate(o.Prompt); err != nil {
			return nil, err
		}
		if err := interleave(ctx, m, cache, logits, o.Gen, probe, perToken, b); err != nil {
			return nil, fmt.Errorf("generation with bandwidth passes: %w", err)
		}
	}
	return b, nil
}

// interleaveTokens is how many tokens one turn of the interleaved
// bandwidth measurement generates: about 0.1 s on the 0.5B test models,
// short against the drift of a shared machine's bandwidth.
const interleaveTokens = 8

// interleave generates gen tokens after the cache's contents in turns of
// interleaveTokens with passes of p for as long as each turn took (at
// least one), and fills in b's sustained figures; perToken is the bytes
// one token reads.
func interleave(ctx context.Context, m *model.Model, cache *kvcache.Cache, logits []float32, gen int, p *tensor.BandwidthProbe, perToken float64, b *BandwidthResult) error {
	var genTime, probeTime time.Duration
	var probeBytes int64
	for done := 0; done < gen; {
		n := min(interleaveTokens, gen-done)
		t := time.Now()
		for range n {
			next := []int32{argmax(logits)}
			if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: next, Cache: cache, Logits: logits}}}); err != nil {
				return err
			}
		}
		turnGen := time.Since(t)
		var turnProbe time.Duration
		var turnBytes int64
		for turnProbe < turnGen || turnBytes == 0 {
			turnProbe += p.Pass()
			turnBytes += int64(p.Bytes())
		}
		done += n
		genTime, probeTime, probeBytes = genTime+turnGen, probeTime+turnProbe, probeBytes+turnBytes
		if turnGen > 0 && turnProbe > 0 && perToken > 0 {
			ratio := float64(n) / turnGen.Seconds() / (float64(turnBytes) / turnProbe.Seconds() / perToken)
			if b.Turns == 0 {
				b.MinTurnRatio, b.MaxTurnRatio = ratio, ratio
			}
			b.MinTurnRatio, b.MaxTurnRatio = min(b.MinTurnRatio, ratio), max(b.MaxTurnRatio, ratio)
		}
		b.Turns++
	}
	if genTime <= 0 || probeTime <= 0 || perToken <= 0 {
		return nil
	}
	b.SustainedBytesPerSecond = float64(probeBytes) / probeTime.Seconds()
	b.SustainedBoundTokensPerSecond = b.SustainedBytesPerSecond / perToken
	b.InterleavedTokensPerSecond = float64(gen) / genTime.Seconds()
	b.SustainedRatio = b.InterleavedTokensPerSecond / b.SustainedBoundTokensPerSecond
	return nil
}

// Engine loads a model and measures prompt processing (one batched
// forward pass over Prompt random tokens) and generation (Gen single-token
// passes, each fed the argmax of the previous logits), as llama-bench does
// with -p and -n.
//
// With the options' extras it also measures bandwidth, the time to first
// token and concurrent streams, all in the same run so that their ratios
// hold on a noisy machine.
func Engine(ctx context.Context, o EngineOptions) (EngineResult, error) {
	start := time.Now()
	kern, err := KernelsNamed(o.Kernels)
	if err != nil {
		return EngineResult{}, err
	}
	m, err := model.Options{Threads: o.Threads, Kernels: kern, NoRepack: o.NoRepack, CacheType: o.CacheType}.Load(o.Model)
	if err != nil {
		return EngineResult{}, err
	}
	defer m.Close()
	cfg := m.Config()
	r := EngineResult{Model: o.Model, Architecture: cfg.Architecture, Threads: o.Threads, Kernels: kern.Name, KVCacheType: o.CacheType.String(), LoadSeconds: time.Since(start).Seconds(),
		PromptTokens: o.Prompt, GenTokens: o.Gen, WeightsBytes: m.WeightsBytes(), RepackedBytes: m.RepackedBytes()}
	// Before any weight is read: the fixed part of the process.
	afterLoad := memorySnapshot()
	r.RSSAfterLoad = afterLoad.RSS
	if o.TTFT {
		if err := firstToken(ctx, m, start, &r); err != nil {
			return r, fmt.Errorf("time to first token: %w", err)
		}
	}
	// Measure the steady state: after the background work of loading
	// (huge pages for repacked weights), which the server does not wait
	// for either but which ends within a second or two.
	t0 := time.Now()
	m.Settle()
	r.SettleSeconds = time.Since(t0).Seconds()
	if o.Prompt+o.Gen > cfg.ContextLength {
		return r, fmt.Errorf("--prompt %d + --gen %d exceeds the model's context of %d tokens", o.Prompt, o.Gen, cfg.ContextLength)
	}
	if o.Prompt < 1 {
		return r, fmt.Errorf("--prompt must be at least 1")
	}
	cache, err := m.NewCache(o.Prompt+o.Gen, nil)
	if err != nil {
		return r, err
	}
	defer cache.Free()
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	prompt := make([]int32, o.Prompt)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(cfg.VocabSize))
	}
	logits := make([]float32, cfg.VocabSize)
	t := time.Now()
	if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: prompt, Cache: cache, Logits: logits}}}); err != nil {
		return r, fmt.Errorf("prompt: %w", err)
	}
	r.PromptSeconds = time.Since(t).Seconds()
	r.PromptPerSecond = float64(o.Prompt) / r.PromptSeconds
	t = time.Now()
	for range o.Gen {
		next := []int32{argmax(logits)}
		if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: next, Cache: cache, Logits: logits}}}); err != nil {
			return r, fmt.Errorf("generation: %w", err)
		}
	}
	r.GenSeconds = time.Since(t).Seconds()
	if o.Gen > 0 {
		r.GenPerSecond = float64(o.Gen) / r.GenSeconds
	}
	// Before the bandwidth buffer (256 MiB) and the runner's caches.
	afterGen := memorySnapshot()
	r.RSSAfterGen = afterGen.RSS
	r.KVBytes = cache.Bytes()
	r.Memory = memoryResult(afterLoad, afterGen, r.WeightsBytes, r.RepackedBytes, r.KVBytes, m.ScratchBytes(o.Prompt, 1))
	r.KVBytesPerToken = int64(o.Prompt+o.Gen/2) * cache.Spec().BytesPerPosition()
	if o.Bandwidth {
		b, err := bandwidth(ctx, m, cache, logits, o, float64(r.WeightsBytes+r.KVBytesPerToken), r.GenPerSecond)
		if err != nil {
			return r, err
		}
		r.Bandwidth = b
	}
	if o.Concurrency > 1 {
		cr, err := concurrent(ctx, m, o)
		if err != nil {
			return r, fmt.Errorf("concurrency: %w", err)
		}
		r.Concurrency = cr
	}
	return r, nil
}

func argmax(xs []float32) int32 {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return int32(best)
}

// ErrNoKernels is the error of KernelsNamed for a name this machine has no
// kernel table of.
var ErrNoKernels = errors.New("no such kernel table on this machine")

// KernelsNamed returns the kernel table called name (tensor.KernelSets),
// or the default one if name is empty.
func KernelsNamed(name string) (*tensor.Kernels, error) {
	if name == "" {
		return tensor.DefaultKernels(), nil
	}
	for _, k := range tensor.KernelSets() {
		if k.Name == name {
			return k, nil
		}
	}
	return nil, fmt.Errorf("bench: %w: %q (it has %s)", ErrNoKernels, name, strings.Join(KernelNames(), ", "))
}

// KernelNames returns the names of this machine's kernel tables, the
// reference first and the default last.
func KernelNames() []string {
	var names []string
	for _, k := range tensor.KernelSets() {
		names = append(names, k.Name)
	}
	return names
}
