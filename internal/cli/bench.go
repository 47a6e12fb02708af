package cli

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/internal/bench"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

// benchCmd is `cerulean bench`: measurements that anyone can rerun.
func (a *app) benchCmd() *cobra.Command {
	o := bench.EngineOptions{Threads: runtime.NumCPU(), CacheType: kvcache.F16, Prompt: 128, Gen: 32, Seed: 1, Rounds: bench.DefaultRounds}
	cmd := &cobra.Command{
		Use:   "bench --model FILE.gguf [--threads N] [--kernels NAME] [--prompt N] [--gen N] [--bandwidth] [--concurrency N [--rounds N]] [--ttft]",
		Short: "Measure Cerulean on this machine",
		Long: `With --model, load a GGUF file in the built-in engine and measure prompt
processing (one Forward over --prompt random tokens, which the engine runs
in passes of at most 256) and generation (--gen tokens one at a time), in
tokens per second, and the resident memory (a table, or JSON with -o json).

--kernels picks the dot-product kernel table (JSON "kernels"): go (the
pure-Go reference), avx2, avx512vnni, of those this machine has; they
agree bit for bit or within a tight tolerance (float sums in another
order), so tables can be compared on one machine. The default is the
fastest, as the server uses. --no-repack keeps every weight in the
memory-mapped file: by default, as in the server, Q4_0, Q5_0, Q8_0, Q4_K
and Q6_K matrices are copied on load into a layout of eight interleaved
rows where the table has kernels for it (avx512vnni: all five; avx2: Q4_0,
Q5_0, Q4_K, Q6_K; JSON
"repacked_bytes"), and on
Linux moved to huge pages in the background after loading; the
benchmark waits for that (JSON "settle_seconds") before measuring, after
the time to first token.

Memory (JSON "memory"): after_load is measured once the model is loaded but
before any weight is read, after_gen right after the generation (before
--bandwidth and --concurrency, whose buffers it leaves out). Each holds
rss_bytes, rss_anon_bytes and rss_file_bytes (VmRSS, RssAnon and RssFile of
/proc/self/status: anonymous memory is the Go heap and runtime, file-backed
memory the binary and the memory-mapped weights, counted once read),
go_heap_in_use_bytes and go_heap_free_bytes (Go heap spans in use, and free
heap not yet returned to the system). weights_bytes are the tensor bytes
every token reads (all but token_embd unless it is also the output
matrix), kv_bytes the KV cache's storage, scratch_bytes the buffers the
model keeps after its largest pass (activations of up to 256 tokens and
their 8-bit encodings), repacked_bytes the weights repacked on load
(resident from then on, anonymous memory). fixed_overhead_bytes =
after_load RSS − repacked_bytes + scratch_bytes; expected_bytes = weights + KV + fixed overhead; ratio =
after_gen RSS ÷ expected_bytes. rss_after_load_bytes and
rss_after_gen_bytes repeat the two RSS figures.

In the same run, --bandwidth measures the memory read bandwidth of
--threads goroutines and reports generation against the bound it sets
(bandwidth ÷ bytes read per token: weights plus KV cache at the middle of
the generation) two ways: against the fastest of many passes of a 256 MiB
read stream over --bandwidth-time (JSON bandwidth.bytes_per_second,
bound_tokens_per_second, ratio), and against the passes' bandwidth while
the same --gen tokens are generated again in turns with them, 8 tokens
then passes for as long as those took (sustained_bytes_per_second,
sustained_bound_tokens_per_second, interleaved_tokens_per_second,
sustained_ratio, and min_turn_ratio, max_turn_ratio over the turns): on a
shared machine the fastest pass catches moments of bandwidth that
generation does not get all of, so the sustained ratio is the one whose
two sides saw the same machine; --concurrency N compares N streams at once through the
scheduler with one stream alone (each stream a fresh --prompt of random
tokens and --gen generated tokens); --ttft reports the time from the
start of loading (and from the start of the process) to the first token
of a one-token prompt. Subcommands measure other parts.

Concurrency (JSON "concurrency"): on a shared machine the speed drifts
between measurements, so --rounds rounds (default 3) each run one stream
alone and then the N streams. A rate counts the tokens generated once
every stream has its first token (prompt processing left out) over the
time from then to the last token. Each of "rounds" holds
single_tokens_per_second, aggregate_tokens_per_second (all N streams
together), ratio (aggregate ÷ single of that round) and generated_tokens
(of the N streams). median_single_tokens_per_second and
median_aggregate_tokens_per_second are the medians of the rounds' rates;
median_ratio is the median of the rounds' ratios (not the ratio of the
two medians), min_ratio and max_ratio their range. The median of an even
number of rounds is the mean of the middle two.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Model == "" {
				return usageError{fmt.Errorf("give --model FILE.gguf, or a subcommand such as gateway")}
			}
			if o.Threads < 1 || o.Prompt < 1 || o.Gen < 0 || o.Concurrency < 0 || o.Rounds < 1 {
				return usageError{fmt.Errorf("--threads, --prompt and --rounds must be at least 1, --gen and --concurrency at least 0")}
			}
			if o.Concurrency > 1 && o.Gen < 2 {
				return usageError{fmt.Errorf("--concurrency needs --gen of at least 2")}
			}
			if _, err := bench.KernelsNamed(o.Kernels); err != nil {
				return usageError{fmt.Errorf("--kernels: %w", err)}
			}
			res, err := bench.Engine(cmd.Context(), o)
			if err != nil {
				return err
			}
			return a.print(res, func(w io.Writer) { engineTable(w, res) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "GGUF file")
	f.IntVar(&o.Threads, "threads", o.Threads, "threads")
	f.StringVar(&o.Kernels, "kernels", "", "kernel table, one of this machine's: "+strings.Join(bench.KernelNames(), ", ")+" (default: the last, the fastest)")
	f.BoolVar(&o.NoRepack, "no-repack", false, "keep every weight in the memory-mapped file (no repacked copy on load)")
	f.Var(&o.CacheType, "kv-cache-type", "how the KV cache stores keys and values: f16 (as llama.cpp by default) or f32")
	f.IntVar(&o.Prompt, "prompt", o.Prompt, "prompt tokens")
	f.IntVar(&o.Gen, "gen", o.Gen, "generated tokens")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the random prompt")
	f.BoolVar(&o.Bandwidth, "bandwidth", false, "also measure memory bandwidth and the decode bound")
	f.DurationVar(&o.BandwidthFor, "bandwidth-time", 3*time.Second, "time spent measuring bandwidth")
	f.IntVar(&o.Concurrency, "concurrency", 0, "also run this many concurrent streams and one alone")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds of one stream alone then the concurrent streams")
	f.BoolVar(&o.TTFT, "ttft", false, "also measure the time to first token of a fresh load")
	cmd.AddCommand(a.benchGatewayCmd())
	return cmd
}

// engineTable writes the engine benchmark as a table.
func engineTable(w io.Writer, r bench.EngineResult) {
	rate := func(n int, sec, perSec float64) string {
		return fmt.Sprintf("%d tokens in %.2f s: %.1f tokens/s", n, sec, perSec)
	}
	field(w, "Model", r.Model+" ("+r.Architecture+", "+itoa(r.Threads)+" threads, "+r.Kernels+" kernels, "+r.KVCacheType+" KV cache, loaded in "+strconv.FormatFloat(r.LoadSeconds, 'f', 2, 64)+" s, settled in "+strconv.FormatFloat(r.SettleSeconds, 'f', 2, 64)+" s more)")
	field(w, "Prompt", rate(r.PromptTokens, r.PromptSeconds, r.PromptPerSecond))
	field(w, "Generation", rate(r.GenTokens, r.GenSeconds, r.GenPerSecond))
	m := r.Memory
	snap := func(label string, s bench.MemorySnapshot) {
		field(w, label, fmt.Sprintf("RSS %s (anon %s, file %s), Go heap in use %s, free %s",
			mib(s.RSS), mib(s.RSSAnon), mib(s.RSSFile), mib(s.HeapInUse), mib(s.HeapFree)))
	}
	snap("Memory after load", m.AfterLoad)
	snap("Memory after gen", m.AfterGen)
	field(w, "Expected memory", fmt.Sprintf("%s = weights %s (repacked on load %s) + KV %s + fixed overhead %s (after-load RSS − repacked + scratch %s)",
		mib(m.ExpectedBytes), mib(m.WeightsBytes), mib(m.RepackedBytes), mib(m.KVBytes), mib(m.FixedOverheadBytes), mib(m.ScratchBytes)))
	field(w, "RSS after gen / expected", strconv.FormatFloat(m.Ratio, 'f', 3, 64))
	if b := r.Bandwidth; b != nil {
		field(w, "Bandwidth", fmt.Sprintf("%.1f GB/s: bound %.1f tokens/s, generation at %.2f of it", b.BytesPerSecond/1e9, b.BoundTokensPerSecond, b.Ratio))
		if b.Turns > 0 {
			field(w, "Sustained bandwidth", fmt.Sprintf("%.1f GB/s in turns with generation at %.1f tokens/s: bound %.1f tokens/s, generation at %.2f of it (%d turns, %.2f–%.2f)",
				b.SustainedBytesPerSecond/1e9, b.InterleavedTokensPerSecond, b.SustainedBoundTokensPerSecond, b.SustainedRatio, b.Turns, b.MinTurnRatio, b.MaxTurnRatio))
		}
	}
	if r.TTFTSeconds > 0 {
		field(w, "Time to first token", fmt.Sprintf("%.3f s (%.3f s from process start)", r.TTFTSeconds, r.TTFTFromStartSeconds))
	}
	if c := r.Concurrency; c != nil {
		field(w, "Concurrency", fmt.Sprintf("%d streams, %d rounds: median %.1f tokens/s together, %.1f alone; median ratio of rounds %.2f (%.2f–%.2f)",
			c.Streams, len(c.Rounds), c.MedianAggregateTokensPerSecond, c.MedianSingleTokensPerSecond, c.MedianRatio, c.MinRatio, c.MaxRatio))
		for i, rd := range c.Rounds {
			field(w, "  Round "+itoa(i+1), fmt.Sprintf("%.1f tokens/s together, %.1f alone, ratio %.2f", rd.AggregateTokensPerSecond, rd.SingleTokensPerSecond, rd.Ratio))
		}
	}
}

// mib formats a byte count in MiB.
func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB" }

func (a *app) benchGatewayCmd() *cobra.Command {
	var rates string
	o := bench.GatewayOptions{Duration: 5 * time.Second, Warmup: time.Second}
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Latency the gateway adds, at fixed request rates",
		Long: `Starts a fake OpenAI-compatible upstream and a whole server in this process
(temporary data folder, key auth, deployment lookup, validation, proxying),
then sends open-loop load at each rate, first straight at the upstream and
then through the gateway, and prints the latency the gateway adds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range strings.Split(rates, ",") {
				r, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || r <= 0 {
					return usageError{fmt.Errorf("--rates: %q is not a positive number", f)}
				}
				o.Rates = append(o.Rates, r)
			}
			dir, err := os.MkdirTemp("", "cerulean-bench-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			o.DataDir = dir
			log := slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			res, err := bench.Gateway(cmd.Context(), o, log)
			if err != nil {
				return err
			}
			return a.print(res, func(w io.Writer) {
				row(w, "RATE", "SENT", "ERRORS", "DIRECT P50", "DIRECT P99", "GATEWAY P50", "GATEWAY P99", "ADDED P50", "ADDED P99")
				for _, r := range res {
					row(w, itoa(r.Rate), itoa(r.Sent), itoa(r.Errors), us(r.DirectP50), us(r.DirectP99),
						us(r.GatewayP50), us(r.GatewayP99), us(r.AddedP50), us(r.AddedP99))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&rates, "rates", "500,1000,2000", "requests per second, comma-separated")
	f.DurationVar(&o.Duration, "duration", o.Duration, "measured time per rate and path")
	f.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured time per rate and path")
	f.BoolVar(&o.Stream, "stream", false, "send streamed requests")
	return cmd
}

func us(v float64) string { return strconv.FormatFloat(v/1000, 'f', 3, 64) + "ms" }
