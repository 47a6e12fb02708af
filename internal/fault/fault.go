// Package fault is Cerulean's one error type: a kind that decides the HTTP
// status, a stable machine-readable code, a message for humans and the
// parameter or resource it concerns. Domain packages return it; the gateway
// and the management API render it, each in its own envelope, in one place.
package fault

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kind classifies an error for transport mapping.
type Kind int

// The kinds, each with one HTTP status.
const (
	Internal      Kind = iota // 500: a bug or an unexpected failure
	Invalid                   // 400: the request is wrong; Param says where
	Unauthorized              // 401
	Forbidden                 // 403
	NotFound                  // 404
	Conflict                  // 409: the resource exists or is in the wrong state
	QuotaExceeded             // 409: not enough quota
	TooLarge                  // 413
	RateLimited               // 429
	Unavailable               // 503
	BadGateway                // 502: an upstream failed
	Timeout                   // 504: an upstream timed out
)

// Status is the HTTP status of the kind.
func (k Kind) Status() int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict, QuotaExceeded:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case RateLimited:
		return http.StatusTooManyRequests
	case Unavailable:
		return http.StatusServiceUnavailable
	case BadGateway:
		return http.StatusBadGateway
	case Timeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Error is a classified error.
type Error struct {
	Kind    Kind
	Code    string // stable code, e.g. "DeploymentNotFound", "invalid_value"
	Message string
	Param   string // the request field or resource it concerns, if any
	Err     error  // the cause, if any
	// RetryAfter, for RateLimited and Unavailable, is how long the client
	// should wait; the transports send it as retry-after headers.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a formatted message.
func New(k Kind, code, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Param returns an Invalid error about one request parameter.
func Param(param, code, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf is the kind of err: Internal when it carries none.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}
