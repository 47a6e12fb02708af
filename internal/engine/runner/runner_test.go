package runner

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// result is what a stream produced.
type result struct {
	Text   string
	Pieces []string // text per event
	IDs    []int32  // tokens carried by events
	Finish string
	Usage  Usage
	Err    error
}

// start runs a runner for m until the test ends.
func start(t *testing.T, m *model.Model, o Options) *Runner {
	t.Helper()
	r := New(m, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// collect reads a stream to its end.
func collect(t *testing.T, st *Stream) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var res result
	for {
		e, ok := st.Next(ctx)
		if !ok {
			t.Fatal("stream ended without a Done event")
		}
		res.Text += e.Text
		res.Pieces = append(res.Pieces, e.Text)
		if e.Token != nil {
			res.IDs = append(res.IDs, e.Token.ID)
		}
		if e.Done {
			res.Finish, res.Usage, res.Err = e.FinishReason, e.Usage, e.Err
			return res
		}
	}
}

func greedy() sample.Params {
	p := sample.DefaultParams()
	p.Temperature = 0
	return p
}

// noEOS is greedy decoding that never ends with </s> (id 2).
func noEOS() sample.Params {
	p := greedy()
	p.LogitBias = map[int32]float32{2: -100}
	return p
}

func submit(t *testing.T, r *Runner, req Request) *Stream {
	t.Helper()
	st, err := r.Submit(t.Context(), req)
	if err != nil {
		t.Fatalf("Submit: %v", err)
	}
	return st
}

// directGreedy decodes n tokens greedily with model.Forward, one sequence,
// one token per step after the prompt, stopping after an EOG token.
func directGreedy(t *testing.T, m *model.Model, prompt []int32, n int) []int32 {
	t.Helper()
	cache, err := m.NewCache(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	logits := make([]float32, m.Config().VocabSize)
	in := prompt
	var out []int32
	for range n {
		if err := m.Forward(t.Context(), &model.Batch{Seqs: []model.Sequence{{Tokens: in, Cache: cache, Logits: logits}}}); err != nil {
			t.Fatal(err)
		}
		best := int32(0)
		for i, v := range logits {
			if v > logits[best] {
				best = int32(i)
			}
		}
		out = append(out, best)
		if m.Tokenizer().IsEOG(best) {
			break
		}
		in = []int32{best}
	}
	return out
}

func TestGreedyMatchesDirectForward(t *testing.T) {
	tiny := loadTiny(t, tinySpec{seed: 1})
	models := []struct {
		name   string
		m      func(testing.TB) *model.Model
		prompt string
		n      int
	}{
		{"tiny", func(testing.TB) *model.Model { return tiny }, "the hen is at the", 24},
		{"stories260K", loadStories, "Once upon a time", 24},
	}
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(t)
			prompt := m.Tokenizer().Encode(tc.prompt, true, false)
			want := directGreedy(t, m, prompt, tc.n)
			r := start(t, m, Options{PrefillChunk: 3})
			got := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: tc.n, Params: greedy()}))
			if got.Err != nil {
				t.Fatal(got.Err)
			}
			gotIDs := got.IDs
			if got.Finish == FinishStop && len(want) > 0 && m.Tokenizer().IsEOG(want[len(want)-1]) {
				want = want[:len(want)-1] // the EOG token is not carried by an event
			}
			if diff := cmp.Diff(want, gotIDs); diff != "" {
				t.Errorf("runner tokens differ from direct greedy decoding (-direct +runner):\n%s", diff)
			}
			if diff := cmp.Diff(m.Tokenizer().Decode(append(append([]int32{}, prompt...), want...))[len(tc.prompt):], got.Text); diff != "" && tc.name == "stories260K" {
				t.Errorf("text (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoriesReferenceText(t *testing.T) {
	m := loadStories(t)
	r := start(t, m, Options{})
	prompt := m.Tokenizer().Encode("Once upon a time", true, false)
	got := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 40, Params: greedy()}))
	want := result{
		Text:   ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.",
		Finish: FinishLength,
		Usage:  Usage{PromptTokens: 5, CompletionTokens: 40},
	}
	got.Pieces, got.IDs = nil, nil
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stories260K greedy continuation (-llama.cpp +runner):\n%s", diff)
	}
}

