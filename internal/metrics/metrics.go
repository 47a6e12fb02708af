// Package metrics is Cerulean's Prometheus face: a gateway.Meter that turns
// each request's Record into counters and histograms, an in-flight
// middleware, gauges read from callbacks at scrape time (engine queues, PTU
// utilization, replicas), the Go runtime and process collectors, and the
// /metrics handler. Everything lives in a registry of its own; nothing is
// registered with Prometheus's global default registry.
//
// Series carry the labels project, deployment, model and sku. Their values
// come from the gateway after the deployment was resolved, so they are
// bounded by the deployments in the store; status codes are strings.
// Names follow Prometheus conventions and, where one exists, the
// OpenTelemetry GenAI semantic conventions (gen_ai.client.token.usage,
// gen_ai.server.request.duration, gen_ai.server.time_to_first_token)
// translated to Prometheus names.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Metric names.
const (
	NameRequests     = "cerulean_requests_total"
	NameTokenUsage   = "gen_ai_client_token_usage"
	NameTokens       = "cerulean_tokens_total"
	NameDuration     = "gen_ai_server_request_duration_seconds"
	NameTTFT         = "gen_ai_server_time_to_first_token_seconds"
	NameRateLimited  = "cerulean_rate_limited_total"
	NameInFlight     = "cerulean_requests_in_flight"
	NameQueueDepth   = "cerulean_engine_queue_depth"
	NamePTU          = "cerulean_ptu_utilization_ratio"
	NameReplicas     = "cerulean_replicas"
	NameCaptureDrops = "cerulean_request_log_dropped_total"
)

// Buckets.
var (
	// DurationBuckets span 10 ms to 120 s: OpenTelemetry's advice for
	// gen_ai.server.request.duration (powers of two from 10 ms), then 120 s.
	DurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 120}
	// TTFTBuckets span 10 ms to 120 s, finer below a second where a time to
	// first token usually falls.
	TTFTBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 120}
	// TokenBuckets are OpenTelemetry's advice for gen_ai.client.token.usage
	// (powers of four), up to 4 Mi tokens.
	TokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304}
)

// deploymentLabels are the labels every per-request series starts with.
var deploymentLabels = []string{"project", "deployment", "model", "sku"}

func labels(extra ...string) []string {
	return append(append([]string(nil), deploymentLabels...), extra...)
}

// Metrics holds every series. Build it with New; it is safe for concurrent
// use.
type Metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec
	tokenUsage  *prometheus.HistogramVec
	tokens      *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	ttft        *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	inFlight    *prometheus.GaugeVec

	queueDepth, ptu, replicas *funcGauge
	captureDrops              *funcCounter

	// The series of successful requests, bound to their labels once per
	// (project, deployment, model, sku, operation) instead of looked up
	// by label values on every request.
	mu sync.RWMutex
	ok map[seriesKey]*okSeries
}

// seriesKey is the labels every per-request series shares.
type seriesKey struct{ project, deployment, model, sku, operation string }

// okSeries are what Record touches for a request that ended with 200: the
// series it always updates, bound, and the label values of those it
// updates only sometimes (their series must not appear before they do).
type okSeries struct {
	requests      prometheus.Counter
	duration      prometheus.Observer
	input, output prometheus.Observer // output is nil for embeddings
	// Label values of the tokens series by type, and of the TTFT series.
	prompt, completion, cached, ttft []string
}

// maxOKSeries bounds Metrics.ok; when full it is emptied.
const maxOKSeries = 4096

var _ gateway.Meter = (*Metrics)(nil)

