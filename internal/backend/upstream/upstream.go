// Package upstream is the backend that forwards inference to an
// OpenAI-compatible server: vLLM, llama.cpp's llama-server, Ollama's /v1,
// TGI, OpenAI or Azure OpenAI's v1 surface.
//
// It rewrites the request's model to the upstream's model name, adds the
// upstream's API key, passes streams through event by event without
// buffering, asks streamed responses for usage (stream_options.include_usage)
// so every request can be metered, and counts tokens itself when the upstream
// reports none (see EstimateText). Dial errors are retried; every other
// failure is mapped to a *fault.Error (see errors.go).
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Defaults of Options.
const (
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 120 * time.Second
	DefaultMaxIdleConnsPerHost   = 256
	DefaultRetries               = 2
	DefaultRetryBackoff          = 50 * time.Millisecond
)

// maxBody bounds a non-streamed response body; maxErrorBody an error body.
const (
	maxBody      = 64 << 20
	maxErrorBody = 1 << 20
)

// Options configure a Backend. The zero value is usable.
type Options struct {
	// Client sends the requests. When nil, one is built around Transport.
	Client *http.Client
	// Transport is used when Client is nil. When both are nil a transport
	// is built from the settings below: keep-alives, many idle connections
	// per host, no transparent compression (it would buffer streams).
	Transport http.RoundTripper
	// DialTimeout bounds connecting (DefaultDialTimeout if 0).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers, i.e. its first byte (DefaultResponseHeaderTimeout if 0).
	ResponseHeaderTimeout time.Duration
	// MaxIdleConnsPerHost is kept open per upstream
	// (DefaultMaxIdleConnsPerHost if 0).
	MaxIdleConnsPerHost int
	// Retries is how many times a request whose connection could not be
	// established is tried again (DefaultRetries if 0, none if negative).
	// Nothing else is retried: once a connection exists, the upstream may
	// have started work.
	Retries int
	// RetryBackoff is the wait before the first retry, doubled for each
	// further one (DefaultRetryBackoff if 0).
	RetryBackoff time.Duration
	// Logger receives retry and failure reports; nil discards them.
	Logger *slog.Logger
}

// Backend forwards requests to the upstream named by each target's catalog
// version. It is safe for concurrent use.
type Backend struct {
	client  *http.Client
	retries int
	backoff time.Duration
	log     *slog.Logger

	hdr headerValues

	// Parsed upstreams, so that a request does not parse URLs or build
	// header values that are the same every time.
	mu        sync.RWMutex
	endpoints map[upstreamKey]*endpoint
}

// headerValues are the constant request header values, shared read-only
// by every request.
type headerValues struct {
	json, eventStream, userAgent []string
}

// upstreamKey identifies an upstream as a catalog version names it.
type upstreamKey struct{ baseURL, model, key string }

// maxEndpoints bounds Backend.endpoints; when full it is emptied.
const maxEndpoints = 1024

