package runner

import (
	"context"
	"sync"

	"github.com/cerulean-ai/cerulean/internal/engine/sample"
)

// Usage counts a sequence's tokens.
type Usage struct {
	PromptTokens     int
	CompletionTokens int // every sampled token, including an end-of-generation token
	// CachedTokens are the prompt tokens whose keys and values were copied
	// from a finished sequence's cache instead of computed.
	CachedTokens int
}

// Event is one step of a stream: new text, the token that produced it, and,
// on the last event, Done with the finish reason or an error.
type Event struct {
	// Text is the newly completed text (possibly empty: text that may
	// start a stop string or an incomplete UTF-8 character is held back).
	Text string
	// Token is the sampled token, for logprobs; nil when the event carries
	// none (an end-of-generation token, a token completing a stop string,
	// an error).
	Token *sample.Token
	// Done marks the last event of the stream.
	Done bool
	// FinishReason is FinishStop or FinishLength on a successful last
	// event.
	FinishReason string
	// Usage is the sequence's usage, set on the last event.
	Usage Usage
	// Err is why the stream ended early: the request's context error,
	// ErrClosed, or an engine failure.
	Err error
}

// Stream is the event stream of one request. The scheduler appends to an
// unbounded buffer and never waits for the reader.
type Stream struct {
	cancel context.CancelFunc
	notify chan struct{} // capacity 1: events were added

	mu     sync.Mutex
	events []Event
	ended  bool // the last event was added
	read   bool // the last event was returned by Next
	usage  Usage
}

func newStream(cancel context.CancelFunc, prompt int) *Stream {
	return &Stream{cancel: cancel, notify: make(chan struct{}, 1), usage: Usage{PromptTokens: prompt}}
}

// push adds an event and records the usage so far.
func (s *Stream) push(e Event, u Usage) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.events = append(s.events, e)
	s.usage = u
	s.mu.Unlock()
	s.signal()
}

// end adds the last event.
func (s *Stream) end(e Event, u Usage) {
	e.Done, e.Usage = true, u
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.events = append(s.events, e)
	s.ended = true
	s.usage = u
	s.mu.Unlock()
	s.signal()
	s.cancel() // release the derived context
}

func (s *Stream) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Finished returns a stream that has already ended with reason and no
// tokens, for requests that need no generation (a legacy completion with
// max_tokens 0 that only echoes its prompt).
func Finished(reason string) *Stream {
	s := newStream(func() {}, 0)
	s.end(Event{FinishReason: reason}, Usage{})
	return s
}

// Next returns the next event, waiting for it. ok is false when the stream
// is over (its Done event was returned before) or ctx is done first.
func (s *Stream) Next(ctx context.Context) (e Event, ok bool) {
	for {
		s.mu.Lock()
		if len(s.events) > 0 {
			e = s.events[0]
			s.events[0] = Event{}
			s.events = s.events[1:]
			if e.Done {
				s.read = true
			}
			s.mu.Unlock()
			return e, true
		}
		over := s.read
		s.mu.Unlock()
		if over {
			return Event{}, false
		}
		select {
		case <-ctx.Done():
			return Event{}, false
		case <-s.notify:
		}
	}
}

// Usage returns the usage so far: the prompt tokens and the tokens sampled
// up to now.
func (s *Stream) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

// Close abandons the request: the scheduler drops the sequence and frees
// its cache at its next step. Closing a finished stream does nothing.
func (s *Stream) Close() { s.cancel() }
