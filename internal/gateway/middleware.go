package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"
)

// dialect is the API shape a client spoke: it decides the error envelope
// and whether Azure's content-filter annotations are added.
type dialect int

const (
	dialectOpenAI dialect = iota
	dialectAzure
)

// call is the state of one request as it moves through the gateway.
type call struct {
	id      string
	dialect dialect
	start   time.Time
	stream  bool // the response is (or will be) server-sent events
}

// handlerFunc is a gateway handler: it returns an error instead of writing
// one, and wrap renders it.
type handlerFunc func(w *responseWriter, r *http.Request, c *call) error

// responseWriter records whether the header was sent and its status.
type responseWriter struct {
	http.ResponseWriter
	status int
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = flush(w.ResponseWriter)
}

// started reports whether the header has been sent.
func (w *responseWriter) started() bool { return w.status != 0 }

// wrap turns a handlerFunc into an http.Handler: it assigns the request
// id, sets the headers every response carries, renders the returned error
// and turns a panic into a 500.
func (g *Gateway) wrap(d dialect, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(hw http.ResponseWriter, r *http.Request) {
		// One allocation for the request's state and writer.
		st := &struct {
			c call
			w responseWriter
		}{c: call{id: requestID(r), dialect: d, start: g.now()}, w: responseWriter{ResponseWriter: hw}}
		c, w := &st.c, &st.w
		hdr := w.Header()
		hdr.Set("X-Request-Id", c.id)
		hdr.Set("Apim-Request-Id", c.id)
		if v := r.Header.Get("X-Ms-Client-Request-Id"); v != "" && validRequestID(v) {
			hdr.Set("X-Ms-Client-Request-Id", v)
		}
		hdr.Set("X-Content-Type-Options", "nosniff")
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			g.log.ErrorContext(r.Context(), "gateway: panic", "request_id", c.id, "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			g.writeError(w, r, c, fmt.Errorf("panic: %v", v))
		}()
		if err := h(w, r, c); err != nil {
			g.writeError(w, r, c, err)
		}
	})
}

// requestID is the client's x-ms-client-request-id or x-request-id when it
// is a sane identifier, else a new random UUID.
func requestID(r *http.Request) string {
	for _, h := range [...]string{"X-Ms-Client-Request-Id", "X-Request-Id"} {
		if v := r.Header.Get(h); v != "" && validRequestID(v) {
			return v
		}
	}
	return newUUID()
}

// validRequestID accepts 1..128 characters of letters, digits and -_.:
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
