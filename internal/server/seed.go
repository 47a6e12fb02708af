package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/engine/synth"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// DemoDeployment is the deployment of the demo model made on first start.
const DemoDeployment = "demo"

// seedStore is what seeding needs of the store.
type seedStore interface {
	GetModel(ctx context.Context, name string) (catalog.Model, error)
	CreateModel(ctx context.Context, m catalog.Model) error
	GetDeployment(ctx context.Context, projectName, name string) (deployment.Deployment, error)
	CreateDeployment(ctx context.Context, d deployment.Deployment) error
}

// deployFile registers the GGUF file as catalog model name (reusing an
// entry for the same file) and deploys it in project "default" as
// deployment depName, unless that deployment exists. The reconciler then
// loads it.
func deployFile(ctx context.Context, st seedStore, file, name, depName, description string, now time.Time) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		return fmt.Errorf("--model %s: %w", file, err)
	}
	m, err := st.GetModel(ctx, name)
	switch {
	case err == nil:
		v, _ := m.Version("")
		if v.Format != catalog.FormatGGUF || v.File != abs {
			return fmt.Errorf("--model %s: the catalog already has a model %q served from %s; give another --deployment name or delete that model", file, name, orUpstream(v))
		}
	case errors.Is(err, store.ErrNotFound):
		v := catalog.Version{Version: "1", Format: catalog.FormatGGUF, File: abs}
		if err := inspectGGUF(ctx, &v); err != nil {
			return fmt.Errorf("--model %s: %w", file, err)
		}
		m = catalog.Model{Name: name, Description: description, Versions: []catalog.Version{v}, CreatedAt: now, UpdatedAt: now}
		if err := m.Validate(); err != nil {
			return fmt.Errorf("--model %s: %w", file, err)
		}
		if err := st.CreateModel(ctx, m); err != nil {
			return fmt.Errorf("--model %s: register: %w", file, err)
		}
	default:
		return fmt.Errorf("--model %s: %w", file, err)
	}
	if _, err := st.GetDeployment(ctx, project.Default, depName); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("--model %s: %w", file, err)
	}
	d := deployment.Deployment{Project: project.Default, Name: depName, Model: m.Name, SKU: "Standard", Capacity: 10,
		State: deployment.Creating, CreatedAt: now, UpdatedAt: now}
	if err := d.Validate(&m); err != nil {
		return fmt.Errorf("--model %s: deployment %q: %w", file, depName, err)
	}
	if err := st.CreateDeployment(ctx, d); err != nil {
		return fmt.Errorf("--model %s: deploy as %q: %w", file, depName, err)
	}
	return nil
}

func orUpstream(v catalog.Version) string {
	if v.Upstream != nil {
		return v.Upstream.BaseURL
	}
	return v.File
}

// modelName is a file's base name without .gguf, as a catalog name.
func modelName(file string) string {
	name := strings.TrimSuffix(filepath.Base(file), ".gguf")
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-', r == ':':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}

// makeDemo writes the demo model (tiny llama shape, random weights, a
// byte-level vocabulary) into the data folder unless it is there, and
// returns its path.
func makeDemo(dataDir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, "models", "demo-random-weights.gguf")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("demo model: %w", err)
	}
	vocab, err := synth.ByteVocab()
	if err != nil {
		return "", fmt.Errorf("demo model: %w", err)
	}
	start := time.Now()
	if err := synth.WriteFile(path, synth.Options{Arch: "llama", Shape: "tiny", Type: tensor.Q8_0, Vocab: vocab, Seed: 1,
		Name: "demo (random weights)"}); err != nil {
		return "", fmt.Errorf("demo model: %w", err)
	}
	log.Info("made the demo model (random weights)", "path", path, "took", time.Since(start).Round(time.Millisecond))
	return path, nil
}

// demoDescription labels the demo model in the catalog.
const demoDescription = "Demo: a tiny model with RANDOM weights, made on first start so that the API works offline. It answers with gibberish. Add a real model with `cerulean models add FILE.gguf` or `cerulean models pull REPO/FILE`."

// warmStore is what warm needs of the store.
type warmStore interface {
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
	GetModel(ctx context.Context, name string) (catalog.Model, error)
}

// warm loads the models of the GGUF deployments that were running when the
// server last stopped, so that their first requests do not wait for it.
// Each load pins the model for its deployment, as provisioning does.
func warm(ctx context.Context, st warmStore, prov *provisioner, log *slog.Logger) {
	ds, err := st.ListDeployments(ctx, "")
	if err != nil {
		log.Warn("warm: list deployments", "err", err)
		return
	}
	for _, d := range ds {
		if d.State != deployment.Succeeded {
			continue
		}
		m, err := st.GetModel(ctx, d.Model)
		if err != nil {
			continue
		}
		v, ok := m.Version(d.Version)
		if !ok || v.Format != catalog.FormatGGUF {
			continue
		}
		if err := prov.pin(ctx, d, v.File); err != nil && ctx.Err() == nil {
			log.Warn("warm: load model", "deployment", d.Name, "file", v.File, "err", err)
		}
	}
}
