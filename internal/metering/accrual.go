package metering

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// DefaultAccrualEvery is how often the accrual worker looks at the
// deployments by default: several times a minute, so that no minute is
// missed while the server runs.
const DefaultAccrualEvery = 15 * time.Second

// maxCatchUp bounds how many missed minutes one tick accrues (the worker
// was starved, or the machine slept).
const maxCatchUp = 60

// AccrualStore is what the accrual worker reads and writes; store.Store
// satisfies it.
type AccrualStore interface {
	Projects
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
	AccrueUsage(ctx context.Context, accs []store.Accrual) (int, error)
}

// AccrualOptions configure an Accrual.
type AccrualOptions struct {
	Store  AccrualStore
	Logger *slog.Logger
	Now    func() time.Time // nil means time.Now
	Every  time.Duration    // 0 means DefaultAccrualEvery
	// InstanceType names the instance type of a managed-compute
	// deployment's replicas; nil means DefaultInstanceType for all.
	InstanceType func(d deployment.Deployment) string
}

// Accrual is the worker that accrues reserved capacity: for every minute,
// each Succeeded provisioned deployment accrues capacity PTU-minutes
// (capacity/60 PTU-hours) and each Succeeded ManagedCompute deployment
// capacity replica-minutes (capacity = replicas). Each (deployment,
// minute) is stored once, so ticks within a minute and restarts never
// accrue twice. Minutes while the server was down are not accrued: no
// capacity was held.
type Accrual struct {
	st       AccrualStore
	hubs     *hubCache
	log      *slog.Logger
	now      func() time.Time
	every    time.Duration
	instance func(d deployment.Deployment) string

	last time.Time // the last minute accrued by this worker; only Run's goroutine touches it
}

// NewAccrual returns the accrual worker over o.Store.
func NewAccrual(o AccrualOptions) *Accrual {
	a := &Accrual{st: o.Store, log: o.Logger, now: o.Now, every: o.Every, instance: o.InstanceType}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.every <= 0 {
		a.every = DefaultAccrualEvery
	}
	if a.instance == nil {
		a.instance = func(deployment.Deployment) string { return DefaultInstanceType }
	}
	a.hubs = newHubCache(o.Store, a.now)
	return a
}

// Run accrues at once and then every Every until ctx is cancelled. A
// failed tick is logged and retried at the next one.
func (a *Accrual) Run(ctx context.Context) error {
	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		if _, err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "metering: accruing capacity failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick accrues the current minute and, when this worker skipped some
// since its last tick, those minutes too (at most maxCatchUp). It
// returns how many accruals were new. It must not be called concurrently
// with itself or Run.
func (a *Accrual) Tick(ctx context.Context) (int, error) {
	now := a.now().UTC().Truncate(time.Minute)
	first := now
	if !a.last.IsZero() && a.last.Before(now) {
		first = a.last.Add(time.Minute)
		if oldest := now.Add(-(maxCatchUp - 1) * time.Minute); first.Before(oldest) {
			first = oldest
		}
	}
	deps, err := a.st.ListDeployments(ctx, "")
	if err != nil {
		return 0, fmt.Errorf("metering: accrue: list deployments: %w", err)
	}
	var accs []store.Accrual
	for _, d := range deps {
		if d.State != deployment.Succeeded || d.Capacity <= 0 {
			continue
		}
		var ptu, replicas int
		instance := ""
		switch BillingOf(d.SKU) {
		case PerPTUHour:
			ptu = d.Capacity
		case PerReplicaHour:
			replicas = d.Capacity
			instance = a.instance(d)
		default:
			continue
		}
		hub, err := a.hubs.hub(ctx, d.Project)
		if err != nil {
			return 0, err
		}
		for m := first; !m.After(now); m = m.Add(time.Minute) {
			accs = append(accs, store.Accrual{Hub: hub, Project: d.Project, Deployment: d.Name, Model: d.Model,
				Version: d.Version, SKU: d.SKU, InstanceType: instance, Minute: m, PTUMinutes: ptu, ReplicaMinutes: replicas})
		}
	}
	n, err := a.st.AccrueUsage(ctx, accs)
	if err != nil {
		return 0, fmt.Errorf("metering: accrue: %w", err)
	}
	a.last = now
	return n, nil
}
