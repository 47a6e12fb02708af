package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// BenchmarkRecord is the per-request cost of counting a successful chat
// request.
func BenchmarkRecord(b *testing.B) {
	m := New()
	r := record("chat", 200, false, inference.Usage{PromptTokens: 12, CompletionTokens: 7, TotalTokens: 19}, time.Millisecond, time.Millisecond)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		m.Record(ctx, r)
	}
}
