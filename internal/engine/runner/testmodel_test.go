package runner

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/engine/enginetest"
	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
)

// tinySpec is enginetest.TinySpec with the short field names these tests
// use.
type tinySpec struct {
	embd, ff, layers, heads, kvHeads, vocab, ctx int
	seed                                         uint64
	template                                     string
	cache                                        kvcache.DType // model.Options.CacheType
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

// loadTiny writes and loads a tiny model with one thread.
func loadTiny(tb testing.TB, spec tinySpec) *model.Model {
	tb.Helper()
	m, err := model.Options{Threads: 1, CacheType: spec.cache}.Load(writeTiny(tb, spec))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// loadStories loads stories260K with two threads, or skips.
func loadStories(tb testing.TB) *model.Model {
	tb.Helper()
	m, err := model.Options{Threads: 2}.Load(storiesPath(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}
