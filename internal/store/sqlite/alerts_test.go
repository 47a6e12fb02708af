package sqlite

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/storetest"
)

func TestAlertsSuiteFile(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestAlertsSuiteMemory(t *testing.T) {
	storetest.RunAlerts(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
