package upstream_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/backend/upstream"
	"github.com/cerulean-ai/cerulean/internal/fakeopenai"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

const personSchema = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}`

// scripted is an upstream that answers every chat request with content
// (or, when call is set, one call of call with content as arguments),
// streamed in two halves when asked.
func scripted(t *testing.T, content, call string) inference.Target {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Stream bool }
		json.NewDecoder(r.Body).Decode(&req)
		msg := map[string]any{"role": "assistant", "content": content}
		finish := "stop"
		if call != "" {
			msg = map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": "call_1", "type": "function",
				"function": map[string]any{"name": call, "arguments": content}}}}
			finish = "tool_calls"
		}
		if !req.Stream {
			json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": "m",
				"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		half := len(content) / 2
		for i, part := range []string{content[:half], content[half:]} {
			d := map[string]any{"content": part}
			if call != "" {
				tc := map[string]any{"index": 0, "function": map[string]any{"arguments": part}}
				if i == 0 {
					tc["id"], tc["type"], tc["function"] = "call_1", "function", map[string]any{"name": call, "arguments": part}
				}
				d = map[string]any{"tool_calls": []any{tc}}
			}
			b, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion.chunk", "choices": []any{map[string]any{"index": 0, "delta": d}}})
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		fmt.Fprintf(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\ndata: [DONE]\n\n", finish)
	}))
	t.Cleanup(srv.Close)
	return newTarget(srv.URL+"/v1", "")
}

func TestStructuredOutputValidation(t *testing.T) {
	schemaReq := func() *inference.ChatRequest {
		r := chatReq("who?")
		r.ResponseFormat = &inference.ResponseFormat{Type: "json_schema", JSONSchema: &inference.JSONSchema{Name: "p", Schema: json.RawMessage(personSchema), Strict: ptr(true)}}
		return r
	}
	toolReq := func(strict bool) *inference.ChatRequest {
		r := chatReq("who?")
		r.Tools = []inference.Tool{{Type: "function", Function: inference.FunctionDef{Name: "save", Parameters: json.RawMessage(personSchema), Strict: ptr(strict)}}}
		return r
	}
	type result struct {
		Mode string
		Code string
		In   bool // the error message contains the wanted text
	}
	tests := []struct {
		name          string
		req           *inference.ChatRequest
		content, call string
		in            string
		want          result
	}{
		{"valid content", schemaReq(), `{"name":"Ann","age":3}`, "", "", result{Mode: "validated", In: true}},
		{"not JSON", schemaReq(), `Sure! {"name":"Ann"}`, "", "not valid JSON", result{Code: "upstream_invalid_output", In: true}},
		{"wrong type", schemaReq(), `{"name":"Ann","age":"three"}`, "", "/age", result{Code: "upstream_invalid_output", In: true}},
		{"missing property", schemaReq(), `{"name":"Ann"}`, "", "age", result{Code: "upstream_invalid_output", In: true}},
		{"valid strict call", toolReq(true), `{"name":"Bo","age":40}`, "save", "", result{Mode: "validated", In: true}},
		{"invalid strict call", toolReq(true), `{"name":"Bo","age":-1}`, "save", "tool call 0 (save)", result{Code: "upstream_invalid_output", In: true}},
		{"non-strict call not checked", toolReq(false), `{"age":-1}`, "save", "", result{In: true}},
		{"plain request not checked", chatReq("x"), `not json`, "", "", result{In: true}},
	}
	b := upstream.New(upstream.Options{Logger: logger(t)})
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s stream %t", tt.name, stream), func(t *testing.T) {
				target := scripted(t, tt.content, tt.call)
				var got result
				var err error
				if stream {
					_, err = b.ChatStream(t.Context(), target, tt.req, func(c *inference.ChatChunk) error {
						if got.Mode == "" {
							got.Mode = c.StructuredOutput
						}
						return nil
					})
				} else {
					var resp *inference.ChatCompletion
					if resp, err = b.Chat(t.Context(), target, tt.req); resp != nil {
						got.Mode = resp.StructuredOutput
					}
				}
				got.In = true
				if err != nil {
					f, ok := fault.As(err)
					if !ok || f.Kind != fault.BadGateway {
						t.Fatalf("error %v, want a 502 fault", err)
					}
					got.Code, got.In = f.Code, strings.Contains(f.Message, tt.in)
					if !got.In {
						t.Logf("message: %s", f.Message)
					}
					if stream {
						got.Mode = "" // the chunks went out before the check
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestFakeUpstreamSchema: the fake upstream answers "You said: ...", which
// is no JSON, so a schema request fails with a 502 instead of passing it on.
func TestFakeUpstreamSchema(t *testing.T) {
	b, _, target := setup(t, fakeopenai.Behavior{}, upstream.Options{})
	req := chatReq("hello")
	req.ResponseFormat = &inference.ResponseFormat{Type: "json_schema", JSONSchema: &inference.JSONSchema{Name: "p", Schema: json.RawMessage(personSchema)}}
	_, err := b.Chat(t.Context(), target, req)
	if f, ok := fault.As(err); !ok || f.Code != "upstream_invalid_output" || f.Kind.Status() != http.StatusBadGateway {
		t.Errorf("error %v, want 502 upstream_invalid_output", err)
	}
}
