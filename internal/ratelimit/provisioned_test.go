package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// ptuTarget is a provisioned deployment of capacity PTUs that drain 600
// input tokens per minute each, with output tokens worth 4 input tokens.
func ptuTarget(capacity int) inference.Target {
	t := target("ProvisionedManaged", capacity)
	t.Version.PTU = &catalog.PTUSpec{Minimum: 5, Step: 5, InputTPMPerPTU: 600, OutputTokenWeight: 4}
	return t
}

func used(prompt, cached, completion int) inference.Usage {
	return inference.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion,
		PromptTokensDetails: &inference.PromptTokensDetails{CachedTokens: cached}}
}

func admitted(util string) outcome { return outcome{Admitted: true, Utilization: util} }

func overloaded(retry time.Duration, util string) outcome {
	return outcome{Which: "ptu", Retry: retry, Utilization: util, RetryAfterSecondsInText: true}
}

// TestProvisioned runs in a synctest bubble with the real time.Now: sleeps
// move the bubble's clock exactly. 10 PTUs × 600 = 6,000 tokens per minute,
// 100 per second.
func TestProvisioned(t *testing.T) {
	type ptuStep struct {
		sleep       time.Duration
		capacity    int // 0 means 10
		embedding   bool
		prompt, max int
		settle      int // index of the step to settle, -1 to admit
		usage       inference.Usage
		want        outcome // of an admission
		util        float64 // Utilization after the step
		weight      int     // Weight after the step
	}
	adm := func(sleep time.Duration, prompt, max int, want outcome, util float64, weight int) ptuStep {
		return ptuStep{sleep: sleep, prompt: prompt, max: max, settle: -1, want: want, util: util, weight: weight}
	}
	emb := func(st ptuStep) ptuStep { st.embedding = true; return st }
	set := func(sleep time.Duration, of int, u inference.Usage, util float64) ptuStep {
		return ptuStep{sleep: sleep, settle: of, usage: u, util: util, weight: 8}
	}
	s := time.Second
	tests := []struct {
		name  string
		steps []ptuStep
	}{{
		name: "100 % boundary, draining, retry-after, weighting, cached tokens",
		steps: []ptuStep{
			adm(0, 2000, 500, admitted("66.7%"), 4000.0/6000, 8),     // 2,000 + 4 × 500
			adm(0, 1000, 1000, admitted("150.0%"), 9000.0/6000, 2),   // admitted under 100 %, ends over it
			adm(0, 1, 1, overloaded(30*s, "150.0%"), 9000.0/6000, 2), // 3,000 over at 100 per second
			adm(29*s, 1, 1, overloaded(s, "101.7%"), 6100.0/6000, 2), // still over
			adm(s, 600, 100, admitted("116.7%"), 7000.0/6000, 2),     // exactly 100 % is admitted
			set(0, 1, used(1000, 0, 250), 4000.0/6000),               // 5,000 estimated, 2,000 used
			set(0, 0, used(2000, 1024, 100), 1376.0/6000),            // 4,000 estimated, 976 + 400 used
			emb(adm(10*s, 0, 0, admitted("6.3%"), 376.0/6000, 8)),    // an embedding reserves no output
			set(0, 4, used(600, 0, 100), 376.0/6000),                 // as estimated
			adm(time.Minute, 3000, 3000, admitted("250.0%"), 2.5, 2), // from empty, one request may go far over
			adm(0, 1, 1, overloaded(90*s, "250.0%"), 2.5, 2),
		},
	}, {
		name: "capacity change",
		steps: []ptuStep{
			emb(adm(0, 4000, 0, admitted("66.7%"), 4000.0/6000, 8)),
			// scaled down to 1,200 per minute: 2,800 over
			{capacity: 2, prompt: 1, settle: -1, want: overloaded(140*s, "333.3%"), util: 4000.0 / 1200, weight: 2},
			// the 140 s drained at the old rate, then scaled up to 12,000
			{sleep: 140 * s, capacity: 20, embedding: true, prompt: 1200, settle: -1, want: admitted("20.0%"), util: 0.2, weight: 8},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := New(Config{})
				settles := make([]func(inference.Usage), len(tt.steps))
				for i, st := range tt.steps {
					time.Sleep(st.sleep)
					tg := ptuTarget(10)
					if st.capacity != 0 {
						tg = ptuTarget(st.capacity)
					}
					if st.settle >= 0 {
						settles[st.settle](st.usage)
					} else {
						e := estimate(tg, st.prompt, st.max)
						if st.embedding {
							e.Operation = "embedding"
						}
						fn, err := a.Admit(context.Background(), e)
						settles[i] = fn
						if diff := cmp.Diff(st.want, outcomeOf(t, e, err)); diff != "" {
							t.Errorf("step %d (-want +got):\n%s", i, diff)
						}
					}
					u, ok := a.Utilization(tg.Project, tg.Deployment)
					if !ok || !cmp.Equal(st.util, u, cmpopts.EquateApprox(1e-9, 0)) {
						t.Errorf("step %d: Utilization = %v, %v; want %v", i, u, ok, st.util)
					}
					if got := a.Weight(tg); got != st.weight {
						t.Errorf("step %d: Weight = %d, want %d", i, got, st.weight)
					}
				}
			})
		})
	}
}

// TestProvisionedDefaults: a version without PTU figures drains 2,500
// tokens per PTU-minute and weighs output tokens 3 times; a chat request
// without max tokens reserves the default clamped to the context.
func TestProvisionedDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := New(Config{})
		tg := target("GlobalProvisionedManaged", 2) // 5,000 tokens per minute
		tg.Version.ContextLength = 1500
		h := http.Header{}
		e := estimate(tg, 1000, 0)
		e.Header = h
		settle, err := a.Admit(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		// 1,000 + 3 × (1,500 − 1,000)
		if diff := cmp.Diff("50.0%", h.Get(utilizationHeader)); diff != "" {
			t.Errorf("utilization header (-want +got):\n%s", diff)
		}
		time.Sleep(15 * time.Second)
		settle(used(1000, 0, 100)) // 1,300 used, 1,250 drained
		u, _ := a.Utilization(tg.Project, tg.Deployment)
		if !cmp.Equal(50.0/5000, u, cmpopts.EquateApprox(1e-9, 0)) {
			t.Errorf("Utilization = %v, want %v", u, 50.0/5000)
		}
	})
}
