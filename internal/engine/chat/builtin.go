package chat

import (
	"context"
	"fmt"
	"strings"
)

// Family is a chat-format family with a built-in renderer.
type Family int

// Families with built-in renderers.
const (
	// FamilyPlain is the fallback for base models without a chat template.
	FamilyPlain Family = iota
	// FamilyChatML is <|im_start|>role\n...<|im_end|> (Qwen, SmolLM, ...).
	FamilyChatML
	// FamilyLlama3 is <|start_header_id|>role<|end_header_id|> (Llama 3.x).
	FamilyLlama3
	// FamilyMistral is [INST] ... [/INST] (Mistral Instruct v0.3).
	FamilyMistral
	// FamilyZephyr is <|user|>\n...</s> (Zephyr, TinyLlama chat).
	FamilyZephyr
)

// String returns the family's name.
func (f Family) String() string {
	switch f {
	case FamilyChatML:
		return "chatml"
	case FamilyLlama3:
		return "llama3"
	case FamilyMistral:
		return "mistral"
	case FamilyZephyr:
		return "zephyr"
	default:
		return "plain"
	}
}

// Detect picks the family of a chat template from the markers in its text;
// an empty or unrecognised template is FamilyPlain.
func Detect(src string) Family {
	switch {
	case strings.Contains(src, "<|im_start|>"):
		return FamilyChatML
	case strings.Contains(src, "<|start_header_id|>"):
		return FamilyLlama3
	case strings.Contains(src, "[INST]"):
		return FamilyMistral
	case strings.Contains(src, "<|user|>"):
		return FamilyZephyr
	default:
		return FamilyPlain
	}
}

// Builtin returns the pure-Go renderer of a family. For conversations
// without tools the ChatML, Llama 3, Mistral and Zephyr renderers produce
// the same bytes as the reference Hugging Face templates (generic ChatML /
// SmolLM2 / Qwen2.5 with a system message, Llama 3 Instruct, Mistral
// Instruct v0.3, Zephyr/TinyLlama); with tools they follow Qwen2.5, Llama
// 3.1 (JSON tool calls, ipython results) and Mistral v0.3 conventions.
//
// FamilyPlain renders base-model text: an optional system text, then
// "User: ...\n" and "Assistant: ...\n" lines, and "Assistant:" as the
// generation prompt; it stops on "\nUser:".
func Builtin(f Family) Renderer { return builtinRenderer{family: f} }

type builtinRenderer struct{ family Family }

func (b builtinRenderer) Family() Family { return b.family }

func (b builtinRenderer) StopSequences() []string {
	switch b.family {
	case FamilyChatML:
		return []string{"<|im_end|>", "<|endoftext|>"}
	case FamilyLlama3:
		return []string{"<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"}
	case FamilyMistral:
		return []string{"</s>"}
	case FamilyZephyr:
		return []string{"</s>", "<|user|>"}
	default:
		return []string{"\nUser:"}
	}
}

func (b builtinRenderer) Render(msgs []Message, tools []Tool, opts Options) (string, error) {
	w := &builtinWriter{b: &orderedBuilder{table: newKeyOrder()}}
	var err error
	switch b.family {
	case FamilyChatML:
		err = w.chatML(msgs, tools, opts)
	case FamilyLlama3:
		err = w.llama3(msgs, tools, opts)
	case FamilyMistral:
		err = w.mistral(msgs, tools, opts)
	case FamilyZephyr:
		w.zephyr(msgs, opts)
	default:
		w.plain(msgs, opts)
	}
	if err != nil {
		return "", err
	}
	if w.sb.Len() > MaxOutputBytes {
		return "", fmt.Errorf("%w: output larger than %d bytes", ErrLimit, MaxOutputBytes)
	}
	return w.sb.String(), nil
}

type builtinWriter struct {
	sb strings.Builder
	b  *orderedBuilder
}

