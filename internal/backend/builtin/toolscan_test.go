package builtin

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/engine/chat"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// scanned is what a scanner made of a text.
type scanned struct {
	Content string
	Calls   []inference.ToolCall // IDs cleared
	Finish  string
}

// scanAll runs text through a scanner in pieces of size n (0: whole).
func scanAll(p *toolPlan, text string, n int) scanned {
	var pieces []string
	if n == 0 {
		pieces = []string{text}
	}
	for i := 0; n > 0 && i < len(text); i += n {
		pieces = append(pieces, text[i:min(i+n, len(text))])
	}
	all := ""
	for _, piece := range pieces {
		all += piece
	}
	msg, finish := toolMessage(p, all, "stop")
	// The streamed deltas must assemble into the same calls.
	sc := newToolScanner(p)
	var content strings.Builder
	var calls []inference.ToolCall
	for _, piece := range pieces {
		c, deltas := sc.push(piece)
		content.WriteString(c)
		for _, d := range deltas {
			if d.ID != "" {
				if d.Type != "function" || d.Function.Arguments != "" || *d.Index != len(calls) {
					return scanned{Content: "bad first delta"}
				}
				calls = append(calls, inference.ToolCall{Type: d.Type, Function: d.Function})
				continue
			}
			calls[*d.Index].Function.Arguments += d.Function.Arguments
		}
	}
	content.WriteString(sc.finish())
	for i := range msg.ToolCalls {
		if !strings.HasPrefix(msg.ToolCalls[i].ID, "call_") {
			return scanned{Content: "bad id " + msg.ToolCalls[i].ID}
		}
		msg.ToolCalls[i].ID = ""
	}
	got := scanned{Content: msg.Content.String(), Calls: msg.ToolCalls, Finish: finish}
	if msg.Content == nil {
		got.Content = "<null>"
	}
	streamed := scanned{Content: content.String(), Calls: calls, Finish: got.Finish}
	if trimSpace(streamed.Content) == "" && len(calls) > 0 {
		streamed.Content = "<null>"
	}
	if diff := cmp.Diff(got, streamed); diff != "" {
		return scanned{Content: "streamed differs: " + diff}
	}
	return got
}

func call(name, args string) inference.ToolCall {
	return inference.ToolCall{Type: "function", Function: inference.FunctionCall{Name: name, Arguments: args}}
}

func TestToolScanner(t *testing.T) {
	names := map[string]bool{"get_weather": true, "add": true}
	plan := func(f chat.Family, forced bool) *toolPlan {
		return &toolPlan{format: formatOf(f), names: names, forced: forced}
	}
	tests := []struct {
		name string
		plan *toolPlan
		text string
		want scanned
	}{
		{"hermes text only", plan(chat.FamilyChatML, false), "It is sunny <tool today.", scanned{Content: "It is sunny <tool today.", Finish: "stop"}},
		{"hermes one call", plan(chat.FamilyChatML, false), "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
			scanned{Content: "<null>", Calls: []inference.ToolCall{call("get_weather", `{"city": "Paris"}`)}, Finish: "tool_calls"}},
		{"hermes text then two calls", plan(chat.FamilyChatML, false),
			"Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"a}\\\"b\"}}\n</tool_call>\n<tool_call>\n{\"name\":\"add\",\"arguments\":{\"x\":[1,{\"y\":2}]}}\n</tool_call>",
			scanned{Content: "Let me check.\n", Calls: []inference.ToolCall{call("get_weather", `{"city": "a}\"b"}`), call("add", `{"x":[1,{"y":2}]}`)}, Finish: "tool_calls"}},
		{"hermes unknown function stays text", plan(chat.FamilyChatML, false), "<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>",
			scanned{Content: "<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>", Finish: "stop"}},
		{"hermes forced", plan(chat.FamilyChatML, true), `{"name":"add","arguments":{"a":1,"b":2}}`,
			scanned{Content: "<null>", Calls: []inference.ToolCall{call("add", `{"a":1,"b":2}`)}, Finish: "tool_calls"}},
		{"llama3 call", plan(chat.FamilyLlama3, false), ` {"name": "get_weather", "parameters": {"city": "Oslo"}}`,
			scanned{Content: "<null>", Calls: []inference.ToolCall{call("get_weather", `{"city": "Oslo"}`)}, Finish: "tool_calls"}},
		{"llama3 text with braces later", plan(chat.FamilyLlama3, false), `Use {"name": "get_weather"} maybe`,
			scanned{Content: `Use {"name": "get_weather"} maybe`, Finish: "stop"}},
		{"mistral calls", plan(chat.FamilyMistral, false), `[TOOL_CALLS] [{"name": "add", "arguments": {"a": 1}}, {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "abc123xyz"}]`,
			scanned{Content: "<null>", Calls: []inference.ToolCall{call("add", `{"a": 1}`), call("get_weather", `{"city": "Rome"}`)}, Finish: "tool_calls"}},
		{"generic wrapped", plan(chat.FamilyPlain, true), `{"tool_calls":[{"name":"add","arguments":{"a":"x"}}]}`,
			scanned{Content: "<null>", Calls: []inference.ToolCall{call("add", `{"a":"x"}`)}, Finish: "tool_calls"}},
		{"generic plain answer", plan(chat.FamilyZephyr, false), `Hello {there}`, scanned{Content: `Hello {there}`, Finish: "stop"}},
	}
	for _, tt := range tests {
		for _, n := range []int{0, 1, 3, 7} {
			if got := scanAll(tt.plan, tt.text, n); !cmp.Equal(tt.want, got) {
				t.Errorf("%s, pieces of %d: (-want +got):\n%s", tt.name, n, cmp.Diff(tt.want, got))
			}
		}
	}
}

