package manage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Codes of errors the API makes itself (the store and the domain packages
// bring their own).
const (
	codeUnauthorized   = "unauthorized"
	codeInvalidPayload = "invalidPayload"
	codeTooLarge       = "payloadTooLarge"
	codeInternal       = "internalFailure"
	codeNotFound       = "notFound"
	codeConflict       = "conflict"
	codeCanceled       = "requestCanceled"
	codeTimeout        = "timeout"
	codeMethod         = "methodNotAllowed"
)

// methodNotAllowed is a known path asked with a method it does not take.
type methodNotAllowed struct {
	method, path string
	allow        []string
}

func (e *methodNotAllowed) Error() string {
	return fmt.Sprintf("%s is not allowed on %s: use %s", e.method, e.path, strings.Join(e.allow, ", "))
}

// requestIDHeader carries the request id, set by the server's middleware or
// by the caller; the API makes one when neither did.
const requestIDHeader = "X-Request-Id"

// classify turns any error into a *fault.Error: a fault as it is (Internal
// when it carries no kind), the store's bare sentinels by meaning, the
// context's errors by cause, anything else Internal.
func classify(err error) *fault.Error {
	if f, ok := fault.As(err); ok {
		return f
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &fault.Error{Kind: fault.NotFound, Code: codeNotFound, Message: err.Error(), Err: err}
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrInUse):
		return &fault.Error{Kind: fault.Conflict, Code: codeConflict, Message: err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &fault.Error{Kind: fault.Unavailable, Code: codeCanceled, Message: "the request was canceled", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &fault.Error{Kind: fault.Timeout, Code: codeTimeout, Message: "the request timed out", Err: err}
	}
	return &fault.Error{Kind: fault.Internal, Err: err}
}

// writeError renders err as {"error":{code,message,target}} with the status
// of its kind. Internal failures show only the request id; their cause goes
// to the log.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if m, ok := errors.AsType[*methodNotAllowed](err); ok {
		w.Header().Set("Allow", strings.Join(m.allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, api.ErrorBody{Error: api.ErrorDetail{Code: codeMethod, Message: m.Error()}})
		return
	}
	f := classify(err)
	status := f.Kind.Status()
	body := api.ErrorBody{Error: api.ErrorDetail{Code: f.Code, Message: f.Message, Target: f.Param}}
	if status >= http.StatusInternalServerError && f.Kind == fault.Internal {
		id := requestID(w, r)
		a.log.LogAttrs(r.Context(), slog.LevelError, "management request failed",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", id), slog.Any("err", err))
		body.Error = api.ErrorDetail{Code: codeInternal,
			Message: "internal failure; quote request id " + id + " to your administrator"}
	} else if body.Error.Code == "" {
		body.Error.Code = defaultCode(f.Kind)
	}
	if body.Error.Message == "" {
		body.Error.Message = http.StatusText(status)
	}
	writeJSON(w, status, body)
}

// defaultCode names a kind for faults made without a code.
func defaultCode(k fault.Kind) string {
	switch k {
	case fault.Invalid:
		return codeInvalidPayload
	case fault.Unauthorized:
		return codeUnauthorized
	case fault.NotFound:
		return codeNotFound
	case fault.Conflict:
		return codeConflict
	case fault.TooLarge:
		return codeTooLarge
	}
	return codeInternal
}

// requestID returns the request's id: the request header, else one already
// set on the response, else a new one (set on the response).
func requestID(w http.ResponseWriter, r *http.Request) string {
	if id := r.Header.Get(requestIDHeader); id != "" {
		return id
	}
	if id := w.Header().Get(requestIDHeader); id != "" {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	id := hex.EncodeToString(b[:])
	w.Header().Set(requestIDHeader, id)
	return id
}

// notFound is the error for a resource that does not exist, for the
// handlers that look one up before the store would.
func notFound(code, target, format string, args ...any) *fault.Error {
	f := fault.New(fault.NotFound, code, format, args...)
	f.Param = target
	return f
}