// New returns metrics in a new registry with the Go runtime and process
// collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ok:  map[seriesKey]*okSeries{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRequests,
			Help: "Inference requests that reached a deployment, by operation and HTTP status code."},
			labels("operation", "status_code")),
		tokenUsage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameTokenUsage,
			Help:    "Tokens used per successful request (OpenTelemetry gen_ai.client.token.usage, unit {token}), by gen_ai_token_type input or output.",
			Buckets: TokenBuckets}, labels("operation", "gen_ai_token_type")),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameTokens,
			Help: "Tokens used, by type: prompt, completion, or cached (prompt tokens served from the cache)."},
			labels("type")),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameDuration,
			Help:    "Time until the response ended (OpenTelemetry gen_ai.server.request.duration).",
			Buckets: DurationBuckets}, labels("operation")),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: NameTTFT,
			Help:    "Time until the first streamed chunk of a successful stream (OpenTelemetry gen_ai.server.time_to_first_token).",
			Buckets: TTFTBuckets}, labels("operation")),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameRateLimited,
			Help: "Requests refused with 429 Too Many Requests."}, deploymentLabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: NameInFlight,
			Help: "HTTP requests being served, by route kind: inference, management or other."}, []string{"route"}),
		queueDepth: newFuncGauge(NameQueueDepth, "Requests waiting in the built-in engine's queues.", false),
		ptu:        newFuncGauge(NamePTU, "Share of a provisioned (PTU) deployment's purchased throughput in use; 1 is 100 %.", false),
		replicas:   newFuncGauge(NameReplicas, "Replicas of managed-compute deployments, by state.", true),
		captureDrops: &funcCounter{desc: prometheus.NewDesc(NameCaptureDrops,
			"Request-log captures dropped: their queue was full or the store write failed.", nil, nil)},
	}
	m.reg.MustRegister(
		m.requests, m.tokenUsage, m.tokens, m.duration, m.ttft, m.rateLimited, m.inFlight,
		m.queueDepth, m.ptu, m.replicas, m.captureDrops,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the registry of every series, for other parts to register
// their own collectors in and for tests to gather from.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// format, for GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Record counts one request. It never blocks.
func (m *Metrics) Record(_ context.Context, r gateway.Record) {
	if r.Status == http.StatusOK {
		m.recordOK(&r)
		return
	}
	base := []string{r.Project, r.Deployment, r.Model, r.SKU}
	with := func(extra ...string) []string { return append(base[:4:4], extra...) }
	status := strconv.Itoa(r.Status)
	m.requests.WithLabelValues(with(r.Operation, status)...).Inc()
	m.duration.WithLabelValues(with(r.Operation)...).Observe(r.Latency.Seconds())
	if r.Status == http.StatusTooManyRequests {
		m.rateLimited.WithLabelValues(base...).Inc()
	}
	m.addTokens(r.Usage, with("prompt"), with("completion"), with("cached"))
}

// addTokens counts usage's tokens in the series of the given label values.
func (m *Metrics) addTokens(u inference.Usage, prompt, completion, cached []string) {
	if u.PromptTokens > 0 {
		m.tokens.WithLabelValues(prompt...).Add(float64(u.PromptTokens))
	}
	if u.CompletionTokens > 0 {
		m.tokens.WithLabelValues(completion...).Add(float64(u.CompletionTokens))
	}
	if c := u.Cached(); c > 0 {
		m.tokens.WithLabelValues(cached...).Add(float64(c))
	}
}

// recordOK is Record of a request that ended with 200, through the
// request's okSeries.
func (m *Metrics) recordOK(r *gateway.Record) {
	s := m.okSeries(seriesKey{r.Project, r.Deployment, r.Model, r.SKU, r.Operation})
	s.requests.Inc()
	s.duration.Observe(r.Latency.Seconds())
	u := r.Usage
	m.addTokens(u, s.prompt, s.completion, s.cached)
	s.input.Observe(float64(u.PromptTokens))
	if s.output != nil {
		s.output.Observe(float64(u.CompletionTokens))
	}
	if r.Stream {
		m.ttft.WithLabelValues(s.ttft...).Observe(r.TimeToFirstToken.Seconds())
	}
}

// okSeries returns k's okSeries, binding it on first use.
func (m *Metrics) okSeries(k seriesKey) *okSeries {
	m.mu.RLock()
	s := m.ok[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	with := func(extra ...string) []string {
		return append([]string{k.project, k.deployment, k.model, k.sku}, extra...)
	}
	s = &okSeries{
		requests:   m.requests.WithLabelValues(with(k.operation, "200")...),
		duration:   m.duration.WithLabelValues(with(k.operation)...),
		input:      m.tokenUsage.WithLabelValues(with(k.operation, "input")...),
		prompt:     with("prompt"),
		completion: with("completion"),
		cached:     with("cached"),
		ttft:       with(k.operation),
	}
	if k.operation != "embedding" {
		s.output = m.tokenUsage.WithLabelValues(with(k.operation, "output")...)
	}
	m.mu.Lock()
	if len(m.ok) >= maxOKSeries {
		clear(m.ok)
	}
	m.ok[k] = s
	m.mu.Unlock()
	return s
}

// Forget drops every per-request series of a deployment, for when it is
// deleted, so that its series do not linger until the next restart.
func (m *Metrics) Forget(project, deployment string) {
	m.mu.Lock()
	for k := range m.ok {
		if k.project == project && k.deployment == deployment {
			delete(m.ok, k)
		}
	}
	m.mu.Unlock()
	l := prometheus.Labels{"project": project, "deployment": deployment}
	m.requests.DeletePartialMatch(l)
	m.tokenUsage.DeletePartialMatch(l)
	m.tokens.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.ttft.DeletePartialMatch(l)
	m.rateLimited.DeletePartialMatch(l)
}

// InFlight counts the requests next is serving in cerulean_requests_in_flight,
// by route kind: "inference" under /openai/ and /v1/, "management" under
// /api/, "other" elsewhere.
func (m *Metrics) InFlight(next http.Handler) http.Handler {
	gauges := map[string]prometheus.Gauge{}
	for _, k := range []string{routeInference, routeManagement, routeOther} {
		gauges[k] = m.inFlight.WithLabelValues(k)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := gauges[routeKind(r.URL.Path)]
		g.Inc()
		defer g.Dec()
		next.ServeHTTP(w, r)
	})
}

// Route kinds of cerulean_requests_in_flight.
const (
	routeInference  = "inference"
	routeManagement = "management"
	routeOther      = "other"
)

func routeKind(path string) string {
	switch {
	case strings.HasPrefix(path, "/openai/"), strings.HasPrefix(path, "/v1/"):
		return routeInference
	case strings.HasPrefix(path, "/api/"):
		return routeManagement
	}
	return routeOther
}

// Sample is one value of a gauge read from a callback.
type Sample struct {
	Project    string // "" when the value is not a deployment's (an engine queue)
	Deployment string
	Model      string
	SKU        string
	State      string // for cerulean_replicas only: starting, ready, failed, ...
	Value      float64
}

// ObserveQueueDepth makes cerulean_engine_queue_depth report what f returns
// at each scrape. f must be fast and safe for concurrent use; a later call
// replaces f, nil removes it.
func (m *Metrics) ObserveQueueDepth(f func() []Sample) { m.queueDepth.set(f) }

// ObservePTUUtilization makes cerulean_ptu_utilization_ratio report what f
// returns at each scrape, like ObserveQueueDepth.
func (m *Metrics) ObservePTUUtilization(f func() []Sample) { m.ptu.set(f) }

// ObserveReplicas makes cerulean_replicas{state} report what f returns at
// each scrape, like ObserveQueueDepth.
func (m *Metrics) ObserveReplicas(f func() []Sample) { m.replicas.set(f) }

// ObserveCaptureDrops makes cerulean_request_log_dropped_total report the
// count f returns: request-log captures dropped because their queue was
// full or their write failed.
func (m *Metrics) ObserveCaptureDrops(f func() int64) {
	if f == nil {
		m.captureDrops.f.Store(nil)
		return
	}
	m.captureDrops.f.Store(&f)
}

// funcCounter is a counter without labels whose value a callback returns
// at scrape time.
type funcCounter struct {
	desc *prometheus.Desc
	f    atomic.Pointer[func() int64]
}

// Describe implements prometheus.Collector.
func (c *funcCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *funcCounter) Collect(ch chan<- prometheus.Metric) {
	if fp := c.f.Load(); fp != nil {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64((*fp)()))
	}
}

