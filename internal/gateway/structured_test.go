package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// TestStrictSchemaErrors: strict schemas outside OpenAI's subset are 400s
// whose param is the schema's field and whose message names the JSON
// pointer of the offending subschema.
func TestStrictSchemaErrors(t *testing.T) {
	h := newHarness(t, nil)
	rf := func(schema string) string {
		return `"response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":` + schema + `}}`
	}
	type result struct {
		Status      int
		Type, Param string
		Path        bool // the message names the path
	}
	cases := []struct {
		name, extra, path string
		want              result
	}{
		{"valid", rf(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}`), "",
			result{Status: 200, Path: true}},
		{"no additionalProperties", rf(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`), "context=#",
			result{400, "invalid_request_error", "response_format.json_schema.schema", true}},
		{"optional nested property", rf(`{"type":"object","properties":{"o":{"type":"object","properties":{"x":{"type":"string"}},"required":[],"additionalProperties":false}},"required":["o"],"additionalProperties":false}`),
			"#/properties/o", result{400, "invalid_request_error", "response_format.json_schema.schema", true}},
		{"allOf in $defs", rf(`{"type":"object","properties":{"p":{"$ref":"#/$defs/p"}},"required":["p"],"additionalProperties":false,"$defs":{"p":{"allOf":[{"type":"string"}]}}}`),
			"#/$defs/p", result{400, "invalid_request_error", "response_format.json_schema.schema", true}},
		{"strict tool", `"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{"q":{"type":"string","minLength":1}},"required":["q"],"additionalProperties":false}}}]`,
			"#/properties/q", result{400, "invalid_request_error", "tools[0].function.parameters", true}},
		{"non-strict tool is not checked", `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"q":{"type":"string","minLength":1}}}}}]`,
			"", result{Status: 200, Path: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.do(t, "POST", oaChat, nil, chatBody(tc.extra))
			body := readAll(t, resp)
			var e struct {
				Error struct{ Message, Type, Param string } `json:"error"`
			}
			_ = json.Unmarshal([]byte(body), &e)
			got := result{resp.StatusCode, e.Error.Type, e.Error.Param, strings.Contains(e.Error.Message, tc.path)}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nbody: %s", diff, body)
			}
		})
	}
}

// structuredBackend marks its answers as served with a grammar.
type structuredBackend struct{ *fakeBackend }

func (b structuredBackend) Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	c, err := b.fakeBackend.Chat(ctx, t, req)
	if c != nil {
		c.StructuredOutput = inference.StructuredGrammar
	}
	return c, err
}

func (b structuredBackend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	return b.fakeBackend.ChatStream(ctx, t, req, func(c *inference.ChatChunk) error {
		c.StructuredOutput = inference.StructuredValidated
		return emit(c)
	})
}

func TestStructuredOutputHeader(t *testing.T) {
	h := newHarness(t, nil)
	plain := h.do(t, "POST", azChat, nil, chatBody(""))
	readAll(t, plain)
	h2 := newHarness(t, func(d *Deps) {
		fb := newFakeBackend()
		d.Backend = func(inference.Target) (Backend, error) { return structuredBackend{fb}, nil }
	})
	resp := h2.do(t, "POST", azChat, nil, chatBody(""))
	readAll(t, resp)
	stream := h2.do(t, "POST", azChat, nil, chatBody(`"stream":true`))
	readAll(t, stream)
	got := []string{plain.Header.Get(inference.HeaderStructuredOutput), resp.Header.Get(inference.HeaderStructuredOutput), stream.Header.Get(inference.HeaderStructuredOutput)}
	if diff := cmp.Diff([]string{"", "grammar", "validated"}, got); diff != "" {
		t.Errorf("headers (plain, grammar, stream) (-want +got):\n%s", diff)
	}
	if plain.StatusCode != http.StatusOK || resp.StatusCode != http.StatusOK || stream.StatusCode != http.StatusOK {
		t.Errorf("statuses %d %d %d", plain.StatusCode, resp.StatusCode, stream.StatusCode)
	}
}
