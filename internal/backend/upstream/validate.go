package upstream

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// An upstream cannot be made to decode under our grammar, so structured
// requests are checked after the fact: when the request has a json_schema
// response format, each choice's content must be JSON valid against the
// schema; when it has strict function tools, each call of one must carry
// arguments valid against its parameters. A mismatch is a 502
// upstream_invalid_output naming the first validation error (for streams,
// an error event after the streamed output), never invalid output passed
// on silently. Choices cut by max_tokens (finish_reason "length") are not
// checked. Checked responses carry StructuredOutput "validated".

// outputCheck holds the compiled schemas of one request.
type outputCheck struct {
	content *jsonschema.Schema            // response_format json_schema, or nil
	tools   map[string]*jsonschema.Schema // strict functions' parameters
}

// newOutputCheck compiles what req asks to be checked; nil when nothing.
func newOutputCheck(req *inference.ChatRequest) (*outputCheck, error) {
	c := &outputCheck{}
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" && rf.JSONSchema != nil && !isNullJSON(rf.JSONSchema.Schema) {
		s, err := compileSchema(rf.JSONSchema.Schema)
		if err != nil {
			return nil, fault.Param("response_format.json_schema.schema", inference.CodeInvalidValue, "Invalid schema for response_format '%s': %v", rf.JSONSchema.Name, err)
		}
		c.content = s
	}
	for i, t := range req.Tools {
		if t.Function.Strict == nil || !*t.Function.Strict || isNullJSON(t.Function.Parameters) {
			continue
		}
		s, err := compileSchema(t.Function.Parameters)
		if err != nil {
			return nil, fault.Param(fmt.Sprintf("tools[%d].function.parameters", i), inference.CodeInvalidValue, "Invalid schema for function '%s': %v", t.Function.Name, err)
		}
		if c.tools == nil {
			c.tools = map[string]*jsonschema.Schema{}
		}
		c.tools[t.Function.Name] = s
	}
	if c.content == nil && c.tools == nil {
		return nil, nil
	}
	return c, nil
}

func isNullJSON(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// compileSchema compiles a schema document (draft 2020-12 by default).
func compileSchema(raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("schema.json", doc); err != nil {
		return nil, err
	}
	return comp.Compile("schema.json")
}

// message checks one finished choice's message.
func (c *outputCheck) message(up *endpoint, choice int, m *inference.Message, finish string) error {
	if finish == "length" || finish == "content_filter" {
		return nil
	}
	if c.content != nil && len(m.ToolCalls) == 0 && m.Refusal == nil {
		if err := check(c.content, m.Content.String()); err != nil {
			return invalidOutput(up, fmt.Sprintf("choice %d: the content does not match the response_format schema", choice), err)
		}
	}
	for k, tc := range m.ToolCalls {
		s, ok := c.tools[tc.Function.Name]
		if !ok {
			continue
		}
		if err := check(s, tc.Function.Arguments); err != nil {
			return invalidOutput(up, fmt.Sprintf("choice %d: the arguments of tool call %d (%s) do not match its strict parameters schema", choice, k, tc.Function.Name), err)
		}
	}
	return nil
}

// check validates JSON text against s.
func check(s *jsonschema.Schema, text string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("not valid JSON: %w", err)
	}
	return s.Validate(v)
}

// invalidOutput is the 502 for output that fails its check, naming the
// first validation error.
func invalidOutput(up *endpoint, what string, err error) error {
	msg := err.Error()
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		msg = firstCause(ve)
	}
	return &fault.Error{Kind: fault.BadGateway, Code: "upstream_invalid_output",
		Message: fmt.Sprintf("upstream %s returned invalid structured output: %s: %s", up.host(), what, msg), Err: err}
}

// firstCause is the deepest first validation error, with its location.
func firstCause(ve *jsonschema.ValidationError) string {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	loc := "/" + strings.Join(ve.InstanceLocation, "/")
	msg := ve.Error()
	if i := strings.LastIndex(msg, "\n"); i >= 0 {
		msg = strings.TrimSpace(msg[i+1:])
	}
	msg = strings.TrimPrefix(msg, "- ")
	if strings.HasPrefix(msg, "at '") {
		return msg
	}
	return fmt.Sprintf("at '%s': %s", loc, msg)
}

// streamOutput assembles streamed choices for the final check.
type streamOutput struct {
	msgs   map[int]*inference.Message
	text   map[int]*strings.Builder
	finish map[int]string
}

func newStreamOutput() *streamOutput {
	return &streamOutput{msgs: map[int]*inference.Message{}, text: map[int]*strings.Builder{}, finish: map[int]string{}}
}

// add records a chunk's deltas.
func (o *streamOutput) add(ch *inference.ChunkChoice) {
	m, ok := o.msgs[ch.Index]
	if !ok {
		m = &inference.Message{}
		o.msgs[ch.Index], o.text[ch.Index] = m, &strings.Builder{}
	}
	if ch.Delta.Content != nil {
		o.text[ch.Index].WriteString(*ch.Delta.Content)
	}
	if ch.Delta.Refusal != nil {
		m.Refusal = ch.Delta.Refusal
	}
	for _, d := range ch.Delta.ToolCalls {
		k := len(m.ToolCalls) - 1
		if d.Index != nil {
			k = *d.Index
		}
		for len(m.ToolCalls) <= k {
			m.ToolCalls = append(m.ToolCalls, inference.ToolCall{})
		}
		if d.Function.Name != "" {
			m.ToolCalls[k].Function.Name = d.Function.Name
		}
		m.ToolCalls[k].Function.Arguments += d.Function.Arguments
	}
	if ch.FinishReason != nil {
		o.finish[ch.Index] = *ch.FinishReason
	}
}

// check validates every assembled choice.
func (o *streamOutput) check(up *endpoint, c *outputCheck) error {
	for _, i := range slices.Sorted(maps.Keys(o.msgs)) {
		m := o.msgs[i]
		m.Content = inference.TextContent(o.text[i].String())
		if err := c.message(up, i, m, o.finish[i]); err != nil {
			return err
		}
	}
	return nil
}