// funcGauge is a gauge family whose samples a callback returns at scrape
// time. Samples with the same labels are summed.
type funcGauge struct {
	desc  *prometheus.Desc
	state bool
	f     atomic.Pointer[func() []Sample]
}

func newFuncGauge(name, help string, state bool) *funcGauge {
	ls := deploymentLabels
	if state {
		ls = labels("state")
	}
	return &funcGauge{desc: prometheus.NewDesc(name, help, ls, nil), state: state}
}

func (g *funcGauge) set(f func() []Sample) {
	if f == nil {
		g.f.Store(nil)
		return
	}
	g.f.Store(&f)
}

// Describe implements prometheus.Collector.
func (g *funcGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

// Collect implements prometheus.Collector.
func (g *funcGauge) Collect(ch chan<- prometheus.Metric) {
	fp := g.f.Load()
	if fp == nil {
		return
	}
	type key struct{ project, deployment, model, sku, state string }
	sums := map[key]float64{}
	var order []key
	for _, s := range (*fp)() {
		k := key{s.Project, s.Deployment, s.Model, s.SKU, ""}
		if g.state {
			k.state = s.State
		}
		if _, ok := sums[k]; !ok {
			order = append(order, k)
		}
		sums[k] += s.Value
	}
	for _, k := range order {
		lv := []string{k.project, k.deployment, k.model, k.sku}
		if g.state {
			lv = append(lv, k.state)
		}
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, sums[k], lv...)
	}
}
