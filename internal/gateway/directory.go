package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// DirectoryStore is what CachedDirectory reads; store.Store satisfies it.
type DirectoryStore interface {
	FindKey(ctx context.Context, h apikey.Hash) (apikey.Key, error)
	GetProject(ctx context.Context, name string) (project.Project, error)
	GetDeployment(ctx context.Context, projectName, name string) (deployment.Deployment, error)
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
	GetModel(ctx context.Context, name string) (catalog.Model, error)
}

// maxCacheEntries bounds each cache; when full it is emptied.
const maxCacheEntries = 10000

// CachedDirectory is a Directory over a store that remembers successful
// key and deployment lookups for a while. Failures are never cached, so a
// new key or deployment works at once; Invalidate forgets everything, so a
// regenerated key or a deleted deployment stops working at once.
type CachedDirectory struct {
	s   DirectoryStore
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	gen     uint64 // bumped by Invalidate; a lookup begun earlier is not cached
	callers map[apikey.Hash]cached[Caller]
	targets map[[2]string]cached[inference.Target]
}

type cached[T any] struct {
	v       T
	expires time.Time
}

// NewDirectory returns a directory over s that caches positive lookups for
// ttl (0 disables the cache).
func NewDirectory(s DirectoryStore, ttl time.Duration) *CachedDirectory {
	return &CachedDirectory{s: s, ttl: ttl, now: time.Now,
		callers: map[apikey.Hash]cached[Caller]{}, targets: map[[2]string]cached[inference.Target]{}}
}

// Invalidate forgets every cached lookup. The management API calls it after
// any write to keys, projects, models or deployments.
func (d *CachedDirectory) Invalidate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	clear(d.callers)
	clear(d.targets)
}

// lookup returns a fresh cache entry and the current generation.
func lookup[K comparable, V any](d *CachedDirectory, m map[K]cached[V], k K) (V, bool, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := m[k]
	if ok && d.now().Before(e.expires) {
		return e.v, true, d.gen
	}
	var zero V
	return zero, false, d.gen
}

// remember stores v unless the cache was invalidated since gen.
func remember[K comparable, V any](d *CachedDirectory, m map[K]cached[V], k K, v V, gen uint64) {
	if d.ttl <= 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen != gen {
		return
	}
	if len(m) >= maxCacheEntries {
		clear(m)
	}
	m[k] = cached[V]{v: v, expires: d.now().Add(d.ttl)}
}

// Authenticate hashes the key and finds its project.
func (d *CachedDirectory) Authenticate(ctx context.Context, key string) (Caller, error) {
	h := apikey.Sum(key)
	c, ok, gen := lookup(d, d.callers, h)
	if ok {
		return c, nil
	}
	k, err := d.s.FindKey(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, &fault.Error{Kind: fault.Unauthorized, Code: "invalid_api_key", Message: "invalid API key", Err: err}
	}
	if err != nil {
		return Caller{}, fmt.Errorf("gateway: find key: %w", err)
	}
	if !apikey.Equal(k.Hash, h) {
		return Caller{}, fault.New(fault.Unauthorized, "invalid_api_key", "invalid API key")
	}
	c = Caller{Project: k.Project, KeyID: h.ID()}
	if p, err := d.s.GetProject(ctx, k.Project); err == nil {
		c.Region = p.Region
	} else if !errors.Is(err, store.ErrNotFound) {
		return Caller{}, fmt.Errorf("gateway: get project %q: %w", k.Project, err)
	}
	remember(d, d.callers, h, c, gen)
	return c, nil
}

// Resolve finds a callable deployment of the project and its model version.
func (d *CachedDirectory) Resolve(ctx context.Context, projectName, name string) (inference.Target, error) {
	key := [2]string{projectName, name}
	t, ok, gen := lookup(d, d.targets, key)
	if ok {
		return t, nil
	}
	dep, err := d.s.GetDeployment(ctx, projectName, name)
	if errors.Is(err, store.ErrNotFound) {
		return inference.Target{}, &fault.Error{Kind: fault.NotFound, Code: "DeploymentNotFound", Message: deploymentMissing, Err: err}
	}
	if err != nil {
		return inference.Target{}, fmt.Errorf("gateway: get deployment %q: %w", name, err)
	}
	if !dep.Callable() {
		return inference.Target{}, notCallable(dep)
	}
	m, err := d.s.GetModel(ctx, dep.Model)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return inference.Target{}, fmt.Errorf("gateway: get model %q: %w", dep.Model, err)
	}
	v, found := m.Version(dep.Version)
	if err != nil || !found {
		return inference.Target{}, fault.New(fault.NotFound, "DeploymentNotFound",
			"The deployment '%s' serves model %s version %s, which is no longer in the catalog. Update or recreate the deployment.", name, dep.Model, dep.Version)
	}
	if v.Retired(d.now()) {
		return inference.Target{}, fault.New(fault.NotFound, "DeploymentNotFound",
			"The deployment '%s' serves model %s version %s, which was retired on %s. Upgrade the deployment to a newer version.", name, dep.Model, dep.Version, v.RetirementAt.Format(time.DateOnly))
	}
	t = inference.Target{Project: projectName, Deployment: name, SKU: dep.SKU, Model: dep.Model, Version: v, Capacity: dep.Capacity}
	remember(d, d.targets, key, t, gen)
	return t, nil
}

// notCallable explains why a deployment that exists takes no requests.
func notCallable(dep deployment.Deployment) error {
	msg := fmt.Sprintf("The API deployment '%s' exists but is in state %s and cannot take requests", dep.Name, dep.State)
	switch dep.State {
	case deployment.Creating:
		msg += " yet. Please wait a moment and try again."
	case deployment.Failed:
		if dep.Reason != "" {
			msg += ": " + dep.Reason
		}
		msg += ". Fix or recreate the deployment."
	default:
		msg += "."
	}
	return fault.New(fault.NotFound, "DeploymentNotFound", "%s", msg)
}

// Deployments lists a project's deployments (not cached).
func (d *CachedDirectory) Deployments(ctx context.Context, projectName string) ([]deployment.Deployment, error) {
	ds, err := d.s.ListDeployments(ctx, projectName)
	if err != nil {
		return nil, fmt.Errorf("gateway: list deployments: %w", err)
	}
	return ds, nil
}
