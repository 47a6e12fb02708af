package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// Webhook headers.
const (
	SignatureHeader = "X-Cerulean-Signature" // sha256=<hex HMAC-SHA256 of the body with the webhook's secret>
	EventHeader     = "X-Cerulean-Event"     // the payload's type
	DeliveryHeader  = "X-Cerulean-Delivery"  // the delivery's id
)

// Defaults of the Deliverer.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = time.Second
	DefaultMaxDelay    = time.Minute
	DefaultTimeout     = 10 * time.Second
	DefaultPoll        = 500 * time.Millisecond
	deliveryBatch      = 100
)

// DeliveryStore is what the Deliverer needs of store.Store.
type DeliveryStore interface {
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error)
	UpdateDelivery(ctx context.Context, d store.Delivery) error
}

// Deliverer is the worker that posts webhook deliveries. Its zero value
// with a Store is usable.
type Deliverer struct {
	Store       DeliveryStore
	Logger      *slog.Logger     // nil discards
	Client      *http.Client     // nil: a client with Timeout
	Timeout     time.Duration    // of one attempt; 0 means DefaultTimeout
	MaxAttempts int              // 0 means DefaultMaxAttempts
	BaseDelay   time.Duration    // the wait after the first failure; 0 means DefaultBaseDelay
	MaxDelay    time.Duration    // the longest wait; 0 means DefaultMaxDelay
	Poll        time.Duration    // how often Run looks for due deliveries; 0 means DefaultPoll
	Now         func() time.Time // nil means time.Now
	// Sleep waits d or until ctx ends (then it returns ctx's error); nil
	// waits on a timer. Tests pass a fake.
	Sleep func(ctx context.Context, d time.Duration) error

	wake chan struct{}
}

// NewDeliverer returns a Deliverer over s with the defaults.
func NewDeliverer(s DeliveryStore, log *slog.Logger) *Deliverer {
	return &Deliverer{Store: s, Logger: log, wake: make(chan struct{}, 1)}
}

// Notify wakes Run to look for due deliveries now. It never blocks.
func (d *Deliverer) Notify() {
	if d.wake == nil {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Deliverer) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run delivers due deliveries — first those left pending by an earlier
// run — and then looks again every Poll or when notified, until ctx is
// cancelled; it returns nil then.
func (d *Deliverer) Run(ctx context.Context) error {
	poll := d.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	for {
		if _, err := d.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			d.log().LogAttrs(ctx, slog.LevelError, "webhook delivery failed", slog.Any("err", err))
		}
		if err := d.wait(ctx, poll); err != nil {
			return nil
		}
	}
}

// wait sleeps poll, or less when notified.
func (d *Deliverer) wait(ctx context.Context, poll time.Duration) error {
	if d.Sleep != nil {
		return d.Sleep(ctx, poll)
	}
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	case <-d.wake:
	}
	return nil
}

// DeliverDue makes one attempt at each due delivery and records it; it
// returns how many it attempted.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	due, err := d.Store.DueDeliveries(ctx, d.now(), deliveryBatch)
	if err != nil {
		return 0, fmt.Errorf("alert: due deliveries: %w", err)
	}
	var errs []error
	for _, del := range due {
		if ctx.Err() != nil {
			break
		}
		del = d.attempt(ctx, del)
		if err := d.Store.UpdateDelivery(context.WithoutCancel(ctx), del); err != nil {
			errs = append(errs, fmt.Errorf("alert: record delivery %d: %w", del.ID, err))
		}
	}
	return len(due), errors.Join(errs...)
}

// Backoff is the wait after the n-th failed attempt (n from 1): BaseDelay
// doubled n-1 times, at most MaxDelay.
func (d *Deliverer) Backoff(n int) time.Duration {
	base, most := d.BaseDelay, d.MaxDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	if most <= 0 {
		most = DefaultMaxDelay
	}
	w := base
	for i := 1; i < n && w < most; i++ {
		w *= 2
	}
	return min(w, most)
}

// attempt posts del once and returns it with the outcome.
func (d *Deliverer) attempt(ctx context.Context, del store.Delivery) store.Delivery {
	code, err := d.post(ctx, del)
	del.Attempts++
	del.StatusCode = code
	del.UpdatedAt = d.now()
	limit := d.MaxAttempts
	if limit <= 0 {
		limit = DefaultMaxAttempts
	}
	switch {
	case err == nil:
		del.State, del.Error = store.DeliveryDelivered, ""
	case del.Attempts >= limit:
		del.State, del.Error = store.DeliveryFailed, err.Error()
		d.log().LogAttrs(ctx, slog.LevelWarn, "webhook delivery given up", slog.Int64("delivery", del.ID),
			slog.String("url", del.URL), slog.Int("attempts", del.Attempts), slog.String("err", del.Error))
	default:
		del.Error = err.Error()
		del.NextAt = del.UpdatedAt.Add(d.Backoff(del.Attempts))
	}
	return del
}

// post sends del's body and returns the status code (0 when none came).
func (d *Deliverer) post(ctx context.Context, del store.Delivery) (int, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, bytes.NewReader(del.Body))
	if err != nil {
		return 0, fmt.Errorf("bad webhook URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Cerulean-Webhook/1")
	req.Header.Set(EventHeader, del.Type)
	req.Header.Set(DeliveryHeader, strconv.FormatInt(del.ID, 10))
	if del.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(del.Secret, del.Body))
	}
	hc := d.Client
	if hc == nil {
		hc = &http.Client{Timeout: timeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Sign is the signature header value of body with secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's signature with secret, in
// constant time; receivers written in Go may use it.
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}
