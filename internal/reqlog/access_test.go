package reqlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/gateway"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	a := NewAccessLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	ctx := context.Background()
	a.Record(ctx, gateway.Record{RequestID: "r1", Project: "p1", KeyID: "k0001", Deployment: "chat", Model: "gpt", Version: "2",
		SKU: "Standard", Operation: "chat", Stream: true, Status: 200,
		Usage:   inference.Usage{PromptTokens: 12, CompletionTokens: 34, PromptTokensDetails: &inference.PromptTokensDetails{CachedTokens: 8}},
		Latency: 1500 * time.Millisecond, TimeToFirstToken: 120500 * time.Microsecond, Time: t0})
	a.Record(ctx, gateway.Record{RequestID: "r2", Project: "p1", KeyID: "k0001", Deployment: "chat", Model: "gpt", Version: "2",
		SKU: "Standard", Operation: "embedding", Status: 502, ErrorCode: "upstream_error",
		Latency: 30 * time.Millisecond, TimeToFirstToken: 30 * time.Millisecond, Time: t0.Add(time.Second)})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if _, ok := m["time"]; !ok {
			t.Errorf("line %q has no time", l)
		}
		delete(m, "time")
		got = append(got, m)
	}
	want := []map[string]any{
		{"level": "INFO", "msg": "request", "request_id": "r1", "start": "2025-06-01T12:00:00Z", "project": "p1",
			"deployment": "chat", "model": "gpt", "version": "2", "sku": "Standard", "operation": "chat", "stream": true,
			"status": 200.0, "prompt_tokens": 12.0, "completion_tokens": 34.0, "cached_tokens": 8.0,
			"latency_ms": 1500.0, "ttft_ms": 120.5, "key_id": "k0001"},
		{"level": "WARN", "msg": "request", "request_id": "r2", "start": "2025-06-01T12:00:01Z", "project": "p1",
			"deployment": "chat", "model": "gpt", "version": "2", "sku": "Standard", "operation": "embedding", "stream": false,
			"status": 502.0, "error_code": "upstream_error", "prompt_tokens": 0.0, "completion_tokens": 0.0, "cached_tokens": 0.0,
			"latency_ms": 30.0, "key_id": "k0001"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log lines (-want +got):\n%s", d)
	}
}

func TestAccessLogLevel(t *testing.T) {
	var buf bytes.Buffer
	a := NewAccessLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	a.Record(context.Background(), gateway.Record{RequestID: "quiet", Status: 200})
	if buf.Len() != 0 {
		t.Errorf("an Info line was written below the handler's level: %s", buf.String())
	}
	NewAccessLog(nil).Record(context.Background(), gateway.Record{}) // a nil logger discards
}
