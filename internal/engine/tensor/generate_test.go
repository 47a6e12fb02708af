package tensor_test

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/gencheck"
)

// TestGeneratedUpToDate checks that dot_amd64.s and dot_amd64.go are what
// the avo generator (./asm) writes.
func TestGeneratedUpToDate(t *testing.T) {
	gencheck.UpToDate(t, "tensor", "dot_amd64.s", "dot_amd64.go")
}
