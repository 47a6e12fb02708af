package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// StatusError is the cause (fault.Error.Err) of an error the upstream
// answered with: its status and what its error body said. Messages have the
// upstream key scrubbed out.
type StatusError struct {
	Host    string // host:port of the upstream
	Status  int    // HTTP status (200 for an error inside a 200 answer)
	Type    string
	Code    string
	Param   string
	Message string
	// Wait is what the upstream's retry-after-ms or retry-after header
	// asked for; 0 when absent.
	Wait time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("upstream %s: HTTP %d", e.Host, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// RetryAfter is how long the upstream asked clients to wait (429s). The
// gateway can find it without importing this package:
//
//	var ra interface{ RetryAfter() time.Duration }
//	if errors.As(err, &ra) { ... }
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// envelope is the error body of OpenAI and of the servers that imitate it
// more or less: {"error":{...}}, {"error":"..."} (TGI), a bare
// {"object":"error","message":...} (vLLM) or {"detail":...} (FastAPI).
type envelope struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Param   json.RawMessage `json:"param"`
	Detail  json.RawMessage `json:"detail"`
}

// hasError reports whether the envelope holds an "error" member. (A
// vLLM-style bare error has "object":"error" instead; the stream decoders
// check that on the chunk, whose object field would clash with one here.)
func (e *envelope) hasError() bool {
	return len(e.Error) > 0 && !bytes.Equal(e.Error, []byte("null"))
}

// parseError reads an upstream error body into se. Bodies that are not
// JSON become the message, trimmed.
func parseError(se *StatusError, raw []byte, key string) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		se.Message = strings.TrimSpace(string(raw))
	} else {
		env.fill(se)
	}
	se.Message = scrub(se.Message, key)
}

func (e *envelope) fill(se *StatusError) {
	inner := bytes.TrimSpace(e.Error)
	switch {
	case len(inner) > 0 && inner[0] == '{':
		var b struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
			Param   json.RawMessage `json:"param"`
		}
		json.Unmarshal(inner, &b)
		se.Message, se.Type, se.Code, se.Param = b.Message, b.Type, scalar(b.Code), scalar(b.Param)
	case len(inner) > 0 && inner[0] == '"':
		json.Unmarshal(inner, &se.Message)
	default:
		se.Message, se.Type, se.Code, se.Param = e.Message, e.Type, scalar(e.Code), scalar(e.Param)
		if se.Message == "" && len(e.Detail) > 0 {
			var s string
			if json.Unmarshal(e.Detail, &s) != nil {
				s = string(e.Detail)
			}
			se.Message = s
		}
	}
}

// scalar is a JSON string's value; "" for anything else. Numeric codes
// (vLLM and llama.cpp put the HTTP status there) say nothing the status
// does not.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// scrub removes the upstream key from an upstream-supplied message and
// bounds its length.
func scrub(msg, key string) string {
	if key != "" {
		msg = strings.ReplaceAll(msg, key, "[redacted]")
	}
	const max = 2000
	if len(msg) > max {
		msg = msg[:max] + "…"
	}
	return msg
}