// TestConcurrentMatchesAlone checks that batching does not change results:
// four requests run together produce what each produces alone.
func TestConcurrentMatchesAlone(t *testing.T) {
	tiny := loadTiny(t, tinySpec{seed: 2})
	for _, tc := range []struct {
		name    string
		m       func(testing.TB) *model.Model
		prompts []string
	}{
		{"tiny", func(testing.TB) *model.Model { return tiny }, []string{"the", "a hen", "she is at the inn", "on"}},
		{"stories260K", loadStories, []string{"Once upon a time", "Lily and Tom", "The cat sat on the", "One day, a big dog"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(t)
			r := start(t, m, Options{PrefillChunk: 4})
			n := 12
			if raceEnabled {
				n = 4
			}
			reqs := make([]Request, len(tc.prompts))
			alone := make([]result, len(tc.prompts))
			for i, p := range tc.prompts {
				reqs[i] = Request{Prompt: m.Tokenizer().Encode(p, true, false), MaxTokens: n + 3*i, Params: noEOS()}
				alone[i] = collect(t, submit(t, r, reqs[i]))
			}
			streams := make([]*Stream, len(reqs))
			for i := range reqs {
				streams[i] = submit(t, r, reqs[i])
			}
			together := make([]result, len(reqs))
			for i, st := range streams {
				together[i] = collect(t, st)
			}
			for i := range together {
				together[i].Pieces, alone[i].Pieces = nil, nil
				// The second run reuses the first one's caches.
				together[i].Usage.CachedTokens, alone[i].Usage.CachedTokens = 0, 0
			}
			if diff := cmp.Diff(alone, together, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("batched results differ from single runs (-alone +together):\n%s", diff)
			}
		})
	}
}

// TestCancelFreesSlot fills every slot, queues one more request and
// checks that it starts only once an active request is cancelled.
func TestCancelFreesSlot(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 3, ctx: 4096})
	r := start(t, m, Options{MaxSeqs: 8})
	prompt := m.Tokenizer().Encode("the hen", true, false)
	long := Request{Prompt: prompt, Params: noEOS()} // runs until the context is full
	ctx0, cancel0 := context.WithCancel(t.Context())
	first, err := r.Submit(ctx0, long)
	if err != nil {
		t.Fatal(err)
	}
	var others []*Stream
	for range 7 {
		others = append(others, submit(t, r, long))
	}
	t.Cleanup(func() {
		for _, st := range others {
			st.Close()
		}
	})
	// Wait until all eight are generating.
	for _, st := range append([]*Stream{first}, others...) {
		if e, ok := st.Next(t.Context()); !ok || e.Done {
			t.Fatalf("a long request ended early: %+v", e)
		}
	}
	ninth := submit(t, r, Request{Prompt: prompt, MaxTokens: 3, Params: greedy()})
	time.Sleep(50 * time.Millisecond)
	if got, want := r.Stats(), (Stats{Active: 8, Waiting: 1}); got.Active != want.Active || got.Waiting != want.Waiting {
		t.Fatalf("stats with 8 running and one waiting = %+v, want %+v", got, want)
	}
	cancel0()
	res := collect(t, ninth)
	if res.Err != nil || res.Usage.CompletionTokens != 3 {
		t.Errorf("the ninth request: %+v, want 3 tokens", res)
	}
	end := collect(t, first)
	if !errors.Is(end.Err, context.Canceled) {
		t.Errorf("cancelled request ended with %v, want context.Canceled", end.Err)
	}
}

// TestStopAcrossTokens uses a stop string made of the end of one token's
// text and the start of the next.
func TestStopAcrossTokens(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 4})
	r := start(t, m, Options{})
	prompt := m.Tokenizer().Encode("a hen", true, false)
	base := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 30, Params: noEOS()}))
	// Find two consecutive non-empty pieces and straddle their boundary.
	at := -1
	for i := 2; i+1 < len(base.Pieces); i++ {
		if len(base.Pieces[i]) >= 2 && len(base.Pieces[i+1]) >= 2 {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("no two consecutive pieces of 2+ bytes in %q", base.Pieces)
	}
	prefix := strings.Join(base.Pieces[:at+1], "")
	stop := prefix[len(prefix)-2:] + base.Pieces[at+1][:2]
	want := base.Text[:strings.Index(base.Text, stop)]
	got := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 30, Params: noEOS(), Stops: []string{"zzz-never", stop}}))
	if diff := cmp.Diff([]string{want, FinishStop}, []string{got.Text, got.Finish}); diff != "" {
		t.Errorf("stop %q (-want +got):\n%s", stop, diff)
	}
}

