// Package bench measures Cerulean. Gateway drives open-loop, fixed-rate
// load at a fake upstream directly and through a whole in-process server
// (key auth, deployment lookup, validation, proxying), and reports the
// latency the gateway adds at each rate.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/config"
	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
	"github.com/cerulean-ai/cerulean/internal/server"
)

// GatewayOptions tune the gateway benchmark.
type GatewayOptions struct {
	Rates    []int         // requests per second, one run each
	Duration time.Duration // per rate and target
	Warmup   time.Duration // per rate and target, not measured
	Stream   bool          // streamed requests
	DataDir  string        // a temporary folder for the server's state
}

// RateResult is one rate's measurements, in microseconds.
type RateResult struct {
	Rate        int     `json:"rate"`
	Sent        int     `json:"sent"`
	Errors      int     `json:"errors"`
	DirectP50   float64 `json:"direct_p50_us"`
	DirectP99   float64 `json:"direct_p99_us"`
	GatewayP50  float64 `json:"gateway_p50_us"`
	GatewayP99  float64 `json:"gateway_p99_us"`
	AddedP50    float64 `json:"added_p50_us"`
	AddedP99    float64 `json:"added_p99_us"`
	AchievedRPS float64 `json:"achieved_rps"`
}

// Gateway runs the benchmark.
func Gateway(ctx context.Context, o GatewayOptions, log *slog.Logger) ([]RateResult, error) {
	env, err := startGateway(ctx, o, log)
	if err != nil {
		return nil, err
	}
	defer env.close() // a no-op once the server has stopped below
	client, direct, through := env.client, env.direct, env.through

	var out []RateResult
	for _, rate := range o.Rates {
		// Warm both paths (connections, caches) before measuring.
		load(ctx, client, direct, rate, o.Warmup)
		load(ctx, client, through, rate, o.Warmup)
		d := load(ctx, client, direct, rate, o.Duration)
		g := load(ctx, client, through, rate, o.Duration)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		r := RateResult{
			Rate: rate, Sent: g.sent, Errors: g.errors + d.errors,
			DirectP50: pct(d.lat, 50), DirectP99: pct(d.lat, 99),
			GatewayP50: pct(g.lat, 50), GatewayP99: pct(g.lat, 99),
			AchievedRPS: float64(g.sent) / o.Duration.Seconds(),
		}
		r.AddedP50, r.AddedP99 = r.GatewayP50-r.DirectP50, r.GatewayP99-r.DirectP99
		out = append(out, r)
		log.Info("rate done", "rate", rate, "added_p99_us", r.AddedP99)
	}
	if err := env.close(); err != nil {
		return out, err
	}
	return out, nil
}

// gatewayEnv is a fake upstream, a whole in-process server with one
// deployment in front of it, and the two targets the benchmark loads.
type gatewayEnv struct {
	client          *http.Client
	direct, through target
	close           func() error // stops the server and the upstream
}

// startGateway starts the fake upstream and the server and deploys the
// benchmark's model; close stops both.
func startGateway(ctx context.Context, o GatewayOptions, log *slog.Logger) (*gatewayEnv, error) {
	up := fakeopenai.New(fakeopenai.Options{})

	cfg := config.Defaults(func(string) string { return "" })
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = o.DataDir
	cfg.AdminToken = "bench-admin-token"
	cfg.LogLevel = "error"
	srvCtx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(srvCtx, cfg, log, pw)
		pw.Close()
	}()
	fail := func(err error) (*gatewayEnv, error) {
		stop()
		up.Close()
		return nil, err
	}
	base, err := readAddr(pr, done)
	if err != nil {
		return fail(err)
	}
	go io.Copy(io.Discard, pr)

	admin := api.New(base, cfg.AdminToken)
	key, err := deploy(ctx, admin, up.URL())
	if err != nil {
		stop()
		<-done
		return fail(err)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute}}
	body := []byte(`{"model":"bench","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in five words please"}],"max_tokens":8,"temperature":0.2}`)
	if o.Stream {
		body = []byte(`{"model":"bench","stream":true,"messages":[{"role":"user","content":"Say hello in five words please"}],"max_tokens":8}`)
	}
	env := &gatewayEnv{
		client:  client,
		direct:  target{url: strings.TrimRight(up.URL(), "/") + "/chat/completions", body: body},
		through: target{url: base + "/openai/deployments/bench/chat/completions?api-version=2024-10-21", key: key, body: body},
	}
	var once sync.Once
	var closeErr error
	env.close = func() error {
		once.Do(func() {
			stop()
			closeErr = <-done
			client.CloseIdleConnections()
			up.Close()
		})
		return closeErr
	}
	return env, nil
}

