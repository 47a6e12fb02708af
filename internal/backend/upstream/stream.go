package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

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

// completionEvent is a streamed legacy chunk or an error event.
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
func (b *Backend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	up, err := upstreamOf(t)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, true, &inference.StreamOptions{IncludeUsage: true}
	var got *inference.Usage
	var c counter
	started, err := b.stream(ctx, up, "/chat/completions", &r, &c, func(data []byte) error {
		var ev chatEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return badResponse(up, fmt.Errorf("decoding chunk %.200q: %w", data, err))
		}
		if ev.hasError() || ev.Object == "error" {
			return streamError(up, &ev.envelope)
		}
		chunk := &ev.ChatChunk
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
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return emit(chunk)
	})
	if !started {
		return nil, err
	}
	return settle(got, func() int { return EstimateChat(req) }, &c), err
}

// CompleteStream streams a legacy completion like ChatStream, with
// EstimatePrompt as the prompt estimate.
func (b *Backend) CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error) {
	up, err := upstreamOf(t)
	if err != nil {
		return nil, err
	}
	r := *req
	r.Model, r.Stream, r.StreamOptions = up.model, true, &inference.StreamOptions{IncludeUsage: true}
	var got *inference.Usage
	var c counter
	started, err := b.stream(ctx, up, "/completions", &r, &c, func(data []byte) error {
		var ev completionEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return badResponse(up, fmt.Errorf("decoding chunk %.200q: %w", data, err))
		}
		if ev.hasError() || ev.Object == "error" {
			return streamError(up, &ev.envelope)
		}
		chunk := &ev.Completion
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
	})
	if !started {
		return nil, err
	}
	return settle(got, func() int { return EstimatePrompt(req.Prompt) }, &c), err
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
func (b *Backend) stream(ctx context.Context, up *endpoint, path string, body any, c *counter, handle func([]byte) error) (started bool, err error) {
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
	done, err := readEvents(resp.Body, handle)
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
	br := bufio.NewReaderSize(r, 32<<10)
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
