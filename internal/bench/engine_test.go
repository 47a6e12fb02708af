package bench

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// sharedModel is ../shared/testdata/models/NAME beside the repository.
func sharedModel(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
	}
	path := filepath.Join(filepath.Dir(dir), "shared", "testdata", "models", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no shared test data (%s); the engine benchmark is not checked", path)
	}
	return path
}

func TestEngine(t *testing.T) {
	path := sharedModel(t, "stories260K.gguf")
	r, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 16, Gen: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Architecture != "llama" || r.PromptTokens != 16 || r.GenTokens != 8 || r.PromptPerSecond <= 0 || r.GenPerSecond <= 0 {
		t.Errorf("result %+v", r)
	}
	if _, err := Engine(context.Background(), EngineOptions{Model: path, Threads: 1, Prompt: 100, Gen: 100}); err == nil || !strings.Contains(err.Error(), "context") {
		t.Errorf("prompt+gen beyond the context: %v", err)
	}
}
