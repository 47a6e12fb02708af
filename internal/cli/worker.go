package cli

import (
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
)

// newWorkerCmd is `cerulean worker`: one process serving one model, the
// replica of a ManagedCompute deployment.
func newWorkerCmd(env *Env) *cobra.Command {
	o := replica.WorkerOptions{Addr: "127.0.0.1:0"}
	var logLevel string
	cmd := &cobra.Command{
		Use:   "worker --model FILE.gguf [--addr HOST:PORT] [--threads N]",
		Short: "Serve one model with the built-in engine (a ManagedCompute replica)",
		Long: `Serve one GGUF model with the built-in engine on the OpenAI-compatible routes
/v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models, plus
/healthz. Requests must present the key in ` + replica.KeyEnv + `.

'cerulean serve' starts workers itself as the replicas of ManagedCompute
deployments; run one by hand to test a model in isolation. It prints
"listening on http://HOST:PORT" once it takes requests, and drains on
SIGTERM.`,
		Example: `  CERULEAN_WORKER_KEY=secret cerulean worker --model ./stories260K.gguf --threads 2`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usagef("--log-level %q: want debug, info, warn or error", logLevel)
			}
			if o.Threads < 0 {
				return usagef("--threads %d: want 0 (all cores) or more", o.Threads)
			}
			o.Key = env.Getenv(replica.KeyEnv)
			o.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			o.Out = env.Stdout
			return replica.NewWorker(o).Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Model, "model", "", "the GGUF file to serve (required)")
	f.StringVar(&o.Addr, "addr", o.Addr, "listen address HOST:PORT; port 0 picks a free one")
	f.IntVar(&o.Threads, "threads", 0, "engine threads (default: all cores)")
	o.CacheType = kvcache.F16
	f.Var(&o.CacheType, "kv-cache-type", "how the engine stores attention keys and values: f16 (half the memory) or f32")
	f.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish on SIGTERM")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("model")
	return cmd
}
