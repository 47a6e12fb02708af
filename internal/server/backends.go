package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// backends picks the backend of a target by its model format.
type backends struct {
	upstream gateway.Backend
	builtin  gateway.Backend
	replicas gateway.Backend // ManagedCompute deployments, whatever their format
}

func (b *backends) For(t inference.Target) (gateway.Backend, error) {
	if deployment.IsManagedCompute(t.SKU) {
		return b.replicas, nil
	}
	switch t.Version.Format {
	case catalog.FormatUpstream:
		return b.upstream, nil
	case catalog.FormatGGUF:
		return b.builtin, nil
	}
	return nil, fault.New(fault.Unavailable, "ModelNotServable",
		"deployment %q: model %q version %q has format %q, which this server cannot serve", t.Deployment, t.Model, t.Version.Version, t.Version.Format)
}

// provisionStore is what the provisioner needs of the store.
type provisionStore interface {
	GetModel(ctx context.Context, name string) (catalog.Model, error)
}

// engine is what the provisioner needs of the built-in backend: loading a
// deployment's model (pinned until Unload), so that a file that cannot be
// served fails the deployment with the reason.
type engine interface {
	Load(ctx context.Context, path string) error
	Unload(path string)
}

// provisioner makes deployments real. For an upstream model it checks that
// the upstream answers HTTP at all (any status: some servers have no
// /models), so that a wrong URL fails the deployment with a reason; for a
// GGUF model it loads the file in the engine.
type provisioner struct {
	models   provisionStore
	client   *http.Client
	engine   engine
	replicas deployment.Provisioner // ManagedCompute deployments

	mu     sync.Mutex
	pinned map[[2]string]string // (project, deployment) → the GGUF file it holds loaded
}

// pin loads file for deployment d, keeping exactly one engine pin per
// deployment: a deployment provisioned again (a new version) gives up the
// file it held, and one that never loaded anything releases nothing.
func (p *provisioner) pin(ctx context.Context, d deployment.Deployment, file string) error {
	if err := p.engine.Load(ctx, file); err != nil {
		return err
	}
	k := [2]string{d.Project, d.Name}
	p.mu.Lock()
	old, had := p.pinned[k]
	if p.pinned == nil {
		p.pinned = map[[2]string]string{}
	}
	p.pinned[k] = file
	p.mu.Unlock()
	if had {
		p.engine.Unload(old)
	}
	return nil
}

func (p *provisioner) Provision(ctx context.Context, d deployment.Deployment) error {
	if deployment.IsManagedCompute(d.SKU) {
		return p.replicas.Provision(ctx, d)
	}
	m, err := p.models.GetModel(ctx, d.Model)
	if err != nil {
		return fmt.Errorf("model %q: %w", d.Model, err)
	}
	v, ok := m.Version(d.Version)
	if !ok {
		return fmt.Errorf("model %q has no version %q", d.Model, d.Version)
	}
	switch v.Format {
	case catalog.FormatUpstream:
		return p.probe(ctx, v.Upstream)
	case catalog.FormatGGUF:
		return p.pin(ctx, d, v.File)
	}
	return fmt.Errorf("model format %q cannot be served by this server", v.Format)
}

func (p *provisioner) probe(ctx context.Context, u *catalog.Upstream) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := strings.TrimRight(u.BaseURL, "/") + "/models"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("upstream %s: %w", u.BaseURL, err)
	}
	if u.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+u.APIKey)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("upstream %s does not answer: %w", u.BaseURL, unwrapURLError(err))
	}
	resp.Body.Close()
	return nil
}

// Release unpins the model a GGUF deployment holds: the engine unloads it
// when no deployment holds it any more.
func (p *provisioner) Release(ctx context.Context, d deployment.Deployment) error {
	if deployment.IsManagedCompute(d.SKU) {
		return p.replicas.Release(ctx, d)
	}
	k := [2]string{d.Project, d.Name}
	p.mu.Lock()
	file, ok := p.pinned[k]
	delete(p.pinned, k)
	p.mu.Unlock()
	if ok {
		p.engine.Unload(file)
	}
	return nil
}

// unwrapURLError drops net/http's "Get \"url\":" prefix, which would repeat
// the URL (and could carry credentials in its userinfo).
func unwrapURLError(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && strings.HasPrefix(err.Error(), "Get ") {
		return u.Unwrap()
	}
	return err
}
