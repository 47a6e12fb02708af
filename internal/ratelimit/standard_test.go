package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// t0 is on a whole second, so on a slot boundary of both windows.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t0.Add(d)
}

func target(sku string, capacity int) inference.Target {
	return inference.Target{Project: "proj", Deployment: "dep", SKU: sku, Model: "m", Capacity: capacity,
		Version: catalog.Version{Version: "1", ContextLength: 8192, Capabilities: catalog.Capabilities{Chat: true}}}
}

func estimate(t inference.Target, prompt, maxTokens int) gateway.Estimate {
	return gateway.Estimate{RequestID: "req", Caller: gateway.Caller{Project: t.Project}, Target: t, Operation: "chat",
		APIVersion: "2024-10-21", PromptTokens: prompt, MaxTokens: maxTokens, Header: http.Header{}}
}

// outcome is what one admission did, for comparison.
type outcome struct {
	Admitted                bool
	Which                   string // "token" or "call" rate limit when refused
	Retry                   time.Duration
	RemainingRequests       string
	RemainingTokens         string
	Utilization             string
	RetryAfterSecondsInText bool
}

func outcomeOf(t *testing.T, e gateway.Estimate, err error) outcome {
	t.Helper()
	o := outcome{Admitted: err == nil, RemainingRequests: e.Header.Get(remainingRequestsHeader),
		RemainingTokens: e.Header.Get(remainingTokensHeader), Utilization: e.Header.Get(utilizationHeader)}
	if err == nil {
		return o
	}
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.RateLimited || f.Code != "429" {
		t.Fatalf("Admit error = %#v, want a RateLimited fault with code 429", err)
	}
	o.Retry = f.RetryAfter
	switch {
	case strings.Contains(f.Message, "exceeded token rate limit"):
		o.Which = "token"
	case strings.Contains(f.Message, "exceeded call rate limit"):
		o.Which = "call"
	case strings.Contains(f.Message, "provisioned throughput"):
		o.Which = "ptu"
	}
	o.RetryAfterSecondsInText = strings.Contains(f.Message, "Please retry after "+strconv.Itoa(seconds(f.RetryAfter))+" seconds.")
	return o
}

// step is one admission (or, with settle >= 0, the settlement of an
// earlier step's admission) at a time since t0.
type step struct {
	at          time.Duration
	prompt, max int
	settle      int // index of the step to settle; -1 to admit
	usage       inference.Usage
	want        outcome
}

func admit(at time.Duration, prompt, max int, want outcome) step {
	return step{at: at, prompt: prompt, max: max, settle: -1, want: want}
}

func settle(at time.Duration, of int, total int) step {
	return step{at: at, settle: of, usage: inference.Usage{PromptTokens: total, TotalTokens: total}}
}

func ok(requests, tokens string) outcome {
	return outcome{Admitted: true, RemainingRequests: requests, RemainingTokens: tokens}
}

func refused(which string, retry time.Duration, requests, tokens string) outcome {
	return outcome{Which: which, Retry: retry, RemainingRequests: requests, RemainingTokens: tokens, RetryAfterSecondsInText: true}
}

