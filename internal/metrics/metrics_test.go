package metrics

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// scrape GETs the handler and parses the text format into "name{labels}"
// → value (labels as Prometheus prints them: sorted by name).
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad line %q: %v", line, err)
		}
		out[canon(line[:i])] = v
	}
	return out
}

// canon writes a series name with its labels sorted and the empty ones
// (which Prometheus treats as absent) dropped. Label values must not hold
// commas.
func canon(series string) string {
	name, rest, ok := strings.Cut(series, "{")
	if !ok {
		return series
	}
	var pairs []string
	for _, p := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if p != "" && !strings.HasSuffix(p, `=""`) {
			pairs = append(pairs, p)
		}
	}
	slices.Sort(pairs)
	if len(pairs) == 0 {
		return name
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

const dep = `deployment="chat",model="gpt",project="p1",sku="Standard"`

func record(op string, status int, stream bool, u inference.Usage, latency, ttft time.Duration) gateway.Record {
	return gateway.Record{RequestID: "r", Project: "p1", Deployment: "chat", Model: "gpt", SKU: "Standard", Operation: op,
		Status: status, Stream: stream, Usage: u, Latency: latency, TimeToFirstToken: ttft}
}

func TestRecord(t *testing.T) {
	m := New()
	ctx := context.Background()
	cached := inference.Usage{PromptTokens: 100, CompletionTokens: 20, PromptTokensDetails: &inference.PromptTokensDetails{CachedTokens: 64}}
	for _, r := range []gateway.Record{
		record("chat", 200, true, cached, 1500*time.Millisecond, 150*time.Millisecond),
		record("chat", 200, false, inference.Usage{PromptTokens: 3, CompletionTokens: 2}, 50*time.Millisecond, 50*time.Millisecond),
		record("chat", 429, false, inference.Usage{}, time.Millisecond, time.Millisecond),
		record("chat", 502, true, inference.Usage{PromptTokens: 5}, 30*time.Second, 30*time.Second),
		record("embedding", 200, false, inference.Usage{PromptTokens: 8}, 30*time.Millisecond, 30*time.Millisecond),
	} {
		m.Record(ctx, r)
	}
	got := scrape(t, m)
	want := map[string]float64{
		`cerulean_requests_total{` + dep + `,operation="chat",status_code="200"}`:      2,
		`cerulean_requests_total{` + dep + `,operation="chat",status_code="429"}`:      1,
		`cerulean_requests_total{` + dep + `,operation="chat",status_code="502"}`:      1,
		`cerulean_requests_total{` + dep + `,operation="embedding",status_code="200"}`: 1,
		`cerulean_rate_limited_total{` + dep + `}`:                                     1,
		`cerulean_tokens_total{` + dep + `,type="prompt"}`:                             116,
		`cerulean_tokens_total{` + dep + `,type="completion"}`:                         22,
		`cerulean_tokens_total{` + dep + `,type="cached"}`:                             64,

		// Token usage: successful requests only; no output for embeddings.
		`gen_ai_client_token_usage_count{` + dep + `,gen_ai_token_type="input",operation="chat"}`:           2,
		`gen_ai_client_token_usage_sum{` + dep + `,gen_ai_token_type="input",operation="chat"}`:             103,
		`gen_ai_client_token_usage_bucket{` + dep + `,gen_ai_token_type="input",le="4",operation="chat"}`:   1,
		`gen_ai_client_token_usage_bucket{` + dep + `,gen_ai_token_type="input",le="64",operation="chat"}`:  1,
		`gen_ai_client_token_usage_bucket{` + dep + `,gen_ai_token_type="input",le="256",operation="chat"}`: 2,
		`gen_ai_client_token_usage_count{` + dep + `,gen_ai_token_type="output",operation="chat"}`:          2,
		`gen_ai_client_token_usage_sum{` + dep + `,gen_ai_token_type="output",operation="chat"}`:            22,
		`gen_ai_client_token_usage_count{` + dep + `,gen_ai_token_type="input",operation="embedding"}`:      1,
		`gen_ai_client_token_usage_count{` + dep + `,gen_ai_token_type="output",operation="embedding"}`:     -1, // absent

		// Duration: every request.
		`gen_ai_server_request_duration_seconds_count{` + dep + `,operation="chat"}`:               4,
		`gen_ai_server_request_duration_seconds_sum{` + dep + `,operation="chat"}`:                 31.551,
		`gen_ai_server_request_duration_seconds_bucket{` + dep + `,le="0.01",operation="chat"}`:    1,
		`gen_ai_server_request_duration_seconds_bucket{` + dep + `,le="0.08",operation="chat"}`:    2,
		`gen_ai_server_request_duration_seconds_bucket{` + dep + `,le="2.56",operation="chat"}`:    3,
		`gen_ai_server_request_duration_seconds_bucket{` + dep + `,le="40.96",operation="chat"}`:   4,
		`gen_ai_server_request_duration_seconds_bucket{` + dep + `,le="120",operation="chat"}`:     4,
		`gen_ai_server_request_duration_seconds_count{` + dep + `,operation="embedding"}`:          1,
		`gen_ai_server_time_to_first_token_seconds_count{` + dep + `,operation="chat"}`:            1,
		`gen_ai_server_time_to_first_token_seconds_sum{` + dep + `,operation="chat"}`:              0.15,
		`gen_ai_server_time_to_first_token_seconds_bucket{` + dep + `,le="0.1",operation="chat"}`:  0,
		`gen_ai_server_time_to_first_token_seconds_bucket{` + dep + `,le="0.25",operation="chat"}`: 1,
		`gen_ai_server_time_to_first_token_seconds_count{` + dep + `,operation="embedding"}`:       -1,
	}
	for k, w := range want {
		k = canon(k)
		g, ok := got[k]
		switch {
		case w == -1 && ok:
			t.Errorf("%s = %v, want no such series", k, g)
		case w == -1:
		case !ok:
			t.Errorf("%s missing", k)
		case abs(g-w) > 1e-9:
			t.Errorf("%s = %v, want %v", k, g, w)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("go_goroutines missing: no Go runtime collector")
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestRecordExposition checks the counters' whole exposition with
// testutil, help texts and types included.
func TestRecordExposition(t *testing.T) {
	m := New()
	m.Record(context.Background(), record("completion", 429, false, inference.Usage{}, time.Millisecond, time.Millisecond))
	want := `
# HELP cerulean_rate_limited_total Requests refused with 429 Too Many Requests.
# TYPE cerulean_rate_limited_total counter
cerulean_rate_limited_total{` + dep + `} 1
# HELP cerulean_requests_total Inference requests that reached a deployment, by operation and HTTP status code.
# TYPE cerulean_requests_total counter
cerulean_requests_total{deployment="chat",model="gpt",operation="completion",project="p1",sku="Standard",status_code="429"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), NameRequests, NameRateLimited, NameTokens); err != nil {
		t.Error(err)
	}
}

func TestForget(t *testing.T) {
	m := New()
	ctx := context.Background()
	m.Record(ctx, record("chat", 200, true, inference.Usage{PromptTokens: 1, CompletionTokens: 1}, time.Second, time.Second))
	other := record("chat", 429, false, inference.Usage{}, time.Second, time.Second)
	other.Deployment = "other"
	m.Record(ctx, other)
	m.Forget("p1", "chat")
	for k := range scrape(t, m) {
		if strings.Contains(k, `deployment="chat"`) {
			t.Errorf("series %s left after Forget", k)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != 1 {
		t.Errorf("%d request series, want 1 (the other deployment's)", n)
	}
}

func TestInFlight(t *testing.T) {
	m := New()
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.InFlight(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	paths := []string{"/openai/deployments/x/chat/completions", "/v1/embeddings", "/api/v1/projects", "/healthz"}
	done := make(chan struct{})
	for _, p := range paths {
		go func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", p, nil))
			done <- struct{}{}
		}()
		<-entered
	}
	gauge := func(route string) float64 { return testutil.ToFloat64(m.inFlight.WithLabelValues(route)) }
	type counts struct{ Inference, Management, Other float64 }
	read := func() counts { return counts{gauge("inference"), gauge("management"), gauge("other")} }
	if d := cmp.Diff(counts{2, 1, 1}, read()); d != "" {
		t.Errorf("in flight while blocked (-want +got):\n%s", d)
	}
	close(release)
	for range paths {
		<-done
	}
	if d := cmp.Diff(counts{}, read()); d != "" {
		t.Errorf("in flight after (-want +got):\n%s", d)
	}
}

func TestObserveCallbacks(t *testing.T) {
	m := New()
	if got := scrape(t, m); hasPrefixKey(got, NameQueueDepth) || hasPrefixKey(got, NameReplicas) {
		t.Errorf("callback gauges reported before any callback was set")
	}
	m.ObserveQueueDepth(func() []Sample {
		return []Sample{{Model: "gpt", Value: 2}, {Model: "gpt", Value: 3}, {Model: "tiny", Value: 1}}
	})
	m.ObservePTUUtilization(func() []Sample {
		return []Sample{{Project: "p1", Deployment: "ptu", Model: "gpt", SKU: "ProvisionedManaged", Value: 0.75}}
	})
	m.ObserveReplicas(func() []Sample {
		return []Sample{
			{Project: "p1", Deployment: "mc", Model: "gpt", SKU: "ManagedCompute", State: "ready", Value: 2},
			{Project: "p1", Deployment: "mc", Model: "gpt", SKU: "ManagedCompute", State: "starting", Value: 1},
		}
	})
	m.ObserveCaptureDrops(func() int64 { return 7 })
	got := scrape(t, m)
	mc := `deployment="mc",model="gpt",project="p1",sku="ManagedCompute"`
	want := map[string]float64{
		`cerulean_engine_queue_depth{model="gpt"}`:                                                           5,
		`cerulean_engine_queue_depth{model="tiny"}`:                                                          1,
		`cerulean_ptu_utilization_ratio{deployment="ptu",model="gpt",project="p1",sku="ProvisionedManaged"}`: 0.75,
		`cerulean_replicas{` + mc + `,state="ready"}`:                                                        2,
		`cerulean_replicas{` + mc + `,state="starting"}`:                                                     1,
		`cerulean_request_log_dropped_total`:                                                                 7,
	}
	for k, w := range want {
		k = canon(k)
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
		}
	}
	m.ObserveQueueDepth(nil)
	if hasPrefixKey(scrape(t, m), NameQueueDepth) {
		t.Error("queue depth still reported after ObserveQueueDepth(nil)")
	}
}

func hasPrefixKey(m map[string]float64, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func TestRegistriesAreSeparate(t *testing.T) {
	a, b := New(), New()
	a.Record(context.Background(), record("chat", 200, false, inference.Usage{}, time.Second, time.Second))
	if n := testutil.CollectAndCount(b.requests); n != 0 {
		t.Errorf("a second Metrics sees %d request series of the first", n)
	}
}
