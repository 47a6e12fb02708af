package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// maxEvent bounds one SSE line and one event's data.
const maxEvent = 16 << 20

// errTooLong is an SSE line or event over maxEvent.
var errTooLong = errors.New("server-sent event too long")

// chatEvent is a streamed chat chunk or an error event.
type chatEvent struct {
	inference.ChatChunk
	envelope
}

// chatResponse is a whole chat completion or an error.
type chatResponse struct {
	inference.ChatCompletion
	envelope
}

// completionEvent is a streamed legacy chunk, a whole legacy completion,
// or an error.
type completionEvent struct {
	inference.Completion
	envelope
}

// ChatStream streams a chat completion: it forces
// stream_options.include_usage so the upstream reports usage, calls emit
// for every chunk that has choices (usage stripped), keeps the usage, and
// returns it — or, when the upstream sent none or the stream ended early,
// the estimate from EstimateChat and the emitted text. Usage is nil only
// when the upstream never started the stream.
//
// Leniency: an upstream that rejects stream_options is asked again without
// it (and its usage estimated); one that answers a stream request with a
// plain JSON completion has it passed on as a single chunk.
func (b *Backend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	up, err := b.endpointOf(t)
	if err != nil {
		return nil, err
	}
	oc, err := newOutputCheck(req)
	if err != nil {
		return nil, err
	}
	var assembled *streamOutput
	if oc != nil {
		assembled = newStreamOutput()
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, true, &inference.StreamOptions{IncludeUsage: true}
	var got *inference.Usage
	var c counter
	onChunk := func(chunk *inference.ChatChunk) error {
		if chunk.Usage != nil {
			got, chunk.Usage = chunk.Usage, nil
		}
		if len(chunk.Choices) == 0 {
			return nil
		}
		if chunk.Object == "" {
			chunk.Object = "chat.completion.chunk"
		}
		for i := range chunk.Choices {
			ch := &chunk.Choices[i]
			c.add(ch.Index, deltaChars(&ch.Delta))
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				c.finish(ch.Index)
			}
			if assembled != nil {
				assembled.add(ch)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if oc != nil {
			chunk.StructuredOutput = inference.StructuredValidated
		}
		return emit(chunk)
	}
	h := handlers{
		event: func(data []byte) error {
			var ev chatEvent
			if err := json.Unmarshal(data, &ev); err != nil {
				return badResponse(up, fmt.Errorf("decoding chunk %.200q: %w", data, err))
			}
			if ev.hasError() || ev.Object == "error" {
				return bodyError(up, &ev.envelope)
			}
			return onChunk(&ev.ChatChunk)
		},
		whole: func(data []byte) error {
			var cc chatResponse
			if err := json.Unmarshal(data, &cc); err != nil {
				return badResponse(up, err)
			}
			if cc.hasError() {
				return bodyError(up, &cc.envelope)
			}
			return onChunk(chatChunkOf(&cc.ChatCompletion))
		},
	}
	started, err := b.stream(ctx, up, "/chat/completions", &r, &c, h)
	if !started && rejectsStreamOptions(err) {
		b.log.InfoContext(ctx, "upstream rejects stream_options; usage will be estimated", "upstream", up.host())
		r.StreamOptions = nil
		started, err = b.stream(ctx, up, "/chat/completions", &r, &c, h)
	}
	if !started {
		return nil, err
	}
	if err == nil && assembled != nil {
		// The output is checked once it is complete; a mismatch ends the
		// stream with an error event instead of [DONE].
		if err = assembled.check(up, oc); err != nil {
			b.log.WarnContext(ctx, "upstream output failed its schema", "upstream", up.host(), "err", err)
		}
	}
	return settle(got, func() int { return EstimateChat(req) }, &c), err
}

// CompleteStream streams a legacy completion like ChatStream, with
// EstimatePrompt as the prompt estimate.
func (b *Backend) CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error) {
	up, err := b.endpointOf(t)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, true, &inference.StreamOptions{IncludeUsage: true}
	var got *inference.Usage
	var c counter
	onChunk := func(chunk *inference.Completion) error {
		if chunk.Usage != nil {
			got, chunk.Usage = chunk.Usage, nil
		}
		if len(chunk.Choices) == 0 {
			return nil
		}
		if chunk.Object == "" {
			chunk.Object = "text_completion"
		}
		for i := range chunk.Choices {
			ch := &chunk.Choices[i]
			c.add(ch.Index, runes(ch.Text))
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				c.finish(ch.Index)
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return emit(chunk)
	}
	decode := func(data []byte) error {
		var ev completionEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return badResponse(up, fmt.Errorf("decoding chunk %.200q: %w", data, err))
		}
		if ev.hasError() || ev.Object == "error" {
			return bodyError(up, &ev.envelope)
		}
		return onChunk(&ev.Completion)
	}
	// A legacy chunk has the shape of the whole response.
	h := handlers{event: decode, whole: decode}
	started, err := b.stream(ctx, up, "/completions", &r, &c, h)
	if !started && rejectsStreamOptions(err) {
		b.log.InfoContext(ctx, "upstream rejects stream_options; usage will be estimated", "upstream", up.host())
		r.StreamOptions = nil
		started, err = b.stream(ctx, up, "/completions", &r, &c, h)
	}
	if !started {
		return nil, err
	}
	return settle(got, func() int { return EstimatePrompt(req.Prompt) }, &c), err
}

// handlers decode a streamed answer: event takes each SSE event's data,
// whole the body of an upstream that answered with plain JSON instead.
type handlers struct {
	event func(data []byte) error
	whole func(body []byte) error
}

// rejectsStreamOptions reports whether err is an upstream's 400 about
// stream_options, which older servers do not know.
func rejectsStreamOptions(err error) bool {
	fe, ok := fault.As(err)
	return ok && fe.Kind == fault.Invalid && strings.Contains(strings.ToLower(fe.Message+" "+fe.Param), "stream_options")
}

// chatChunkOf turns a whole chat completion into one chunk.
func chatChunkOf(cc *inference.ChatCompletion) *inference.ChatChunk {
	chunk := &inference.ChatChunk{ID: cc.ID, Object: "chat.completion.chunk", Created: cc.Created, Model: cc.Model,
		SystemFingerprint: cc.SystemFingerprint, PromptFilterResults: cc.PromptFilterResults, Usage: cc.Usage,
		Choices: make([]inference.ChunkChoice, len(cc.Choices))}
	for i, ch := range cc.Choices {
		m := ch.Message
		d := inference.Delta{Role: m.Role, Refusal: m.Refusal, ToolCalls: m.ToolCalls}
		if d.Role == "" {
			d.Role = "assistant"
		}
		if m.Content != nil {
			text := m.Content.String()
			d.Content = &text
		}
		for j := range d.ToolCalls {
			if d.ToolCalls[j].Index == nil {
				d.ToolCalls[j].Index = &j
			}
		}
		cch := inference.ChunkChoice{Index: ch.Index, Delta: d, Logprobs: ch.Logprobs, ContentFilterResults: ch.ContentFilterResults}
		if ch.FinishReason != "" {
			cch.FinishReason = &ch.FinishReason
		}
		chunk.Choices[i] = cch
	}
	return chunk
}

// settle is the upstream's usage, completed, or the estimate.
func settle(got *inference.Usage, prompt func() int, c *counter) *inference.Usage {
	if got == nil {
		return usage(prompt(), c.tokens())
	}
	if got.TotalTokens == 0 {
		got.TotalTokens = got.PromptTokens + got.CompletionTokens
	}
	return got
}

// stream posts body, then reads the SSE answer, calling handle with each
// event's data. started reports whether the upstream answered 200, after
// which usage must be reported whatever happens. The error is ctx's when
// ctx ended, handle's when it failed, or a *fault.Error.
func (b *Backend) stream(ctx context.Context, up *endpoint, path string, body any, c *counter, h handlers) (started bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // aborts the upstream request whenever we stop early
	resp, err := b.send(sctx, up, path, body, true)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, err
	}
	defer resp.Body.Close()
	var done bool
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		var data []byte
		data, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err == nil {
			done = true
			if herr := h.whole(data); herr != nil {
				err = &handleError{herr}
			}
		}
	} else {
		done, err = readEvents(resp.Body, h.event)
	}
	switch {
	case ctx.Err() != nil:
		return true, ctx.Err()
	case err != nil:
		if _, ok := errors.AsType[*handleError](err); ok {
			return true, errors.Unwrap(err)
		}
		if isTimeout(err) {
			return true, timeoutError(up, err)
		}
		b.log.WarnContext(ctx, "upstream stream cut", "upstream", up.host(), "path", path, "err", err)
		return true, cutError(up, err)
	case !done && !c.complete():
		b.log.WarnContext(ctx, "upstream stream ended early", "upstream", up.host(), "path", path)
		return true, cutError(up, nil)
	}
	// A stream that stopped early is closed unread, which aborts the
	// upstream's work; a finished one is drained so the connection goes
	// back to the pool.
	drain(resp.Body, cancel)
	return true, nil
}

