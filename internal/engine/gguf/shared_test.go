package gguf

import "testing"

// sharedDir returns the ../shared directory next to the repository root
// (the directory holding go.mod), or skips the test when it is absent.
func sharedDir(tb testing.TB) string {
	tb.Helper()
	dir := sharedDirOrEmpty()
	if dir == "" {
		tb.Skip("skipping: shared test data (../shared/testdata next to the directory holding go.mod) not found")
	}
	return dir
}