// TestToolResultsRender: an assistant turn with tool calls and the tool's
// result render back through the family's template in its syntax.
func TestToolResultsRender(t *testing.T) {
	msgs, err := chatMessages([]inference.Message{
		{Role: "user", Content: inference.TextContent("Weather in Paris?")},
		{Role: "assistant", ToolCalls: []inference.ToolCall{{ID: "call_1", Type: "function",
			Function: inference.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{Role: "tool", ToolCallID: "call_1", Content: inference.TextContent("22C")},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		family chat.Family
		want   []string
	}{
		{chat.FamilyChatML, []string{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "<tool_response>\n22C\n</tool_response>"}},
		{chat.FamilyLlama3, []string{`{"name": "get_weather", "parameters": {"city": "Paris"}}`, "<|start_header_id|>ipython<|end_header_id|>\n\n22C"}},
	}
	for _, tt := range tests {
		prompt, err := chat.Builtin(tt.family).Render(msgs, nil, chat.Options{AddGenerationPrompt: true})
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, w := range tt.want {
			if !strings.Contains(prompt, w) {
				missing = append(missing, w)
			}
		}
		if diff := cmp.Diff([]string(nil), missing); diff != "" {
			t.Errorf("%v prompt %q lacks (-want +got):\n%s", tt.family, prompt, diff)
		}
		// The rendered call parses back as the same call.
		if tt.family == chat.FamilyChatML {
			i := strings.Index(prompt, "<tool_call>")
			j := strings.Index(prompt, "</tool_call>")
			msg, _ := toolMessage(&toolPlan{format: formatOf(tt.family), names: map[string]bool{"get_weather": true}}, prompt[i:j+len("</tool_call>")], "stop")
			if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Arguments != `{"city": "Paris"}` {
				t.Errorf("round trip: %+v", msg.ToolCalls)
			}
		}
	}
}

func TestCallGrammarSource(t *testing.T) {
	tools := []inference.Tool{
		{Type: "function", Function: inference.FunctionDef{Name: "a", Parameters: []byte(`{"type":"object","properties":{"n":{"$ref":"#/$defs/n"},"z":{"type":"string"}},"$defs":{"n":{"type":"integer"}}}`)}},
		{Type: "function", Function: inference.FunctionDef{Name: "b"}},
	}
	got, err := callGrammarSource(formatOf(chat.FamilyMistral), tools, map[string]bool{"a": true, "b": true}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"array","items":{"anyOf":[` +
		`{"type":"object","properties":{"name":{"const":"a"},"arguments":{"$ref":"#/$defs/p0"}},"required":["name","arguments"],"additionalProperties":false},` +
		`{"type":"object","properties":{"name":{"const":"b"},"arguments":{"$ref":"#/$defs/p1"}},"required":["name","arguments"],"additionalProperties":false}]},"minItems":1,"maxItems":1,` +
		`"$defs":{"p0":{"type":"object","properties":{"n":{"$ref":"#/$defs/p0/$defs/n"},"z":{"type":"string"}},"$defs":{"n":{"type":"integer"}}},"p1":{"type":"object"}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
