package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/engine/chat"
	"github.com/cerulean-ai/cerulean/internal/engine/grammar"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Tool calls in the built-in engine.
//
// A model writes tool calls in the syntax its chat template family was
// trained on (toolFormat); the engine parses them out of the generated text
// and returns them as message.tool_calls:
//
//	ChatML (Qwen2.5, Hermes)  <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
//	Llama 3.x                 {"name": "f", "parameters": {...}}
//	Mistral                   [TOOL_CALLS] [{"name": "f", "arguments": {...}}, ...]
//	anything else (generic)   {"tool_calls": [{"name": "f", "arguments": {...}}, ...]}
//
// For the generic format, and for any template that ignores the request's
// tools (its prompt is the same with and without them), the engine adds a
// system message listing the functions and the syntax to use.
//
// tool_choice "auto" generates freely; text before the family's marker is
// content, calls after it are tool calls (finish_reason "tool_calls"), and
// text after the marker that holds no well-formed call of a declared
// function is returned as content. tool_choice "required" or a named
// function constrains generation with a grammar: the family's opening
// marker is appended to the prompt, and the output must be one call (the
// array formats: one or more, one when parallel_tool_calls is false) of an
// allowed function whose arguments match its parameters schema. The call
// grammar is a JSON schema composed from the tools' parameter schemas
// (an anyOf over {"name": const, "arguments": parameters}), compiled
// without strict checks and cached.

// callShape is how a format lays out its calls.
type callShape int

const (
	shapeSingle  callShape = iota // one call object per marker
	shapeArray                    // a JSON array of calls
	shapeWrapped                  // {"tool_calls": [calls]}
)

// toolFormat is a chat family's tool-call syntax.
type toolFormat struct {
	name string
	// marker starts the calls anywhere in the text ("" for none).
	marker string
	// start starts the calls when it is the first non-space character.
	start string
	// prefix is appended to the prompt when a call is forced.
	prefix string
	// argsKey names the arguments member.
	argsKey string
	shape   callShape
	// example shows the syntax in the generic instructions.
	example string
}

// formatOf returns the tool-call syntax of a template family.
func formatOf(f chat.Family) *toolFormat {
	switch f {
	case chat.FamilyChatML:
		return &toolFormat{name: "hermes", marker: "<tool_call>", prefix: "<tool_call>\n", argsKey: "arguments", shape: shapeSingle,
			example: "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"}
	case chat.FamilyLlama3:
		return &toolFormat{name: "llama3", start: "{", argsKey: "parameters", shape: shapeSingle,
			example: "{\"name\": <function-name>, \"parameters\": <args-json-object>}"}
	case chat.FamilyMistral:
		return &toolFormat{name: "mistral", marker: "[TOOL_CALLS]", start: "[", prefix: "[TOOL_CALLS] ", argsKey: "arguments", shape: shapeArray,
			example: "[TOOL_CALLS] [{\"name\": <function-name>, \"arguments\": <args-json-object>}]"}
	}
	return &toolFormat{name: "generic", start: "{", argsKey: "arguments", shape: shapeWrapped,
		example: "{\"tool_calls\": [{\"name\": <function-name>, \"arguments\": <args-json-object>}]}"}
}

// toolPlan is what a chat request's tools ask of the engine.
type toolPlan struct {
	format *toolFormat
	names  map[string]bool // the callable functions
	forced bool            // the output is constrained to calls
}

// toolInstructions is the system text that describes the tools when the
// template does not render them.
func toolInstructions(f *toolFormat, tools []chat.Tool) string {
	var sb strings.Builder
	sb.WriteString("Functions you may call:\n")
	for _, t := range tools {
		v := map[string]any{"name": t.Name}
		if t.Description != "" {
			v["description"] = t.Description
		}
		if !isNull(t.Parameters) {
			v["parameters"] = json.RawMessage(t.Parameters)
		}
		b, _ := json.Marshal(v)
		sb.Write(b)
		sb.WriteByte('\n')
	}
	sb.WriteString("To call one, reply with:\n")
	sb.WriteString(f.example)
	return sb.String()
}

