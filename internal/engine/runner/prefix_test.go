package runner

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/kvcache"
	"github.com/cerulean-ai/cerulean/internal/engine/model"
)

// conversation is a chat-like series of requests: a shared system prompt
// with different questions, then a follow-up that carries the first
// exchange as history.
func conversation(t *testing.T, r *Runner, m *model.Model, system, q1, q2, q3 string, n int) []result {
	t.Helper()
	tok := m.Tokenizer()
	sys := tok.Encode(system, true, false)
	p1 := append(append([]int32{}, sys...), tok.Encode(q1, false, false)...)
	p2 := append(append([]int32{}, sys...), tok.Encode(q2, false, false)...)
	res := []result{collect(t, submit(t, r, Request{Prompt: p1, MaxTokens: n, Params: noEOS()}))}
	res = append(res, collect(t, submit(t, r, Request{Prompt: p2, MaxTokens: n, Params: noEOS()})))
	p3 := append(append(append([]int32{}, p1...), res[0].IDs...), tok.Encode(q3, false, false)...)
	res = append(res, collect(t, submit(t, r, Request{Prompt: p3, MaxTokens: n, Params: noEOS()})))
	for i := range res {
		if res[i].Err != nil {
			t.Fatalf("request %d: %v", i, res[i].Err)
		}
		res[i].Pieces = nil
	}
	return res
}

// TestPrefixReuseMatchesCold runs the same conversation with prefix reuse
// off and on: the outputs must be identical, and the later requests must
// report the reused tokens.
func TestPrefixReuseMatchesCold(t *testing.T) {
	tiny := loadTiny(t, tinySpec{seed: 11, ctx: 256})
	tinyF16 := loadTiny(t, tinySpec{seed: 11, ctx: 256, cache: kvcache.F16})
	for _, tc := range []struct {
		name            string
		m               func(testing.TB) *model.Model
		sys, q1, q2, q3 string
	}{
		{"tiny", func(testing.TB) *model.Model { return tiny }, "the hen is at the inn and she is", " on", " a the", " is the"},
		{"tiny F16 cache", func(testing.TB) *model.Model { return tinyF16 }, "the hen is at the inn and she is", " on", " a the", " is the"},
		{"stories260K", loadStories, "Once upon a time, there was a little dog named Max.", " He liked to", " One day, Max", " Then"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(t)
			n := 16
			if raceEnabled {
				n = 6
			}
			// A chunk of 5 makes the cold and warm runs split the prompt
			// into different batches.
			cold := conversation(t, start(t, m, Options{PrefillChunk: 5, PrefixCacheBytes: -1}), m, tc.sys, tc.q1, tc.q2, tc.q3, n)
			warm := conversation(t, start(t, m, Options{PrefillChunk: 5}), m, tc.sys, tc.q1, tc.q2, tc.q3, n)
			sys := len(m.Tokenizer().Encode(tc.sys, true, false))
			for i, c := range cold {
				if c.Usage.CachedTokens != 0 {
					t.Errorf("cold request %d reports %d cached tokens", i, c.Usage.CachedTokens)
				}
				w := warm[i]
				if diff := cmp.Diff(c.IDs, w.IDs); diff != "" || c.Text != w.Text {
					t.Errorf("request %d: output with prefix reuse differs (-cold +warm):\n%s", i, diff)
				}
			}
			if got := warm[0].Usage.CachedTokens; got != 0 {
				t.Errorf("first request: %d cached tokens, want 0", got)
			}
			if got := warm[1].Usage.CachedTokens; got < sys-1 || got >= warm[1].Usage.PromptTokens {
				t.Errorf("second request (same system prompt of %d tokens): %d cached tokens", sys, got)
			}
			// The history holds the first prompt and every generated
			// token but the last, which was never fed.
			if got, want := warm[2].Usage.CachedTokens, cold[0].Usage.PromptTokens+n-1; got < want {
				t.Errorf("follow-up: %d cached tokens, want at least %d", got, want)
			}
		})
	}
}

// TestPrefixEviction bounds the pool to about two sequences' caches: the
// least recently used one goes, and the pool stays within its bound.
func TestPrefixEviction(t *testing.T) {
	spec := tinySpec{seed: 12, ctx: 512}
	m := loadTiny(t, spec)
	cfg := m.Config()
	perPos := int64(cfg.Layers * (cfg.KVDim() + cfg.VDim()) * 4) // float32 K and V of one position
	// Each sequence below holds 24 prompt + 7 generated positions, in a
	// cache grown to 48 positions: two fit, three do not.
	limit := 100 * perPos
	r := start(t, m, Options{PrefixCacheBytes: limit})
	prompt := func(first int32) []int32 {
		p := make([]int32, 24)
		for i := range p {
			p[i] = first + int32(i)
		}
		return p
	}
	run := func(first int32) Usage {
		t.Helper()
		res := collect(t, submit(t, r, Request{Prompt: prompt(first), MaxTokens: 8, Params: noEOS()}))
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		return res.Usage
	}
	for _, step := range []struct {
		first      int32
		wantCached int
	}{
		{first: 10, wantCached: 0},
		{first: 50, wantCached: 0},
		{first: 10, wantCached: 23}, // still pooled; now the most recently used
		{first: 90, wantCached: 0},  // evicts 50
		{first: 50, wantCached: 0},
		{first: 90, wantCached: 23},
	} {
		if got := run(step.first).CachedTokens; got != step.wantCached {
			t.Errorf("prompt from %d: %d cached tokens, want %d", step.first, got, step.wantCached)
		}
		waitIdle(t, r)
		if b := r.Stats().PrefixBytes; b > limit || b == 0 {
			t.Errorf("pool holds %d bytes, want (0, %d]", b, limit)
		}
	}
}

