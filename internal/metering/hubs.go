package metering

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Projects finds a project, for its hub; store.Store satisfies it.
type Projects interface {
	GetProject(ctx context.Context, name string) (project.Project, error)
}

// hubTTL is how long a project's hub is remembered. A project never
// changes hub; the TTL only matters when one is deleted and made again
// under the same name in another hub.
const hubTTL = 5 * time.Minute

// maxHubEntries bounds the cache; when full it is emptied.
const maxHubEntries = 10000

// hubCache remembers the hub of each project.
type hubCache struct {
	p   Projects
	now func() time.Time

	mu sync.Mutex
	m  map[string]hubEntry
}

type hubEntry struct {
	hub     string
	expires time.Time
}

func newHubCache(p Projects, now func() time.Time) *hubCache {
	return &hubCache{p: p, now: now, m: map[string]hubEntry{}}
}

// hub returns the hub of project name; "" and no error when the project
// no longer exists (its usage is still recorded, under no hub).
func (c *hubCache) hub(ctx context.Context, name string) (string, error) {
	if c.p == nil {
		return "", nil
	}
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && c.now().Before(e.expires) {
		return e.hub, nil
	}
	p, err := c.p.GetProject(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("metering: hub of project %q: %w", name, err)
	}
	c.mu.Lock()
	if len(c.m) >= maxHubEntries {
		clear(c.m)
	}
	c.m[name] = hubEntry{hub: p.Hub, expires: c.now().Add(hubTTL)}
	c.mu.Unlock()
	return p.Hub, nil
}