func readAddr(r io.Reader, done <-chan error) (string, error) {
	lines := make(chan string, 1)
	go func() {
		buf := make([]byte, 0, 4096)
		tmp := make([]byte, 512)
		for {
			n, err := r.Read(tmp)
			buf = append(buf, tmp[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				line := string(buf[:i])
				buf = buf[i+1:]
				if u, ok := strings.CutPrefix(line, "listening on "); ok {
					lines <- u
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case u := <-lines:
		return u, nil
	case err := <-done:
		return "", fmt.Errorf("server stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("server did not start in 30s")
	}
}

func deploy(ctx context.Context, admin *api.Client, upstreamURL string) (string, error) {
	if _, err := admin.CreateModel(ctx, api.Model{Name: "bench-model", Versions: []api.ModelVersion{{
		Version: "1", Format: "upstream", Upstream: &api.Upstream{BaseURL: upstreamURL, Model: "fake"},
		Capabilities: api.Capabilities{Chat: true},
	}}}); err != nil {
		return "", fmt.Errorf("create model: %w", err)
	}
	// Rate limits stay on, with room for the highest rate: capacity K
	// admits K requests per 10 s, so 50,000 units take 5,000 requests/s.
	h, err := admin.GetHub(ctx, "default")
	if err != nil {
		return "", fmt.Errorf("hub: %w", err)
	}
	h.Quotas = append(h.Quotas, api.QuotaLimit{Model: "bench-model", SKU: "Standard", Limit: 50000})
	if _, err := admin.UpdateHub(ctx, h); err != nil {
		return "", fmt.Errorf("raise the hub's quota: %w", err)
	}
	if _, err := admin.CreateDeployment(ctx, "default", api.Deployment{Name: "bench", Model: api.DeploymentModel{Name: "bench-model"},
		SKU: api.SKU{Name: "Standard", Capacity: 50000}}); err != nil {
		return "", fmt.Errorf("create deployment: %w", err)
	}
	d, err := admin.WaitDeployment(ctx, "default", "bench")
	if err != nil {
		return "", fmt.Errorf("wait deployment: %w", err)
	}
	if d.ProvisioningState != "Succeeded" {
		return "", fmt.Errorf("deployment is %s: %s", d.ProvisioningState, d.Reason)
	}
	keys, err := admin.ListKeys(ctx, "default")
	if err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	return keys.Key1, nil
}

// target is where load sends requests.
type target struct {
	url, key string
	body     []byte
}

// prepared is a target with its URL parsed and its headers built once,
// shared read-only by every request of a run.
type prepared struct {
	url  *url.URL
	hdr  http.Header
	body []byte
}

// prepare parses t's URL and builds its headers.
func prepare(t target) (prepared, error) {
	u, err := url.Parse(t.url)
	if err != nil {
		return prepared{}, err
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if t.key != "" {
		hdr.Set("api-key", t.key)
	}
	return prepared{url: u, hdr: hdr, body: t.body}, nil
}

type result struct {
	lat          []float64 // microseconds
	sent, errors int
}

// load sends rate requests per second for d, open loop: each request
// starts at its scheduled time whether or not earlier ones finished, and
// its latency counts from that time, so a stall shows up in the tail
// instead of slowing the sender (no coordinated omission).
func load(ctx context.Context, c *http.Client, t target, rate int, d time.Duration) result {
	if d <= 0 || rate <= 0 {
		return result{}
	}
	p, err := prepare(t)
	if err != nil {
		return result{sent: 1, errors: 1}
	}
	interval := time.Second / time.Duration(rate)
	n := int(d / interval)
	lat := make([]float64, n)
	failed := make([]bool, n)
	var wg sync.WaitGroup
	// One timer for the whole run instead of one per request.
	tick := time.NewTimer(time.Hour)
	defer tick.Stop()
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			tick.Reset(w)
			select {
			case <-ctx.Done():
				return result{}
			case <-tick.C:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := send(ctx, c, p)
			lat[i] = float64(time.Since(at).Microseconds())
			failed[i] = !ok
		}()
	}
	wg.Wait()
	r := result{sent: n}
	for i := range n {
		if failed[i] {
			r.errors++
			continue
		}
		r.lat = append(r.lat, lat[i])
	}
	return r
}

// send posts t's body and reports whether the answer was a 200. The
// request is built directly over t's parsed URL and shared headers (which
// the client only reads), so the generator does not parse a URL or build
// a header map per request.
func send(ctx context.Context, c *http.Client, t prepared) bool {
	req := (&http.Request{
		Method:        http.MethodPost,
		URL:           t.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        t.hdr,
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Host:          t.url.Host,
	}).WithContext(ctx)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pct is the p-th percentile (nearest rank) of xs.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}
