package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/testenv"
)

// obj is a strict object schema with the given properties (all required,
// in order).
func obj(props ...string) string {
	var names []string
	for i := 0; i < len(props); i += 2 {
		names = append(names, fmt.Sprintf("%q", props[i]))
	}
	var body []string
	for i := 0; i < len(props); i += 2 {
		body = append(body, fmt.Sprintf("%q:%s", props[i], props[i+1]))
	}
	return `{"type":"object","properties":{` + strings.Join(body, ",") + `},"required":[` + strings.Join(names, ",") + `],"additionalProperties":false}`
}

// word is a short string: random weights would otherwise write strings
// until max_tokens.
const word = `{"type":"string","pattern":"^[a-z]{1,6}$"}`

// structuredSchemas are strict schemas covering the subset: types,
// nullable unions, enums, const, nesting, arrays with bounds, anyOf,
// $defs/$ref (recursive too), formats and integer ranges.
var structuredSchemas = []string{
	obj("name", word),
	obj("ok", `{"type":"boolean"}`),
	obj("n", `{"type":"integer","minimum":0,"maximum":99}`),
	obj("color", `{"enum":["red","green","blue"]}`),
	obj("kind", `{"const":"fixed"}`, "v", `{"type":"integer","minimum":1,"maximum":9}`),
	obj("maybe", `{"type":["string","null"],"pattern":"^[a-z]{0,4}$"}`),
	obj("tags", `{"type":"array","items":`+word+`,"minItems":1,"maxItems":3}`),
	obj("point", obj("x", `{"type":"integer","minimum":-50,"maximum":50}`, "y", `{"type":"integer","minimum":-50,"maximum":50}`)),
	obj("when", `{"type":"string","format":"date"}`),
	obj("id", `{"type":"string","format":"uuid"}`),
	obj("either", `{"anyOf":[{"type":"integer","minimum":0,"maximum":9},{"type":"boolean"}]}`),
	obj("items", `{"type":"array","items":`+obj("sku", word, "qty", `{"type":"integer","minimum":1,"maximum":20}`)+`,"maxItems":2}`),
	obj("a", `{"type":"null"}`, "b", `{"type":"boolean"}`, "c", `{"enum":[1,2,3]}`),
	`{"type":"object","properties":{"root":{"$ref":"#/$defs/node"}},"required":["root"],"additionalProperties":false,"$defs":{"node":` +
		obj("v", `{"type":"integer","minimum":0,"maximum":9}`, "next", `{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}`) + `}}`,
	obj("user", obj("name", word, "age", `{"type":"integer","minimum":0,"maximum":120}`, "admin", `{"type":"boolean"}`)),
	obj("matrix", `{"type":"array","items":{"type":"array","items":{"enum":[0,1]},"minItems":2,"maxItems":2},"minItems":2,"maxItems":2}`),
	obj("code", `{"type":"string","pattern":"^[A-Z]{2}-[0-9]{3}$"}`),
	obj("status", `{"enum":["ok","error",null]}`, "count", `{"type":["integer","null"],"minimum":0,"maximum":5}`),
	obj("deep", obj("l1", obj("l2", obj("l3", `{"type":"boolean"}`)))),
	obj("empty", `{"type":"array","items":{"type":"boolean"},"maxItems":0}`, "s", word),
}

// compileValidator compiles a schema with jsonschema/v6.
func compileValidator(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("s.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("s.json")
	if err != nil {
		t.Fatalf("%s: %v", schema, err)
	}
	return s
}

// validJSON reports why text is not a valid instance of s.
func validJSON(s *jsonschema.Schema, text string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// schemaFormat is the SDK's strict json_schema response format.
func schemaFormat(t *testing.T, name, schema string) openai.ChatCompletionNewParamsResponseFormatUnion {
	var v map[string]any
	if err := json.Unmarshal([]byte(schema), &v); err != nil {
		t.Fatal(err)
	}
	return openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
		JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: name, Schema: v, Strict: openai.Bool(true)}}}
}