// withInstructions prepends text to the conversation's system message, or
// adds one.
func withInstructions(msgs []chat.Message, text string) []chat.Message {
	out := make([]chat.Message, 0, len(msgs)+1)
	if len(msgs) > 0 && msgs[0].Role == "system" {
		first := msgs[0]
		first.Content = first.Content + "\n\n" + text
		return append(append(out, first), msgs[1:]...)
	}
	return append(append(out, chat.Message{Role: "system", Content: text}), msgs...)
}

// callGrammarSource is the JSON schema of the output a forced tool choice
// allows: calls of the functions in allowed, in f's layout.
func callGrammarSource(f *toolFormat, tools []inference.Tool, allowed map[string]bool, parallel bool) ([]byte, error) {
	var defs, calls bytes.Buffer
	n := 0
	for _, t := range tools {
		if !allowed[t.Function.Name] {
			continue
		}
		params := []byte(`{"type":"object"}`)
		if !isNull(t.Function.Parameters) {
			var err error
			if params, err = rebaseRefs(t.Function.Parameters, fmt.Sprintf("#/$defs/p%d", n)); err != nil {
				return nil, fmt.Errorf("tool %q: %w", t.Function.Name, err)
			}
		}
		if n > 0 {
			defs.WriteByte(',')
			calls.WriteByte(',')
		}
		name, _ := json.Marshal(t.Function.Name)
		fmt.Fprintf(&defs, `"p%d":%s`, n, params)
		fmt.Fprintf(&calls, `{"type":"object","properties":{"name":{"const":%s},%q:{"$ref":"#/$defs/p%d"}},"required":["name",%q],"additionalProperties":false}`,
			name, f.argsKey, n, f.argsKey)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("no function to call")
	}
	call := `{"anyOf":[` + calls.String() + `]}`
	if n == 1 {
		call = calls.String()
	}
	list := `{"type":"array","items":` + call + `,"minItems":1`
	if !parallel {
		list += `,"maxItems":1`
	}
	list += `}`
	var root string
	switch f.shape {
	case shapeSingle:
		root = strings.TrimSuffix(call, "}") // reopened to add $defs
	case shapeArray:
		root = strings.TrimSuffix(list, "}")
	case shapeWrapped:
		root = `{"type":"object","properties":{"tool_calls":` + list + `},"required":["tool_calls"],"additionalProperties":false`
	}
	return []byte(root + `,"$defs":{` + defs.String() + `}}`), nil
}

// callGrammar compiles (or finds in the cache) the grammar of a forced
// tool choice.
func (lm *loaded) callGrammar(f *toolFormat, tools []inference.Tool, allowed map[string]bool, parallel bool) (*grammar.Grammar, error) {
	src, err := callGrammarSource(f, tools, allowed, parallel)
	if err != nil {
		return nil, badRequest("tools", "The tools cannot be enforced by the built-in engine: %v.", err)
	}
	g, err := lm.grammars.schemaGrammar(src, false)
	if err != nil {
		return nil, schemaError("tools", err)
	}
	return g, nil
}

// rebaseRefs rewrites every local "$ref" ("#..." ) in schema to start at
// base instead of the document root, keeping the key order.
func rebaseRefs(schema []byte, base string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var out bytes.Buffer
	type frame struct {
		object bool
		n      int // values (arrays) or keys+values (objects) written
	}
	var stack []frame
	refNext := false
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("parameters: %w", err)
		}
		isKey := false
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			if d, ok := tok.(json.Delim); !ok || (d != '}' && d != ']') {
				switch {
				case top.object && top.n%2 == 0:
					isKey = true
					if top.n > 0 {
						out.WriteByte(',')
					}
				case top.object:
					out.WriteByte(':')
				case top.n > 0:
					out.WriteByte(',')
				}
				top.n++
			}
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteRune(rune(v))
			if v == '{' || v == '[' {
				stack = append(stack, frame{object: v == '{'})
			} else {
				stack = stack[:len(stack)-1]
			}
			refNext = false
			continue
		case string:
			if !isKey && refNext && strings.HasPrefix(v, "#") {
				v = base + v[1:]
			}
			b, _ := json.Marshal(v)
			out.Write(b)
			refNext = isKey && v == "$ref"
			continue
		case json.Number:
			out.WriteString(v.String())
		case bool:
			fmt.Fprint(&out, v)
		case nil:
			out.WriteString("null")
		}
		refNext = false
	}
	return out.Bytes(), nil
}
