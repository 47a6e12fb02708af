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
)

// benchCmd is `cerulean bench`: measurements that anyone can rerun.
func (a *app) benchCmd() *cobra.Command {
	o := bench.EngineOptions{Threads: runtime.NumCPU(), Prompt: 128, Gen: 32, Seed: 1}
	cmd := &cobra.Command{
		Use:   "bench --model FILE.gguf [--threads N] [--prompt N] [--gen N] [--bandwidth] [--concurrency N] [--ttft]",
		Short: "Measure Cerulean on this machine",
		Long: `With --model, load a GGUF file in the built-in engine and measure prompt
processing (one batched pass over --prompt random tokens) and generation
(--gen tokens one at a time), in tokens per second, printed as JSON, with
the resident memory after loading and after generating next to the bytes
of weights and KV cache.

In the same run, --bandwidth measures the memory read bandwidth of
--threads goroutines and reports generation against the bound it sets
(bandwidth ÷ bytes read per token: weights plus KV cache at the middle of
the generation); --concurrency N runs N streams at once through the
scheduler (each a --prompt prompt and --gen tokens) and one alone, and
reports their aggregate generation rate and its ratio to the single
stream's; --ttft reports the time from the start of loading (and from the
start of the process) to the first token of a one-token prompt.
Subcommands measure other parts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Model == "" {
				return usageError{fmt.Errorf("give --model FILE.gguf, or a subcommand such as gateway")}
			}
			if o.Threads < 1 || o.Prompt < 1 || o.Gen < 0 || o.Concurrency < 0 {
				return usageError{fmt.Errorf("--threads and --prompt must be at least 1, --gen and --concurrency at least 0")}
			}
			if o.Concurrency > 1 && o.Gen < 2 {
				return usageError{fmt.Errorf("--concurrency needs --gen of at least 2")}
			}
			res, err := bench.Engine(cmd.Context(), o)
			if err != nil {
				return err
			}
			return writeJSON(a.env.Stdout, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "GGUF file")
	f.IntVar(&o.Threads, "threads", o.Threads, "threads")
	f.IntVar(&o.Prompt, "prompt", o.Prompt, "prompt tokens")
	f.IntVar(&o.Gen, "gen", o.Gen, "generated tokens")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the random prompt")
	f.BoolVar(&o.Bandwidth, "bandwidth", false, "also measure memory bandwidth and the decode bound")
	f.DurationVar(&o.BandwidthFor, "bandwidth-time", 3*time.Second, "time spent measuring bandwidth")
	f.IntVar(&o.Concurrency, "concurrency", 0, "also run this many concurrent streams and one alone")
	f.BoolVar(&o.TTFT, "ttft", false, "also measure the time to first token of a fresh load")
	cmd.AddCommand(a.benchGatewayCmd())
	return cmd
}

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
