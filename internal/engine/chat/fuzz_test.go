package chat

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParseRender feeds arbitrary template text and message content through
// Parse and Render: neither may panic or run past the time bound.
func FuzzParseRender(f *testing.F) {
	for _, name := range []string{"chatml", "qwen2.5", "llama3", "llama3.1", "mistral-v0.3", "zephyr", "smollm2"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "templates", name+".jinja")); err == nil {
			f.Add(string(b), "hello")
		}
	}
	f.Add(`{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}`, "x")
	f.Add(`{% for i in range(30000) %}{% for j in range(30000) %}{% endfor %}{% endfor %}`, "")
	f.Add(`{{ messages[0].content | tojson(indent=2) }}{{ 'a'.center(3) }}`, "\x00\xff")
	params := []byte(`{"type": "object", "properties": {"a": {"type": "string"}}}`)
	f.Fuzz(func(t *testing.T, src, content string) {
		tpl, err := Parse(src)
		if err != nil {
			return
		}
		msgs := []Message{
			{Role: "system", Content: content},
			{Role: "user", Content: content},
			{Role: "assistant", ToolCalls: []ToolCall{{ID: "abc123def", Name: "f", Arguments: content}}},
			{Role: "tool", Content: content, ToolCallID: "abc123def"},
		}
		tools := []Tool{{Name: "f", Description: content, Parameters: params}}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _ = tpl.RenderContext(ctx, msgs, tools, Options{AddGenerationPrompt: true, BOSToken: "<s>"})
		_, _ = ForModel(src).RenderResult(ctx, msgs, tools, Options{})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("rendering took %v", d)
		}
	})
}
