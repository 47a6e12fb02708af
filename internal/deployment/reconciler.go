package deployment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Provisioner makes a deployment real or releases it: loads a model,
// starts replicas, checks that an upstream answers. Provision's error
// becomes the deployment's Failed reason.
type Provisioner interface {
	Provision(ctx context.Context, d Deployment) error
	Release(ctx context.Context, d Deployment) error
}

// ReconcileStore is what the reconciler needs of the store.
type ReconcileStore interface {
	ListDeployments(ctx context.Context, projectName string) ([]Deployment, error)
	TransitionDeployment(ctx context.Context, d Deployment, state, reason string) (bool, error)
	DeleteDeployment(ctx context.Context, projectName, name string) error
}

// Reconciler drives deployments from Creating to Succeeded or Failed and
// from Deleting to gone. It works when nudged and on a slow tick.
type Reconciler struct {
	store    ReconcileStore
	prov     Provisioner
	log      *slog.Logger
	nudge    chan struct{}
	interval time.Duration
	changed  func() // called after every state change; may be nil
}

// NewReconciler returns a reconciler; changed (may be nil) is called after
// it changes any deployment.
func NewReconciler(s ReconcileStore, p Provisioner, log *slog.Logger, changed func()) *Reconciler {
	return &Reconciler{store: s, prov: p, log: log, nudge: make(chan struct{}, 1), interval: 5 * time.Second, changed: changed}
}

// Nudge asks for a pass soon. It never blocks.
func (r *Reconciler) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx is done.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if err := r.Pass(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.nudge:
		case <-t.C:
		}
	}
}

// Pass reconciles every deployment once.
func (r *Reconciler) Pass(ctx context.Context) error {
	ds, err := r.store.ListDeployments(ctx, "")
	if err != nil {
		return fmt.Errorf("reconcile: list deployments: %w", err)
	}
	var errs []error
	for _, d := range ds {
		switch d.State {
		case Creating:
			state, reason := Succeeded, ""
			if err := r.prov.Provision(ctx, d); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				state, reason = Failed, err.Error()
			}
			ok, err := r.store.TransitionDeployment(ctx, d, state, reason)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				// Changed meanwhile (deleted, new version): the next pass sees it.
				r.Nudge()
				continue
			}
			r.log.Info("deployment reconciled", "project", d.Project, "deployment", d.Name, "state", state, "reason", reason)
		case Deleting:
			if err := r.prov.Release(ctx, d); err != nil {
				errs = append(errs, fmt.Errorf("release %s/%s: %w", d.Project, d.Name, err))
				continue
			}
			if err := r.store.DeleteDeployment(ctx, d.Project, d.Name); err != nil {
				errs = append(errs, err)
				continue
			}
			r.log.Info("deployment deleted", "project", d.Project, "deployment", d.Name)
		default:
			continue
		}
		if r.changed != nil {
			r.changed()
		}
	}
	return errors.Join(errs...)
}
