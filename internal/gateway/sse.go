package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// sse writes server-sent events. The header goes out with the first event,
// so an error before any event still gets a proper status.
type sse struct {
	w    *responseWriter
	c    *call
	sent int // events written
}

func newSSE(w *responseWriter, c *call) *sse {
	c.stream = true
	return &sse{w: w, c: c}
}

// start sends the stream's header once.
func (s *sse) start() {
	if s.w.started() {
		return
	}
	h := s.w.Header()
	h.Set("content-type", "text/event-stream")
	h.Set("cache-control", "no-cache")
	h.Set("x-accel-buffering", "no")
	h.Del("content-length")
	s.w.WriteHeader(http.StatusOK)
}

// send marshals v and writes it as one event, flushed at once.
func (s *sse) send(v any) error {
	data, err := marshal(v)
	if err != nil {
		return fmt.Errorf("gateway: encode stream event: %w", err)
	}
	s.start()
	s.sent++
	return writeEvent(s.w, data)
}

// done writes the terminating [DONE] event.
func (s *sse) done() error {
	s.start()
	return writeEvent(s.w, []byte("[DONE]"))
}

// writeEvent writes "data: <data>\n\n" and flushes it.
func writeEvent(w *responseWriter, data []byte) error {
	buf := make([]byte, 0, len(data)+8)
	buf = append(buf, "data: "...)
	buf = append(buf, data...)
	buf = append(buf, "\n\n"...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("gateway: write event: %w", err)
	}
	if err := http.NewResponseController(w.ResponseWriter).Flush(); err != nil {
		return fmt.Errorf("gateway: flush event: %w", err)
	}
	return nil
}

// marshal encodes v as JSON without escaping <, > and & (as OpenAI does).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}
