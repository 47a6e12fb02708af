package sqlite

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/storetest"
)

func TestComputeSuite(t *testing.T) {
	storetest.RunCompute(t, func(t *testing.T) store.Store { return openTemp(t) })
}
