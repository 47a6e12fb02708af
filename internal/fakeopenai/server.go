// Package fakeopenai is a fake OpenAI-compatible inference server for tests:
// chat completions (plain and SSE), legacy completions, embeddings and the
// model list, with deterministic output, request recording and injectable
// failures (error statuses, delays, dropped streams, missing usage).
//
// Output is derived from the request so tests can predict it exactly:
//
//   - Chat: the reply is "You said: <text of the last user message>".
//   - Legacy completions: the reply to each prompt is "You said: <prompt>"
//     (a token-id prompt is written as its ids joined by spaces).
//   - The reply is generated word by word (words are separated by white
//     space). max_completion_tokens (else max_tokens) caps the number of
//     words; when it cuts the reply, finish_reason is "length", otherwise
//     "stop". Legacy completions default to 16 words as OpenAI does; chat
//     has no default cap. Every one of the n choices carries the same reply.
//   - Embeddings are deterministic unit vectors seeded by the input text.
//
// Usage counts are whitespace-separated words: prompt_tokens counts the words
// of every message's text content (chat), of every prompt (legacy; a
// token-id prompt counts its ids) or of every input (embeddings);
// completion_tokens counts the generated words summed over all choices.
// A stream carries one chunk per word per choice, so a streamed and a
// non-streamed request report the same usage.
package fakeopenai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// DefaultModel is the model /v1/models lists when Options.Model is empty.
const DefaultModel = "fake-model"

// DefaultDimensions is the embedding size when neither Options.Dimensions
// nor the request's dimensions is set.
const DefaultDimensions = 16

// Options configure a Server.
type Options struct {
	// APIKey, when set, is required as "Authorization: Bearer <APIKey>";
	// other requests get an OpenAI-style 401.
	APIKey string
	// Model, when set, is the only model the server knows: requests naming
	// another get an OpenAI-style 404 model_not_found. When empty any model
	// is accepted and echoed back.
	Model string
	// Dimensions is the default embedding size (DefaultDimensions if 0).
	Dimensions int
	// Behavior is the initial behaviour; change it with SetBehavior.
	Behavior Behavior
}

// Behavior holds the knobs that make the server slow or unreliable.
type Behavior struct {
	// FirstByteDelay is waited before the response status is written.
	FirstByteDelay time.Duration
	// ChunkDelay is waited before each streamed event after the first.
	ChunkDelay time.Duration
	// DropAfter, when > 0, closes the connection abruptly after that many
	// stream events (data lines) were written, without [DONE].
	DropAfter int
	// OmitUsage leaves usage out of responses: no usage chunk in streams
	// even when stream_options.include_usage is set, and no usage object
	// in non-streamed responses.
	OmitUsage bool
}

// Failure is an injected error response.
type Failure struct {
	Status int // HTTP status, e.g. http.StatusTooManyRequests
	// Body is sent verbatim when set; otherwise an OpenAI error envelope is
	// built from Message, Type, Code and Param.
	Body    string
	Message string
	Type    string
	Code    string
	Param   string
	Header  http.Header // extra response headers, e.g. Retry-After
}

// Request is one request the server received.
type Request struct {
	Method  string
	Path    string
	Header  http.Header
	RawBody []byte
	// Body is RawBody decoded, when it is a JSON object.
	Body map[string]any
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	opts Options
	done chan struct{} // closed by Close, ends delays

	mu        sync.Mutex
	behavior  Behavior
	failures  []Failure
	requests  []Request
	cancelled int
	seq       int
	closeOnce sync.Once
}

// New starts a fake server on 127.0.0.1.
func New(opts Options) *Server {
	if opts.Dimensions <= 0 {
		opts.Dimensions = DefaultDimensions
	}
	s := &Server{opts: opts, behavior: opts.Behavior, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/completions", s.completions)
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "", "",
			fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	})
	s.srv = httptest.NewServer(s.middleware(mux))
	return s
}

// URL is the OpenAI base URL, including /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// Close ends pending delays and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// SetBehavior replaces the server's behaviour for later requests.
func (s *Server) SetBehavior(b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behavior = b
}

// FailNext makes the next n requests (after they are recorded, before
// authentication) fail with f. Calls queue up in order.
func (s *Server) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, f)
	}
}

// Requests returns a copy of the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// LastRequest returns the most recent request, if any.
func (s *Server) LastRequest() (Request, bool) {
	reqs := s.Requests()
	if len(reqs) == 0 {
		return Request{}, false
	}
	return reqs[len(reqs)-1], true
}

// Reset forgets recorded requests, pending failures and the cancellation
// count.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.failures, s.cancelled = nil, nil, 0
}

// Cancelled is the number of requests whose handler saw the client go away
// (its request context done) before the response was complete.
func (s *Server) Cancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

func (s *Server) currentBehavior() Behavior {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behavior
}

func (s *Server) nextID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s-fake%06d", prefix, s.seq)
}

// middleware records the request, then applies injected failures, the
// first-byte delay and authentication.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "", "", "could not read the request body: "+err.Error())
			return
		}
		rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), RawBody: raw}
		var obj map[string]any
		if json.Unmarshal(raw, &obj) == nil {
			rec.Body = obj
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))

		s.mu.Lock()
		s.requests = append(s.requests, rec)
		var fail *Failure
		if len(s.failures) > 0 {
			f := s.failures[0]
			s.failures = s.failures[1:]
			fail = &f
		}
		b := s.behavior
		s.mu.Unlock()

		defer func() {
			if r.Context().Err() != nil {
				s.mu.Lock()
				s.cancelled++
				s.mu.Unlock()
			}
		}()
		if !s.sleep(r, b.FirstByteDelay) {
			return
		}
		if fail != nil {
			writeFailure(w, *fail)
			return
		}
		if s.opts.APIKey != "" && r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "",
				"Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sleep waits d, reporting false when the client went away or the server
// is closing first.
func (s *Server) sleep(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	}
}

// checkModel reports whether the model is known, writing a 404 if not.
func (s *Server) checkModel(w http.ResponseWriter, model string) bool {
	if s.opts.Model == "" || model == s.opts.Model {
		return true
	}
	writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found", "model",
		fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model))
	return false
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	model := s.opts.Model
	if model == "" {
		model = DefaultModel
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data": []map[string]any{
			{"id": model, "object": "model", "created": 1700000000, "owned_by": "fakeopenai"},
		},
	})
}

// errorEnvelope is OpenAI's error body.
type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func writeError(w http.ResponseWriter, status int, typ, code, param, msg string) {
	body := errorBody{Message: msg, Type: typ}
	if code != "" {
		body.Code = &code
	}
	if param != "" {
		body.Param = &param
	}
	writeJSON(w, status, errorEnvelope{Error: body})
}

func writeFailure(w http.ResponseWriter, f Failure) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body)
		return
	}
	msg, typ := f.Message, f.Type
	if msg == "" {
		msg = fmt.Sprintf("injected failure: %d %s", f.Status, http.StatusText(f.Status))
	}
	if typ == "" {
		typ = "server_error"
		if f.Status < 500 {
			typ = "invalid_request_error"
		}
	}
	writeError(w, f.Status, typ, f.Code, f.Param, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// words splits text at white space.
func words(s string) []string { return strings.Fields(s) }
