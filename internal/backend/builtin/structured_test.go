package builtin_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cerulean-ai/cerulean/internal/backend/builtin"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// chatMLTemplate is a ChatML template that ignores tools (the engine then
// describes them in a system message).
const chatMLTemplate = `{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// validator compiles a JSON schema for checking outputs.
func validator(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// validate reports why text is not an instance of s.
func validate(s *jsonschema.Schema, text string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

const weatherParams = `{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"enum":["c","f"]},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","unit","days"],"additionalProperties":false}`
const addParams = `{"type":"object","properties":{"a":{"type":"number"},"b":{"$ref":"#/$defs/n"}},"required":["a","b"],"additionalProperties":false,"$defs":{"n":{"type":"integer"}}}`

func toolReq(choice *inference.ToolChoice, parallel bool, seed int64) *inference.ChatRequest {
	return &inference.ChatRequest{
		Messages: []inference.Message{{Role: "user", Content: inference.TextContent("What is the weather in Paris?")}},
		Tools: []inference.Tool{
			{Type: "function", Function: inference.FunctionDef{Name: "get_weather", Parameters: json.RawMessage(weatherParams)}},
			{Type: "function", Function: inference.FunctionDef{Name: "add", Parameters: json.RawMessage(addParams)}},
		},
		ToolChoice: choice, ParallelToolCalls: &parallel, Seed: &seed, MaxTokens: ptr(200),
	}
}

func TestForcedToolCalls(t *testing.T) {
	for _, tmpl := range []string{chatMLTemplate, ""} { // ChatML (Hermes syntax) and plain (generic syntax)
		path := writeTiny(t, tinySpec{seed: 11, ctx: 1024, template: tmpl})
		b, target := newBackend(t, path, builtin.Options{})
		schemas := map[string]*jsonschema.Schema{"get_weather": validator(t, weatherParams), "add": validator(t, addParams)}
		called := 0
		defer func() {
			if called < 12 {
				t.Errorf("template %t: only %d of 48 forced generations ended with a call", tmpl != "", called)
			}
		}()
		for _, choice := range []*inference.ToolChoice{{Mode: "required"}, {Function: "add"}, {Function: "get_weather"}} {
			for seed := range int64(4) {
				name := fmt.Sprintf("template %t, choice %+v, seed %d", tmpl != "", *choice, seed)
				for _, stream := range []bool{false, true} {
					msg, finish, mode := runChat(t, b, target, toolReq(choice, false, seed), stream)
					if finish == "length" {
						continue
					}
					if finish != "tool_calls" || len(msg.ToolCalls) != 1 || msg.Content != nil || mode != "grammar" {
						t.Errorf("%s stream %t: finish %q, mode %q, message %+v", name, stream, finish, mode, msg)
						continue
					}
					called++
					c := msg.ToolCalls[0]
					if choice.Function != "" && c.Function.Name != choice.Function {
						t.Errorf("%s: called %q", name, c.Function.Name)
					}
					if !strings.HasPrefix(c.ID, "call_") || c.Type != "function" {
						t.Errorf("%s: call %+v", name, c)
					}
					if err := validate(schemas[c.Function.Name], c.Function.Arguments); err != nil {
						t.Errorf("%s stream %t: arguments %s: %v", name, stream, c.Function.Arguments, err)
					}
				}
			}
		}
	}
}

