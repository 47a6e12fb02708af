// Package replica serves ManagedCompute deployments: each deployment gets
// its own N replicas of an instance type, and each replica is just an
// OpenAI-compatible upstream to the gateway.
//
// Two pools of replicas exist:
//
//   - Supervisor (the default) runs each replica as a child process
//     `cerulean worker --model FILE --addr 127.0.0.1:0 --threads T` on this
//     machine, reads its address from its standard output, checks
//     GET /healthz every few seconds, and restarts a process that dies (or
//     stays unhealthy) with capped exponential backoff.
//   - Kube (k8s.go) makes each deployment one Kubernetes Deployment and one
//     Service, scaled to the replica count.
//
// Both are a deployment.Provisioner for ManagedCompute deployments and a
// gateway.Backend that sends each request to a replica through the
// upstream backend. A deployment at 0 replicas answers 503 with a message
// that says how to scale it up, unless it is marked scale-to-zero: then
// the first request starts one replica and waits for it (a cold start).
//
// The worker side of the protocol is Worker (worker.go), which
// `cerulean worker` runs.
package replica

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/hub"
)

// InstanceType is a size of replica: threads and memory per replica.
type InstanceType = hub.InstanceType

// Resolver finds what a ManagedCompute deployment's replicas run: the
// GGUF file of its model version and its instance type.
type Resolver func(ctx context.Context, d deployment.Deployment) (modelFile string, it InstanceType, err error)

// Options configure a Supervisor. Zero fields take the defaults given.
type Options struct {
	// Command is the executable of the workers (default: os.Executable(),
	// this very cerulean binary); Args come before "worker" (tests that
	// re-execute a test binary use them). Env is added to the children's
	// environment, after this process's own.
	Command string
	Args    []string
	Env     []string
	// Key is the API key every worker requires (default: random).
	Key string
	// Resolve is used by Provision and by Run's sync passes.
	Resolve Resolver
	// Deployments lists every deployment for Run's sync passes, which
	// bring replica counts in line with capacities changed after creation;
	// nil: Run does no sync passes.
	Deployments func(ctx context.Context) ([]deployment.Deployment, error)
	// SyncInterval is the time between sync passes (5s).
	SyncInterval time.Duration
	// HealthInterval is the time between health checks (3s); HealthTimeout
	// bounds one (2s); after RestartAfter failed checks in a row (3) the
	// process is killed and restarted.
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	RestartAfter   int
	// StartTimeout bounds the wait for a worker's listening line, i.e. the
	// model's load (2m).
	StartTimeout time.Duration
	// StopTimeout is how long a stopped worker may drain after SIGTERM
	// before it is killed (15s).
	StopTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before a restart: it
	// doubles with each failure in a row, from 500ms up to 30s; a process
	// that ran for BackoffReset (1m) starts the count again.
	BackoffMin   time.Duration
	BackoffMax   time.Duration
	BackoffReset time.Duration
	// ReadyWait bounds how long a request waits for a replica when none is
	// Ready but some are starting (30s; the request's context also bounds
	// it). A cold start of a scale-to-zero deployment waits as long as the
	// request's context allows.
	ReadyWait time.Duration
	// IdleTimeout stops a replica a cold start began after this long
	// without requests (10m).
	IdleTimeout time.Duration
	// Upstream sends the requests to the replicas (default: a new one).
	Upstream *upstream.Backend
	// Logger receives the supervisor's logs (nil discards them).
	Logger *slog.Logger
	// Now is the clock (time.Now).
	Now func() time.Time
}

