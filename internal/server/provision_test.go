package server

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
)

type fakeEngine struct {
	pins map[string]int
	fail map[string]bool
}

func (e *fakeEngine) Load(_ context.Context, path string) error {
	if e.fail[path] {
		return errors.New("cannot load " + path)
	}
	e.pins[path]++
	return nil
}

func (e *fakeEngine) Unload(path string) { e.pins[path]-- }

type fakeModels map[string]catalog.Model

func (f fakeModels) GetModel(_ context.Context, name string) (catalog.Model, error) {
	m, ok := f[name]
	if !ok {
		return catalog.Model{}, errors.New("no model " + name)
	}
	return m, nil
}

// TestProvisionerPins: each GGUF deployment holds exactly one pin on its
// file; a new version moves it, and releasing a deployment that never
// loaded (it Failed) takes nothing from the others.
func TestProvisionerPins(t *testing.T) {
	gguf := func(v, file string) catalog.Version {
		return catalog.Version{Version: v, Format: catalog.FormatGGUF, File: file}
	}
	models := fakeModels{"m": {Name: "m", DefaultVersion: "1", Versions: []catalog.Version{gguf("1", "/a.gguf"), gguf("2", "/b.gguf"), gguf("3", "/bad.gguf")}}}
	eng := &fakeEngine{pins: map[string]int{}, fail: map[string]bool{"/bad.gguf": true}}
	p := &provisioner{models: models, engine: eng}
	ctx := context.Background()
	d1 := deployment.Deployment{Project: "p", Name: "one", Model: "m", Version: "1"}
	d2 := deployment.Deployment{Project: "p", Name: "two", Model: "m", Version: "1"}
	bad := deployment.Deployment{Project: "p", Name: "bad", Model: "m", Version: "3"}
	for _, d := range []deployment.Deployment{d1, d2} {
		if err := p.Provision(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Provision(ctx, bad); err == nil {
		t.Fatal("provisioning an unloadable file succeeded")
	}
	d1.Version = "2" // a new version of one
	if err := p.Provision(ctx, d1); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"/a.gguf": 1, "/b.gguf": 1}, eng.pins); diff != "" {
		t.Errorf("pins after provisioning (-want +got):\n%s", diff)
	}
	for _, d := range []deployment.Deployment{bad, d1, d1} { // the second release of one is a no-op
		if err := p.Release(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]int{"/a.gguf": 1, "/b.gguf": 0}, eng.pins); diff != "" {
		t.Errorf("pins after releases (-want +got):\n%s", diff)
	}
}
