package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// Fixed texts of errors that clients and docs match on.
const (
	azureUnauthorized = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."
	openAIBadKey      = "Incorrect API key provided. You can find your project's keys in Cerulean Studio on the project's Keys page."
	openAINoKey       = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY) or in an api-key header."
	deploymentMissing = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
	resourceNotFound  = "Resource not found"
)

// codeMissingKey marks an Unauthorized error for a request without a key.
const codeMissingKey = "missing_api_key"

// shortError is Azure's terse envelope body: {"code","message"}.
type shortError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// fullError is OpenAI's envelope body; Azure adds status.
type fullError struct {
	Message string  `json:"message"`
	Type    *string `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
	Status  int     `json:"status,omitempty"`
}

type envelope struct {
	Error any `json:"error"`
}

// statusError gives a fault an HTTP status its kind cannot express (405).
type statusError struct {
	status int
	err    *fault.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// retryAfter is implemented by rate-limit errors that know when to retry.
type retryAfter interface{ RetryAfter() time.Duration }

// retryAfterOf is the wait err asks for: a *fault.Error's RetryAfter, else
// that of a cause with a RetryAfter method (an upstream's 429).
func retryAfterOf(err error) (time.Duration, bool) {
	if f, ok := fault.As(err); ok && f.RetryAfter > 0 {
		return f.RetryAfter, true
	}
	var ra retryAfter
	if errors.As(err, &ra) {
		return max(ra.RetryAfter(), 0), true
	}
	return 0, false
}

// writeError renders any error of the gateway: this is the one place that
// maps errors to HTTP. A *fault.Error gets its kind's status and the
// dialect's envelope; any other error is a 500 with a generic message and
// is logged with the request id. When the client has gone away nothing is
// written. When the header is already sent, a stream gets the envelope as
// a last event.
func (g *Gateway) writeError(w *responseWriter, r *http.Request, c *call, err error) {
	ctx := r.Context()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		g.log.DebugContext(ctx, "gateway: client went away", "request_id", c.id, "err", err)
		return
	}
	status, body := renderError(c, err)
	if status >= 500 {
		g.log.ErrorContext(ctx, "gateway: request failed", "request_id", c.id, "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	} else {
		g.log.DebugContext(ctx, "gateway: request refused", "request_id", c.id, "status", status, "err", err)
	}
	data, _ := marshal(body) // plain structs of strings: cannot fail
	if w.started() {
		if c.stream {
			_ = writeEvent(w, data)
		}
		return
	}
	h := w.Header()
	if d, ok := retryAfterOf(err); ok && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		h.Set("retry-after", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		h.Set("retry-after-ms", strconv.FormatInt(d.Milliseconds(), 10))
	}
	h.Set("content-type", "application/json")
	h.Del("content-length")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
}

// renderError returns the status and envelope of err for the call's
// dialect.
func renderError(c *call, err error) (int, envelope) {
	f, ok := fault.As(err)
	switch {
	case ok:
	case errors.Is(err, context.DeadlineExceeded):
		f = &fault.Error{Kind: fault.Timeout, Code: "timeout", Message: "The request timed out. Please retry.", Err: err}
	default:
		f = &fault.Error{Kind: fault.Internal, Err: err}
	}
	status := f.Kind.Status()
	var se *statusError
	if errors.As(err, &se) {
		status = se.status
	}
	code, msg, param := f.Code, f.Message, f.Param
	if f.Kind == fault.Internal {
		code, param = "", ""
		msg = "The server had an error while processing your request. Sorry about that! You can retry your request, or contact us if the error persists. Please include the request ID " + c.id + " in your message."
	}
	if c.dialect == dialectAzure {
		switch {
		case f.Kind == fault.Unauthorized:
			return status, envelope{shortError{Code: "401", Message: azureUnauthorized}}
		case f.Kind == fault.NotFound || isNumeric(code):
			if code == "" {
				code = strconv.Itoa(status)
			}
			return status, envelope{shortError{Code: code, Message: msg}}
		}
		if code == "" && f.Kind == fault.Internal {
			code = "InternalServerError"
		}
	}
	if f.Kind == fault.Unauthorized {
		code, param = "invalid_api_key", ""
		msg = openAIBadKey
		if f.Code == codeMissingKey {
			msg = openAINoKey
		}
	}
	body := fullError{Message: msg, Type: nullable(errorType(f)), Param: nullable(param), Code: nullable(code)}
	if c.dialect == dialectAzure {
		body.Status = status
	}
	return status, envelope{body}
}

// errorType is the envelope's type field.
func errorType(f *fault.Error) string {
	switch {
	case f.Code == "content_filter":
		return ""
	case f.Kind == fault.RateLimited:
		return "requests"
	case f.Kind == fault.QuotaExceeded:
		return "insufficient_quota"
	case f.Kind.Status() >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
