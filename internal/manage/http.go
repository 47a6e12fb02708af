package manage

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// reply is a handler's success: a status and a body to encode (nil for
// none). Location, when set, becomes the Location header.
type reply struct {
	status   int
	body     any
	location string
}

// handlerFunc is a management handler: it returns what to send or an error
// for writeError to render.
type handlerFunc func(r *http.Request) (reply, error)

// handle adapts h to http.Handler behind the admin token, with the body
// limit, and renders its result.
func (a *API) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cerulean"`)
			a.writeError(w, r, fault.New(fault.Unauthorized, codeUnauthorized,
				"missing or wrong admin token: send Authorization: Bearer <admin token>"))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		rep, err := h(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if rep.location != "" {
			w.Header().Set("Location", rep.location)
		}
		if rep.body == nil {
			w.WriteHeader(rep.status)
			return
		}
		writeJSON(w, rep.status, rep.body)
	})
}

// authorized reports whether r carries the admin token. Both sides are
// hashed first so the comparison takes the same time whatever the length.
func (a *API) authorized(r *http.Request) bool {
	if a.token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	g := sha256.Sum256([]byte(strings.TrimSpace(got)))
	want := sha256.Sum256([]byte(a.token))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

// writeJSON writes v with status. v is marshalled first, so a value that
// cannot be encoded yields a clean 500 rather than half a body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internalFailure","message":"cannot encode the response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decode reads one JSON object from r's body into v. Unknown fields are
// ignored; syntax errors, wrong types, an empty body, trailing data and
// bodies over maxBody are faults naming what to fix.
func decode(r *http.Request, v any) error {
	if r.Body == nil {
		return fault.Param("body", codeInvalidPayload, "the request body is empty: send a JSON object")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err)
		}
		return fault.Param("body", codeInvalidPayload, "the request body has data after the JSON object")
	}
	return nil
}

// decodeError explains a JSON decoding failure.
func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return &fault.Error{Kind: fault.TooLarge, Code: codeTooLarge, Param: "body",
			Message: fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit), Err: err}
	case errors.Is(err, io.EOF):
		return fault.Param("body", codeInvalidPayload, "the request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fault.Param("body", codeInvalidPayload, "the request body is not valid JSON: it ends too early")
	case errors.As(err, &syntax):
		return fault.Param("body", codeInvalidPayload, "the request body is not valid JSON at offset %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fault.Param("body", codeInvalidPayload, "the request body must be a JSON object, got %s", typ.Value)
		}
		return fault.Param(field, codeInvalidPayload, "field %q must be %s, got %s", field, jsonKind(typ.Type.String()), typ.Value)
	}
	return fault.Param("body", codeInvalidPayload, "the request body is not valid JSON: %v", err)
}

// jsonKind names a Go type as a JSON kind for error messages.
func jsonKind(goType string) string {
	goType = strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time string"
	}
	return "an object"
}