func (o *Options) defaults() error {
	if o.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("replica: find the cerulean executable: %w", err)
		}
		o.Command = exe
	}
	if o.Key == "" {
		o.Key = rand.Text()
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.SyncInterval, 5*time.Second)
	def(&o.HealthInterval, 3*time.Second)
	def(&o.HealthTimeout, 2*time.Second)
	def(&o.StartTimeout, 2*time.Minute)
	def(&o.StopTimeout, 15*time.Second)
	def(&o.BackoffMin, 500*time.Millisecond)
	def(&o.BackoffMax, 30*time.Second)
	def(&o.BackoffReset, time.Minute)
	def(&o.ReadyWait, 30*time.Second)
	def(&o.IdleTimeout, 10*time.Minute)
	if o.RestartAfter <= 0 {
		o.RestartAfter = 3
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Upstream == nil {
		o.Upstream = upstream.New(upstream.Options{Logger: o.Logger})
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Supervisor runs the replicas of ManagedCompute deployments as local
// worker processes. It is safe for concurrent use.
type Supervisor struct {
	o      Options
	log    *slog.Logger
	key    string
	health *http.Client
	now    func() time.Time

	mu      sync.Mutex
	groups  map[groupKey]*group
	changed chan struct{} // closed and replaced on every replica state change
	closed  bool
	wg      sync.WaitGroup // replica loops
}

// groupKey names a deployment.
type groupKey struct{ project, name string }

// group is one deployment's replicas.
type group struct {
	key    groupKey
	d      deployment.Deployment
	spec   spec
	nextID int
	// replicas are the live replicas in start order; guarded by
	// Supervisor.mu.
	replicas []*replica
	rr       int // round-robin start for ties
}

// New returns a supervisor with no replicas.
func New(o Options) (*Supervisor, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	return &Supervisor{
		o: o, log: o.Logger, key: o.Key, now: o.Now,
		health:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		groups:  map[groupKey]*group{},
		changed: make(chan struct{}),
	}, nil
}

// Key is the API key of the workers.
func (s *Supervisor) Key() string { return s.key }

// notify wakes everyone waiting for a state change.
func (s *Supervisor) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Provision resolves d's model file and instance type and Ensures its
// replicas. It implements deployment.Provisioner for ManagedCompute
// deployments.
func (s *Supervisor) Provision(ctx context.Context, d deployment.Deployment) error {
	if s.o.Resolve == nil {
		return errors.New("replica: the supervisor has no Resolver")
	}
	file, it, err := s.o.Resolve(ctx, d)
	if err != nil {
		return err
	}
	return s.Ensure(ctx, d, file, it)
}

// Ensure starts and stops replicas of d until it has d.Capacity of them,
// each running modelFile with it.Threads threads. A change of model file
// or instance type replaces every replica. It waits for each replica it
// starts to become Ready or fail (bounded by ctx); when one fails its
// first start, it stops the replicas it started and returns why (the
// worker's last line of standard error, e.g. why the model cannot load).
func (s *Supervisor) Ensure(ctx context.Context, d deployment.Deployment, modelFile string, it InstanceType) error {
	if d.Capacity < 0 {
		return fmt.Errorf("replica: deployment %q: capacity %d is negative", d.Name, d.Capacity)
	}
	threads := max(it.Threads, 1)
	sp := spec{modelFile: modelFile, threads: threads}
	k := groupKey{d.Project, d.Name}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("replica: supervisor closed")
	}
	g := s.groups[k]
	if g == nil {
		g = &group{key: k}
		s.groups[k] = g
	}
	g.d = d
	var stop []*replica
	if g.spec != sp {
		stop = append(stop, g.replicas...)
		g.replicas = nil
		g.spec = sp
	}
	// Cold replicas count towards the capacity once it is set.
	var started []*replica
	for len(g.replicas) < d.Capacity {
		r := s.startLocked(g, false)
		started = append(started, r)
	}
	if extra := len(g.replicas) - d.Capacity; extra > 0 && (d.Capacity > 0 || !d.ScaleToZero) {
		stop = append(stop, g.pickVictimsLocked(extra)...)
	} else if extra > 0 {
		// Scale-to-zero at capacity 0: keep cold replicas until idle.
		var keep []*replica
		for _, r := range g.replicas {
			if r.cold.Load() {
				keep = append(keep, r)
			} else {
				stop = append(stop, r)
			}
		}
		g.replicas = keep
	}
	if d.Capacity > 0 {
		for _, r := range g.replicas {
			r.cold.Store(false) // now part of the capacity
		}
	}
	s.mu.Unlock()

	for _, r := range stop {
		r.stop()
	}
	var errs []error
	for _, r := range started {
		select {
		case err := <-r.first:
			if err != nil {
				errs = append(errs, fmt.Errorf("replica %d: %w", r.id, err))
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(errs) > 0 {
		s.mu.Lock()
		g.replicas = slices.DeleteFunc(g.replicas, func(r *replica) bool { return slices.Contains(started, r) })
		s.mu.Unlock()
		for _, r := range started {
			r.stop()
		}
		return fmt.Errorf("deployment %q: %w", d.Name, errors.Join(errs...))
	}
	return nil
}

// startLocked starts one replica of g; s.mu is held.
func (s *Supervisor) startLocked(g *group, cold bool) *replica {
	g.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: g.nextID, g: g, stopCtx: ctx, stop: cancel, done: make(chan struct{}),
		first: make(chan error, 1), state: Starting, since: s.now(), lastUsed: s.now()}
	r.cold.Store(cold)
	g.replicas = append(g.replicas, r)
	sp := g.spec
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run(s, sp)
	}()
	return r
}

// pickVictimsLocked removes and returns n replicas to stop: those not
// Ready first, then the newest.
func (g *group) pickVictimsLocked(n int) []*replica {
	order := slices.Clone(g.replicas)
	slices.SortStableFunc(order, func(a, b *replica) int {
		_, ra := a.ready()
		_, rb := b.ready()
		switch {
		case ra != rb && !ra:
			return -1
		case ra != rb:
			return 1
		}
		return b.id - a.id
	})
	victims := order[:n]
	g.replicas = slices.DeleteFunc(g.replicas, func(r *replica) bool { return slices.Contains(victims, r) })
	return victims
}

// idle reports whether cold replica r has had no request for IdleTimeout
// and none is in flight.
func (g *group) idle(s *Supervisor, r *replica) bool {
	return r.inflight.Load() == 0 && s.now().Sub(r.idleSince()) >= s.o.IdleTimeout
}

// dropCold removes cold replica r from g and stops it, unless it became
// part of the capacity meanwhile.
func (g *group) dropCold(s *Supervisor, r *replica) {
	s.mu.Lock()
	if !r.cold.Load() || !slices.Contains(g.replicas, r) {
		s.mu.Unlock()
		return
	}
	g.replicas = slices.DeleteFunc(g.replicas, func(x *replica) bool { return x == r })
	s.mu.Unlock()
	r.stop()
}

// Release stops every replica of d and waits for them to end (bounded by
// ctx). It implements deployment.Provisioner.
func (s *Supervisor) Release(ctx context.Context, d deployment.Deployment) error {
	k := groupKey{d.Project, d.Name}
	s.mu.Lock()
	g := s.groups[k]
	delete(s.groups, k)
	var rs []*replica
	if g != nil {
		rs = g.replicas
		g.replicas = nil
	}
	s.mu.Unlock()
	return stopAll(ctx, rs)
}

// stopAll stops rs and waits for their loops to end.
func stopAll(ctx context.Context, rs []*replica) error {
	for _, r := range rs {
		r.stop()
	}
	for _, r := range rs {
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("replica: waiting for replicas to stop: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops every replica and waits for their processes to end (each
// gets StopTimeout to drain).
func (s *Supervisor) Close() error {
	s.mu.Lock()
	s.closed = true
	var rs []*replica
	for k, g := range s.groups {
		rs = append(rs, g.replicas...)
		g.replicas = nil
		delete(s.groups, k)
	}
	s.mu.Unlock()
	for _, r := range rs {
		r.stop()
	}
	s.wg.Wait()
	return nil
}

// Replicas reports the replicas of a deployment, in start order; none
// when the supervisor runs none for it.
func (s *Supervisor) Replicas(project, name string) []ReplicaStatus {
	s.mu.Lock()
	var rs []*replica
	if g := s.groups[groupKey{project, name}]; g != nil {
		rs = slices.Clone(g.replicas)
	}
	s.mu.Unlock()
	out := make([]ReplicaStatus, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.status())
	}
	return out
}

// ReadyCount is the number of Ready replicas of one deployment, for
// metrics.
type ReadyCount struct {
	Project, Deployment string
	Ready               int
	Desired             int // the deployment's capacity
}

// ReadyCounts reports every deployment's Ready replicas, for a metrics
// gauge such as cerulean_replicas_ready{project,deployment}.
func (s *Supervisor) ReadyCounts() []ReadyCount {
	s.mu.Lock()
	type snap struct {
		k       groupKey
		desired int
		rs      []*replica
	}
	var snaps []snap
	for k, g := range s.groups {
		snaps = append(snaps, snap{k, g.d.Capacity, slices.Clone(g.replicas)})
	}
	s.mu.Unlock()
	out := make([]ReadyCount, 0, len(snaps))
	for _, sn := range snaps {
		n := 0
		for _, r := range sn.rs {
			if _, ok := r.ready(); ok {
				n++
			}
		}
		out = append(out, ReadyCount{Project: sn.k.project, Deployment: sn.k.name, Ready: n, Desired: sn.desired})
	}
	slices.SortFunc(out, func(a, b ReadyCount) int {
		if a.Project != b.Project {
			return compareStrings(a.Project, b.Project)
		}
		return compareStrings(a.Deployment, b.Deployment)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Run does sync passes until ctx is done (if Options.Deployments is set),
// then closes the supervisor. A sync pass Ensures every Succeeded
// ManagedCompute deployment (so capacity updates take effect without a
// state change) and releases the replicas of deployments that are gone
// or no longer Succeeded.
func (s *Supervisor) Run(ctx context.Context) error {
	defer s.Close()
	if s.o.Deployments == nil {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(s.o.SyncInterval)
	defer t.Stop()
	for {
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("replica sync", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync runs one sync pass (see Run).
func (s *Supervisor) Sync(ctx context.Context) error {
	if s.o.Deployments == nil || s.o.Resolve == nil {
		return errors.New("replica: sync needs Options.Deployments and Options.Resolve")
	}
	ds, err := s.o.Deployments(ctx)
	if err != nil {
		return fmt.Errorf("replica: list deployments: %w", err)
	}
	want := map[groupKey]bool{}
	var errs []error
	for _, d := range ds {
		if !deployment.IsManagedCompute(d.SKU) {
			continue
		}
		k := groupKey{d.Project, d.Name}
		switch d.State {
		case deployment.Succeeded:
			want[k] = true
			if err := s.Provision(ctx, d); err != nil {
				errs = append(errs, err)
			}
		case deployment.Creating:
			want[k] = true // the reconciler provisions it
		}
	}
	s.mu.Lock()
	var gone []deployment.Deployment
	for k, g := range s.groups {
		if !want[k] {
			gone = append(gone, g.d)
		}
	}
	s.mu.Unlock()
	for _, d := range gone {
		if err := s.Release(ctx, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
