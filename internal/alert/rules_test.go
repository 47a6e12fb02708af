package alert_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/alert"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

func TestPercentile(t *testing.T) {
	seq := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(n - i) // reversed, so that sorting matters
		}
		return out
	}
	tests := []struct {
		name string
		vs   []int64
		p    int
		want int64
	}{
		{"one", []int64{7}, 95, 7},
		{"two", []int64{1, 2}, 95, 2},
		{"twenty", seq(20), 95, 19},
		{"twenty-one", seq(21), 95, 20},
		{"hundred", seq(100), 95, 95},
		{"thousand", seq(1000), 95, 950},
		{"p50 of ten", seq(10), 50, 5},
		{"p100", seq(10), 100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alert.Percentile(tt.vs, tt.p); got != tt.want {
				t.Errorf("Percentile(%d values, %d) = %d, want %d", len(tt.vs), tt.p, got, tt.want)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	var recs []store.UsageRecord
	for i := range 40 {
		status := 200
		switch {
		case i < 4:
			status = 429
		case i < 6:
			status = 503
		case i < 7:
			status = 400
		}
		recs = append(recs, store.UsageRecord{Deployment: "a", Status: status, LatencyMS: int64(100 + i)})
	}
	recs = append(recs, store.UsageRecord{Deployment: "b", Status: 500, LatencyMS: 9000})
	tests := []struct {
		metric, dep string
		recs        []store.UsageRecord
		want        float64
		ok          bool
	}{
		{store.MetricRequests, "", recs, 41, true},
		{store.MetricRequests, "a", recs, 40, true},
		{store.MetricRequests, "a", nil, 0, true},
		{store.MetricRate429, "a", recs, 10, true},
		{store.MetricErrorRate, "a", recs, 5, true},
		{store.MetricErrorRate, "b", recs, 100, true},
		{store.MetricP95, "a", recs, 137, true}, // rank 38 of 100..139
		{store.MetricP95, "", recs, 138, true},  // rank ceil(38.95)=39 of 41 values
		{store.MetricP95, "c", recs, 0, false},
		{store.MetricRate429, "", nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := alert.Measure(tt.metric, tt.dep, tt.recs)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Measure(%s, %q) = %v, %v; want %v, %v", tt.metric, tt.dep, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAlertRuleFiresAndResolves(t *testing.T) {
	s := openStore(t, "")
	seed(t, s)
	ctx := context.Background()
	clk := newClock(march15)
	rule := store.AlertRule{Owner: p1, Name: "slow", Deployment: "d1", Metric: store.MetricP95, Comparator: ">", Threshold: 500,
		Window: 5 * time.Minute, Cooldown: 30 * time.Minute, Webhooks: []store.Webhook{{URL: "https://hooks.example/slow", Secret: "k"}},
		CreatedAt: march15, UpdatedAt: march15}
	if err := alert.ValidateRule(&rule); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAlertRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	eval := &alert.Evaluator{Store: s, Now: clk.Now}
	n := 0
	// burst records 20 requests of deployment dep ending at clk's time
	// with latencies base+0..base+19 ms.
	burst := func(dep string, base int64) {
		var recs []store.UsageRecord
		for i := range 20 {
			n++
			recs = append(recs, store.UsageRecord{RequestID: fmt.Sprintf("r%d", n), Time: clk.Now().Add(-time.Duration(i+1) * time.Second),
				Hub: "h1", Project: "p1", Deployment: dep, Model: "gpt", Status: 200, LatencyMS: base + int64(i)})
		}
		record(t, s, recs...)
	}
	state := func() store.AlertRule {
		r, err := s.GetAlertRule(ctx, p1, "slow")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	steps := []struct {
		name      string
		advance   time.Duration
		dep       string
		base      int64 // 0: no burst
		wantState string
		wantValue float64
	}{
		{"fast", 0, "d1", 100, store.StateOK, 0},
		{"slow on another deployment", time.Minute, "d2", 1000, store.StateOK, 0},
		{"slow", time.Minute, "d1", 600, store.StateFiring, 617}, // 40 in window: 100..119, 600..619; rank 38 → 617
		{"still slow", time.Minute, "", 0, store.StateFiring, 617},
		{"window passes", 10 * time.Minute, "", 0, store.StateFiring, 617}, // no requests: no value, no change
		{"fast again", time.Minute, "d1", 100, store.StateResolved, 118},
		{"slow within cooldown", time.Minute, "d1", 700, store.StateResolved, 118},
		{"slow after cooldown", 20 * time.Minute, "d1", 800, store.StateFiring, 818},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		if st.base > 0 {
			burst(st.dep, st.base)
		}
		if err := eval.Evaluate(ctx); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got := state()
		if got.State != st.wantState || got.LastValue != st.wantValue {
			t.Errorf("%s: state %s value %v, want %s %v", st.name, got.State, got.LastValue, st.wantState, st.wantValue)
		}
	}
	evs, err := s.ListAlertEvents(ctx, store.AlertEventQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(evs) - 1; i >= 0; i-- {
		got = append(got, fmt.Sprintf("%s %v", evs[i].Type, evs[i].Value))
	}
	want := []string{"alert.firing 617", "alert.resolved 118", "alert.firing 818"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	ds, err := s.ListDeliveries(ctx, store.DeliveryQuery{Owner: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d deliveries, want 3", len(ds))
	}
	var p alert.Payload
	if err := json.Unmarshal(ds[2].Body, &p); err != nil {
		t.Fatal(err)
	}
	wantP := alert.Payload{Type: "alert.firing", ID: p.ID, Time: p.Time, Project: "p1", Rule: "slow", Deployment: "d1",
		Metric: store.MetricP95, Comparator: ">", Value: 617, Threshold: 500, Window: "5m0s", Message: p.Message}
	if d := cmp.Diff(wantP, p); d != "" {
		t.Errorf("first payload (-want +got):\n%s", d)
	}
	if ds[2].Secret != "k" {
		t.Errorf("delivery secret %q, want the webhook's", ds[2].Secret)
	}
}

func TestValidate(t *testing.T) {
	good := func() store.AlertRule {
		return store.AlertRule{Owner: p1, Name: "r", Metric: store.MetricRate429, Comparator: ">", Threshold: 5, Window: 5 * time.Minute}
	}
	ruleTests := []struct {
		name  string
		edit  func(r *store.AlertRule)
		param string
	}{
		{"ok", func(*store.AlertRule) {}, ""},
		{"metric", func(r *store.AlertRule) { r.Metric = "cpu" }, "metric"},
		{"comparator", func(r *store.AlertRule) { r.Comparator = ">=" }, "comparator"},
		{"window", func(r *store.AlertRule) { r.Window = time.Second }, "window"},
		{"cooldown", func(r *store.AlertRule) { r.Cooldown = -time.Second }, "cooldown"},
		{"hub deployment", func(r *store.AlertRule) { r.Owner = h1; r.Deployment = "d" }, "deployment"},
		{"webhook", func(r *store.AlertRule) { r.Webhooks = []store.Webhook{{URL: "ftp://x"}} }, "webhooks"},
		{"name", func(r *store.AlertRule) { r.Name = "a b" }, "name"},
	}
	for _, tt := range ruleTests {
		r := good()
		tt.edit(&r)
		gotParam := paramOf(alert.ValidateRule(&r))
		if gotParam != tt.param {
			t.Errorf("ValidateRule %s: param %q, want %q", tt.name, gotParam, tt.param)
		}
	}
	b := store.Budget{Owner: p1, Name: "b", Amount: 10, Thresholds: []float64{100, 50, 50}}
	if err := alert.ValidateBudget(&b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]float64{50, 100}, b.Thresholds); d != "" {
		t.Errorf("normalised thresholds (-want +got):\n%s", d)
	}
	for _, bad := range []store.Budget{
		{Owner: p1, Name: "b", Amount: 0},
		{Owner: p1, Name: "b", Amount: 1, Thresholds: []float64{-1}},
		{Owner: store.Owner{Scope: "org", Name: "x"}, Name: "b", Amount: 1},
	} {
		if err := alert.ValidateBudget(&bad); err == nil {
			t.Errorf("ValidateBudget(%+v) = nil, want an error", bad)
		}
	}
}

func paramOf(err error) string {
	if err == nil {
		return ""
	}
	f, ok := fault.As(err)
	if !ok {
		return "not a fault: " + err.Error()
	}
	return f.Param
}
