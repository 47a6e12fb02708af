package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Defaults of LedgerOptions.
const (
	DefaultQueueSize    = 4096
	DefaultBatchSize    = 500
	DefaultFlushEvery   = 200 * time.Millisecond
	DefaultFullWait     = 20 * time.Millisecond
	DefaultWriteTimeout = 10 * time.Second
)

// maxBackoff bounds the wait between attempts to write a failed batch.
const maxBackoff = 5 * time.Second

// finalAttempts is how often the last drain, and a synchronous write,
// tries a batch before giving its records up as lost.
const finalAttempts = 3

// LedgerStore is where the ledger writes; store.Store satisfies it.
type LedgerStore interface {
	RecordUsage(ctx context.Context, recs []store.UsageRecord) (int, error)
}

// LedgerOptions configure a Ledger. Zero values take the defaults.
type LedgerOptions struct {
	Store    LedgerStore
	Projects Projects // finds each record's hub; nil records no hub
	Logger   *slog.Logger
	// QueueSize bounds the records waiting to be written.
	QueueSize int
	// BatchSize is the most records written in one transaction; a full
	// batch is written at once.
	BatchSize int
	// FlushEvery is the longest a record waits in a partial batch.
	FlushEvery time.Duration
	// FullWait is how long Record waits for room in a full queue before
	// it writes its record itself, synchronously.
	FullWait time.Duration
	// WriteTimeout bounds one write transaction.
	WriteTimeout time.Duration
	Now          func() time.Time
}

// LedgerStats count what a ledger did since it was made.
type LedgerStats struct {
	Recorded   uint64 // Record calls
	Written    uint64 // records committed as new
	Duplicates uint64 // records already stored (a repeated write)
	SyncWrites uint64 // records Record wrote itself: the queue was full or the ledger closed
	Lost       uint64 // records that could not be written (each logged at level ERROR)
	Failures   uint64 // failed write attempts (retried)
}

// Ledger is the gateway's Meter: it queues each request's record and a
// worker (Run) writes them in batches. See the package documentation for
// the guarantees and the loss window.
type Ledger struct {
	st           LedgerStore
	hubs         *hubCache
	log          *slog.Logger
	batchSize    int
	flushEvery   time.Duration
	fullWait     time.Duration
	writeTimeout time.Duration

	queue    chan gateway.Record
	flushReq chan chan error
	started  atomic.Bool
	finished chan struct{} // closed when Run has drained and returned

	mu     sync.RWMutex // Record holds it shared while it enqueues; Run takes it to close
	closed bool         // Run is draining or done: Record writes synchronously

	recorded, written, duplicates, syncWrites, lost, failures atomic.Uint64
}

var _ gateway.Meter = (*Ledger)(nil)

// NewLedger returns a ledger writing to o.Store. Call Run to start its
// worker.
func NewLedger(o LedgerOptions) *Ledger {
	l := &Ledger{
		st:           o.Store,
		log:          o.Logger,
		batchSize:    o.BatchSize,
		flushEvery:   o.FlushEvery,
		fullWait:     o.FullWait,
		writeTimeout: o.WriteTimeout,
		flushReq:     make(chan chan error),
		finished:     make(chan struct{}),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.batchSize <= 0 {
		l.batchSize = DefaultBatchSize
	}
	if l.flushEvery <= 0 {
		l.flushEvery = DefaultFlushEvery
	}
	if l.fullWait <= 0 {
		l.fullWait = DefaultFullWait
	}
	if l.writeTimeout <= 0 {
		l.writeTimeout = DefaultWriteTimeout
	}
	size := o.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	l.queue = make(chan gateway.Record, size)
	now := o.Now
	if now == nil {
		now = time.Now
	}
	l.hubs = newHubCache(o.Projects, now)
	return l
}

// Stats returns the ledger's counters.
func (l *Ledger) Stats() LedgerStats {
	return LedgerStats{
		Recorded: l.recorded.Load(), Written: l.written.Load(), Duplicates: l.duplicates.Load(),
		SyncWrites: l.syncWrites.Load(), Lost: l.lost.Load(), Failures: l.failures.Load(),
	}
}

// Record queues r for the worker. It never drops a record: when the queue
// stays full for FullWait, or once Run has begun its final drain, it
// writes r itself (in the caller's goroutine, bounded by WriteTimeout).
func (l *Ledger) Record(ctx context.Context, r gateway.Record) {
	l.recorded.Add(1)
	l.mu.RLock()
	if !l.closed {
		select {
		case l.queue <- r:
			l.mu.RUnlock()
			return
		default:
		}
		t := time.NewTimer(l.fullWait)
		select {
		case l.queue <- r:
			l.mu.RUnlock()
			t.Stop()
			return
		case <-t.C:
		}
	}
	l.mu.RUnlock()
	l.syncWrites.Add(1)
	l.writeFinal(context.WithoutCancel(ctx), []gateway.Record{r})
}

// Flush writes every record queued before it was called and returns
// when they are committed. It needs Run to be running; once Run has
// returned, everything is written and Flush returns nil at once.
func (l *Ledger) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case l.flushReq <- reply:
	case <-l.finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("metering: flush: %w", ctx.Err())
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return fmt.Errorf("metering: flush: %w", ctx.Err())
	}
}

