package tensor_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/enginetest"
	"github.com/cerulean-ai/cerulean/internal/engine/gguf"
)

// syntheticDir returns ../shared/testdata/models/synthetic beside the
// repository, or skips the test.
func syntheticDir(tb testing.TB) string {
	tb.Helper()
	return enginetest.SharedFile(tb, "models", "synthetic")
}

// openGGUF opens a file of the synthetic folder, closing it at the end of
// the test.
func openGGUF(tb testing.TB, name string) *gguf.File {
	tb.Helper()
	f, err := gguf.Open(filepath.Join(syntheticDir(tb), name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// readF32s reads a little-endian float32 file.
func readF32s(tb testing.TB, path string) []float32 {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(b)%4 != 0 {
		tb.Fatalf("%s: %d bytes is not a whole number of float32", path, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
