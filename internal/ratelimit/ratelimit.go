// Package ratelimit admits inference requests to deployments the way Azure
// OpenAI does, in one process:
//
//   - Standard, GlobalStandard, DataZoneStandard and Developer deployments
//     of capacity K have a token limit of K×1,000 tokens per 60 s and a
//     request limit of K requests per 10 s (6 RPM per 1,000 TPM), both
//     counted over rolling windows (see rollingWindow). A request is
//     charged its estimate at admission (prompt tokens + max tokens) and
//     settled to its actual total when it ends.
//   - ProvisionedManaged, GlobalProvisionedManaged and
//     DataZoneProvisionedManaged deployments of P PTUs have a utilization
//     leaky bucket that drains P × input-TPM-per-PTU tokens per minute; a
//     request is refused only while utilization is over 100 %.
//   - ManagedCompute, GlobalBatch and DataZoneBatch deployments (and
//     unknown types, and deployments whose Target carries no capacity)
//     pass through: their replicas or batch queues do the waiting.
//
// The limits hold within one process; many gateways behind a load balancer
// each enforce the whole limit (a shared Redis limiter is future work).
//
// Wiring: pass New(...) as gateway.Deps.Admit; give the built-in engine's
// runner requests Admitter.Weight(target) (or SchedulerWeight(sku)); read
// Utilization for metrics.
package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Limits are the per-project figures the Admitter reads on every request.
// The Admitter declares what it needs; whoever holds per-project overrides
// implements it (Static gives Azure's defaults to everyone).
type Limits interface {
	// TPMPerUnit is the tokens per minute one capacity unit of a Standard
	// deployment allows (Azure: 1,000).
	TPMPerUnit(project string) int
	// RequestsPerUnit is the requests per 10-second window one capacity
	// unit allows (Azure: 1, i.e. 6 RPM per 1,000 TPM).
	RequestsPerUnit(project string) int
	// DefaultMaxTokens is the completion tokens reserved for a chat request
	// that gives no max_tokens (before the clamp to the model's context).
	DefaultMaxTokens(project string) int
}

// Defaults: Azure's figures for Standard deployments (used by Static for
// zero fields), the PTU figures of a catalog version without any (gpt-4o's:
// 2,500 input TPM per PTU, about 833 output TPM, so an output token counts
// as 3), and how long an unused limiter is kept.
const (
	DefaultTPMPerUnit      = 1000
	DefaultRequestsPerUnit = 1
	DefaultMaxTokens       = 4096
	DefaultInputTPMPerPTU  = 2500
	DefaultOutputWeight    = 3.0
	DefaultIdleAfter       = 5 * time.Minute
)

// Windows of the Standard limits, in seconds, as Azure's rateLimits give
// them (renewalPeriod).
const (
	requestWindowSeconds = 10
	tokenWindowSeconds   = 60
)

// Scheduler weights (see SchedulerWeight).
const (
	provisionedWeight = 8
	standardWeight    = 2
	batchWeight       = 1
)

// Operations as gateway.Estimate names them.
const (
	opCompletion = "completion"
	opEmbedding  = "embedding"
)

// The header names are in canonical form, so that setting them does not
// allocate a canonicalized copy per request.
const (
	shardCount              = 16
	utilizationHeader       = "Azure-Openai-Deployment-Utilization"
	remainingRequestsHeader = "X-Ratelimit-Remaining-Requests"
	remainingTokensHeader   = "X-Ratelimit-Remaining-Tokens"
)

// Static is the same Limits for every project; zero fields mean Azure's
// defaults.
type Static struct {
	TPM       int // tokens per minute per capacity unit
	Requests  int // requests per 10 s per capacity unit
	MaxTokens int // completion reservation when a request gives none
}

// TPMPerUnit implements Limits.
func (s Static) TPMPerUnit(string) int { return orDefault(s.TPM, DefaultTPMPerUnit) }

// RequestsPerUnit implements Limits.
func (s Static) RequestsPerUnit(string) int { return orDefault(s.Requests, DefaultRequestsPerUnit) }

