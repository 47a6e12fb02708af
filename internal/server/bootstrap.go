package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// secretFile returns the contents of a 0600 file in dir, creating it with
// make() when it does not exist.
func secretFile(dir, name string, make func() ([]byte, error)) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b, err = make()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return b, nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	return b, nil
}

// loadSecrets returns the key-sealing secret and the admin token, creating
// them in the data folder on first start. A token given in the
// configuration wins over the saved one and is not written to disk.
func loadSecrets(cfg config.Config) (secret []byte, token string, tokenPath string, err error) {
	secret, err = secretFile(cfg.DataDir, config.SecretFile, func() ([]byte, error) { return randomBytes(32) })
	if err != nil {
		return nil, "", "", err
	}
	if len(secret) != 32 {
		return nil, "", "", fmt.Errorf("%s holds %d bytes, want 32: restore it from a backup (project keys are sealed with it)",
			filepath.Join(cfg.DataDir, config.SecretFile), len(secret))
	}
	if cfg.AdminToken != "" {
		return secret, cfg.AdminToken, "", nil
	}
	tokenPath = filepath.Join(cfg.DataDir, config.AdminTokenFile)
	b, err := secretFile(cfg.DataDir, config.AdminTokenFile, func() ([]byte, error) {
		r, err := randomBytes(32)
		if err != nil {
			return nil, err
		}
		return []byte("cer-admin-" + hex.EncodeToString(r) + "\n"), nil
	})
	if err != nil {
		return nil, "", "", err
	}
	token = strings.TrimSpace(string(b))
	if token == "" {
		return nil, "", "", fmt.Errorf("%s is empty: delete it to make a new admin token", tokenPath)
	}
	return secret, token, tokenPath, nil
}

// bootstrap creates hub "default" and project "default" with its two keys
// when they do not exist yet.
func bootstrap(ctx context.Context, s store.Store, sealer *apikey.Sealer, now time.Time) (created bool, err error) {
	if _, err := s.GetHub(ctx, hub.Default); errors.Is(err, store.ErrNotFound) {
		h := hub.Hub{Name: hub.Default, Description: "Created on first start", Quotas: hub.DefaultQuotas(), CreatedAt: now}
		if err := s.CreateHub(ctx, h); err != nil && !errors.Is(err, store.ErrExists) {
			return false, fmt.Errorf("bootstrap hub: %w", err)
		}
	} else if err != nil {
		return false, fmt.Errorf("bootstrap hub: %w", err)
	}
	if _, err := s.GetProject(ctx, project.Default); err == nil {
		return false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("bootstrap project: %w", err)
	}
	p := project.Project{Name: project.Default, Hub: hub.Default, Region: "local", Description: "Created on first start", CreatedAt: now}
	var keys [2]apikey.Key
	for i, slot := range []apikey.Slot{apikey.Key1, apikey.Key2} {
		_, k, err := apikey.New(sealer, p.Name, slot, now)
		if err != nil {
			return false, err
		}
		keys[i] = k
	}
	if err := s.CreateProject(ctx, p, keys); err != nil && !errors.Is(err, store.ErrExists) {
		return false, fmt.Errorf("bootstrap project: %w", err)
	}
	return true, nil
}