// New returns a backend.
func New(opts Options) *Backend {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if opts.MaxIdleConnsPerHost <= 0 {
		opts.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	switch {
	case opts.Retries == 0:
		opts.Retries = DefaultRetries
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	client := opts.Client
	if client == nil {
		rt := opts.Transport
		if rt == nil {
			rt = NewTransport(opts.DialTimeout, opts.ResponseHeaderTimeout, opts.MaxIdleConnsPerHost)
		}
		client = &http.Client{Transport: rt}
	}
	return &Backend{client: client, retries: opts.Retries, backoff: opts.RetryBackoff, log: opts.Logger,
		endpoints: map[upstreamKey]*endpoint{},
		hdr:       headerValues{json: []string{"application/json"}, eventStream: []string{"text/event-stream"}, userAgent: []string{"cerulean"}}}
}

// CloseIdleConnections closes the pooled connections to upstreams that are
// not in use, e.g. when the hub shuts down or an upstream is removed.
func (b *Backend) CloseIdleConnections() { b.client.CloseIdleConnections() }

// NewTransport is the transport New builds: keep-alives, up to
// maxIdlePerHost idle connections per upstream, the given dial and
// response-header time-outs, HTTP/2 when the upstream offers it, proxies
// from the environment, and no transparent compression.
func NewTransport(dialTimeout, responseHeaderTimeout time.Duration, maxIdlePerHost int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * maxIdlePerHost,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
}

// Chat sends a chat completions request and returns the upstream's answer,
// with usage counted by EstimateChat when the upstream sent none.
func (b *Backend) Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	up, err := b.endpointOf(t)
	if err != nil {
		return nil, err
	}
	oc, err := newOutputCheck(req)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, false, nil
	var resp chatResponse
	if err := b.call(ctx, up, "/chat/completions", &r, &resp); err != nil {
		return nil, err
	}
	if resp.hasError() {
		return nil, bodyError(up, &resp.envelope)
	}
	out := &resp.ChatCompletion
	if out.Object == "" {
		out.Object = "chat.completion"
	}
	if oc != nil {
		for i := range out.Choices {
			ch := &out.Choices[i]
			if err := oc.message(up, ch.Index, &ch.Message, ch.FinishReason); err != nil {
				b.log.WarnContext(ctx, "upstream output failed its schema", "upstream", up.host(), "err", err)
				return nil, err
			}
		}
		out.StructuredOutput = inference.StructuredValidated
	}
	var c counter
	for _, ch := range out.Choices {
		c.add(ch.Index, messageChars(&ch.Message))
	}
	out.Usage = settle(out.Usage, func() int { return EstimateChat(req) }, &c)
	return out, nil
}

// Complete sends a legacy completions request.
func (b *Backend) Complete(ctx context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error) {
	up, err := b.endpointOf(t)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, false, nil
	var resp completionEvent
	if err := b.call(ctx, up, "/completions", &r, &resp); err != nil {
		return nil, err
	}
	if resp.hasError() || resp.Object == "error" {
		return nil, bodyError(up, &resp.envelope)
	}
	out := &resp.Completion
	if out.Object == "" {
		out.Object = "text_completion"
	}
	var c counter
	for _, ch := range out.Choices {
		text := ch.Text
		if req.Echo && len(req.Prompt.Texts) == 1 {
			text = strings.TrimPrefix(text, req.Prompt.Texts[0]) // the echo is not generated
		}
		c.add(ch.Index, runes(text))
	}
	out.Usage = settle(out.Usage, func() int { return EstimatePrompt(req.Prompt) }, &c)
	return out, nil
}

// Embed sends an embeddings request. It always asks for float vectors (the
// gateway encodes base64 itself) and still accepts base64 answers.
func (b *Backend) Embed(ctx context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error) {
	up, err := b.endpointOf(t)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.EncodingFormat = up.model, ""
	var raw struct {
		Object string `json:"object"`
		Model  string `json:"model"`
		Data   []struct {
			Object    string          `json:"object"`
			Index     int             `json:"index"`
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
		Usage *inference.Usage `json:"usage"`
		envelope
	}
	if err := b.call(ctx, up, "/embeddings", &r, &raw); err != nil {
		return nil, err
	}
	if raw.hasError() {
		return nil, bodyError(up, &raw.envelope)
	}
	out := &inference.EmbeddingList{Object: "list", Model: raw.Model, Usage: raw.Usage, Data: make([]inference.Embedding, len(raw.Data))}
	for i, d := range raw.Data {
		vec, err := decodeVector(d.Embedding)
		if err != nil {
			return nil, badResponse(up, fmt.Errorf("embedding %d: %w", i, err))
		}
		out.Data[i] = inference.Embedding{Object: "embedding", Index: d.Index, Embedding: vec}
	}
	out.Usage = settle(out.Usage, func() int { return EstimatePrompt(req.Input) }, &counter{})
	return out, nil
}

// upstreamOf returns the target's upstream, checking it has one.
func upstreamOf(t inference.Target) (*endpoint, error) {
	u := t.Version.Upstream
	if u == nil || u.BaseURL == "" {
		return nil, fault.New(fault.BadGateway, "upstream_not_configured",
			"model %q version %q has no upstream to forward to", t.Model, t.Version.Version)
	}
	base, err := url.Parse(u.BaseURL)
	if err != nil || base.Host == "" {
		return nil, &fault.Error{Kind: fault.BadGateway, Code: "upstream_not_configured",
			Message: fmt.Sprintf("model %q version %q has an invalid upstream base URL", t.Model, t.Version.Version), Err: err}
	}
	return &endpoint{base: base, model: u.Model, key: u.APIKey}, nil
}

// endpointOf is upstreamOf, remembered per upstream with its request URLs
// and headers prepared (see endpoint.prepare). Failures are not kept.
func (b *Backend) endpointOf(t inference.Target) (*endpoint, error) {
	u := t.Version.Upstream
	if u == nil {
		return upstreamOf(t)
	}
	k := upstreamKey{u.BaseURL, u.Model, u.APIKey}
	b.mu.RLock()
	e := b.endpoints[k]
	b.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	e, err := upstreamOf(t)
	if err != nil {
		return nil, err
	}
	e.prepare()
	b.mu.Lock()
	if len(b.endpoints) >= maxEndpoints {
		clear(b.endpoints)
	}
	b.endpoints[k] = e
	b.mu.Unlock()
	return e, nil
}

// endpoint is one upstream server and the model and key to use there.
// It is not modified once prepared, and is shared by concurrent requests.
type endpoint struct {
	base  *url.URL
	model string
	key   string

	// Set by prepare.
	prepared bool
	paths    [numPaths]*url.URL // the request URL of each path pathIndex knows
	auth     []string           // the Authorization header value, nil without a key
	apiKey   []string           // the api-key header value, set for Azure hosts with a key
}

// The paths the backend posts to.
const (
	pathChat       = "/chat/completions"
	pathCompletion = "/completions"
	pathEmbedding  = "/embeddings"
	numPaths       = 3
)

// pathIndex is the index of path in endpoint.paths, -1 for another path.
func pathIndex(path string) int {
	switch path {
	case pathChat:
		return 0
	case pathCompletion:
		return 1
	case pathEmbedding:
		return 2
	}
	return -1
}

// prepare parses the request URL of every path pathIndex knows and builds
// the authentication header values.
func (e *endpoint) prepare() {
	for _, p := range [numPaths]string{pathChat, pathCompletion, pathEmbedding} {
		if u, err := parseRequestURL(e.url(p)); err == nil {
			e.paths[pathIndex(p)] = u
		}
	}
	if e.key != "" {
		e.auth = []string{"Bearer " + e.key}
		if e.isAzure() {
			e.apiKey = []string{e.key}
		}
	}
	e.prepared = true
}

// requestURL is a fresh copy of the URL to post path to.
func (e *endpoint) requestURL(path string) (*url.URL, error) {
	if i := pathIndex(path); e.prepared && i >= 0 && e.paths[i] != nil {
		u := *e.paths[i]
		return &u, nil
	}
	return parseRequestURL(e.url(path))
}

// parseRequestURL parses a request URL as http.NewRequest does, dropping
// an empty port.
func parseRequestURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	u.Host = strings.TrimSuffix(u.Host, ":")
	return u, nil
}

// host names the upstream in messages: its host and port, never
// credentials.
func (e *endpoint) host() string { return e.base.Host }

// url is the base URL with path appended, keeping the base's query (Azure
// needs ?api-version= on some surfaces).
func (e *endpoint) url(path string) string {
	u := *e.base
	u.User = nil
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// isAzure reports whether the upstream is an Azure OpenAI host, which also
// takes the key in an api-key header.
func (e *endpoint) isAzure() bool {
	h := e.base.Hostname()
	for _, s := range []string{".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"} {
		if strings.HasSuffix(h, s) {
			return true
		}
	}
	return false
}

// call posts body as JSON and decodes a 200 answer into out.
func (b *Backend) call(ctx context.Context, up *endpoint, path string, body, out any) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := b.send(sctx, up, path, body, false)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	defer resp.Body.Close()
	lr := &io.LimitedReader{R: resp.Body, N: maxBody}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if isTimeout(err) {
			return timeoutError(up, err)
		}
		return badResponse(up, err)
	}
	if resp.ContentLength >= 0 && maxBody-lr.N == resp.ContentLength {
		// All of the body was read: the next read ends it at once, with
		// no need for drain's time-out.
		var b [1]byte
		_, _ = resp.Body.Read(b[:])
		return nil
	}
	drain(resp.Body, cancel)
	return nil
}