func (w *builtinWriter) put(parts ...string) {
	for _, p := range parts {
		w.sb.WriteString(p)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// dumps is Hugging Face's tojson (optionally indented) for a built value.
func (w *builtinWriter) dumps(v any, indent int) string {
	o := dumpOptions{itemSep: ", ", keySep: ": ", keyOrderedBy: w.b.table}
	if indent > 0 {
		o.indent, o.hasIndent, o.itemSep = strings.Repeat(" ", indent), true, ","
	}
	s, err := pyDumps(v, o)
	if err != nil {
		return "null"
	}
	return s
}

// toolValue is the {"type": "function", "function": {...}} object of a tool.
func (w *builtinWriter) toolValue(t Tool) (map[string]any, error) {
	keys := []string{"name", "description"}
	vals := []any{t.Name, t.Description}
	if len(t.Parameters) > 0 {
		p, err := w.b.decodeJSON(t.Parameters)
		if err != nil {
			return nil, fmt.Errorf("chat: tool %q parameters: %w", t.Name, err)
		}
		keys, vals = append(keys, "parameters"), append(vals, p)
	}
	fn := w.b.newMap(keys, vals)
	return w.b.newMap([]string{"type", "function"}, []any{"function", fn}), nil
}

// arguments decodes tool-call arguments the way templates see them: an
// object when the text is a JSON object, the raw string otherwise.
func (w *builtinWriter) arguments(s string) any {
	if v, err := w.b.decodeJSON([]byte(s)); err == nil {
		if _, ok := v.(map[string]any); ok {
			return v
		}
	}
	return s
}

const qwenToolsHeader = "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
	"You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
const qwenToolsFooter = "\n</tools>\n\nFor each function call, return a json object with function name and " +
	"arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n" +
	"{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"

func (w *builtinWriter) chatML(msgs []Message, tools []Tool, opts Options) error {
	rest := msgs
	if len(tools) > 0 {
		w.put("<|im_start|>system\n")
		if len(msgs) > 0 && msgs[0].Role == "system" {
			w.put(msgs[0].Content, "\n\n")
			rest = msgs[1:]
		}
		w.put(qwenToolsHeader)
		for _, t := range tools {
			v, err := w.toolValue(t)
			if err != nil {
				return err
			}
			w.put("\n", w.dumps(v, 0))
		}
		w.put(qwenToolsFooter)
	}
	for i, m := range rest {
		switch {
		case m.Role == "assistant" && len(m.ToolCalls) > 0:
			w.put("<|im_start|>assistant")
			if m.Content != "" {
				w.put("\n", m.Content)
			}
			for _, c := range m.ToolCalls {
				w.put("\n<tool_call>\n{\"name\": \"", c.Name, "\", \"arguments\": ",
					w.dumps(w.arguments(c.Arguments), 0), "}\n</tool_call>")
			}
			w.put("<|im_end|>\n")
		case m.Role == "tool":
			if i == 0 || rest[i-1].Role != "tool" {
				w.put("<|im_start|>user")
			}
			w.put("\n<tool_response>\n", m.Content, "\n</tool_response>")
			if i == len(rest)-1 || rest[i+1].Role != "tool" {
				w.put("<|im_end|>\n")
			}
		default:
			w.put("<|im_start|>", m.Role, "\n", m.Content, "<|im_end|>\n")
		}
	}
	if opts.AddGenerationPrompt {
		w.put("<|im_start|>assistant\n")
	}
	return nil
}

const llamaToolsPrompt = "Given the following functions, please respond with a JSON for a function call " +
	"with its proper arguments that best answers the given prompt.\n\n" +
	"Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}." +
	"Do not use variables.\n\n"

func (w *builtinWriter) llama3(msgs []Message, tools []Tool, opts Options) error {
	w.put(or(opts.BOSToken, "<|begin_of_text|>"))
	header := func(role string) { w.put("<|start_header_id|>", role, "<|end_header_id|>\n\n") }
	firstUser := -1
	if len(tools) > 0 {
		for i, m := range msgs {
			if m.Role == "user" {
				firstUser = i
				break
			}
		}
	}
	for i, m := range msgs {
		switch {
		case i == firstUser:
			header("user")
			w.put(llamaToolsPrompt)
			for _, t := range tools {
				v, err := w.toolValue(t)
				if err != nil {
					return err
				}
				w.put(w.dumps(v, 4), "\n\n")
			}
			w.put(strings.TrimSpace(m.Content), "<|eot_id|>")
		case m.Role == "assistant" && len(m.ToolCalls) > 0:
			header("assistant")
			for j, c := range m.ToolCalls {
				if j > 0 {
					w.put("; ")
				}
				w.put("{\"name\": \"", c.Name, "\", \"parameters\": ", w.dumps(w.arguments(c.Arguments), 0), "}")
			}
			w.put("<|eot_id|>")
		case m.Role == "tool" || m.Role == "ipython":
			header("ipython")
			w.put(m.Content, "<|eot_id|>")
		default:
			header(m.Role)
			w.put(strings.TrimSpace(m.Content), "<|eot_id|>")
		}
	}
	if opts.AddGenerationPrompt {
		header("assistant")
	}
	return nil
}

func (w *builtinWriter) mistral(msgs []Message, tools []Tool, opts Options) error {
	eos := or(opts.EOSToken, "</s>")
	w.put(or(opts.BOSToken, "<s>"))
	system, rest := "", msgs
	if len(msgs) > 0 && msgs[0].Role == "system" {
		system, rest = msgs[0].Content, msgs[1:]
	}
	lastUser := -1
	for i, m := range rest {
		if m.Role == "user" {
			lastUser = i
		}
	}
	for i, m := range rest {
		switch {
		case m.Role == "user":
			if len(tools) > 0 && i == lastUser {
				w.put("[AVAILABLE_TOOLS] [")
				for j, t := range tools {
					if j > 0 {
						w.put(", ")
					}
					v, err := w.toolValue(t)
					if err != nil {
						return err
					}
					w.put(w.dumps(v, 0))
				}
				w.put("][/AVAILABLE_TOOLS]")
			}
			if i == lastUser && system != "" {
				w.put("[INST] ", system, "\n\n", m.Content, "[/INST]")
			} else {
				w.put("[INST] ", m.Content, "[/INST]")
			}
		case len(m.ToolCalls) > 0:
			w.put("[TOOL_CALLS] [")
			for j, c := range m.ToolCalls {
				if j > 0 {
					w.put(", ")
				}
				fn := w.b.newMap([]string{"name", "arguments"}, []any{c.Name, w.arguments(c.Arguments)})
				js := w.dumps(fn, 0)
				w.put(js[:len(js)-1], ", \"id\": \"", c.ID, "\"}")
			}
			w.put("]", eos)
		case m.Role == "assistant":
			w.put(" ", strings.TrimSpace(m.Content), eos)
		case m.Role == "tool" || m.Role == "tool_results":
			w.put("[TOOL_RESULTS] {\"content\": ", m.Content, ", \"call_id\": \"", m.ToolCallID, "\"}[/TOOL_RESULTS]")
		default:
			return fmt.Errorf("chat: mistral format has no role %q after the first message", m.Role)
		}
	}
	return nil
}

func (w *builtinWriter) zephyr(msgs []Message, opts Options) {
	eos := or(opts.EOSToken, "</s>")
	for i, m := range msgs {
		switch m.Role {
		case "user", "system", "assistant":
			w.put("<|", m.Role, "|>\n", m.Content, eos, "\n")
		}
		if i == len(msgs)-1 && opts.AddGenerationPrompt {
			w.put("<|assistant|>\n")
		}
	}
}

func (w *builtinWriter) plain(msgs []Message, opts Options) {
	for _, m := range msgs {
		switch m.Role {
		case "system":
			w.put(m.Content, "\n\n")
		case "user":
			w.put("User: ", m.Content, "\n")
		case "assistant":
			w.put("Assistant: ", m.Content, "\n")
		case "tool":
			w.put("Tool: ", m.Content, "\n")
		default:
			w.put(m.Role, ": ", m.Content, "\n")
		}
	}
	if opts.AddGenerationPrompt {
		w.put("Assistant:")
	}
}

// ModelRenderer renders with a model's Jinja template and falls back to the
// built-in renderer of the template's family when the template is missing,
// does not parse, or fails to render.
type ModelRenderer struct {
	tpl      *Template
	parseErr error
	builtin  Renderer
}

// ForModel returns the renderer for a model whose GGUF carries templateSrc
// (empty when it has none). Parse problems are kept and reported by
// RenderResult rather than returned.
func ForModel(templateSrc string) *ModelRenderer {
	m := &ModelRenderer{builtin: Builtin(Detect(templateSrc))}
	if strings.TrimSpace(templateSrc) == "" {
		return m
	}
	m.tpl, m.parseErr = Parse(templateSrc)
	return m
}

// Template returns the parsed template, or nil when there is none or it did
// not parse.
func (m *ModelRenderer) Template() *Template { return m.tpl }

// Family returns the family of the model's template.
func (m *ModelRenderer) Family() Family { return m.builtin.Family() }

// StopSequences returns the family's stop markers.
func (m *ModelRenderer) StopSequences() []string { return m.builtin.StopSequences() }

// Render renders the prompt, falling back to the built-in renderer silently;
// use RenderResult to learn about fallbacks.
func (m *ModelRenderer) Render(msgs []Message, tools []Tool, opts Options) (string, error) {
	r, err := m.RenderResult(context.Background(), msgs, tools, opts)
	return r.Prompt, err
}

// Result is a rendered prompt and how it was produced.
type Result struct {
	// Prompt is the rendered text.
	Prompt string
	// FellBack is true when the built-in renderer produced Prompt.
	FellBack bool
	// Cause explains the fallback: nil when the model has no template,
	// otherwise the parse or render error (errors.Is(Cause, ErrRaised) tells
	// a template that rejected the conversation on purpose).
	Cause error
}

// RenderResult renders with the template and, if that fails, with the
// built-in renderer, reporting which one produced the prompt. The error is
// non-nil only when the built-in renderer fails too.
func (m *ModelRenderer) RenderResult(ctx context.Context, msgs []Message, tools []Tool, opts Options) (Result, error) {
	res := Result{Cause: m.parseErr}
	if m.tpl != nil {
		out, err := m.tpl.RenderContext(ctx, msgs, tools, opts)
		if err == nil {
			return Result{Prompt: out}, nil
		}
		res.Cause = err
	}
	res.FellBack = true
	out, err := m.builtin.Render(msgs, tools, opts)
	if err != nil {
		if res.Cause != nil {
			return res, fmt.Errorf("built-in %s renderer after template failure (%w): %w", m.Family(), res.Cause, err)
		}
		return res, fmt.Errorf("built-in %s renderer: %w", m.Family(), err)
	}
	res.Prompt = out
	return res, nil
}
