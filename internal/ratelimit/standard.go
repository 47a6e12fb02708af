package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Slot widths of the rolling windows: the token window keeps 241 slots of
// 250 ms, the request window 101 slots of 100 ms.
const (
	tokenSlot   = 250 * time.Millisecond
	requestSlot = 100 * time.Millisecond
)

// rollingWindow counts what was charged over the last span, in slots of
// width w. It is a token bucket whose tokens come back exactly one span
// after they were spent instead of trickling back at a constant rate.
//
// Why not a trickle: a bucket of depth C refilled at C per minute admits up
// to 2C in one minute (a full bucket plus a minute of refill), where Azure
// promises "count per renewalPeriod" (rateLimits: 80,000 tokens per 60 s)
// and resets its running count each minute. The rolling window admits at
// most C plus the last request's estimate in ANY span-long interval, still
// lets a client burst its whole minute at once, and, under steady load,
// gives back C per minute like the trickle.
//
// A request is admitted while the charges of the last span+w (n = span/w+1
// slots, so that every interval of length span is covered whatever the
// phase) are below the limit; the extra slot costs at most w/span of the
// throughput (0.4 % for tokens, 1 % for requests).
type rollingWindow struct {
	w     time.Duration
	slots []int64 // ring; slot index i lives at i % len
	head  int64   // index of the newest slot; older ones follow backwards
	sum   int64   // sum of slots
}

func newWindow(span, w time.Duration) rollingWindow {
	return rollingWindow{w: w, slots: make([]int64, int(span/w)+1)}
}

// index is the slot of time t.
func (r *rollingWindow) index(t time.Time) int64 { return t.UnixNano() / int64(r.w) }

// advance moves the window to t, dropping the slots that left it. A clock
// that goes backwards leaves the window where it is.
func (r *rollingWindow) advance(t time.Time) {
	i := r.index(t)
	n := int64(len(r.slots))
	if i <= r.head {
		return
	}
	if i-r.head >= n {
		clear(r.slots)
		r.sum = 0
	} else {
		for j := r.head + 1; j <= i; j++ {
			r.sum -= r.slots[j%n]
			r.slots[j%n] = 0
		}
	}
	r.head = i
}

// add charges v to the newest slot (call advance first) and returns its
// index.
func (r *rollingWindow) add(v int64) int64 {
	r.slots[r.head%int64(len(r.slots))] += v
	r.sum += v
	return r.head
}

// adjust charges v to slot i if it is still in the window (call advance
// first). Otherwise a positive v goes to the newest slot, so that an
// underestimate still delays later requests, and a negative one is
// dropped: those tokens already came back.
func (r *rollingWindow) adjust(i, v int64) {
	n := int64(len(r.slots))
	switch {
	case i > r.head-n && i <= r.head:
		r.slots[i%n] += v
		r.sum += v
	case v > 0:
		r.add(v)
	}
}

// wait is how long from t (the window advanced to t) until the sum is
// below limit, assuming nothing more is charged; 0 when it already is.
func (r *rollingWindow) wait(t time.Time, limit int64) time.Duration {
	if r.sum < limit {
		return 0
	}
	n := int64(len(r.slots))
	left := r.sum
	for j := r.head - n + 1; j <= r.head; j++ {
		left -= r.slots[(j%n+n)%n]
		if left < limit {
			// slot j leaves when slot j+n becomes the newest
			return time.Unix(0, (j+n)*int64(r.w)).Sub(t)
		}
	}
	return time.Unix(0, (r.head+1)*int64(r.w)).Sub(t) // unreachable: limit > 0
}

// standard is the state of a Standard deployment.
type standard struct {
	capacity int   // K-TPM units
	tokens   int64 // token limit per 60 s
	requests int64 // request limit per 10 s
	tok, req rollingWindow
}

