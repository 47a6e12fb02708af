package vecmath_test

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gencheck"
)

// TestGeneratedUpToDate checks that vec_amd64.s and vec_amd64.go are what
// the avo generator (./asm) writes.
func TestGeneratedUpToDate(t *testing.T) {
	gencheck.UpToDate(t, "vecmath", "vec_amd64.s", "vec_amd64.go")
}
