// Package reqlog is Cerulean's request log: one structured line per
// request (AccessLog, a gateway.Meter writing through a *slog.Logger), and
// the optional capture of request and response bodies per deployment
// (Capturer, a gateway.Capturer writing asynchronously to the store) with
// its retention worker (Retention).
package reqlog

import (
	"context"
	"log/slog"
	"time"

	"github.com/cerulean-ai/cerulean/internal/gateway"
)

// AccessLog writes one line per request through its logger: at Info, or
// Warn for a 5xx. With a JSON handler each line is one JSON object with the
// fields request_id, start, project, deployment, model, version, sku,
// operation, stream, status, error_code (when there was one), the token
// counts, latency_ms, ttft_ms (streams only) and key_id (the key's safe id,
// never the key).
type AccessLog struct {
	log *slog.Logger
}

var _ gateway.Meter = (*AccessLog)(nil)

// NewAccessLog returns an access log writing through log (nil discards).
func NewAccessLog(log *slog.Logger) *AccessLog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AccessLog{log: log}
}

// Record writes r's line.
func (a *AccessLog) Record(ctx context.Context, r gateway.Record) {
	level := slog.LevelInfo
	if r.Status >= 500 {
		level = slog.LevelWarn
	}
	if !a.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("request_id", r.RequestID),
		slog.Time("start", r.Time.UTC()),
		slog.String("project", r.Project),
		slog.String("deployment", r.Deployment),
		slog.String("model", r.Model),
		slog.String("version", r.Version),
		slog.String("sku", r.SKU),
		slog.String("operation", r.Operation),
		slog.Bool("stream", r.Stream),
		slog.Int("status", r.Status),
	)
	if r.ErrorCode != "" {
		attrs = append(attrs, slog.String("error_code", r.ErrorCode))
	}
	attrs = append(attrs,
		slog.Int("prompt_tokens", r.Usage.PromptTokens),
		slog.Int("completion_tokens", r.Usage.CompletionTokens),
		slog.Int("cached_tokens", r.Usage.Cached()),
		slog.Float64("latency_ms", ms(r.Latency)),
	)
	if r.Stream {
		attrs = append(attrs, slog.Float64("ttft_ms", ms(r.TimeToFirstToken)))
	}
	attrs = append(attrs, slog.String("key_id", r.KeyID))
	a.log.LogAttrs(ctx, level, "request", attrs...)
}

// ms is d in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