// idle reports whether nothing is charged in either window at t.
func (s *standard) idle(t time.Time) bool {
	if s.tok.slots == nil {
		return true
	}
	s.tok.advance(t)
	s.req.advance(t)
	return s.tok.sum == 0 && s.req.sum == 0
}

func (s *standard) utilization(t time.Time) float64 {
	if s.tokens <= 0 {
		return 0
	}
	s.tok.advance(t)
	return float64(s.tok.sum) / float64(s.tokens)
}

// admitStandard charges e to l's windows or refuses it (l.mu held).
// Capacity changes apply at once and keep what was already counted.
func (a *Admitter) admitStandard(l *limiter, e gateway.Estimate, now time.Time) (func(inference.Usage), error) {
	l.reset(standardKind)
	s := &l.std
	if s.tok.slots == nil {
		s.tok = newWindow(tokenWindowSeconds*time.Second, tokenSlot)
		s.req = newWindow(requestWindowSeconds*time.Second, requestSlot)
	}
	p := e.Target.Project
	s.capacity = e.Target.Capacity
	s.tokens = int64(s.capacity) * int64(a.limits.TPMPerUnit(p))
	s.requests = int64(s.capacity) * int64(a.limits.RequestsPerUnit(p))
	s.tok.advance(now)
	s.req.advance(now)
	l.last = later(l.last, now)

	reqWait, tokWait := s.req.wait(now, s.requests), s.tok.wait(now, s.tokens)
	if reqWait > 0 || tokWait > 0 {
		s.setHeaders(e.Header)
		which, d := "call", reqWait
		if tokWait > 0 {
			which, d = "token", max(reqWait, tokWait)
		}
		return nil, rateLimited(e, which, d)
	}
	est := int64(e.PromptTokens + a.estimatedOutput(e))
	s.req.add(1)
	slot := s.tok.add(est)
	s.setHeaders(e.Header)
	return a.settler(l, func(now time.Time, u inference.Usage) {
		if l.kind != standardKind {
			return // the deployment changed type meanwhile
		}
		l.std.tok.advance(now)
		l.std.tok.adjust(slot, int64(max(u.TotalTokens, u.PromptTokens+u.CompletionTokens))-est)
	}), nil
}

// setHeaders sets the remaining requests and tokens of the current windows.
func (s *standard) setHeaders(h http.Header) {
	if h == nil {
		return
	}
	h.Set(remainingRequestsHeader, strconv.FormatInt(max(s.requests-s.req.sum, 0), 10))
	h.Set(remainingTokensHeader, strconv.FormatInt(max(s.tokens-s.tok.sum, 0), 10))
}

// operationID is the Azure spec's operationId of a gateway operation.
func operationID(op string) string {
	switch op {
	case opCompletion:
		return "Completions_Create"
	case opEmbedding:
		return "Embeddings_Create"
	}
	return "ChatCompletions_Create"
}

// apiVersion is the version named in Azure's 429 text.
func apiVersion(e gateway.Estimate) string {
	if e.APIVersion == "" {
		return "latest"
	}
	return e.APIVersion
}

// roundWait rounds a wait up to a whole millisecond, at least one, so that
// retry-after-ms is never 0 and never early.
func roundWait(d time.Duration) time.Duration {
	return max(time.Duration(math.Ceil(float64(d)/float64(time.Millisecond)))*time.Millisecond, time.Millisecond)
}

// seconds is a wait in whole seconds, rounded up, as the retry-after
// header and Azure's text give it.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// rateLimited is Azure's 429 for an exceeded Standard limit; which is
// "token" or "call".
func rateLimited(e gateway.Estimate, which string, d time.Duration) error {
	d = roundWait(d)
	msg := fmt.Sprintf("Requests to the %s Operation under Azure OpenAI API version %s have exceeded %s rate limit of your current OpenAI S0 pricing tier. Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
		operationID(e.Operation), apiVersion(e), which, seconds(d))
	return &fault.Error{Kind: fault.RateLimited, Code: "429", Message: msg, RetryAfter: d}
}
