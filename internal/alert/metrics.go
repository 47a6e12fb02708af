package alert

import (
	"slices"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// Measure computes metric over the records of deployment ("" for all):
// rate_429 and error_rate in percent of the requests, p95_latency_ms the
// exact 95th percentile by nearest rank (the smallest latency that at
// least 95 % of the requests did not exceed), requests their number. ok
// is false when the metric has no value: a rate or a percentile of no
// requests.
func Measure(metric, deployment string, recs []store.UsageRecord) (value float64, ok bool) {
	var n, throttled, failed int
	var latencies []int64
	for _, r := range recs {
		if deployment != "" && r.Deployment != deployment {
			continue
		}
		n++
		switch {
		case r.Status == 429:
			throttled++
		case r.Status >= 500:
			failed++
		}
		if metric == store.MetricP95 {
			latencies = append(latencies, r.LatencyMS)
		}
	}
	if metric == store.MetricRequests {
		return float64(n), true
	}
	if n == 0 {
		return 0, false
	}
	switch metric {
	case store.MetricRate429:
		return float64(throttled) / float64(n) * 100, true
	case store.MetricErrorRate:
		return float64(failed) / float64(n) * 100, true
	case store.MetricP95:
		return float64(Percentile(latencies, 95)), true
	}
	return 0, false
}

// Percentile is the p-th percentile of vs by nearest rank: the value at
// rank ceil(p/100 × n) of the sorted values. vs is sorted in place; it
// must not be empty.
func Percentile(vs []int64, p int) int64 {
	slices.Sort(vs)
	rank := (p*len(vs) + 99) / 100 // ceil(p*n/100)
	return vs[max(rank, 1)-1]
}
