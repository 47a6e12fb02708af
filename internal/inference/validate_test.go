package inference

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// problem is what a validation error says.
type problem struct{ Code, Param string }

func problemOf(err error) problem {
	if err == nil {
		return problem{}
	}
	f, ok := fault.As(err)
	if !ok || f.Kind != fault.Invalid {
		return problem{Code: "not an Invalid fault: " + err.Error()}
	}
	return problem{f.Code, f.Param}
}

func TestChatValidate(t *testing.T) {
	cases := []struct {
		name, body string
		want       problem
	}{
		{"minimal", `{"messages":[{"role":"user","content":"hi"}]}`, problem{}},
		{"everything valid", `{"messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:,","detail":"high"}}]},
			{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"1"}],
			"temperature":2,"top_p":0,"n":128,"stop":"x","presence_penalty":-2,"frequency_penalty":2,"logit_bias":{"0":-100,"50256":100},
			"logprobs":true,"top_logprobs":20,"seed":-9223372036854775808,"max_tokens":1,"max_completion_tokens":5,"stream":true,"stream_options":{"include_usage":true},
			"response_format":{"type":"json_schema","json_schema":{"name":"A_b-9","schema":{"type":"object","properties":{"a":{"type":["string","null"]}},"required":["a"],"additionalProperties":false},"strict":true}},
			"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false,
			"metadata":{"k":"v"},"reasoning_effort":"low","unknown_field":{"ignored":true}}`, problem{}},
		{"assistant content null without calls", `{"messages":[{"role":"assistant","content":null}]}`, problem{"missing_required_parameter", "messages[0].content"}},
		{"function message without name", `{"messages":[{"role":"function","content":"x"}]}`, problem{"missing_required_parameter", "messages[0].name"}},
		{"tool call without id", `{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":""}}]}]}`, problem{"missing_required_parameter", "messages[0].tool_calls[0].id"}},
		{"tool calls on a user message", `{"messages":[{"role":"user","content":"x","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":""}}]}]}`, problem{"invalid_value", "messages[0].tool_calls"}},
		{"refusal part on user", `{"messages":[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]}`, problem{"invalid_value", "messages[0].content[0].type"}},
		{"empty parts", `{"messages":[{"role":"user","content":[]}]}`, problem{"empty_array", "messages[0].content"}},
		{"image detail", `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","detail":"max"}}]}]}`, problem{"invalid_value", "messages[0].content[0].image_url.detail"}},
		{"audio format", `{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAA","format":"ogg"}}]}]}`, problem{"invalid_value", "messages[0].content[0].input_audio.format"}},
		{"duplicate tool", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}`, problem{"invalid_value", "tools[1].function.name"}},
		{"tool parameters not an object", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}`, problem{"invalid_type", "tools[0].function.parameters"}},
		{"required without tools", `{"messages":[{"role":"user","content":"x"}],"tool_choice":"required"}`, problem{"invalid_value", "tool_choice"}},
		{"reasoning effort", `{"messages":[{"role":"user","content":"x"}],"reasoning_effort":"max"}`, problem{"invalid_value", "reasoning_effort"}},
		{"too much metadata", `{"messages":[{"role":"user","content":"x"}],"metadata":{"1":"","2":"","3":"","4":"","5":"","6":"","7":"","8":"","9":"","10":"","11":"","12":"","13":"","14":"","15":"","16":"","17":""}}`, problem{"invalid_value", "metadata"}},
		{"negative token id in logit_bias", `{"messages":[{"role":"user","content":"x"}],"logit_bias":{"-1":1}}`, problem{"invalid_value", "logit_bias"}},
		{"min_p", `{"messages":[{"role":"user","content":"x"}],"min_p":1.5}`, problem{"decimal_above_max_value", "min_p"}},
		{"repetition_penalty", `{"messages":[{"role":"user","content":"x"}],"repetition_penalty":0}`, problem{"invalid_value", "repetition_penalty"}},
		{"long stop", `{"messages":[{"role":"user","content":"x"}],"stop":["` + strings.Repeat("a", MaxStopLen+1) + `"]}`, problem{"string_above_max_length", "stop[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r ChatRequest
			if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, problemOf(r.Validate())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaxOutputTokens(t *testing.T) {
	ten, twenty := 10, 20
	cases := []struct {
		r    ChatRequest
		want int
	}{
		{ChatRequest{}, 0},
		{ChatRequest{MaxTokens: &ten}, 10},
		{ChatRequest{MaxCompletionTokens: &twenty}, 20},
		{ChatRequest{MaxTokens: &ten, MaxCompletionTokens: &twenty}, 20},
	}
	for _, tc := range cases {
		if got := tc.r.MaxOutputTokens(); got != tc.want {
			t.Errorf("MaxOutputTokens(%v, %v) = %d, want %d", tc.r.MaxTokens, tc.r.MaxCompletionTokens, got, tc.want)
		}
	}
}

func TestLegacyValidate(t *testing.T) {
	cases := []struct {
		name, body string
		embed      bool
		want       problem
	}{
		{"prompt string", `{"prompt":"a","max_tokens":0,"echo":true,"logprobs":5,"best_of":20,"n":3}`, false, problem{}},
		{"prompt tokens", `{"prompt":[1,2]}`, false, problem{}},
		{"prompt empty array", `{"prompt":[]}`, false, problem{"empty_array", "prompt"}},
		{"prompt negative token", `{"prompt":[[1],[-2]]}`, false, problem{"invalid_value", "prompt[1]"}},
		{"too many prompts", `{"prompt":[` + repeatJSON(`"a"`, MaxPrompts+1) + `]}`, false, problem{"array_above_max_length", "prompt"}},
		{"embedding tokens", `{"input":[[1,2],[3]],"dimensions":8}`, true, problem{}},
		{"embedding empty tokens", `{"input":[[1],[]]}`, true, problem{"empty_array", "input[1]"}},
		{"dimensions too large", `{"input":"a","dimensions":70000}`, true, problem{"integer_above_max_value", "dimensions"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v interface{ Validate() error } = &CompletionRequest{}
			if tc.embed {
				v = &EmbeddingRequest{}
			}
			if err := json.Unmarshal([]byte(tc.body), v); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, problemOf(v.Validate())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func repeatJSON(s string, n int) string {
	b := make([]byte, 0, n*(len(s)+1))
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	return string(b)
}

func TestStrictSchemas(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"x"}]`
	rf := func(schema string) string {
		return `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":` + schema + `}}}`
	}
	tool := func(schema string, strict bool) string {
		s := "false"
		if strict {
			s = "true"
		}
		return `{` + msgs + `,"tools":[{"type":"function","function":{"name":"ok","parameters":{"type":"object"}}},{"type":"function","function":{"name":"f","strict":` + s + `,"parameters":` + schema + `}}]}`
	}
	type want struct {
		Code, Param, Path string // Path: text the message must contain
	}
	cases := []struct {
		name, body string
		want       want
	}{
		{"strict ok", rf(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`), want{}},
		{"non-strict loose schema", `{` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","allOf":[]}}}}`, want{}},
		{"missing additionalProperties", rf(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`),
			want{"invalid_value", "response_format.json_schema.schema", "context=#"}},
		{"nested optional property", rf(`{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"string"}},"required":[],"additionalProperties":false}},"required":["a"],"additionalProperties":false}`),
			want{"invalid_value", "response_format.json_schema.schema", "#/properties/a"}},
		{"unsupported keyword in items", rf(`{"type":"object","properties":{"l":{"type":"array","items":{"type":"string","minLength":2}}},"required":["l"],"additionalProperties":false}`),
			want{"invalid_value", "response_format.json_schema.schema", "#/properties/l/items"}},
		{"root anyOf", rf(`{"anyOf":[{"type":"object","properties":{},"required":[],"additionalProperties":false}]}`),
			want{"invalid_value", "response_format.json_schema.schema", "context=#"}},
		{"strict tool", tool(`{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}`, true), want{}},
		{"strict tool violation", tool(`{"type":"object","properties":{"x":{"type":"integer"}},"additionalProperties":false}`, true),
			want{"invalid_value", "tools[1].function.parameters", "function 'f'"}},
		{"non-strict tool", tool(`{"type":"object","properties":{"x":{"type":"integer"}}}`, false), want{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r ChatRequest
			if err := json.Unmarshal([]byte(tc.body), &r); err != nil {
				t.Fatal(err)
			}
			err := r.Validate()
			var got want
			if err != nil {
				f, _ := fault.As(err)
				got = want{Code: f.Code, Param: f.Param, Path: tc.want.Path}
				if !strings.Contains(f.Message, tc.want.Path) {
					got.Path = "message " + f.Message
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