// DefaultMaxTokens implements Limits.
func (s Static) DefaultMaxTokens(string) int { return orDefault(s.MaxTokens, DefaultMaxTokens) }

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Config configures an Admitter.
type Config struct {
	Limits Limits           // nil means Static{}
	Now    func() time.Time // nil means time.Now
	// IdleAfter is how long a deployment's limiter must go unused (and be
	// back to its fresh state, with no request in flight) before it is
	// dropped; 0 means DefaultIdleAfter.
	IdleAfter time.Duration
}

// Admitter is a gateway.Admitter with one limiter per deployment. Limiters
// live in a sharded map; each has its own mutex, so requests to different
// deployments never wait for each other. Idle limiters are dropped by an
// occasional sweep that an Admit call runs.
type Admitter struct {
	limits    Limits
	now       func() time.Time
	idleAfter time.Duration
	seed      maphash.Seed
	lastSweep atomic.Int64 // UnixNano of the last sweep
	shards    [shardCount]shard
}

var _ gateway.Admitter = (*Admitter)(nil)

type shard struct {
	mu sync.RWMutex
	m  map[key]*limiter
}

type key struct{ project, deployment string }

// kind is how a deployment type is admitted.
type kind int

const (
	passThrough kind = iota
	standardKind
	provisionedKind
)

func kindOf(sku string) kind {
	switch {
	case deployment.IsStandard(sku):
		return standardKind
	case deployment.IsProvisioned(sku):
		return provisionedKind
	}
	return passThrough
}

// limiter is one deployment's state; mu guards all of it.
type limiter struct {
	mu       sync.Mutex
	dead     bool // evicted: look the deployment up again
	kind     kind
	inflight int
	last     time.Time // last admission or settlement
	std      standard
	ptu      provisioned
}