// send posts body to the upstream, retrying dial errors, and returns a 2xx
// response; any other status becomes a *fault.Error.
func (b *Backend) send(ctx context.Context, up *endpoint, path string, body any, stream bool) (*http.Response, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, &fault.Error{Kind: fault.Internal, Code: "internal_error", Message: "could not encode the upstream request", Err: err}
	}
	target, err := up.requestURL(path)
	if err != nil {
		return nil, &fault.Error{Kind: fault.BadGateway, Code: "upstream_not_configured",
			Message: fmt.Sprintf("cannot build a request to upstream %s", up.host()), Err: err}
	}
	accept := b.hdr.json
	if stream {
		accept = b.hdr.eventStream
	}
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		// Built by hand rather than by http.NewRequestWithContext, which
		// would parse the URL again; the header values are shared
		// read-only slices (Header.Set and Add replace them, never write
		// into them).
		hdr := make(http.Header, 5)
		hdr["Content-Type"] = b.hdr.json
		hdr["User-Agent"] = b.hdr.userAgent
		hdr["Accept"] = accept
		if up.auth != nil {
			hdr["Authorization"] = up.auth
			if up.apiKey != nil {
				hdr["Api-Key"] = up.apiKey
			}
		} else if up.key != "" {
			hdr.Set("Authorization", "Bearer "+up.key)
			if up.isAzure() {
				hdr.Set("api-key", up.key)
			}
		}
		u := target
		if attempt > 0 {
			c := *target
			u = &c
		}
		req := (&http.Request{
			Method:        http.MethodPost,
			URL:           u,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        hdr,
			Body:          io.NopCloser(bytes.NewReader(payload)),
			GetBody:       func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(payload)), nil },
			ContentLength: int64(len(payload)),
			Host:          u.Host,
		}).WithContext(ctx)
		resp, err = b.client.Do(req)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !isDialError(err) {
			if isTimeout(err) {
				return nil, timeoutError(up, err)
			}
			b.log.WarnContext(ctx, "upstream request failed", "upstream", up.host(), "path", path, "err", err)
			return nil, connectError(up, err, attempt+1)
		}
		if attempt >= b.retries {
			b.log.WarnContext(ctx, "upstream unreachable", "upstream", up.host(), "attempts", attempt+1, "err", err)
			return nil, connectError(up, err, attempt+1)
		}
		wait := b.backoff << attempt
		b.log.InfoContext(ctx, "upstream connect failed, retrying", "upstream", up.host(), "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	ferr := statusError(up, resp.StatusCode, resp.Header, raw)
	// The operator must act on BadGateway and Timeout (a wrong key, model
	// or a failing server); the client's own mistakes and rate limits are
	// routine.
	level := slog.LevelDebug
	if ferr.Kind == fault.BadGateway || ferr.Kind == fault.Timeout {
		level = slog.LevelWarn
	}
	b.log.Log(ctx, level, "upstream answered with an error", "upstream", up.host(), "path", path,
		"status", resp.StatusCode, "err", ferr.Err)
	return nil, ferr
}

// isDialError reports whether err happened while connecting, so that the
// upstream cannot have seen the request.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// isTimeout reports whether err is a network time-out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
