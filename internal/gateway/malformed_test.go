package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	azChat  = "/openai/deployments/chat-dep/chat/completions?api-version=2024-10-21"
	azCompl = "/openai/deployments/chat-dep/completions?api-version=2024-10-21"
	azEmbed = "/openai/deployments/embed-dep/embeddings?api-version=2024-10-21"
	oaChat  = "/v1/chat/completions"
	oaCompl = "/v1/completions"
	oaEmbed = "/v1/embeddings"
	goodMsg = `{"role":"user","content":"hi"}`
)

// chatBody is a valid chat body with extra fields appended.
func chatBody(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"model":"chat-dep","messages":[` + goodMsg + `]` + extra + `}`
}

// messagesBody is a chat body with the given messages.
func messagesBody(msgs ...string) string {
	return `{"model":"chat-dep","messages":[` + strings.Join(msgs, ",") + `]}`
}

func repeat(s string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

// errorOf is the parts of an error envelope the table checks.
type errorOf struct {
	Status int
	Code   string
	Param  string
}

func parseError(t *testing.T, resp *http.Response) (errorOf, map[string]any) {
	t.Helper()
	body := readAll(t, resp)
	var env struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.Error == nil {
		t.Fatalf("status %d: body is not an error envelope: %q", resp.StatusCode, body)
	}
	got := errorOf{Status: resp.StatusCode}
	got.Code, _ = env.Error["code"].(string)
	got.Param, _ = env.Error["param"].(string)
	return got, env.Error
}

func TestMalformedRequests(t *testing.T) {
	h := newHarness(t, nil)
	noKey := map[string]string{}
	tools129 := `"tools":[` + repeat(`{"type":"function","function":{"name":"f"}}`, 129) + `]`
	deep := strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70)
	cases := []struct {
		name   string
		method string // default POST
		path   string
		header map[string]string
		body   string
		want   errorOf
	}{
		// Transport, routing, auth.
		{name: "bad JSON", path: oaChat, body: `{"messages":[`, want: errorOf{400, "invalid_json", ""}},
		{name: "trailing garbage", path: oaChat, body: chatBody("") + ` x`, want: errorOf{400, "invalid_json", ""}},
		{name: "empty body", path: azChat, body: ``, want: errorOf{400, "invalid_json", ""}},
		{name: "body is an array", path: oaChat, body: `[1,2]`, want: errorOf{400, "invalid_type", ""}},
		{name: "body is a string", path: azChat, body: `"hello"`, want: errorOf{400, "invalid_type", ""}},
		{name: "missing api-version", path: "/openai/deployments/chat-dep/chat/completions", body: chatBody(""), want: errorOf{400, "missing_required_parameter", "api-version"}},
		{name: "unknown api-version", path: "/openai/deployments/chat-dep/chat/completions?api-version=2019-01-01", body: chatBody(""), want: errorOf{400, "BadRequest", "api-version"}},
		{name: "future preview api-version", path: "/openai/deployments/chat-dep/chat/completions?api-version=2099-01-01-preview", body: chatBody(""), want: errorOf{400, "BadRequest", "api-version"}},
		{name: "dated api-version on v1", path: "/openai/v1/chat/completions?api-version=2024-10-21", body: chatBody(""), want: errorOf{400, "BadRequest", "api-version"}},
		{name: "bad Azure route", path: "/openai/deployments/chat-dep/chat/complete?api-version=2024-10-21", body: chatBody(""), want: errorOf{404, "404", ""}},
		{name: "bad OpenAI route", path: "/v1/chat/complete", body: chatBody(""), want: errorOf{404, "unknown_url", ""}},
		{name: "wrong method Azure", method: http.MethodGet, path: azChat, want: errorOf{405, "405", ""}},
		{name: "wrong method OpenAI", method: http.MethodDelete, path: oaChat, want: errorOf{405, "method_not_allowed", ""}},
		{name: "wrong method models", method: http.MethodPost, path: "/v1/models", body: `{}`, want: errorOf{405, "method_not_allowed", ""}},
		{name: "oversize body", path: oaChat, body: chatBody(`"user":"` + strings.Repeat("x", 300<<10) + `"`), want: errorOf{413, "request_too_large", ""}},
		{name: "no key Azure", path: azChat, header: noKey, body: chatBody(""), want: errorOf{401, "401", ""}},
		{name: "wrong key Azure", path: azChat, header: map[string]string{"api-key": "nope"}, body: chatBody(""), want: errorOf{401, "401", ""}},
		{name: "no key OpenAI", path: oaChat, header: noKey, body: chatBody(""), want: errorOf{401, "invalid_api_key", ""}},
		{name: "wrong bearer OpenAI", path: oaChat, header: map[string]string{"authorization": "Bearer nope"}, body: chatBody(""), want: errorOf{401, "invalid_api_key", ""}},
		{name: "other project's deployment", path: "/openai/deployments/b-dep/chat/completions?api-version=2024-10-21", body: chatBody(""), want: errorOf{404, "DeploymentNotFound", ""}},
		{name: "other project's deployment by model", path: oaChat, body: strings.Replace(chatBody(""), "chat-dep", "b-dep", 1), want: errorOf{404, "DeploymentNotFound", ""}},
		{name: "unknown deployment", path: "/openai/deployments/nope/chat/completions?api-version=2024-10-21", body: chatBody(""), want: errorOf{404, "DeploymentNotFound", ""}},
		{name: "deployment creating", path: "/openai/deployments/creating-dep/chat/completions?api-version=2024-10-21", body: chatBody(""), want: errorOf{404, "DeploymentNotFound", ""}},
		{name: "model missing on OpenAI route", path: oaChat, body: `{"messages":[` + goodMsg + `]}`, want: errorOf{400, "missing_required_parameter", "model"}},
		{name: "chat on embeddings deployment", path: "/openai/deployments/embed-dep/chat/completions?api-version=2024-10-21", body: chatBody(""), want: errorOf{400, "OperationNotSupported", ""}},
		// Chat messages.
		{name: "messages missing", path: oaChat, body: `{"model":"chat-dep"}`, want: errorOf{400, "missing_required_parameter", "messages"}},
		{name: "messages empty", path: oaChat, body: `{"model":"chat-dep","messages":[]}`, want: errorOf{400, "empty_array", "messages"}},
		{name: "messages an object", path: oaChat, body: `{"model":"chat-dep","messages":{}}`, want: errorOf{400, "invalid_type", "messages"}},
		{name: "too many messages", path: oaChat, body: messagesBody(repeat(goodMsg, 2049)), want: errorOf{400, "array_above_max_length", "messages"}},
		{name: "bad role", path: oaChat, body: messagesBody(goodMsg, `{"role":"bot","content":"x"}`), want: errorOf{400, "invalid_value", "messages[1].role"}},
		{name: "role not a string", path: azChat, body: messagesBody(goodMsg, `{"role":5,"content":"x"}`), want: errorOf{400, "invalid_type", "messages[1].role"}},
		{name: "user content missing", path: oaChat, body: messagesBody(`{"role":"user"}`), want: errorOf{400, "missing_required_parameter", "messages[0].content"}},
		{name: "content a number", path: oaChat, body: messagesBody(`{"role":"user","content":5}`), want: errorOf{400, "invalid_type", "messages[0].content"}},
		{name: "content part unknown type", path: oaChat, body: messagesBody(`{"role":"user","content":[{"type":"video"}]}`), want: errorOf{400, "invalid_value", "messages[0].content[0].type"}},
		{name: "content part type not a string", path: oaChat, body: messagesBody(goodMsg, `{"role":"user","content":[{"type":"text","text":"a"},{"type":1}]}`), want: errorOf{400, "invalid_type", "messages[1].content[1].type"}},
		{name: "image part without url", path: oaChat, body: messagesBody(`{"role":"user","content":[{"type":"image_url","image_url":{}}]}`), want: errorOf{400, "missing_required_parameter", "messages[0].content[0].image_url.url"}},
		{name: "image part on system message", path: oaChat, body: messagesBody(`{"role":"system","content":[{"type":"image_url","image_url":{"url":"http://x"}}]}`), want: errorOf{400, "invalid_value", "messages[0].content[0].type"}},
		{name: "tool message without tool_call_id", path: oaChat, body: messagesBody(goodMsg, `{"role":"tool","content":"42"}`), want: errorOf{400, "missing_required_parameter", "messages[1].tool_call_id"}},
		// Sampling.
		{name: "temperature a string", path: oaChat, body: chatBody(`"temperature":"hot"`), want: errorOf{400, "invalid_type", "temperature"}},
		{name: "temperature above 2", path: azChat, body: chatBody(`"temperature":2.5`), want: errorOf{400, "decimal_above_max_value", "temperature"}},
		{name: "temperature below 0", path: oaChat, body: chatBody(`"temperature":-0.1`), want: errorOf{400, "decimal_below_min_value", "temperature"}},
		{name: "temperature overflow", path: oaChat, body: chatBody(`"temperature":1e400`), want: errorOf{400, "invalid_type", "temperature"}},
		{name: "top_p above 1", path: oaChat, body: chatBody(`"top_p":1.5`), want: errorOf{400, "decimal_above_max_value", "top_p"}},
		{name: "n zero", path: oaChat, body: chatBody(`"n":0`), want: errorOf{400, "integer_below_min_value", "n"}},
		{name: "n above 128", path: oaChat, body: chatBody(`"n":129`), want: errorOf{400, "integer_above_max_value", "n"}},
		{name: "n a decimal", path: oaChat, body: chatBody(`"n":1.5`), want: errorOf{400, "invalid_type", "n"}},
		{name: "stop with 5 entries", path: oaChat, body: chatBody(`"stop":["a","b","c","d","e"]`), want: errorOf{400, "array_above_max_length", "stop"}},
		{name: "stop a number", path: oaChat, body: chatBody(`"stop":5`), want: errorOf{400, "invalid_type", "stop"}},
		{name: "stop element a number", path: oaChat, body: chatBody(`"stop":["a",1]`), want: errorOf{400, "invalid_type", "stop[1]"}},
		{name: "presence_penalty above 2", path: oaChat, body: chatBody(`"presence_penalty":2.5`), want: errorOf{400, "decimal_above_max_value", "presence_penalty"}},
		{name: "frequency_penalty below -2", path: oaChat, body: chatBody(`"frequency_penalty":-3`), want: errorOf{400, "decimal_below_min_value", "frequency_penalty"}},
		{name: "logit_bias key not a token id", path: oaChat, body: chatBody(`"logit_bias":{"abc":1}`), want: errorOf{400, "invalid_value", "logit_bias"}},
		{name: "logit_bias value above 100", path: oaChat, body: chatBody(`"logit_bias":{"50256":101}`), want: errorOf{400, "invalid_value", "logit_bias"}},
		{name: "logit_bias value a string", path: oaChat, body: chatBody(`"logit_bias":{"50256":"x"}`), want: errorOf{400, "invalid_type", "logit_bias"}},
		{name: "top_logprobs without logprobs", path: oaChat, body: chatBody(`"top_logprobs":3`), want: errorOf{400, "invalid_value", "top_logprobs"}},
		{name: "top_logprobs above 20", path: oaChat, body: chatBody(`"logprobs":true,"top_logprobs":21`), want: errorOf{400, "integer_above_max_value", "top_logprobs"}},
		{name: "logprobs a string", path: oaChat, body: chatBody(`"logprobs":"yes"`), want: errorOf{400, "invalid_type", "logprobs"}},
		{name: "max_tokens zero", path: oaChat, body: chatBody(`"max_tokens":0`), want: errorOf{400, "integer_below_min_value", "max_tokens"}},
		{name: "max_tokens too large", path: oaChat, body: chatBody(`"max_tokens":2097152`), want: errorOf{400, "integer_above_max_value", "max_tokens"}},
		{name: "max_completion_tokens negative", path: oaChat, body: chatBody(`"max_completion_tokens":-1`), want: errorOf{400, "integer_below_min_value", "max_completion_tokens"}},
		{name: "stream a string", path: oaChat, body: chatBody(`"stream":"yes"`), want: errorOf{400, "invalid_type", "stream"}},
		{name: "stream_options without stream", path: oaChat, body: chatBody(`"stream_options":{"include_usage":true}`), want: errorOf{400, "invalid_value", "stream_options"}},
		{name: "seed a string", path: oaChat, body: chatBody(`"seed":"abc"`), want: errorOf{400, "invalid_type", "seed"}},
		{name: "seed beyond int64", path: oaChat, body: chatBody(`"seed":99999999999999999999`), want: errorOf{400, "invalid_type", "seed"}},
		// Response format and tools.
		{name: "response_format unknown type", path: oaChat, body: chatBody(`"response_format":{"type":"xml"}`), want: errorOf{400, "invalid_value", "response_format.type"}},
		{name: "json_schema missing", path: oaChat, body: chatBody(`"response_format":{"type":"json_schema"}`), want: errorOf{400, "missing_required_parameter", "response_format.json_schema"}},
		{name: "json_schema bad name", path: oaChat, body: chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"bad name!"}}`), want: errorOf{400, "invalid_value", "response_format.json_schema.name"}},
		{name: "json_schema name too long", path: oaChat, body: chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"` + strings.Repeat("a", 65) + `"}}`), want: errorOf{400, "invalid_value", "response_format.json_schema.name"}},
		{name: "json_schema schema an array", path: oaChat, body: chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":[1]}}`), want: errorOf{400, "invalid_type", "response_format.json_schema.schema"}},
		{name: "json_schema too deep", path: oaChat, body: chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":` + deep + `}}`), want: errorOf{400, "object_too_deep", "response_format.json_schema.schema"}},
		{name: "too many tools", path: oaChat, body: chatBody(tools129), want: errorOf{400, "array_above_max_length", "tools"}},
		{name: "tool of unknown type", path: oaChat, body: chatBody(`"tools":[{"type":"retrieval","function":{"name":"f"}}]`), want: errorOf{400, "invalid_value", "tools[0].type"}},
		{name: "tool without name", path: oaChat, body: chatBody(`"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{}}]`), want: errorOf{400, "missing_required_parameter", "tools[1].function.name"}},
		{name: "tool_choice names no tool", path: oaChat, body: chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}`), want: errorOf{400, "invalid_value", "tool_choice"}},
		{name: "tool_choice unknown mode", path: oaChat, body: chatBody(`"tool_choice":"sometimes"`), want: errorOf{400, "invalid_value", "tool_choice"}},
		{name: "tool_choice a number", path: oaChat, body: chatBody(`"tool_choice":5`), want: errorOf{400, "invalid_type", "tool_choice"}},
		// Legacy completions.
		{name: "prompt missing", path: oaCompl, body: `{"model":"chat-dep"}`, want: errorOf{400, "missing_required_parameter", "prompt"}},
		{name: "prompt a number", path: azCompl, body: `{"prompt":5}`, want: errorOf{400, "invalid_type", "prompt"}},
		{name: "completion logprobs above 5", path: oaCompl, body: `{"model":"chat-dep","prompt":"a","logprobs":6}`, want: errorOf{400, "integer_above_max_value", "logprobs"}},
		{name: "best_of above 20", path: oaCompl, body: `{"model":"chat-dep","prompt":"a","best_of":21}`, want: errorOf{400, "integer_above_max_value", "best_of"}},
		{name: "best_of below n", path: oaCompl, body: `{"model":"chat-dep","prompt":"a","n":2,"best_of":1}`, want: errorOf{400, "invalid_value", "best_of"}},
		{name: "best_of with stream", path: oaCompl, body: `{"model":"chat-dep","prompt":"a","best_of":2,"stream":true}`, want: errorOf{400, "invalid_value", "best_of"}},
		{name: "echo a string", path: oaCompl, body: `{"model":"chat-dep","prompt":"a","echo":"yes"}`, want: errorOf{400, "invalid_type", "echo"}},
		// Embeddings.
		{name: "input missing", path: oaEmbed, body: `{"model":"embed-dep"}`, want: errorOf{400, "missing_required_parameter", "input"}},
		{name: "input empty array", path: oaEmbed, body: `{"model":"embed-dep","input":[]}`, want: errorOf{400, "empty_array", "input"}},
		{name: "input too many items", path: azEmbed, body: `{"input":[` + repeat(`"a"`, 2049) + `]}`, want: errorOf{400, "array_above_max_length", "input"}},
		{name: "input empty string", path: oaEmbed, body: `{"model":"embed-dep","input":""}`, want: errorOf{400, "empty_string", "input"}},
		{name: "input item empty", path: oaEmbed, body: `{"model":"embed-dep","input":["a",""]}`, want: errorOf{400, "empty_string", "input[1]"}},
		{name: "input a number", path: oaEmbed, body: `{"model":"embed-dep","input":5}`, want: errorOf{400, "invalid_type", "input"}},
		{name: "encoding_format unknown", path: oaEmbed, body: `{"model":"embed-dep","input":"a","encoding_format":"int8"}`, want: errorOf{400, "invalid_value", "encoding_format"}},
		{name: "dimensions zero", path: oaEmbed, body: `{"model":"embed-dep","input":"a","dimensions":0}`, want: errorOf{400, "integer_below_min_value", "dimensions"}},
	}
	if len(cases) < 45 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			resp := h.do(t, method, tc.path, tc.header, tc.body)
			if resp.Header.Get("x-request-id") == "" {
				t.Error("no x-request-id")
			}
			if got := resp.Header.Get("content-type"); got != "application/json" {
				t.Errorf("content-type %q", got)
			}
			got, env := parseError(t, resp)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s\nenvelope: %v", diff, env)
			}
			if msg, _ := env["message"].(string); msg == "" {
				t.Error("empty message")
			}
			// The server still answers a good request.
			ok := h.do(t, http.MethodPost, azChat, nil, chatBody(""))
			if body := readAll(t, ok); ok.StatusCode != http.StatusOK {
				t.Fatalf("good request after %q: %d %s", tc.name, ok.StatusCode, body)
			}
		})
	}
	t.Logf("%d malformed cases", len(cases))
}

// TestErrorEnvelopes checks the exact bodies clients match on.
func TestErrorEnvelopes(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name, method, path string
		header             map[string]string
		want               string
	}{
		{"Azure 401", "POST", azChat, map[string]string{"api-key": "wrong"},
			`{"error":{"code":"401","message":"` + azureUnauthorized + `"}}`},
		{"Azure 404", "GET", "/openai/nothing-here", nil,
			`{"error":{"code":"404","message":"Resource not found"}}`},
		{"Azure DeploymentNotFound", "POST", "/openai/deployments/nope/chat/completions?api-version=2024-02-01", nil,
			`{"error":{"code":"DeploymentNotFound","message":"` + deploymentMissing + `"}}`},
		{"OpenAI 401", "POST", oaChat, map[string]string{"authorization": "Bearer wrong"},
			`{"error":{"message":"` + openAIBadKey + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{"Azure validation has status", "POST", azChat, nil,
			`{"error":{"message":"Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead.","type":"invalid_request_error","param":"n","code":"integer_below_min_value","status":400}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := chatBody("")
			if strings.Contains(tc.name, "status") {
				body = chatBody(`"n":0`)
			}
			resp := h.do(t, tc.method, tc.path, tc.header, body)
			got := strings.TrimSpace(readAll(t, resp))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeploymentStates checks that a deployment that is not Succeeded is
// explained.
func TestDeploymentStates(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ dep, want string }{
		{"creating-dep", "state Creating"},
		{"failed-dep", "state Failed and cannot take requests: the model file is missing"},
	} {
		resp := h.do(t, "POST", fmt.Sprintf("/openai/deployments/%s/chat/completions?api-version=2024-06-01", tc.dep), nil, chatBody(""))
		_, env := parseError(t, resp)
		if msg, _ := env["message"].(string); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: message %q lacks %q", tc.dep, msg, tc.want)
		}
	}
}