func TestStandard(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		limits   Limits
		capacity int
		steps    []step
	}{{
		name: "token limit, wait until the burst leaves the window", limits: Static{Requests: 100}, capacity: 10,
		steps: []step{
			admit(0, 1000, 5000, ok("999", "4000")),
			admit(0, 1000, 5000, ok("998", "0")), // admitted below the limit, may end over it
			admit(0, 10, 10, refused("token", 60250*time.Millisecond, "998", "0")),
			admit(30*s, 10, 10, refused("token", 30250*time.Millisecond, "1000", "0")), // requests left their window
			admit(60250*time.Millisecond-time.Millisecond, 10, 10, refused("token", time.Millisecond, "1000", "0")),
			admit(60250*time.Millisecond, 10, 10, ok("999", "9980")),
		},
	}, {
		name: "request limit over 10 s", capacity: 2,
		steps: []step{
			admit(0, 1, 1, ok("1", "1998")),
			admit(5*s, 1, 1, ok("0", "1996")),
			admit(6*s, 1, 1, refused("call", 4100*time.Millisecond, "0", "1996")),
			admit(10100*time.Millisecond, 1, 1, ok("0", "1994")), // the first left, the second is still in
			admit(10200*time.Millisecond, 1, 1, refused("call", 4900*time.Millisecond, "0", "1994")),
			admit(15100*time.Millisecond, 1, 1, ok("0", "1992")),
		},
	}, {
		name: "refund lets the next request in", limits: Static{Requests: 100}, capacity: 1,
		steps: []step{
			admit(0, 500, 1000, ok("99", "0")),
			admit(s, 10, 10, refused("token", 59250*time.Millisecond, "99", "0")),
			settle(2*s, 0, 600),
			admit(2*s, 10, 10, ok("98", "380")),
		},
	}, {
		name: "underestimate delays later requests", limits: Static{Requests: 100}, capacity: 1,
		steps: []step{
			admit(0, 50, 50, ok("99", "900")),
			settle(20*s, 0, 2100), // charged to its admission slot
			admit(20*s, 10, 10, refused("token", 40250*time.Millisecond, "100", "0")),
			admit(60250*time.Millisecond, 10, 10, ok("99", "980")),
		},
	}, {
		name: "underestimate settled after its slot left goes to now", limits: Static{Requests: 100}, capacity: 1,
		steps: []step{
			admit(0, 50, 50, ok("99", "900")),
			settle(70*s, 0, 1100), // 1,000 extra tokens at 70 s
			admit(70*s, 10, 10, refused("token", 60250*time.Millisecond, "100", "0")),
		},
	}, {
		name: "failed request refunds everything", limits: Static{Requests: 100}, capacity: 1,
		steps: []step{
			admit(0, 900, 100, ok("99", "0")),
			settle(s, 0, 0),
			admit(s, 900, 100, ok("98", "0")),
		},
	}, {
		name: "no max tokens reserves the default, clamped to the context", limits: Static{Requests: 100, MaxTokens: 3000}, capacity: 10,
		steps: []step{
			admit(0, 1000, 0, ok("999", "6000")), // 1,000 + 3,000
			admit(0, 7000, 0, ok("998", "0")),    // 7,000 + (8,192 − 7,000)
			admit(0, 9000, 0, refused("token", 60250*time.Millisecond, "998", "0")),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			a := New(Config{Limits: tt.limits, Now: clock.Now})
			tg := target("Standard", tt.capacity)
			settles := make([]func(inference.Usage), len(tt.steps))
			for i, st := range tt.steps {
				clock.Set(st.at)
				if st.settle >= 0 {
					settles[st.settle](st.usage)
					continue
				}
				e := estimate(tg, st.prompt, st.max)
				fn, err := a.Admit(context.Background(), e)
				settles[i] = fn
				if diff := cmp.Diff(st.want, outcomeOf(t, e, err)); diff != "" {
					t.Errorf("step %d at %v (-want +got):\n%s", i, st.at, diff)
				}
			}
		})
	}
}

