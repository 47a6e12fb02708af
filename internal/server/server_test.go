package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
	"github.com/cerulean-ai/cerulean/internal/engine/tensor"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

func TestSecretsAreMadeOnceWithMode0600(t *testing.T) {
	cfg := config.Config{DataDir: t.TempDir()}
	secret, token, path, err := loadSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) != 32 || !strings.HasPrefix(token, "cer-admin-") || path != filepath.Join(cfg.DataDir, config.AdminTokenFile) {
		t.Fatalf("secret %d bytes, token %q, path %q", len(secret), token, path)
	}
	for _, f := range []string{config.SecretFile, config.AdminTokenFile} {
		st, err := os.Stat(filepath.Join(cfg.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	secret2, token2, _, err := loadSecrets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(secret2) != string(secret) || token2 != token {
		t.Error("a second start made new secrets")
	}
	cfg.AdminToken = "from-env"
	_, token3, path3, err := loadSecrets(cfg)
	if err != nil || token3 != "from-env" || path3 != "" {
		t.Errorf("with CERULEAN_ADMIN_TOKEN: %q %q %v", token3, path3, err)
	}
}

func TestBadSecretIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, config.SecretFile), []byte("short"), 0o600)
	if _, _, _, err := loadSecrets(config.Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "32") {
		t.Errorf("loadSecrets with a 5-byte secret: %v", err)
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := apikey.NewSealer(make([]byte, 32))
	created, err := bootstrap(ctx, st, sealer, time.Now())
	if err != nil || !created {
		t.Fatalf("first bootstrap = %v, %v", created, err)
	}
	keys, _ := st.ListKeys(ctx, "default")
	created, err = bootstrap(ctx, st, sealer, time.Now())
	if err != nil || created {
		t.Fatalf("second bootstrap = %v, %v", created, err)
	}
	again, _ := st.ListKeys(ctx, "default")
	if len(keys) != 2 || len(again) != 2 || keys[0].Hash != again[0].Hash {
		t.Error("the second bootstrap changed the keys")
	}
}

func TestRoutes(t *testing.T) {
	var ready atomic.Bool
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := recoverPanics(log, drain(&ready, mux))
	do := func(path string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	if code, _ := do("/boom"); code != http.StatusServiceUnavailable {
		t.Errorf("before ready: %d, want 503", code)
	}
	ready.Store(true)
	code, body := do("/boom")
	if code != http.StatusInternalServerError || body["error"] == nil {
		t.Errorf("panic: %d %v, want a 500 envelope", code, body)
	}
}

func TestInspectGGUF(t *testing.T) {
	dir := t.TempDir()
	write := func(name, arch string, tensors bool) string {
		w := gguf.NewWriter(3)
		w.SetKV("general.architecture", arch)
		w.SetKV(arch+".context_length", uint32(512))
		if tensors {
			if err := w.AddTensor("t", tensor.F32, []uint64{4}, make([]byte, 16)); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, name)
		f, _ := os.Create(path)
		defer f.Close()
		if _, err := w.WriteTo(f); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := catalog.Version{File: write("good.gguf", "qwen2", true)}
	if err := inspectGGUF(context.Background(), &good); err != nil {
		t.Fatal(err)
	}
	if good.ContextLength != 512 || !good.Capabilities.Chat || !good.Capabilities.Embeddings {
		t.Errorf("inspected version = %+v", good)
	}
	os.WriteFile(filepath.Join(dir, "junk.gguf"), []byte("not a model"), 0o600)
	for _, file := range []string{
		write("bert.gguf", "bert", true),
		write("vocab.gguf", "llama", false),
		filepath.Join(dir, "junk.gguf"),
		filepath.Join(dir, "missing.gguf"),
		"relative.gguf",
	} {
		v := catalog.Version{File: file}
		err := inspectGGUF(context.Background(), &v)
		if f, ok := fault.As(err); !ok || f.Kind != fault.Invalid || f.Param != "file" {
			t.Errorf("inspect %s = %v, want Invalid on file", filepath.Base(file), err)
		}
	}
}
