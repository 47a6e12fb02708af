package ratelimit

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// admission is one admitted request as a client saw it.
type admission struct {
	at     time.Duration // since t0
	tokens int64         // what it counts against the limit: its estimate, or its actual usage once settled
}

// TestAccuracyUnderConcurrency hammers one Standard deployment from 32
// goroutines with random estimates over three simulated minutes. The fake
// clock stands still while the clients race and then moves on 100 ms, so
// every admission has an exact time. In every 60-s window the admitted
// tokens stay within the limit plus one request's estimate.
func TestAccuracyUnderConcurrency(t *testing.T) {
	const (
		clients    = 32
		capacity   = 100 // 100,000 TPM
		limit      = capacity * DefaultTPMPerUnit
		maxPrompt  = 2000
		maxOutput  = 2000
		step       = 100 * time.Millisecond
		simulated  = 3 * time.Minute
		maxRequest = maxPrompt + maxOutput
	)
	tests := []struct {
		name   string
		settle bool // settle each request to a random actual ≤ its estimate
	}{
		{"estimates", false},
		{"settled to actuals", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			a := New(Config{Limits: Static{Requests: 1000}, Now: clock.Now}) // requests never bind here
			tg := target("Standard", capacity)

			var mu sync.Mutex
			var got []admission
			var attempts, refusals int
			start := make([]chan time.Duration, clients)
			var phase sync.WaitGroup
			for c := range clients {
				start[c] = make(chan time.Duration)
				rng := rand.New(rand.NewPCG(uint64(c), 42))
				go func() {
					for at := range start[c] {
						e := estimate(tg, 1+rng.IntN(maxPrompt), 1+rng.IntN(maxOutput))
						fn, err := a.Admit(context.Background(), e)
						mu.Lock()
						attempts++
						if err != nil {
							refusals++
						} else {
							est := int64(e.PromptTokens + e.MaxTokens)
							if tt.settle {
								actual := est/2 + rng.Int64N(est/2+1)
								fn(inference.Usage{PromptTokens: e.PromptTokens, CompletionTokens: int(actual) - e.PromptTokens, TotalTokens: int(actual)})
								est = actual
							}
							got = append(got, admission{at: at, tokens: est})
						}
						mu.Unlock()
						phase.Done()
					}
				}()
			}
			for at := time.Duration(0); at < simulated; at += step {
				clock.Set(at)
				phase.Add(clients)
				for c := range clients {
					start[c] <- at
				}
				phase.Wait()
			}
			for c := range clients {
				close(start[c])
			}

			worst, total := worstWindow(got, time.Minute), int64(0)
			for _, g := range got {
				total += g.tokens
			}
			ratio := float64(worst) / limit
			mean := float64(total) / limit / simulated.Minutes()
			t.Logf("%d clients, %d attempts, %d admitted, %d refused: worst 60-s window admitted %d tokens = %.4f × the limit of %d (bound %.4f); mean %.4f × the limit per minute",
				clients, attempts, len(got), refusals, worst, ratio, limit, float64(limit+maxRequest)/limit, mean)
			if worst > limit+maxRequest {
				t.Errorf("a 60-s window admitted %d tokens, more than the limit %d plus one request's estimate %d", worst, limit, maxRequest)
			}
			if mean < 0.95 {
				t.Errorf("mean throughput %.4f × the limit, want at least 0.95: the limiter is too strict", mean)
			}
		})
	}
}

// worstWindow is the largest total of admissions in any window of length
// span [s, s+span): it suffices to try windows that start at an admission.
func worstWindow(as []admission, span time.Duration) int64 {
	as = slices.Clone(as)
	slices.SortFunc(as, func(x, y admission) int { return int(x.at - y.at) })
	var worst, sum int64
	j := 0
	for i := range as {
		for j < len(as) && as[j].at < as[i].at+span {
			sum += as[j].tokens
			j++
		}
		worst = max(worst, sum)
		sum -= as[i].tokens
	}
	return worst
}
