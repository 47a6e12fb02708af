package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
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
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	s.w.WriteHeader(http.StatusOK)
}

// send marshals v and writes it as one event, flushed at once.
func (s *sse) send(v any) error {
	jb := getJSONBuffer()
	defer jb.release()
	jb.buf.WriteString("data: ")
	if err := jb.enc.Encode(v); err != nil { // adds a newline
		return fmt.Errorf("gateway: encode stream event: %w", err)
	}
	jb.buf.WriteByte('\n')
	s.start()
	s.sent++
	return writeEventBytes(s.w, jb.buf.Bytes())
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
	return writeEventBytes(w, buf)
}

// writeEventBytes writes a whole event and flushes it.
func writeEventBytes(w *responseWriter, event []byte) error {
	if _, err := w.Write(event); err != nil {
		return fmt.Errorf("gateway: write event: %w", err)
	}
	if err := flush(w.ResponseWriter); err != nil {
		return fmt.Errorf("gateway: flush event: %w", err)
	}
	return nil
}

// flush is http.NewResponseController(w).Flush() without allocating a
// controller when w can flush itself, as net/http's own writer can.
func flush(w http.ResponseWriter) error {
	if f, ok := w.(interface{ FlushError() error }); ok {
		return f.FlushError()
	}
	return http.NewResponseController(w).Flush()
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

// jsonBuffer is a pooled buffer and an encoder into it that does not
// escape <, > and &, like marshal.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledJSON is the largest buffer put back in jsonBuffers.
const maxPooledJSON = 64 << 10

// jsonBuffers are the gateway's response and event buffers.
var jsonBuffers = sync.Pool{New: func() any {
	jb := &jsonBuffer{}
	jb.enc = json.NewEncoder(&jb.buf)
	jb.enc.SetEscapeHTML(false)
	return jb
}}

// getJSONBuffer returns an empty pooled buffer; release it when its bytes
// are no longer used.
func getJSONBuffer() *jsonBuffer {
	jb := jsonBuffers.Get().(*jsonBuffer)
	jb.buf.Reset()
	return jb
}

// release puts jb back in the pool unless it grew large.
func (jb *jsonBuffer) release() {
	if jb.buf.Cap() <= maxPooledJSON {
		jsonBuffers.Put(jb)
	}
}

// marshal is marshal(v) into jb: the bytes are valid until jb is released.
func (jb *jsonBuffer) marshal(v any) ([]byte, error) {
	jb.buf.Reset()
	if err := jb.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(jb.buf.Bytes(), []byte{'\n'}), nil
}