func TestLimits(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 5, ctx: 32})
	r := start(t, m, Options{})
	prompt := m.Tokenizer().Encode("the hen", true, false)
	tests := []struct {
		name string
		req  Request
		want Usage
	}{
		{"max tokens", Request{Prompt: prompt, MaxTokens: 5, Params: noEOS()}, Usage{PromptTokens: len(prompt), CompletionTokens: 5}},
		{"context full", Request{Prompt: prompt, Params: noEOS()}, Usage{PromptTokens: len(prompt), CompletionTokens: 32 - len(prompt) + 1}},
		{"request context", Request{Prompt: prompt, Params: noEOS(), ContextLength: 10}, Usage{PromptTokens: len(prompt), CompletionTokens: 10 - len(prompt) + 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, submit(t, r, tc.req))
			// The later requests reuse the first one's prompt from the
			// prefix pool.
			got.Usage.CachedTokens = 0
			if diff := cmp.Diff([]any{FinishLength, tc.want, nil}, []any{got.Finish, got.Usage, got.Err}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	_, err := r.Submit(t.Context(), Request{Prompt: make([]int32, 33), Params: greedy()})
	var cle *ContextLengthError
	if !errors.As(err, &cle) || *cle != (ContextLengthError{Limit: 32, Tokens: 33}) {
		t.Errorf("Submit of 33 tokens with a context of 32: %v, want a ContextLengthError", err)
	}
	bad := greedy()
	bad.LogitBias = map[int32]float32{5000: 1}
	if _, err := r.Submit(t.Context(), Request{Prompt: prompt, Params: bad}); !errors.Is(err, sample.ErrInvalidParams) {
		t.Errorf("Submit with an out-of-vocabulary logit bias: %v, want ErrInvalidParams", err)
	}
}

func TestSeededSampling(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 6})
	r := start(t, m, Options{})
	prompt := m.Tokenizer().Encode("the", true, false)
	run := func(seed int64) result {
		p := sample.DefaultParams()
		p.Seed = &seed
		res := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 16, Params: p}))
		res.Pieces, res.Usage.CachedTokens = nil, 0
		return res
	}
	a, b, c := run(42), run(42), run(43)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("the same seed gave different results (-first +second):\n%s", diff)
	}
	if cmp.Equal(a.IDs, c.IDs) {
		t.Errorf("seeds 42 and 43 gave the same %d tokens", len(a.IDs))
	}
}

// TestSlowConsumer checks that an unread stream does not hold up others.
func TestSlowConsumer(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 7})
	r := start(t, m, Options{})
	prompt := m.Tokenizer().Encode("a", true, false)
	unread := submit(t, r, Request{Prompt: prompt, MaxTokens: 40, Params: noEOS()})
	got := collect(t, submit(t, r, Request{Prompt: prompt, MaxTokens: 40, Params: noEOS()}))
	if got.Usage.CompletionTokens != 40 {
		t.Errorf("read stream: %+v", got.Usage)
	}
	late := collect(t, unread)
	if diff := cmp.Diff(got.Text, late.Text); diff != "" {
		t.Errorf("the unread stream's buffered text differs (-read +unread):\n%s", diff)
	}
}

// TestPreemption runs requests whose caches do not all fit the KV budget;
// preempted sequences recompute and still produce their solo results.
func TestPreemption(t *testing.T) {
	spec := tinySpec{seed: 8}
	m := loadTiny(t, spec)
	cfg := m.Config()
	perPos := int64(cfg.Layers * (cfg.KVDim() + cfg.VDim()) * 4) // float32 K and V of one position
	r := start(t, m, Options{MaxKVBytes: 70 * perPos})
	prompt := m.Tokenizer().Encode("she is", true, false)
	req := Request{Prompt: prompt, MaxTokens: 40, Params: noEOS()}
	alone := collect(t, submit(t, r, req))
	var wg sync.WaitGroup
	got := make([]result, 3)
	for i := range got {
		st := submit(t, r, req)
		wg.Go(func() { got[i] = collect(t, st) })
	}
	wg.Wait()
	for i, g := range got {
		if diff := cmp.Diff(alone.Text, g.Text); diff != "" || g.Err != nil {
			t.Errorf("request %d under memory pressure (err %v) (-alone +got):\n%s", i, g.Err, diff)
		}
	}
	// The scheduler updates its counters just after the last event.
	deadline := time.Now().Add(5 * time.Second)
	for s := r.Stats(); s != (Stats{KVBytes: s.PrefixBytes, PrefixBytes: s.PrefixBytes}); s = r.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats after all requests ended: %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWeightedPick(t *testing.T) {
	r := &Runner{o: Options{MaxSeqs: 1}}
	mk := func(id uint64, weight int, enq uint64) *seq { return &seq{id: id, weight: weight, enq: enq} }
	r.tick = 10
	r.waiting = []*seq{mk(1, 1, 0), mk(2, 1, 2), mk(3, 4, 7), mk(4, 1, 9)}
	var order []uint64
	for len(r.waiting) > 0 {
		order = append(order, r.pickLocked().id)
	}
	// At tick 11: scores 11, 9, 16, 2 → 3 first; then 12, 10, 3 → 1; ...
	if diff := cmp.Diff([]uint64{3, 1, 2, 4}, order); diff != "" {
		t.Errorf("admission order (-want +got):\n%s", diff)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	m := loadTiny(t, tinySpec{seed: 9, ctx: 2048})
	r := New(m, Options{})
	queued := submit(t, r, Request{Prompt: []int32{1}, Params: noEOS()})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	if e, ok := queued.Next(t.Context()); !ok || e.Done {
		t.Fatalf("first event %+v", e)
	}
	r.Close()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if res := collect(t, queued); !errors.Is(res.Err, ErrClosed) {
		t.Errorf("stream after Close ended with %v", res.Err)
	}
	if _, err := r.Submit(t.Context(), Request{Prompt: []int32{1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Close: %v", err)
	}
}