// runChat answers req, streamed or not, and returns the first choice's
// message (assembled from the deltas when streamed).
func runChat(t *testing.T, b *builtin.Backend, target inference.Target, req *inference.ChatRequest, stream bool) (inference.Message, string, string) {
	t.Helper()
	if !stream {
		resp, err := b.Chat(t.Context(), target, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Choices[0].Message, resp.Choices[0].FinishReason, resp.StructuredOutput
	}
	var msg inference.Message
	var content strings.Builder
	var finish, mode string
	_, err := b.ChatStream(t.Context(), target, req, func(c *inference.ChatChunk) error {
		if mode == "" {
			mode = c.StructuredOutput
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				content.WriteString(*ch.Delta.Content)
			}
			for _, d := range ch.Delta.ToolCalls {
				if d.ID != "" {
					msg.ToolCalls = append(msg.ToolCalls, inference.ToolCall{ID: d.ID, Type: d.Type, Function: d.Function})
				} else {
					msg.ToolCalls[*d.Index].Function.Arguments += d.Function.Arguments
				}
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if content.Len() > 0 {
		msg.Content = inference.TextContent(content.String())
	}
	return msg, finish, mode
}

func TestResponseFormatOnTinyModel(t *testing.T) {
	b, target := newBackend(t, writeTiny(t, tinySpec{seed: 11, ctx: 1024, template: chatMLTemplate}), builtin.Options{})
	schema := `{"type":"object","properties":{"title":{"type":"string"},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3},"score":{"type":["number","null"]}},"required":["title","tags","score"],"additionalProperties":false}`
	v := validator(t, schema)
	formats := []*inference.ResponseFormat{
		{Type: "json_object"},
		{Type: "json_schema", JSONSchema: &inference.JSONSchema{Name: "r", Schema: json.RawMessage(schema), Strict: ptr(true)}},
	}
	stops := 0
	for _, rf := range formats {
		for seed := range int64(6) {
			req := chatReq("Give me JSON", 300)
			req.Temperature, req.Seed, req.ResponseFormat, req.Stop = nil, &seed, rf, inference.Strings{"}"}
			for _, stream := range []bool{false, true} {
				msg, finish, mode := runChat(t, b, target, req, stream)
				if mode != "grammar" {
					t.Errorf("mode %q", mode)
				}
				if finish != "stop" {
					continue
				}
				stops++
				var any map[string]any
				if err := json.Unmarshal([]byte(msg.Content.String()), &any); err != nil {
					t.Errorf("%s seed %d: %q is not a JSON object: %v", rf.Type, seed, msg.Content.String(), err)
				}
				if rf.Type == "json_schema" {
					if err := validate(v, msg.Content.String()); err != nil {
						t.Errorf("seed %d: %s: %v", seed, msg.Content.String(), err)
					}
				}
			}
		}
	}
	if stops == 0 {
		t.Error("no output finished with stop")
	}
}

func TestAutoToolCallsStayText(t *testing.T) {
	// With random weights and tool_choice auto the model writes text: no
	// tool calls are invented, and the finish reason is not tool_calls.
	b, target := newBackend(t, writeTiny(t, tinySpec{seed: 11, ctx: 1024, template: chatMLTemplate}), builtin.Options{})
	req := toolReq(&inference.ToolChoice{Mode: "auto"}, true, 1)
	req.MaxTokens = ptr(20)
	resp, err := b.Chat(t.Context(), target, req)
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Choices[0]
	if len(got.Message.ToolCalls) != 0 || got.FinishReason == "tool_calls" || resp.StructuredOutput != "" {
		t.Errorf("choice %+v, mode %q", got, resp.StructuredOutput)
	}
}

func TestSchemaErrorsOnTinyModel(t *testing.T) {
	b, target := newBackend(t, tinyPath(t), builtin.Options{})
	req := chatReq("x", 5)
	req.ResponseFormat = &inference.ResponseFormat{Type: "json_schema", JSONSchema: &inference.JSONSchema{Name: "r",
		Schema: json.RawMessage(`{"type":"object","properties":{"s":{"type":"string","pattern":"(a)\\1"}}}`)}}
	_, err := b.Chat(t.Context(), target, req)
	got := problemOf(err)
	if diff := cmp.Diff(problem{Code: "unsupported_value", Param: "response_format.json_schema.schema"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// problem is the code and param of a request error.
type problem struct{ Code, Param string }

func problemOf(err error) problem {
	f, ok := fault.As(err)
	if !ok {
		return problem{Code: fmt.Sprint(err)}
	}
	return problem{f.Code, f.Param}
}
