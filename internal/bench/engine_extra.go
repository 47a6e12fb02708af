package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/model"
	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// DefaultRounds is the number of rounds of the concurrency measurement
// when EngineOptions.Rounds is 0.
const DefaultRounds = 3

// ConcurrencyResult compares Streams concurrent generations through a
// runner with one alone. On a machine shared with other work the speed
// drifts between measurements, so they alternate: each of the Rounds runs
// one stream alone and then Streams together, each stream with a fresh
// random prompt, and the summary figures are medians over the rounds (of
// an even number of rounds, the mean of the two middle ones).
type ConcurrencyResult struct {
	Streams int `json:"streams"`
	// Rounds holds each round's measurements, in order.
	Rounds []ConcurrencyRound `json:"rounds"`
	// MedianSingleTokensPerSecond is the median of the rounds' single
	// stream rates.
	MedianSingleTokensPerSecond float64 `json:"median_single_tokens_per_second"`
	// MedianAggregateTokensPerSecond is the median of the rounds'
	// aggregate rates.
	MedianAggregateTokensPerSecond float64 `json:"median_aggregate_tokens_per_second"`
	// MedianRatio is the median of the rounds' ratios (each round's
	// aggregate ÷ its own single rate), not the ratio of the two medians:
	// a round's two measurements are close in time, so its ratio is the
	// least disturbed by drift. MinRatio and MaxRatio show the spread.
	MedianRatio float64 `json:"median_ratio"`
	MinRatio    float64 `json:"min_ratio"`
	MaxRatio    float64 `json:"max_ratio"`
}

// ConcurrencyRound is one round: one stream alone, then Streams together.
// Rates count the tokens generated once every stream has its first token
// (so prompt processing is left out), over the time from then to the last
// token.
type ConcurrencyRound struct {
	// SingleTokensPerSecond is one stream's generation rate.
	SingleTokensPerSecond float64 `json:"single_tokens_per_second"`
	// AggregateTokensPerSecond is all Streams' generation rate together.
	AggregateTokensPerSecond float64 `json:"aggregate_tokens_per_second"`
	// Ratio is AggregateTokensPerSecond ÷ SingleTokensPerSecond.
	Ratio float64 `json:"ratio"`
	// Generated counts the tokens of the concurrent run (EOG included).
	Generated int `json:"generated_tokens"`
}

// summarize fills in the rounds' ratios and the medians over them.
func summarize(streams int, rounds []ConcurrencyRound) *ConcurrencyResult {
	res := &ConcurrencyResult{Streams: streams, Rounds: rounds}
	if len(rounds) == 0 {
		return res
	}
	single := make([]float64, len(rounds))
	agg := make([]float64, len(rounds))
	ratio := make([]float64, len(rounds))
	for i := range rounds {
		r := &rounds[i]
		r.Ratio = 0
		if r.SingleTokensPerSecond > 0 {
			r.Ratio = r.AggregateTokensPerSecond / r.SingleTokensPerSecond
		}
		single[i], agg[i], ratio[i] = r.SingleTokensPerSecond, r.AggregateTokensPerSecond, r.Ratio
	}
	res.MedianSingleTokensPerSecond = median(single)
	res.MedianAggregateTokensPerSecond = median(agg)
	res.MedianRatio = median(ratio)
	res.MinRatio, res.MaxRatio = slices.Min(ratio), slices.Max(ratio)
	return res
}

// median returns the median of xs (the mean of the two middle values for
// an even count, 0 for none), sorting xs.
func median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	slices.Sort(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// processAge returns how long ago this process started, from
// /proc/self/stat and /proc/uptime, at clock-tick resolution (USER_HZ is
// 100 on Linux).
func processAge() (time.Duration, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	// Fields after the command name (in parentheses, which may hold
	// spaces): field 22 of the line, starttime, is the 20th after it.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/self/stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return 0, errors.New("malformed /proc/self/stat")
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("starttime: %w", err)
	}
	upFields := strings.Fields(string(up))
	if len(upFields) == 0 {
		return 0, errors.New("malformed /proc/uptime")
	}
	uptime, err := strconv.ParseFloat(upFields[0], 64)
	if err != nil {
		return 0, fmt.Errorf("uptime: %w", err)
	}
	const userHZ = 100
	return time.Duration((uptime - float64(ticks)/userHZ) * float64(time.Second)), nil
}

