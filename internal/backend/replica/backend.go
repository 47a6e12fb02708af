package replica

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// picker chooses where a request goes: the base URL of a replica (or of a
// Service in front of them), and a function to call when the request
// ends. URLs in avoid failed to connect during this request.
type picker interface {
	pick(ctx context.Context, t inference.Target, avoid map[string]bool) (url string, done func(), err error)
}

// Backend is the gateway.Backend of ManagedCompute deployments: each
// request goes to one replica through the upstream backend, and is tried
// once more on another replica when the first cannot be connected to.
type Backend struct {
	p   picker
	up  *upstream.Backend
	key string
}

// Backend returns the gateway.Backend that serves the supervisor's
// deployments, sending each request to the least-loaded Ready replica.
func (s *Supervisor) Backend() *Backend { return &Backend{p: s, up: s.o.Upstream, key: s.key} }

// attempts is how many replicas one request may try.
const attempts = 2

// do runs call against a picked replica, and once more against another
// when the replica could not be connected to and nothing was emitted.
func (b *Backend) do(ctx context.Context, t inference.Target, emitted func() bool, call func(ut inference.Target) error) error {
	var avoid map[string]bool // made on the first retry: most requests need none
	var err error
	for range attempts {
		url, done, perr := b.p.pick(ctx, t, avoid)
		if perr != nil {
			if err != nil {
				return err // the connect error says more than "no other replica"
			}
			return perr
		}
		err = call(upstreamTarget(t, url, b.key))
		done()
		if err == nil || !unreachable(err) || (emitted != nil && emitted()) {
			return err
		}
		if avoid == nil {
			avoid = make(map[string]bool, attempts)
		}
		avoid[url] = true
	}
	return err
}

// upstreamTarget is t sent to the worker at base URL url.
func upstreamTarget(t inference.Target, url, key string) inference.Target {
	v := t.Version
	v.Format = catalog.FormatUpstream
	v.File = ""
	v.Upstream = &catalog.Upstream{BaseURL: url + "/v1", Model: Model, APIKey: key}
	t.Version = v
	return t
}

// unreachable reports whether err is a failure to connect to a replica
// (it died or is being replaced), which another replica may not have.
func unreachable(err error) bool {
	if fault.KindOf(err) != fault.BadGateway {
		return false
	}
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &op) && op.Op == "dial")
}

// Chat implements gateway.Backend.
func (b *Backend) Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	var out *inference.ChatCompletion
	err := b.do(ctx, t, nil, func(ut inference.Target) error {
		var err error
		out, err = b.up.Chat(ctx, ut, req)
		return err
	})
	return out, err
}

// ChatStream implements gateway.Backend.
func (b *Backend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	var usage *inference.Usage
	sent := false
	err := b.do(ctx, t, func() bool { return sent }, func(ut inference.Target) error {
		var err error
		usage, err = b.up.ChatStream(ctx, ut, req, func(c *inference.ChatChunk) error {
			sent = true
			return emit(c)
		})
		return err
	})
	return usage, err
}

// Complete implements gateway.Backend.
func (b *Backend) Complete(ctx context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error) {
	var out *inference.Completion
	err := b.do(ctx, t, nil, func(ut inference.Target) error {
		var err error
		out, err = b.up.Complete(ctx, ut, req)
		return err
	})
	return out, err
}

// CompleteStream implements gateway.Backend.
func (b *Backend) CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error) {
	var usage *inference.Usage
	sent := false
	err := b.do(ctx, t, func() bool { return sent }, func(ut inference.Target) error {
		var err error
		usage, err = b.up.CompleteStream(ctx, ut, req, func(c *inference.Completion) error {
			sent = true
			return emit(c)
		})
		return err
	})
	return usage, err
}

// Embed implements gateway.Backend.
func (b *Backend) Embed(ctx context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	var out *inference.EmbeddingList
	err := b.do(ctx, t, nil, func(ut inference.Target) error {
		var err error
		out, err = b.up.Embed(ctx, ut, req)
		return err
	})
	return out, err
}

