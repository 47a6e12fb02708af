package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cerulean-ai/cerulean/internal/backend/replica"
	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/metrics"
	"github.com/cerulean-ai/cerulean/internal/project"
)

// computeStore is what managed compute needs of the store.
type computeStore interface {
	GetModel(ctx context.Context, name string) (catalog.Model, error)
	GetProject(ctx context.Context, name string) (project.Project, error)
	ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error)
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
}

// replicas runs ManagedCompute deployments: as local worker processes, or
// as Kubernetes Deployments when a kubeconfig is given.
type replicas interface {
	Provision(ctx context.Context, d deployment.Deployment) error
	Release(ctx context.Context, d deployment.Deployment) error
	Run(ctx context.Context) error
}

// resolver finds what a ManagedCompute deployment's replicas run: its
// model's GGUF file and its instance type.
func resolver(st computeStore) replica.Resolver {
	return func(ctx context.Context, d deployment.Deployment) (string, replica.InstanceType, error) {
		m, err := st.GetModel(ctx, d.Model)
		if err != nil {
			return "", replica.InstanceType{}, fmt.Errorf("model %q: %w", d.Model, err)
		}
		v, ok := m.Version(d.Version)
		if !ok {
			return "", replica.InstanceType{}, fmt.Errorf("model %q has no version %q", d.Model, d.Version)
		}
		if v.Format != catalog.FormatGGUF {
			return "", replica.InstanceType{}, fmt.Errorf("model %q is served by an upstream; ManagedCompute replicas run the built-in engine on a GGUF model", d.Model)
		}
		p, err := st.GetProject(ctx, d.Project)
		if err != nil {
			return "", replica.InstanceType{}, fmt.Errorf("project %q: %w", d.Project, err)
		}
		its, err := st.ListInstanceTypes(ctx, p.Hub)
		if err != nil {
			return "", replica.InstanceType{}, fmt.Errorf("instance types of hub %q: %w", p.Hub, err)
		}
		for _, it := range its {
			if it.Name == d.InstanceType {
				return v.File, it, nil
			}
		}
		return "", replica.InstanceType{}, fmt.Errorf("hub %q has no instance type %q", p.Hub, d.InstanceType)
	}
}

// newReplicas builds the replica manager the configuration asks for, and
// feeds its replica counts to the metrics.
func newReplicas(cfg config.Config, st computeStore, up *upstream.Backend, mtr *metrics.Metrics, log *slog.Logger) (replicas, gateway.Backend, error) {
	list := func(ctx context.Context) ([]deployment.Deployment, error) { return st.ListDeployments(ctx, "") }
	if cfg.Kubeconfig != "" {
		k, err := replica.NewKube(replica.KubeOptions{Kubeconfig: cfg.Kubeconfig, Namespace: cfg.KubeNamespace, Image: cfg.WorkerImage,
			Resolve: resolver(st), Deployments: list, Upstream: up, Logger: log.With("part", "kubernetes")})
		if err != nil {
			return nil, nil, fmt.Errorf("kubernetes: %w", err)
		}
		return k, k.Backend(), nil
	}
	sup, err := replica.New(replica.Options{Logger: log.With("part", "replicas"), Upstream: up, Resolve: resolver(st), Deployments: list})
	if err != nil {
		return nil, nil, fmt.Errorf("replicas: %w", err)
	}
	mtr.ObserveReplicas(func() []metrics.Sample {
		var out []metrics.Sample
		for _, c := range sup.ReadyCounts() {
			out = append(out,
				metrics.Sample{Project: c.Project, Deployment: c.Deployment, SKU: deployment.ManagedCompute, State: "ready", Value: float64(c.Ready)},
				metrics.Sample{Project: c.Project, Deployment: c.Deployment, SKU: deployment.ManagedCompute, State: "desired", Value: float64(c.Desired)})
		}
		return out
	})
	return sup, sup.Backend(), nil
}
