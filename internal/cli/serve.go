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
management API under /api/v1, and the background workers, on one listener.
State lives in an embedded SQLite database in the data folder.`,
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
	return cmd
}