// scaledToZero is the 503 of a deployment at 0 replicas.
func scaledToZero(name string) error {
	return &fault.Error{Kind: fault.Unavailable, Code: "DeploymentScaledToZero",
		Message: fmt.Sprintf("deployment %s is scaled to 0 replicas; scale it up with `cerulean deployment update --capacity N`", name)}
}

// notReady is the 503 of a deployment whose replicas are not Ready.
func notReady(name, detail string) error {
	return &fault.Error{Kind: fault.Unavailable, Code: "NoReadyReplica", RetryAfter: 5 * time.Second,
		Message: fmt.Sprintf("no replica of deployment %s is ready (%s); try again shortly", name, detail)}
}

// pick returns the least-loaded Ready replica of t's deployment (fewest
// requests in flight; ties take turns). When none is Ready it waits up to
// ReadyWait for one; a scale-to-zero deployment with no replicas starts
// one and waits for it as long as ctx allows.
func (s *Supervisor) pick(ctx context.Context, t inference.Target, avoid map[string]bool) (string, func(), error) {
	k := groupKey{t.Project, t.Deployment}
	timer := time.NewTimer(s.o.ReadyWait)
	defer timer.Stop()
	cold := false
	for {
		s.mu.Lock()
		g := s.groups[k]
		wake := s.changed
		if g == nil {
			s.mu.Unlock()
			if t.Capacity == 0 {
				return "", nil, scaledToZero(t.Deployment)
			}
			return "", nil, notReady(t.Deployment, "its replicas are not running on this server yet")
		}
		if r := g.leastLoadedLocked(avoid); r != nil {
			r.inflight.Add(1)
			url, _ := r.ready()
			s.mu.Unlock()
			r.touch(s.now())
			return url, func() {
				r.touch(s.now())
				r.inflight.Add(-1)
			}, nil
		}
		if len(g.replicas) == 0 {
			if capacity := g.d.Capacity; capacity > 0 || !g.d.ScaleToZero {
				s.mu.Unlock() // g.d may change once the lock is released
				if capacity > 0 {
					return "", nil, notReady(t.Deployment, "none is running")
				}
				return "", nil, scaledToZero(t.Deployment)
			}
			if s.closed {
				s.mu.Unlock()
				return "", nil, notReady(t.Deployment, "the server is shutting down")
			}
			s.log.Info("cold start of a scale-to-zero deployment", "project", k.project, "deployment", k.name)
			s.startLocked(g, true)
			cold = true
		}
		if len(avoid) > 0 && len(avoid) >= len(g.replicas) {
			s.mu.Unlock()
			return "", nil, notReady(t.Deployment, "none could be connected to")
		}
		detail := g.summaryLocked()
		s.mu.Unlock()
		timeout := timer.C
		if cold {
			timeout = nil // a cold start waits as long as the request may
		}
		select {
		case <-wake:
		case <-timeout:
			return "", nil, notReady(t.Deployment, detail)
		case <-ctx.Done():
			return "", nil, fmt.Errorf("waiting for a replica of deployment %s: %w", t.Deployment, ctx.Err())
		}
	}
}

// leastLoadedLocked is the Ready replica with the fewest requests in
// flight, not in avoid; nil if none. s.mu is held.
func (g *group) leastLoadedLocked(avoid map[string]bool) *replica {
	var best *replica
	var bestLoad int64
	n := len(g.replicas)
	for i := range n {
		r := g.replicas[(g.rr+i)%n]
		url, ok := r.ready()
		if !ok || avoid[url] {
			continue
		}
		if load := r.inflight.Load(); best == nil || load < bestLoad {
			best, bestLoad = r, load
		}
	}
	if n > 0 {
		g.rr = (g.rr + 1) % n
	}
	return best
}

// summaryLocked counts g's replicas by state, e.g. "1 Starting, 1
// Restarting". s.mu is held.
func (g *group) summaryLocked() string {
	counts := map[string]int{}
	for _, r := range g.replicas {
		counts[r.status().State]++
	}
	out := ""
	for _, st := range []string{Starting, Ready, Unhealthy, Restarting, Stopped} {
		if counts[st] == 0 {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%d %s", counts[st], st)
	}
	if out == "" {
		out = "none is running"
	}
	return out
}