// firstToken measures the time to the first token of the model just
// loaded (loading began at start): a one-token prompt in a fresh cache and
// the choice of its first token.
func firstToken(ctx context.Context, m *model.Model, start time.Time, r *EngineResult) error {
	c, err := m.NewCache(1, nil)
	if err != nil {
		return err
	}
	defer c.Free()
	logits := make([]float32, m.Config().VocabSize)
	if err := m.Forward(ctx, &model.Batch{Seqs: []model.Sequence{{Tokens: []int32{1}, Cache: c, Logits: logits}}}); err != nil {
		return err
	}
	_ = argmax(logits)
	r.TTFTSeconds = time.Since(start).Seconds()
	if age, err := processAge(); err == nil {
		r.TTFTFromStartSeconds = age.Seconds()
	}
	return nil
}

// concurrent measures o.Rounds (default DefaultRounds) rounds of one
// stream alone and then o.Concurrency streams together through a runner
// on m.
func concurrent(ctx context.Context, m *model.Model, o EngineOptions) (*ConcurrencyResult, error) {
	rn := runner.New(m, runner.Options{
		MaxSeqs: o.Concurrency, ContextLength: o.Prompt + o.Gen + 1, PrefixCacheBytes: -1,
	})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rn.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	n := o.Rounds
	if n <= 0 {
		n = DefaultRounds
	}
	rng := rand.New(rand.NewPCG(o.Seed, 2))
	rounds := make([]ConcurrencyRound, n)
	for i := range rounds {
		single, _, err := streams(ctx, rn, rng, 1, o)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i+1, err)
		}
		agg, gen, err := streams(ctx, rn, rng, o.Concurrency, o)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", i+1, err)
		}
		rounds[i] = ConcurrencyRound{SingleTokensPerSecond: single, AggregateTokensPerSecond: agg, Generated: gen}
	}
	return summarize(o.Concurrency, rounds), nil
}

// streams runs k streams of o.Prompt fresh random tokens and o.Gen
// generated ones at once and returns their generation rate (see
// ConcurrencyRound)
// and the tokens generated.
func streams(ctx context.Context, rn *runner.Runner, rng *rand.Rand, k int, o EngineOptions) (float64, int, error) {
	vocab := rn.Model().Config().VocabSize
	params := sample.DefaultParams()
	params.Temperature = 0
	times := make([][]time.Time, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		prompt := make([]int32, o.Prompt)
		for j := range prompt {
			prompt[j] = int32(rng.IntN(vocab))
		}
		st, err := rn.Submit(ctx, runner.Request{Prompt: prompt, MaxTokens: o.Gen, Params: params})
		if err != nil {
			return 0, 0, err
		}
		wg.Go(func() {
			for {
				e, ok := st.Next(ctx)
				if !ok {
					errs[i] = errors.New("stream ended early")
					return
				}
				if e.Err != nil {
					errs[i] = e.Err
					return
				}
				// Every event but an error is one sampled token.
				times[i] = append(times[i], time.Now())
				if e.Done {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, err
	}
	var t0, end time.Time
	total := 0
	for _, ts := range times {
		total += len(ts)
		if len(ts) == 0 {
			continue
		}
		if ts[0].After(t0) {
			t0 = ts[0]
		}
		if last := ts[len(ts)-1]; last.After(end) {
			end = last
		}
	}
	counted := 0
	for _, ts := range times {
		for _, t := range ts {
			if t.After(t0) {
				counted++
			}
		}
	}
	el := end.Sub(t0).Seconds()
	if counted == 0 || el <= 0 {
		return 0, total, fmt.Errorf("too few tokens to time: give --gen of at least 2")
	}
	return float64(counted) / el, total, nil
}
