// Package store defines what Cerulean keeps: the contract every store
// implementation (sqlite, later postgres) meets and storetest checks.
// Consumers declare the smaller interfaces they need; this one is the sum.
package store

import (
	"context"
	"errors"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
)

// Errors every implementation returns (wrapped in a *fault.Error with the
// resource's code, so errors.Is works and the message names the resource).
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInUse    = errors.New("in use") // e.g. deleting a hub that has projects, a model that has deployments
)

// Store is everything Cerulean persists.
type Store interface {
	// Hubs.
	CreateHub(ctx context.Context, h hub.Hub) error
	GetHub(ctx context.Context, name string) (hub.Hub, error)
	ListHubs(ctx context.Context) ([]hub.Hub, error)
	UpdateHub(ctx context.Context, h hub.Hub) error // replaces description and quotas
	DeleteHub(ctx context.Context, name string) error

	// Projects. CreateProject stores the project and its two keys at once.
	CreateProject(ctx context.Context, p project.Project, keys [2]apikey.Key) error
	GetProject(ctx context.Context, name string) (project.Project, error)
	ListProjects(ctx context.Context, hubName string) ([]project.Project, error) // "" lists all
	DeleteProject(ctx context.Context, name string) error                        // and its keys and deployments

	// Keys.
	ListKeys(ctx context.Context, projectName string) ([]apikey.Key, error) // key1 then key2
	ReplaceKey(ctx context.Context, k apikey.Key) error                     // regenerates one slot
	// FindKey returns the key with this hash, or ErrNotFound.
	FindKey(ctx context.Context, h apikey.Hash) (apikey.Key, error)

	// Models.
	CreateModel(ctx context.Context, m catalog.Model) error
	GetModel(ctx context.Context, name string) (catalog.Model, error)
	ListModels(ctx context.Context) ([]catalog.Model, error)
	UpdateModel(ctx context.Context, m catalog.Model) error
	DeleteModel(ctx context.Context, name string) error // ErrInUse while deployments use it

	// Deployments. CreateDeployment and UpdateDeployment check quota in the
	// same transaction as the write: the hub's limit for (model, sku) minus
	// the capacity of the hub's other deployments of that model and sku (in
	// every state, Deleting included), through quota.Check, so that
	// concurrent creations cannot overdraw.
	CreateDeployment(ctx context.Context, d deployment.Deployment) error
	GetDeployment(ctx context.Context, projectName, name string) (deployment.Deployment, error)
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error) // "" lists all
	// UpdateDeployment writes model, version, sku, capacity,
	// versionUpgradeOption and raiPolicy (checking quota when capacity grows
	// or the model or sku changes); state, reason and createdAt are kept.
	// Pass the whole deployment: read it, change it, write it back.
	UpdateDeployment(ctx context.Context, d deployment.Deployment) error
	// SetDeploymentState records the observed state and reason.
	SetDeploymentState(ctx context.Context, projectName, name, state, reason string) error
	// TransitionDeployment sets state and reason only if the deployment is
	// unchanged since d was read (same state and UpdatedAt), and reports
	// whether it did; a worker that observed d uses it so that it never
	// overwrites a change made meanwhile (a delete, a new version).
	TransitionDeployment(ctx context.Context, d deployment.Deployment, state, reason string) (bool, error)
	DeleteDeployment(ctx context.Context, projectName, name string) error
	// QuotaUsage is the capacity held by a hub's deployments of model and sku.
	QuotaUsage(ctx context.Context, hubName, model, sku string) (int, error)

	// The stores of the usage ledger, of budgets and alerts, and of request
	// logs, and the compute catalog, each declared in a file of its own.
	UsageStore
	AlertStore
	LogStore
	ComputeStore

	// Settings is a small key/value table for server state (e.g. schema notes).
	GetSetting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string) error

	Close() error
}