// structuredRun sends every schema with several seeds to model and checks
// that every answer that finished with "stop" validates.
func structuredRun(t *testing.T, e *testenv.Env, model string, seeds int, maxTokens int64) {
	ctx := context.Background()
	c := clients(e, e.Key1)["openai"]
	valid, cut := 0, 0
	for i, schema := range structuredSchemas {
		v := compileValidator(t, schema)
		for seed := range int64(seeds) {
			var hr *http.Response
			r, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:          model,
				Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Answer in JSON.")},
				ResponseFormat: schemaFormat(t, fmt.Sprintf("s%d", i), schema),
				Seed:           openai.Int(seed), Temperature: openai.Float(1), MaxTokens: openai.Int(maxTokens),
			}, option.WithResponseInto(&hr))
			if err != nil {
				t.Fatalf("schema %d seed %d: %v", i, seed, err)
			}
			if got := hr.Header.Get("x-cerulean-structured-output"); got != "grammar" {
				t.Errorf("schema %d: mode header %q, want grammar", i, got)
			}
			out := r.Choices[0].Message.Content
			if r.Choices[0].FinishReason != "stop" {
				cut++
				continue
			}
			if err := validJSON(v, out); err != nil {
				t.Errorf("schema %d seed %d: %q does not validate: %v", i, seed, out, err)
				continue
			}
			valid++
		}
	}
	t.Logf("%s: %d of %d answers finished with stop and validated; %d cut by max_tokens=%d", model, valid, valid+cut, cut, maxTokens)
	if valid < (valid+cut)*3/4 {
		t.Errorf("only %d of %d answers finished", valid, valid+cut)
	}
}

// TestStructuredOutputsDemo: the official SDK's strict json_schema call
// against the random-weight demo model (the hardest case: nothing but the
// grammar makes it write JSON) returns valid JSON every time it finishes.
func TestStructuredOutputsDemo(t *testing.T) {
	e := testenv.New(t)
	roomy(t, e, "demo")
	structuredRun(t, e, "demo", 3, 400)
}

// TestStructuredOutputsStories: the same with a real tokenizer (stories260K:
// SentencePiece, multi-byte pieces).
func TestStructuredOutputsStories(t *testing.T) {
	path := testenv.SharedModel(t, "stories260K.gguf")
	e := testenv.NewWith(t, testenv.Options{Args: []string{"--model", path, "--demo=false"}})
	roomy(t, e, "stories260K")
	structuredRun(t, e, "stories260K", 2, 400)
}

const lookupParams = `{"type":"object","properties":{"city":{"type":"string","pattern":"^[A-Z][a-z]{1,8}$"},"days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"],"additionalProperties":false}`

// TestForcedToolCallsSDK: tool_choice required and a named function, with
// and without streaming, through the SDK: the calls parse and their
// arguments validate against the parameters.
func TestForcedToolCallsSDK(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	roomy(t, e, "demo")
	c := clients(e, e.Key1)["azure"]
	var params map[string]any
	json.Unmarshal([]byte(lookupParams), &params)
	v := compileValidator(t, lookupParams)
	tools := []openai.ChatCompletionToolUnionParam{
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "lookup", Parameters: params, Strict: openai.Bool(true)}),
		openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "noop"}),
	}
	choices := map[string]openai.ChatCompletionToolChoiceOptionUnionParam{
		"required": {OfAuto: openai.String("required")},
		"named":    {OfFunctionToolChoice: &openai.ChatCompletionNamedToolChoiceParam{Function: openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "lookup"}}},
	}
	complete := 0
	defer func() {
		t.Logf("%d of 12 forced answers complete and checked", complete)
		if complete < 6 {
			t.Errorf("only %d of 12 forced answers were complete", complete)
		}
	}()
	for name, choice := range choices {
		for seed := range int64(3) {
			p := openai.ChatCompletionNewParams{Model: "demo", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Oslo?")},
				Tools: tools, ToolChoice: choice, Seed: openai.Int(seed), MaxTokens: openai.Int(300)}
			r, err := c.Chat.Completions.New(ctx, p)
			if err != nil {
				var ae *openai.Error
				if asError(err, &ae) {
					t.Fatalf("%s: %v: %s", name, err, ae.RawJSON())
				}
				t.Fatalf("%s: %v", name, err)
			}
			ch := r.Choices[0]
			if checkCall(t, name, v, string(ch.FinishReason), ch.Message.ToolCalls, name == "named") {
				complete++
			}

			s := c.Chat.Completions.NewStreaming(ctx, p)
			var acc openai.ChatCompletionAccumulator
			for s.Next() {
				acc.AddChunk(s.Current())
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if len(acc.Choices) == 0 {
				t.Fatalf("%s stream: no choices", name)
			}
			if checkCall(t, name+" stream", v, string(acc.Choices[0].FinishReason), acc.Choices[0].Message.ToolCalls, name == "named") {
				complete++
			}
		}
	}
}