func TestRateLimitText(t *testing.T) {
	tests := []struct {
		op, version      string
		capacity, prompt int
		want             string
	}{
		{"chat", "2024-10-21", 1, 100, "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 11 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
		{"completion", "2024-06-01", 1, 100, "Requests to the Completions_Create Operation under Azure OpenAI API version 2024-06-01 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 11 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
		{"embedding", "", 1, 100, "Requests to the Embeddings_Create Operation under Azure OpenAI API version latest have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 11 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
		{"chat", "2024-10-21", 2, 1000, "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 61 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."},
	}
	for _, tt := range tests {
		clock := newClock()
		a := New(Config{Now: clock.Now})
		tg := target("GlobalStandard", tt.capacity)
		e := estimate(tg, tt.prompt, tt.prompt)
		e.Operation, e.APIVersion = tt.op, tt.version
		if _, err := a.Admit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		_, err := a.Admit(context.Background(), e)
		f, _ := fault.As(err)
		if f == nil {
			t.Fatalf("%s: second Admit = %v, want a 429", tt.op, err)
		}
		if diff := cmp.Diff(tt.want, f.Message); diff != "" {
			t.Errorf("%s capacity %d: message (-want +got):\n%s", tt.op, tt.capacity, diff)
		}
	}
}

func TestPassThrough(t *testing.T) {
	a := New(Config{})
	for _, tg := range []inference.Target{target("ManagedCompute", 1), target("GlobalBatch", 1), target("DataZoneBatch", 1),
		target("Standard", 0), target("SomethingNew", 1)} {
		for range 100 {
			e := estimate(tg, 100000, 100000)
			fn, err := a.Admit(context.Background(), e)
			if err != nil {
				t.Fatalf("%s capacity %d: %v", tg.SKU, tg.Capacity, err)
			}
			fn(inference.Usage{TotalTokens: 1e6})
			if len(e.Header) != 0 {
				t.Errorf("%s: headers %v, want none", tg.SKU, e.Header)
			}
		}
	}
	if got := a.len(); got != 0 {
		t.Errorf("limiters = %d, want 0", got)
	}
}

func TestCapacityChange(t *testing.T) {
	clock := newClock()
	a := New(Config{Limits: Static{Requests: 100}, Now: clock.Now})
	var got []outcome
	run := func(capacity, prompt int) {
		e := estimate(target("Standard", capacity), prompt, 0)
		e.MaxTokens = 1
		_, err := a.Admit(context.Background(), e)
		got = append(got, outcomeOf(t, e, err))
	}
	run(2, 1999) // 2,000 of 2,000
	run(2, 1)    // refused
	run(5, 1999) // scaled up: 4,000 of 5,000, what was counted stays
	run(5, 999)  // 5,000
	run(1, 1)    // scaled down below what is counted: refused
	clock.Set(61 * time.Second)
	run(1, 999) // a new minute at the new size
	want := []outcome{ok("199", "0"), refused("token", 60250*time.Millisecond, "199", "0"),
		ok("498", "1000"), ok("497", "0"), refused("token", 60250*time.Millisecond, "97", "0"), ok("99", "0")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func TestIdleEviction(t *testing.T) {
	clock := newClock()
	a := New(Config{Now: clock.Now, IdleAfter: 2 * time.Minute})
	ctx := context.Background()
	busy := target("Standard", 10)
	busy.Deployment = "busy"
	inflight := target("ProvisionedManaged", 10)
	inflight.Deployment = "streaming"
	use := func(tg inference.Target) { // admits and settles at once
		t.Helper()
		fn, err := a.Admit(ctx, estimate(tg, 10, 10))
		if err != nil {
			t.Fatal(err)
		}
		fn(inference.Usage{PromptTokens: 10, CompletionTokens: 10, TotalTokens: 20})
	}
	use(busy)
	hold, err := a.Admit(ctx, estimate(inflight, 10, 10))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		tg := target("Standard", 10)
		tg.Deployment = "idle-" + strconv.Itoa(i)
		use(tg)
	}
	clock.Set(90 * time.Second)
	use(busy) // busy stays in use
	clock.Set(3 * time.Minute)
	use(busy) // sweeps
	if got, want := a.len(), 2; got != want {
		t.Errorf("limiters after the sweep = %d, want %d (busy and the one in flight)", got, want)
	}
	if _, ok := a.Utilization("proj", "idle-3"); ok {
		t.Error("Utilization of an evicted deployment: ok, want false")
	}
	hold(inference.Usage{})
	clock.Set(10 * time.Minute)
	a.sweep(clock.Now())
	if got := a.len(); got != 0 {
		t.Errorf("limiters after everything went idle = %d, want 0", got)
	}
	// A deployment used again after its eviction starts afresh.
	e := estimate(busy, 10, 10)
	if _, err := a.Admit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ok("9", "9980"), outcomeOf(t, e, nil)); diff != "" {
		t.Errorf("after eviction (-want +got):\n%s", diff)
	}
}

func TestSchedulerWeight(t *testing.T) {
	got := map[string]int{}
	for _, s := range catalog.SKUs {
		got[s] = SchedulerWeight(s)
	}
	want := map[string]int{"Standard": 2, "GlobalStandard": 2, "DataZoneStandard": 2, "Developer": 2, "ManagedCompute": 2,
		"ProvisionedManaged": 8, "GlobalProvisionedManaged": 8, "DataZoneProvisionedManaged": 8, "GlobalBatch": 1, "DataZoneBatch": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SchedulerWeight (-want +got):\n%s", diff)
	}
}
