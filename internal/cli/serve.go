package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/server"
)

// newServeCmd is `cerulean serve`: everything on one listener.
func newServeCmd(env *Env) *cobra.Command {
	cfg := config.Defaults(env.Getenv)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: inference gateway, management API and workers",
		Long: `Run the server: the Azure OpenAI- and OpenAI-compatible inference API, the
management API under /api/v1, the built-in engine and the background
workers, on one listener. State lives in an embedded SQLite database in the
data folder.`,
		Example: `  cerulean serve
  cerulean serve --addr 0.0.0.0:8080 --data /var/lib/cerulean
  cerulean serve --model ./stories260K.gguf      # deployed as "stories260K"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			return server.Run(cmd.Context(), cfg, log, env.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address HOST:PORT (env CERULEAN_ADDR); port 0 picks a free one")
	f.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data folder (env CERULEAN_DATA)")
	f.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base URL shown as the endpoint, when behind a proxy (env CERULEAN_PUBLIC_URL)")
	f.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (env CERULEAN_LOG_LEVEL)")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", cfg.ShutdownTimeout, "how long requests in flight may take to finish on shutdown")
	f.StringVar(&cfg.Model, "model", "", "a GGUF file to register and deploy in project default at start")
	f.StringVar(&cfg.Deployment, "deployment", "", "the deployment name for --model (default: the file's base name without .gguf)")
	f.BoolVar(&cfg.Demo, "demo", cfg.Demo, "on first start, make and deploy a tiny random-weight demo model as \"demo\" (env CERULEAN_DEMO=0 turns it off)")
	f.IntVar(&cfg.GCPercent, "gc-percent", cfg.GCPercent, "garbage collector target percent (debug.SetGCPercent); 0 keeps the runtime's, from GOGC or 100")
	f.IntVar(&cfg.Threads, "threads", 0, "threads of the built-in engine (default: all cores)")
	f.Var(&cfg.KVCacheType, "kv-cache-type", "how the built-in engine stores attention keys and values: f16 (half the memory) or f32 (env CERULEAN_KV_CACHE_TYPE)")
	f.BoolVar(&cfg.NoRepack, "no-repack", false, "keep the built-in engine's weights in the memory-mapped files (no repacked copy of Q4_0/Q8_0 matrices on load)")
	f.StringVar(&cfg.Kubeconfig, "kubeconfig", cfg.Kubeconfig, "run ManagedCompute replicas on Kubernetes with this kubeconfig (env CERULEAN_KUBECONFIG); default: local worker processes")
	f.StringVar(&cfg.KubeNamespace, "kube-namespace", cfg.KubeNamespace, "Kubernetes namespace of the replicas (default cerulean)")
	f.StringVar(&cfg.WorkerImage, "worker-image", cfg.WorkerImage, "container image of the workers on Kubernetes (its entry point is the cerulean binary)")
	return cmd
}
