package builtin_test

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/enginetest"
)

// tinySpec is enginetest.TinySpec with the short field names these tests
// use.
type tinySpec struct {
	embd, ff, layers, heads, kvHeads, vocab, ctx int
	seed                                         uint64
	template                                     string
}

// writeTiny writes the tiny model of spec to a temporary GGUF file.
func writeTiny(tb testing.TB, s tinySpec) string {
	tb.Helper()
	return enginetest.WriteTiny(tb, enginetest.TinySpec{Embd: s.embd, FF: s.ff, Layers: s.layers, Heads: s.heads,
		KVHeads: s.kvHeads, Vocab: s.vocab, Ctx: s.ctx, Seed: s.seed, Template: s.template})
}

// storiesPath returns ../shared/testdata/models/stories260K.gguf next to
// the repository root, or skips the test.
func storiesPath(tb testing.TB) string {
	tb.Helper()
	return enginetest.SharedFile(tb, "models", "stories260K.gguf")
}
