package gateway

import (
	"context"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Backend serves inference for a target. Errors are *fault.Error values
// (an upstream's 4xx keeps its status, code and param; connect errors and
// 5xx are fault.BadGateway, time-outs fault.Timeout) or the context's error.
//
// The stream methods call emit for each chunk, in order, as soon as it is
// ready, and return the usage of the whole stream (from the backend's own
// count when the upstream sent none) — also when the stream ends early
// because ctx was cancelled or emit failed. Streamed chunks never carry
// usage: the gateway adds the usage chunk when the client asked for it.
type Backend interface {
	Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error)
	ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error)
	Complete(ctx context.Context, t inference.Target, req *inference.CompletionRequest) (*inference.Completion, error)
	CompleteStream(ctx context.Context, t inference.Target, req *inference.CompletionRequest, emit func(*inference.Completion) error) (*inference.Usage, error)
	Embed(ctx context.Context, t inference.Target, req *inference.EmbeddingRequest) (*inference.EmbeddingList, error)
}
