// Package manage is Cerulean's management REST API under /api/v1: hubs,
// projects, keys, models and deployments, JSON in and out, behind the admin
// token. routes.go lists every route; each resource has its own file; errors
// are rendered in one place, errors.go.
package manage

import (
	"context"
	"log/slog"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
)

// Store is what the management API needs of store.Store. Its errors are
// *fault.Error values (wrapping store.ErrNotFound, ErrExists or ErrInUse);
// bare sentinels are mapped too.
type Store interface {
	CreateHub(ctx context.Context, h hub.Hub) error
	GetHub(ctx context.Context, name string) (hub.Hub, error)
	ListHubs(ctx context.Context) ([]hub.Hub, error)
	UpdateHub(ctx context.Context, h hub.Hub) error
	DeleteHub(ctx context.Context, name string) error

	CreateProject(ctx context.Context, p project.Project, keys [2]apikey.Key) error
	GetProject(ctx context.Context, name string) (project.Project, error)
	ListProjects(ctx context.Context, hubName string) ([]project.Project, error)
	DeleteProject(ctx context.Context, name string) error

	ListKeys(ctx context.Context, projectName string) ([]apikey.Key, error)
	ReplaceKey(ctx context.Context, k apikey.Key) error

	CreateModel(ctx context.Context, m catalog.Model) error
	GetModel(ctx context.Context, name string) (catalog.Model, error)
	ListModels(ctx context.Context) ([]catalog.Model, error)
	UpdateModel(ctx context.Context, m catalog.Model) error
	DeleteModel(ctx context.Context, name string) error

	CreateDeployment(ctx context.Context, d deployment.Deployment) error
	GetDeployment(ctx context.Context, projectName, name string) (deployment.Deployment, error)
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
	UpdateDeployment(ctx context.Context, d deployment.Deployment) error
	SetDeploymentState(ctx context.Context, projectName, name, state, reason string) error
	QuotaUsage(ctx context.Context, hubName, model, sku string) (int, error)

	UsageStore   // usage.go
	LogStore     // logs.go
	ComputeStore // compute.go
	AlertStore   // alerts.go
}

// Deps are what the API is built from.
type Deps struct {
	Logger *slog.Logger // nil discards
	Store  Store
	Sealer *apikey.Sealer // seals new project keys and opens stored ones
	// AdminToken is the bearer token every request must carry. When empty,
	// every request is refused.
	AdminToken string
	// PublicURL is the server's base URL, shown as each project's endpoint.
	PublicURL func() string
	// Changed is called after every successful write so that the gateway
	// drops what it cached. May be nil.
	Changed func()
	// Reconcile nudges the deployment reconciler after a deployment is
	// created, updated or deleted. May be nil.
	Reconcile func()
	Now       func() time.Time // nil means time.Now
	// Inspect reads a model file (a GGUF version) and fills in what the
	// version leaves unset — capabilities, context length — or returns an
	// Invalid error saying why the file cannot be served. May be nil.
	Inspect func(ctx context.Context, v *catalog.Version) error
}

// API serves the management routes. Build it with New.
type API struct {
	log       *slog.Logger
	store     Store
	sealer    *apikey.Sealer
	token     string
	publicURL func() string
	changed   func()
	reconcile func()
	now       func() time.Time
	inspect   func(ctx context.Context, v *catalog.Version) error
}

// New returns the API over d.
func New(d Deps) *API {
	a := &API{
		log:       d.Logger,
		store:     d.Store,
		sealer:    d.Sealer,
		token:     d.AdminToken,
		publicURL: d.PublicURL,
		changed:   d.Changed,
		reconcile: d.Reconcile,
		now:       d.Now,
		inspect:   d.Inspect,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.publicURL == nil {
		a.publicURL = func() string { return "" }
	}
	if a.changed == nil {
		a.changed = func() {}
	}
	if a.reconcile == nil {
		a.reconcile = func() {}
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.inspect == nil {
		a.inspect = func(context.Context, *catalog.Version) error { return nil }
	}
	return a
}