// Run writes queued records until ctx is cancelled, then stops taking
// records into the queue (Record writes synchronously from then on),
// writes everything queued and returns. It returns an error only when
// records were lost in that final drain. Run may be called once.
func (l *Ledger) Run(ctx context.Context) error {
	if !l.started.CompareAndSwap(false, true) {
		return errors.New("metering: ledger: Run called twice")
	}
	defer close(l.finished)
	batch := make([]gateway.Record, 0, l.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	armed := false
	backoff := time.Duration(0) // > 0 while a batch keeps failing
	maxPending := max(cap(l.queue), l.batchSize)
	for {
		in := l.queue
		if len(batch) >= maxPending {
			in = nil // writes fail: stop taking, so Record writes itself
		}
		select {
		case r := <-in:
			batch = append(batch, r)
			if len(batch) >= l.batchSize && backoff == 0 {
				batch = l.writeBatches(ctx, batch)
				armed = false
				timer.Stop()
				if len(batch) > 0 {
					backoff = l.flushEvery
					timer.Reset(backoff)
					armed = true
				}
			} else if !armed {
				timer.Reset(l.flushEvery)
				armed = true
			}
		case <-timer.C:
			armed = false
			if batch = l.writeBatches(ctx, batch); len(batch) > 0 {
				backoff = min(max(2*backoff, l.flushEvery), maxBackoff)
				timer.Reset(backoff)
				armed = true
			} else {
				backoff = 0
			}
		case reply := <-l.flushReq:
			batch = l.drain(batch)
			batch = l.writeBatches(ctx, batch)
			var err error
			if len(batch) > 0 {
				err = fmt.Errorf("metering: flush: %d records not yet written; will retry", len(batch))
				if !armed {
					backoff = max(backoff, l.flushEvery)
					timer.Reset(backoff)
					armed = true
				}
			}
			reply <- err
		case <-ctx.Done():
			l.mu.Lock()
			l.closed = true
			l.mu.Unlock()
			batch = l.drain(batch)
			return l.writeFinal(context.WithoutCancel(ctx), batch)
		}
	}
}

// drain moves every queued record into batch.
func (l *Ledger) drain(batch []gateway.Record) []gateway.Record {
	for {
		select {
		case r := <-l.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
}

// writeBatches writes recs in transactions of at most BatchSize records
// and returns those it could not write (kept for a retry).
func (l *Ledger) writeBatches(ctx context.Context, recs []gateway.Record) []gateway.Record {
	for len(recs) > 0 {
		n := min(len(recs), l.batchSize)
		if err := l.write(ctx, recs[:n]); err != nil {
			l.failures.Add(1)
			l.log.WarnContext(ctx, "metering: writing usage failed; will retry", "records", len(recs), "err", err)
			return recs
		}
		recs = recs[n:]
	}
	return recs[:0]
}

// writeFinal writes recs, trying each batch a few times, and logs each
// record it could not write. It is the path of last resort: the final
// drain and the synchronous writes of Record.
func (l *Ledger) writeFinal(ctx context.Context, recs []gateway.Record) error {
	var lostErr error
	for len(recs) > 0 {
		n := min(len(recs), l.batchSize)
		var err error
		for attempt := range finalAttempts {
			if attempt > 0 {
				time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
			}
			if err = l.write(ctx, recs[:n]); err == nil {
				break
			}
			l.failures.Add(1)
		}
		if err != nil {
			for _, r := range recs[:n] {
				l.lost.Add(1)
				l.log.ErrorContext(ctx, "metering: usage record lost", "request_id", r.RequestID, "project", r.Project,
					"deployment", r.Deployment, "prompt_tokens", r.Usage.PromptTokens, "completion_tokens", r.Usage.CompletionTokens,
					"status", r.Status, "err", err)
			}
			lostErr = errors.Join(lostErr, fmt.Errorf("metering: %d usage records lost: %w", n, err))
		}
		recs = recs[n:]
	}
	return lostErr
}

// write commits recs in one transaction.
func (l *Ledger) write(ctx context.Context, recs []gateway.Record) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.writeTimeout)
	defer cancel()
	out := make([]store.UsageRecord, 0, len(recs))
	for _, r := range recs {
		hub, err := l.hubs.hub(ctx, r.Project)
		if err != nil {
			return err
		}
		out = append(out, toStore(r, hub))
	}
	n, err := l.st.RecordUsage(ctx, out)
	if err != nil {
		return fmt.Errorf("metering: record usage: %w", err)
	}
	l.written.Add(uint64(n))
	l.duplicates.Add(uint64(len(out) - n))
	return nil
}

// toStore is the ledger's record of r.
func toStore(r gateway.Record, hub string) store.UsageRecord {
	return store.UsageRecord{
		RequestID:        r.RequestID,
		Time:             r.Time.UTC(),
		Hub:              hub,
		Project:          r.Project,
		KeyID:            r.KeyID,
		Deployment:       r.Deployment,
		Model:            r.Model,
		Version:          r.Version,
		SKU:              r.SKU,
		Operation:        r.Operation,
		PromptTokens:     max(r.Usage.PromptTokens, 0),
		CompletionTokens: max(r.Usage.CompletionTokens, 0),
		CachedTokens:     max(r.Usage.Cached(), 0),
		LatencyMS:        max(r.Latency.Milliseconds(), 0),
		TTFTMS:           max(r.TimeToFirstToken.Milliseconds(), 0),
		Status:           r.Status,
		Stream:           r.Stream,
	}
}