// retryAfter reads retry-after-ms (Azure) or retry-after (seconds or an
// HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// statusError maps an upstream's non-2xx answer to a *fault.Error:
//
//	401, 403  BadGateway upstream_auth_failed: the upstream refused
//	          Cerulean's key for it, which the client cannot fix
//	404       BadGateway upstream_model_not_found
//	408       Timeout upstream_timeout
//	413       TooLarge, the upstream's code
//	429       RateLimited, the upstream's code and message; the wait in
//	          the message and in StatusError.Wait
//	other 4xx Invalid with the upstream's message, code and param
//	5xx, else BadGateway upstream_error
func statusError(up *endpoint, status int, h http.Header, raw []byte) *fault.Error {
	se := &StatusError{Host: up.host(), Status: status}
	parseError(se, raw, up.key)
	e := &fault.Error{Err: se}
	detail := func() string {
		if se.Message == "" {
			return ""
		}
		return ": " + se.Message
	}
	codeOr := func(def string) string {
		if se.Code != "" {
			return se.Code
		}
		return def
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind, e.Code = fault.BadGateway, "upstream_auth_failed"
		e.Message = fmt.Sprintf("upstream %s rejected Cerulean's API key for it (HTTP %d); the hub's operator should check the upstream key of this model version", se.Host, status)
	case status == http.StatusNotFound:
		e.Kind, e.Code = fault.BadGateway, "upstream_model_not_found"
		e.Message = fmt.Sprintf("upstream %s does not know model %q (HTTP 404%s)", se.Host, up.model, detail())
	case status == http.StatusRequestTimeout:
		e.Kind, e.Code = fault.Timeout, "upstream_timeout"
		e.Message = fmt.Sprintf("upstream %s timed out (HTTP 408%s)", se.Host, detail())
	case status == http.StatusRequestEntityTooLarge:
		e.Kind, e.Code, e.Param = fault.TooLarge, codeOr("request_too_large"), se.Param
		e.Message = fmt.Sprintf("upstream %s found the request too large%s", se.Host, detail())
	case status == http.StatusTooManyRequests:
		se.Wait = retryAfter(h, time.Now())
		e.Kind, e.Code = fault.RateLimited, codeOr("rate_limit_exceeded")
		e.Message = se.Message
		if e.Message == "" {
			e.Message = fmt.Sprintf("upstream %s is rate limiting requests", se.Host)
		}
		if se.Wait > 0 {
			e.Message += fmt.Sprintf(" (upstream asks to retry after %d seconds)", int(math.Ceil(se.Wait.Seconds())))
		}
	case status >= 400 && status < 500:
		e.Kind, e.Code, e.Param = fault.Invalid, codeOr("invalid_request_error"), se.Param
		e.Message = se.Message
		if e.Message == "" {
			e.Message = fmt.Sprintf("upstream %s rejected the request (HTTP %d)", se.Host, status)
		}
	default:
		e.Kind, e.Code = fault.BadGateway, "upstream_error"
		e.Message = fmt.Sprintf("upstream %s failed (HTTP %d%s)", se.Host, status, detail())
	}
	return e
}

// bodyError maps an error that came inside a 200 answer: an error event
// in a stream, or an error envelope instead of a completion.
func bodyError(up *endpoint, env *envelope) *fault.Error {
	se := &StatusError{Host: up.host(), Status: http.StatusOK}
	env.fill(se)
	se.Message = scrub(se.Message, up.key)
	msg := fmt.Sprintf("upstream %s reported an error", se.Host)
	if se.Message != "" {
		msg += ": " + se.Message
	}
	return &fault.Error{Kind: fault.BadGateway, Code: "upstream_error", Message: msg, Err: se}
}

// connectError is a failure to reach the upstream or to get its answer.
func connectError(up *endpoint, err error, attempts int) *fault.Error {
	var reason string
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.As(err, &dns):
		reason = "host not found"
	case isTimeout(err):
		reason = "connecting timed out"
	case isDialError(err):
		reason = "cannot connect"
	default:
		reason = "the connection failed before an answer"
	}
	msg := fmt.Sprintf("upstream %s is unreachable: %s", up.host(), reason)
	if attempts > 1 {
		msg += fmt.Sprintf(" (%d attempts)", attempts)
	}
	return &fault.Error{Kind: fault.BadGateway, Code: "upstream_error", Message: msg, Err: fmt.Errorf("upstream %s: %w", up.host(), err)}
}

// timeoutError is a time-out waiting for the upstream.
func timeoutError(up *endpoint, err error) *fault.Error {
	return &fault.Error{Kind: fault.Timeout, Code: "upstream_timeout",
		Message: fmt.Sprintf("upstream %s did not answer in time", up.host()), Err: fmt.Errorf("upstream %s: %w", up.host(), err)}
}

// badResponse is an answer that could not be read.
func badResponse(up *endpoint, err error) *fault.Error {
	return &fault.Error{Kind: fault.BadGateway, Code: "upstream_error",
		Message: fmt.Sprintf("upstream %s sent a response Cerulean could not read", up.host()), Err: fmt.Errorf("upstream %s: %w", up.host(), err)}
}

// cutError is a stream that ended before it was complete.
func cutError(up *endpoint, err error) *fault.Error {
	if err == nil {
		err = errors.New("stream ended without [DONE] or finish reasons")
	}
	return &fault.Error{Kind: fault.BadGateway, Code: "upstream_error",
		Message: fmt.Sprintf("upstream %s ended the stream early", up.host()), Err: fmt.Errorf("upstream %s: %w", up.host(), err)}
}
