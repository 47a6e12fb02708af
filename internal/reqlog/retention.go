package reqlog

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// DefaultPruneInterval is how often Retention prunes when its options give
// no interval.
const DefaultPruneInterval = time.Hour

// PruneStore is what Retention needs of store.Store.
type PruneStore interface {
	PruneRequestLogs(ctx context.Context, now time.Time, fallback time.Duration) (int64, error)
}

// RetentionOptions configure a Retention. Zero values take the defaults.
type RetentionOptions struct {
	Logger   *slog.Logger // nil discards
	Store    PruneStore
	Now      func() time.Time // nil means time.Now
	Interval time.Duration    // 0 means DefaultPruneInterval
	// Fallback is how long logs of a deployment without a capture setting
	// (deleted since) are kept; 0 means store.DefaultRetentionDays.
	Fallback time.Duration
}

// Retention deletes captured request logs older than their deployment's
// retention.
type Retention struct {
	log      *slog.Logger
	store    PruneStore
	now      func() time.Time
	interval time.Duration
	fallback time.Duration
}

// NewRetention returns a retention worker over o.Store.
func NewRetention(o RetentionOptions) *Retention {
	r := &Retention{log: o.Logger, store: o.Store, now: o.Now, interval: o.Interval, fallback: o.Fallback}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.interval <= 0 {
		r.interval = DefaultPruneInterval
	}
	if r.fallback <= 0 {
		r.fallback = store.DefaultRetentionDays * 24 * time.Hour
	}
	return r
}

// Prune deletes the logs past their retention now and returns how many.
func (r *Retention) Prune(ctx context.Context) (int64, error) {
	n, err := r.store.PruneRequestLogs(ctx, r.now(), r.fallback)
	if err != nil {
		return n, fmt.Errorf("reqlog: prune request logs: %w", err)
	}
	return n, nil
}

// Run prunes at once and then every interval until ctx ends; it returns
// nil then. A failed prune is logged and retried at the next interval.
func (r *Retention) Run(ctx context.Context) error {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	for {
		n, err := r.Prune(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.WarnContext(ctx, "request log: retention", "err", err)
		case n > 0:
			r.log.InfoContext(ctx, "request log: deleted logs past their retention", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