// New returns an Admitter.
func New(c Config) *Admitter {
	a := &Admitter{limits: c.Limits, now: c.Now, idleAfter: c.IdleAfter, seed: maphash.MakeSeed()}
	if a.limits == nil {
		a.limits = Static{}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.idleAfter <= 0 {
		a.idleAfter = DefaultIdleAfter
	}
	for i := range a.shards {
		a.shards[i].m = map[key]*limiter{}
	}
	return a
}

// Admit charges the request's estimate to its deployment's limiter, or
// refuses it with a *fault.Error of kind RateLimited, code "429", Azure's
// message and RetryAfter. It sets the x-ratelimit-remaining-* headers
// (Standard) or azure-openai-deployment-utilization (provisioned) on
// e.Header, on admission and on refusal. The settle function charges the
// difference between the actual usage and the estimate; calls after the
// first do nothing. A request whose settle is never called keeps its
// deployment's limiter from being dropped (the gateway always calls it).
func (a *Admitter) Admit(_ context.Context, e gateway.Estimate) (func(inference.Usage), error) {
	k := kindOf(e.Target.SKU)
	if k == passThrough || e.Target.Capacity <= 0 {
		return func(inference.Usage) {}, nil
	}
	now := a.now()
	a.maybeSweep(now)
	for {
		l := a.get(key{e.Target.Project, e.Target.Deployment})
		l.mu.Lock()
		if l.dead {
			l.mu.Unlock()
			continue
		}
		var settle func(inference.Usage)
		var err error
		switch k {
		case standardKind:
			settle, err = a.admitStandard(l, e, now)
		case provisionedKind:
			settle, err = a.admitProvisioned(l, e, now)
		}
		l.mu.Unlock()
		return settle, err
	}
}

// settler wraps the kind's settlement: it runs once, ends the request's
// in-flight count and stamps the limiter's last use.
func (a *Admitter) settler(l *limiter, fn func(now time.Time, u inference.Usage)) func(inference.Usage) {
	l.inflight++
	var once atomic.Bool
	return func(u inference.Usage) {
		if !once.CompareAndSwap(false, true) {
			return
		}
		now := a.now()
		l.mu.Lock()
		defer l.mu.Unlock()
		l.inflight--
		l.last = later(l.last, now)
		fn(now, u)
	}
}

// reset makes l a fresh limiter of kind k when it was of another kind.
func (l *limiter) reset(k kind) {
	if l.kind == k {
		return
	}
	l.kind = k
	l.std = standard{}
	l.ptu = provisioned{}
}

// estimatedOutput is the completion tokens a request reserves: its max
// tokens, else (chat without a max) the project's default clamped to what
// the model's context leaves after the prompt; embeddings reserve none.
func (a *Admitter) estimatedOutput(e gateway.Estimate) int {
	if e.MaxTokens > 0 || e.Operation == opEmbedding {
		return max(e.MaxTokens, 0)
	}
	out := a.limits.DefaultMaxTokens(e.Target.Project)
	if c := e.Target.Version.ContextLength; c > 0 {
		out = min(out, max(c-e.PromptTokens, 0))
	}
	return out
}

func (a *Admitter) shardOf(k key) *shard {
	return &a.shards[maphash.Comparable(a.seed, k)%shardCount]
}

// get returns the limiter of k, creating it.
func (a *Admitter) get(k key) *limiter {
	s := a.shardOf(k)
	s.mu.RLock()
	l := s.m[k]
	s.mu.RUnlock()
	if l != nil {
		return l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l = s.m[k]; l == nil {
		l = &limiter{}
		s.m[k] = l
	}
	return l
}

// lookup returns the limiter of k if there is one.
func (a *Admitter) lookup(k key) *limiter {
	s := a.shardOf(k)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[k]
}

// maybeSweep sweeps when half an IdleAfter has passed since the last sweep;
// one caller wins the race and the others go on.
func (a *Admitter) maybeSweep(now time.Time) {
	last := a.lastSweep.Load()
	if now.UnixNano()-last < int64(a.idleAfter/2) || !a.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	a.sweep(now)
}

// sweep drops limiters that are idle: unused for IdleAfter, nothing in
// flight and back to a fresh limiter's state, so that dropping them
// changes no decision.
func (a *Admitter) sweep(now time.Time) {
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.Lock()
		for k, l := range s.m {
			l.mu.Lock()
			if l.inflight == 0 && now.Sub(l.last) >= a.idleAfter && l.fresh(now) {
				l.dead = true
				delete(s.m, k)
			}
			l.mu.Unlock()
		}
		s.mu.Unlock()
	}
}

// fresh reports whether l now holds no charge.
func (l *limiter) fresh(now time.Time) bool {
	switch l.kind {
	case standardKind:
		return l.std.idle(now)
	case provisionedKind:
		return l.ptu.idle(now)
	}
	return true
}

// len is the number of limiters held.
func (a *Admitter) len() int {
	n := 0
	for i := range a.shards {
		s := &a.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Utilization is how full a deployment's limiter is now, for metrics: for
// a provisioned deployment its utilization (1 = 100 % of the purchased
// throughput; it may exceed 1 briefly), for a Standard deployment the share
// of its per-minute token limit used in the last 60 s. It is false when the
// deployment has no limiter (never called, idle and dropped, or not rate
// limited).
func (a *Admitter) Utilization(project, deploymentName string) (float64, bool) {
	l := a.lookup(key{project, deploymentName})
	if l == nil {
		return 0, false
	}
	now := a.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.dead:
		return 0, false
	case l.kind == standardKind:
		return l.std.utilization(now), true
	case l.kind == provisionedKind:
		return l.ptu.utilization(now), true
	}
	return 0, false
}

// SchedulerWeight is the engine scheduler's weight (runner.Request.Weight)
// of a request to a deployment of type sku: provisioned traffic 8, so that
// it gets its reserved share first; Standard types and managed compute 2;
// batch 1, the lowest.
func SchedulerWeight(sku string) int {
	switch {
	case deployment.IsProvisioned(sku):
		return provisionedWeight
	case sku == "GlobalBatch" || sku == "DataZoneBatch":
		return batchWeight
	}
	return standardWeight
}

// Weight is SchedulerWeight of t's type, except that a provisioned
// deployment running over 100 % utilization (a tolerated burst) competes
// with the Standard weight: its reserved share covers its purchase only.
func (a *Admitter) Weight(t inference.Target) int {
	w := SchedulerWeight(t.SKU)
	if w == provisionedWeight {
		if u, ok := a.Utilization(t.Project, t.Deployment); ok && u > 1 {
			return standardWeight
		}
	}
	return w
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