// checkCall checks a forced answer: one call whose arguments validate. It
// reports whether the answer was complete (not cut by max_tokens).
func checkCall(t *testing.T, name string, v *jsonschema.Schema, finish string, calls []openai.ChatCompletionMessageToolCallUnion, mustLookup bool) bool {
	t.Helper()
	if finish == "length" {
		return false
	}
	if finish != "tool_calls" || len(calls) != 1 {
		t.Errorf("%s: finish %q, %d calls", name, finish, len(calls))
		return true
	}
	call := calls[0]
	if !strings.HasPrefix(call.ID, "call_") || call.Type != "function" {
		t.Errorf("%s: call id %q type %q", name, call.ID, call.Type)
	}
	if mustLookup && call.Function.Name != "lookup" {
		t.Errorf("%s: called %q", name, call.Function.Name)
	}
	if call.Function.Name == "lookup" {
		if err := validJSON(v, call.Function.Arguments); err != nil {
			t.Errorf("%s: arguments %s: %v", name, call.Function.Arguments, err)
		}
	} else if !json.Valid([]byte(call.Function.Arguments)) {
		t.Errorf("%s: arguments %q are not JSON", name, call.Function.Arguments)
	}
	return true
}

// TestStructuredUpstream: an upstream model is checked after the fact. The
// fake upstream answers prose, so a schema request is a 502 naming the
// error; an upstream that is this server's own demo deployment (grammar
// constrained) passes the check and is reported as validated.
func TestStructuredUpstream(t *testing.T) {
	e := testenv.New(t)
	ctx := context.Background()
	e.Deploy(t, "chat")
	if _, err := e.Admin.CreateModel(ctx, api.Model{Name: "loop", Versions: []api.ModelVersion{{
		Version: "1", Format: "upstream", Upstream: &api.Upstream{BaseURL: e.URL + "/v1", Model: "demo", APIKey: e.Key1},
		Capabilities: api.Capabilities{Chat: true}, ContextLength: 2048,
	}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.CreateDeployment(ctx, "default", api.Deployment{Name: "loop", Model: api.DeploymentModel{Name: "loop"},
		SKU: api.SKU{Name: "Standard", Capacity: 200}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := e.Admin.WaitDeployment(wctx, "default", "loop"); err != nil {
		t.Fatal(err)
	}
	c := clients(e, e.Key1)["openai"]
	schema := obj("name", word, "n", `{"type":"integer","minimum":0,"maximum":9}`)
	params := func(model string) openai.ChatCompletionNewParams {
		return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("JSON please")},
			ResponseFormat: schemaFormat(t, "r", schema), Seed: openai.Int(1), MaxTokens: openai.Int(200)}
	}
	_, err := c.Chat.Completions.New(ctx, params("chat"))
	var apiErr *openai.Error
	if !asError(err, &apiErr) || apiErr.StatusCode != http.StatusBadGateway || !strings.Contains(apiErr.Message, "not valid JSON") {
		t.Errorf("fake upstream: error %v, want a 502 saying the output is not valid JSON", err)
	}
	var hr *http.Response
	r, err := c.Chat.Completions.New(ctx, params("loop"), option.WithResponseInto(&hr))
	if err != nil {
		t.Fatal(err)
	}
	if got := hr.Header.Get("x-cerulean-structured-output"); got != "validated" {
		t.Errorf("mode %q, want validated", got)
	}
	if err := validJSON(compileValidator(t, schema), r.Choices[0].Message.Content); err != nil && r.Choices[0].FinishReason == "stop" {
		t.Errorf("%q: %v", r.Choices[0].Message.Content, err)
	}
}

// roomy raises a deployment's capacity so that many requests with a large
// max_tokens pass token-rate admission.
func roomy(t *testing.T, e *testenv.Env, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Admin.WaitDeployment(ctx, "default", name); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.UpdateDeployment(ctx, "default", name, api.DeploymentUpdate{Capacity: openai.Ptr(1000)}); err != nil {
		t.Fatalf("raise capacity: %v", err)
	}
}

// asError is errors.As for the SDK's error.
func asError(err error, target **openai.Error) bool {
	e, ok := err.(*openai.Error)
	if ok {
		*target = e
	}
	return ok
}
