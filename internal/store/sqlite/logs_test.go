package sqlite

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/storetest"
)

func TestLogsSuiteFile(t *testing.T) {
	storetest.RunLogs(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestLogsSuiteMemory(t *testing.T) {
	storetest.RunLogs(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