// waitIdle waits until the runner has no active sequence (its counters are
// updated just after a stream's last event).
func waitIdle(t *testing.T, r *Runner) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("runner still busy: %+v", r.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPrefixBudget checks that pooled caches give way to live sequences
// under MaxKVBytes rather than preempting them, and count in KVBytes.
func TestPrefixBudget(t *testing.T) {
	spec := tinySpec{seed: 13, ctx: 512}
	m := loadTiny(t, spec)
	cfg := m.Config()
	perPos := int64(cfg.Layers * (cfg.KVDim() + cfg.VDim()) * 4) // float32 K and V of one position
	r := start(t, m, Options{MaxKVBytes: 100 * perPos})
	a := make([]int32, 40)
	b := make([]int32, 40)
	for i := range a {
		a[i], b[i] = int32(10+i), int32(100+i)
	}
	for _, p := range [][]int32{a, b} {
		res := collect(t, submit(t, r, Request{Prompt: p, MaxTokens: 20, Params: noEOS()}))
		if res.Err != nil || res.Usage.CompletionTokens != 20 {
			t.Fatalf("request: %+v", res)
		}
		waitIdle(t, r)
	}
	// b's cache stays pooled; a's was evicted to make room for b.
	if s := r.Stats(); s.PrefixBytes == 0 || s.KVBytes != s.PrefixBytes || s.KVBytes > 100*perPos {
		t.Errorf("stats after two requests: %+v", s)
	}
	res := collect(t, submit(t, r, Request{Prompt: a, MaxTokens: 1, Params: noEOS()}))
	if res.Err != nil || res.Usage.CachedTokens != 0 {
		t.Errorf("a after its cache was evicted: %+v", res)
	}
}

// TestPrefixConcurrent runs several sequences sharing a system prompt at
// once, after a first request pooled it: each must produce what it
// produces alone and cold.
func TestPrefixConcurrent(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 14, ctx: 256})
	tok := m.Tokenizer()
	sys := tok.Encode("the hen is at the inn and she is on the", true, false)
	questions := []string{" a", " hen", " she is", " the inn", " on"}
	n := 12
	if raceEnabled {
		n = 4
	}
	reqs := make([]Request, len(questions))
	cold := make([]result, len(questions))
	coldR := start(t, m, Options{PrefixCacheBytes: -1})
	for i, q := range questions {
		reqs[i] = Request{Prompt: append(append([]int32{}, sys...), tok.Encode(q, false, false)...), MaxTokens: n, Params: noEOS()}
		cold[i] = collect(t, submit(t, coldR, reqs[i]))
	}
	r := start(t, m, Options{PrefillChunk: 4})
	if res := collect(t, submit(t, r, Request{Prompt: sys, MaxTokens: 2, Params: noEOS()})); res.Err != nil {
		t.Fatal(res.Err)
	}
	got := make([]result, len(reqs))
	var wg sync.WaitGroup
	for i := range reqs {
		st := submit(t, r, reqs[i])
		wg.Go(func() { got[i] = collect(t, st) })
	}
	wg.Wait()
	for i := range got {
		if got[i].Usage.CachedTokens < len(sys)-1 {
			t.Errorf("request %d: %d cached tokens, want at least %d", i, got[i].Usage.CachedTokens, len(sys)-1)
		}
		if diff := cmp.Diff(cold[i].IDs, got[i].IDs); diff != "" || got[i].Err != nil {
			t.Errorf("request %d (err %v) (-cold +shared prefix):\n%s", i, got[i].Err, diff)
		}
	}
}

func TestPrefixPool(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 15})
	newCache := func(n int) *kvcache.Cache {
		t.Helper()
		c, err := m.NewCache(0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Reserve(n); err != nil {
			t.Fatal(err)
		}
		if err := c.Commit(n); err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := newPrefixPool(1 << 30)
	p.put([]int32{1, 2, 3, 4}, newCache(4))
	p.put([]int32{1, 2, 9}, newCache(3))
	p.put([]int32{1, 2, 3}, newCache(3))          // a prefix of {1,2,3,4}: dropped
	p.put([]int32{1, 2, 3, 4, 5, 6}, newCache(6)) // replaces {1,2,3,4}
	var kept [][]int32
	for _, e := range p.entries {
		kept = append(kept, e.tokens)
	}
	if diff := cmp.Diff([][]int32{{1, 2, 9}, {1, 2, 3, 4, 5, 6}}, kept); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		tokens []int32
		want   int
	}{
		{[]int32{1, 2, 3, 4, 7}, 4},
		{[]int32{1, 2, 9, 9}, 3},
		{[]int32{1, 5}, 1},
		{[]int32{7}, 0},
	} {
		if _, n := p.match(tc.tokens); n != tc.want {
			t.Errorf("match(%v) = %d, want %d", tc.tokens, n, tc.want)
		}
	}
	p.clear()
	if p.bytes() != 0 || len(p.entries) != 0 {
		t.Errorf("after clear: %d bytes, %d entries", p.bytes(), len(p.entries))
	}
}
