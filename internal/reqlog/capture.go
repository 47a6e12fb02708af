package reqlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Defaults of CaptureOptions.
const (
	DefaultRefresh    = 10 * time.Second
	DefaultQueueLen   = 1024
	DefaultQueueBytes = 64 << 20
	DefaultMaxBody    = 64 << 10
	DefaultBatch      = 64
	// drainTimeout bounds the last writes after Run's context ends.
	drainTimeout = 5 * time.Second
)

// CaptureStore is what a Capturer needs of store.Store.
type CaptureStore interface {
	ListLogCaptures(ctx context.Context) ([]store.LogCapture, error)
	AddRequestLogs(ctx context.Context, logs []store.RequestLog) error
}

// CaptureOptions configure a Capturer. Zero values take the defaults.
type CaptureOptions struct {
	Logger *slog.Logger // nil discards
	Store  CaptureStore
	// Refresh is how often the settings are reloaded (besides Invalidate).
	Refresh time.Duration
	// QueueLen and QueueBytes bound the captures waiting to be written;
	// beyond either, captures are dropped and counted.
	QueueLen   int
	QueueBytes int64
	// MaxBody is the most bytes kept of each body.
	MaxBody int
	// Batch is the most logs written in one transaction.
	Batch int
}

// Capturer is the gateway.Capturer of Cerulean: it keeps the enabled
// deployments in memory, takes captures without blocking, and writes them
// from Run, scrubbed and capped, in batches. Captures that do not fit in
// its bounded queue are dropped and counted, never waited for.
type Capturer struct {
	log      *slog.Logger
	store    CaptureStore
	refresh  time.Duration
	maxBytes int64
	maxBody  int
	batch    int

	enabled atomic.Pointer[map[deploymentKey]bool]
	queue   chan item
	queued  atomic.Int64 // bytes of the bodies in queue
	dropped atomic.Int64
	nudge   chan struct{}
}

var _ gateway.Capturer = (*Capturer)(nil)

type deploymentKey struct{ project, deployment string }

// item is one capture waiting to be written.
type item struct {
	rec       gateway.Record
	req, resp []byte
}

func (it *item) size() int64 { return int64(len(it.req) + len(it.resp)) }

// NewCapturer returns a Capturer over o.Store. Capture is off for every
// deployment until Run (or Refresh) has read the settings.
func NewCapturer(o CaptureOptions) *Capturer {
	c := &Capturer{
		log: o.Logger, store: o.Store, refresh: o.Refresh, maxBytes: o.QueueBytes, maxBody: o.MaxBody, batch: o.Batch,
		nudge: make(chan struct{}, 1),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.refresh <= 0 {
		c.refresh = DefaultRefresh
	}
	if o.QueueLen <= 0 {
		o.QueueLen = DefaultQueueLen
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultQueueBytes
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBody
	}
	if c.batch <= 0 {
		c.batch = DefaultBatch
	}
	c.queue = make(chan item, o.QueueLen)
	return c
}

// Enabled reports whether the deployment captures bodies, from memory.
func (c *Capturer) Enabled(project, deployment string) bool {
	m := c.enabled.Load()
	return m != nil && (*m)[deploymentKey{project, deployment}]
}

// Capture queues a request's bodies for Run to write, or drops them when
// the queue is full. It never blocks.
func (c *Capturer) Capture(_ context.Context, r gateway.Record, req, resp []byte) {
	it := item{rec: r, req: req, resp: resp}
	n := it.size()
	if c.queued.Add(n) > c.maxBytes {
		c.queued.Add(-n)
		c.drop(1)
		return
	}
	select {
	case c.queue <- it:
	default:
		c.queued.Add(-n)
		c.drop(1)
	}
}

func (c *Capturer) drop(n int64) {
	if c.dropped.Add(n) == n {
		c.log.Warn("request log: capture dropped: the queue is full or the store failed; later drops are only counted")
	}
}

// Dropped is how many captures were dropped so far.
func (c *Capturer) Dropped() int64 { return c.dropped.Load() }

// Invalidate makes Run reload the settings soon: call it after a setting
// changed.
func (c *Capturer) Invalidate() {
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

// Refresh reloads the settings now.
func (c *Capturer) Refresh(ctx context.Context) error {
	cs, err := c.store.ListLogCaptures(ctx)
	if err != nil {
		return fmt.Errorf("reqlog: load capture settings: %w", err)
	}
	m := make(map[deploymentKey]bool, len(cs))
	for _, s := range cs {
		if s.Enabled {
			m[deploymentKey{s.Project, s.Deployment}] = true
		}
	}
	c.enabled.Store(&m)
	return nil
}

// Run loads the settings, then writes captures as they come and reloads
// the settings every Refresh and after Invalidate, until ctx ends; then it
// writes what is still queued (for a bounded time) and returns nil.
func (c *Capturer) Run(ctx context.Context) error {
	if err := c.Refresh(ctx); err != nil {
		c.log.WarnContext(ctx, "request log: capture stays off until the settings can be read", "err", err)
	}
	tick := time.NewTicker(c.refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
			defer cancel()
			for {
				batch := c.take(nil)
				if len(batch) == 0 {
					return nil
				}
				c.write(dctx, batch)
			}
		case <-tick.C:
			c.reload(ctx)
		case <-c.nudge:
			c.reload(ctx)
		case it := <-c.queue:
			c.write(ctx, c.take([]item{it}))
		}
	}
}

func (c *Capturer) reload(ctx context.Context) {
	if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "request log: reload capture settings", "err", err)
	}
}

// take adds to batch what is queued, without waiting, up to the batch size.
func (c *Capturer) take(batch []item) []item {
	for len(batch) < c.batch {
		select {
		case it := <-c.queue:
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// write stores a batch, scrubbed and capped; a failed write drops it.
func (c *Capturer) write(ctx context.Context, batch []item) {
	logs := make([]store.RequestLog, 0, len(batch))
	for i := range batch {
		it := &batch[i]
		c.queued.Add(-it.size())
		logs = append(logs, c.requestLog(it))
	}
	if err := c.store.AddRequestLogs(ctx, logs); err != nil {
		c.drop(int64(len(logs)))
		c.log.WarnContext(ctx, "request log: write captured requests", "count", len(logs), "err", err)
	}
}

// requestLog is what the store keeps of a capture: the request scrubbed of
// secrets, both bodies capped at MaxBody.
func (c *Capturer) requestLog(it *item) store.RequestLog {
	r := it.rec
	return store.RequestLog{
		RequestID: r.RequestID, Time: r.Time, Project: r.Project, Deployment: r.Deployment, Model: r.Model,
		Operation: r.Operation, Stream: r.Stream, Status: r.Status, ErrorCode: r.ErrorCode,
		PromptTokens: r.Usage.PromptTokens, CompletionTokens: r.Usage.CompletionTokens, Latency: r.Latency,
		Request:  scrubJSON(it.req, c.maxBody),
		Response: clip(validUTF8(it.resp), c.maxBody, len(it.resp)),
	}
}

// validUTF8 is b as a string, with invalid bytes replaced (the store keeps
// text).
func validUTF8(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }
