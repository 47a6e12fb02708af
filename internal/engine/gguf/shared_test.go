package gguf

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedDir returns the ../shared directory next to the repository root
// (the directory holding go.mod), or skips the test when it is absent.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("skipping: cannot find go.mod above the package directory, so no ../shared test data")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if st, err := os.Stat(filepath.Join(shared, "testdata")); err != nil || !st.IsDir() {
		tb.Skipf("skipping: shared test data not found at %s", filepath.Join(shared, "testdata"))
	}
	return shared
}