// drainWait bounds the wait for the end of a finished response.
const drainWait = 250 * time.Millisecond

// drain reads what is left of a finished response (usually just the
// chunked terminator after [DONE] or the JSON body) so that its connection
// can be reused. A server that keeps the response open gets drainWait,
// then cancel aborts the read.
func drain(body io.Reader, cancel context.CancelFunc) {
	t := time.AfterFunc(drainWait, cancel)
	defer t.Stop()
	io.CopyN(io.Discard, body, 4<<10)
}

// handleError marks an error returned by readEvents' handler, to tell it
// from a read error.
type handleError struct{ err error }

func (e *handleError) Error() string { return e.err.Error() }
func (e *handleError) Unwrap() error { return e.err }

// readEvents reads server-sent events from r and calls handle with each
// event's data as soon as the blank line ending the event arrives, with no
// buffering beyond that. Lines end in LF or CRLF; comment lines (":...")
// and fields other than data are skipped; the lines of a multi-line data
// field are joined with "\n". It stops at "data: [DONE]" (done = true), at
// the end of r (an event still open there is delivered) or when handle
// fails (the error is wrapped in *handleError). handle must not keep data.
func readEvents(r io.Reader, handle func(data []byte) error) (done bool, err error) {
	br := eventReaders.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil) // drop r
		eventReaders.Put(br)
	}()
	var line, data []byte
	has := false
	dispatch := func() (bool, error) {
		if !has {
			return false, nil
		}
		has = false
		if bytes.Equal(data, []byte("[DONE]")) {
			return true, nil
		}
		if err := handle(data); err != nil {
			return false, &handleError{err}
		}
		data = data[:0]
		return false, nil
	}
	for {
		var rerr error
		line, rerr = readLine(br, line[:0])
		if rerr != nil && rerr != io.EOF {
			return false, rerr
		}
		if len(line) == 0 && rerr == io.EOF {
			return dispatch()
		}
		switch {
		case len(line) == 0:
			if done, err := dispatch(); done || err != nil {
				return done, err
			}
		case line[0] == ':':
			// comment, e.g. a keep-alive
		default:
			field, value, found := bytes.Cut(line, []byte(":"))
			if found && len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
			if string(field) == "data" {
				if has {
					data = append(data, '\n')
				}
				if len(data)+len(value) > maxEvent {
					return false, errTooLong
				}
				data = append(data, value...)
				has = true
			}
		}
		if rerr == io.EOF {
			return dispatch()
		}
	}
}

// eventReaders are readEvents' 32 KiB buffered readers.
var eventReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// readLine reads one line into buf, without its LF or CRLF.
func readLine(br *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			if len(buf) > maxEvent {
				return nil, errTooLong
			}
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, err
	}
}
