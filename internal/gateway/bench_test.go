package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// benchChatBody is a typical chat request: a system prompt, a few turns,
// sampling options and one tool.
const benchChatBody = `{
  "model": "chat-dep",
  "messages": [
    {"role": "system", "content": "You are a helpful assistant that answers briefly and precisely."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And what is its population, roughly? Answer in one sentence."}
  ],
  "temperature": 0.7,
  "top_p": 0.95,
  "max_tokens": 256,
  "stop": ["\n\n"],
  "presence_penalty": 0,
  "frequency_penalty": 0.2,
  "user": "user-1234",
  "tools": [{"type": "function", "function": {"name": "get_population", "description": "Population of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
  "tool_choice": "auto"
}`

func BenchmarkDecodeChat(b *testing.B) {
	data := []byte(benchChatBody)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeChat(data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchBackend answers like fakeBackend without keeping the requests.
type benchBackend struct{ *fakeBackend }

func (b benchBackend) Chat(_ context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	u := usage
	return &inference.ChatCompletion{ID: "chatcmpl-1", Object: "chat.completion", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
		Choices: []inference.ChatChoice{{Index: 0, FinishReason: "stop",
			Message: inference.Message{Role: "assistant", Content: inference.TextContent("Hello!")}}},
		Usage: &u}, nil
}

func (b benchBackend) ChatStream(_ context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	u := usage
	for i, s := range []string{"", "Hel", "lo", "!", ""} {
		ch := &inference.ChatChunk{ID: "chatcmpl-2", Object: "chat.completion.chunk", Created: testNow.Unix(), Model: "tiny-chat-2025-01-01",
			Choices: []inference.ChunkChoice{{Index: 0}}}
		switch i {
		case 0:
			ch.Choices[0].Delta.Role = "assistant"
		case 4:
			stop := "stop"
			ch.Choices[0].FinishReason = &stop
		default:
			ch.Choices[0].Delta.Content = &s
		}
		if err := emit(ch); err != nil {
			return &u, err
		}
	}
	return &u, nil
}

// nopMeter drops records.
type nopMeter struct{}

func (nopMeter) Record(context.Context, Record) {}

// discardWriter is a ResponseWriter that keeps only the header map, which
// it empties on reset.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Flush()                      {}
func (w *discardWriter) reset()                      { clear(w.h); w.code = 0 }

// benchServe serves body to the Azure chat route over and over: key
// check, deployment lookup, decode and validation, the backend call,
// encoding and metering, without a network.
func benchServe(b *testing.B, body string) {
	mux := http.NewServeMux()
	New(Deps{
		Directory: newFakeDirectory(),
		Backend:   func(inference.Target) (Backend, error) { return benchBackend{newFakeBackend()}, nil },
		Now:       func() time.Time { return testNow },
		Meter:     nopMeter{},
	}).Register(mux)
	data := []byte(body)
	req := httptest.NewRequest(http.MethodPost, "/openai/deployments/chat-dep/chat/completions?api-version=2024-10-21", nil)
	req.Header.Set("api-key", keyA)
	req.Header.Set("content-type", "application/json")
	req.ContentLength = int64(len(data))
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(data)
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(data)
		req.Body = io.NopCloser(rd)
		w.reset()
		mux.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

func BenchmarkServeChat(b *testing.B) { benchServe(b, benchChatBody) }

func BenchmarkServeChatStream(b *testing.B) {
	benchServe(b, `{"stream":true,"messages":[{"role":"user","content":"Say hello in five words please"}],"max_tokens":8}`)
}
