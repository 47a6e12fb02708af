package inference

import (
	"fmt"
	"slices"
)

// Roles of chat messages.
const (
	RoleSystem    = "system"
	RoleDeveloper = "developer"
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleTool      = "tool"
	RoleFunction  = "function"
)

var roles = []string{RoleSystem, RoleDeveloper, RoleUser, RoleAssistant, RoleTool, RoleFunction}

// partTypes are the content part types each role may send.
var partTypes = map[string][]string{
	RoleSystem:    {"text"},
	RoleDeveloper: {"text"},
	RoleUser:      {"text", "image_url", "input_audio"},
	RoleAssistant: {"text", "refusal"},
	RoleTool:      {"text"},
	RoleFunction:  {"text"},
}

// Validate checks a chat request against OpenAI's rules: every field is
// range- and type-checked and the first problem is returned as a
// *fault.Error of kind Invalid whose Param names the field.
//
// max_tokens and max_completion_tokens may both be given (OpenAI accepts
// both on models that know both); MaxOutputTokens then prefers
// max_completion_tokens. The model field is not checked here: Azure's
// deployment routes ignore it, the other routes check it themselves.
func (r *ChatRequest) Validate() error {
	if r.Messages == nil {
		return missing("messages")
	}
	if err := checkLen("messages", len(r.Messages), 1, MaxMessages); err != nil {
		return err
	}
	for i := range r.Messages {
		if err := r.Messages[i].validate(i); err != nil {
			return err
		}
	}
	if err := checkSampling(r.Temperature, r.TopP, r.PresencePenalty, r.FrequencyPenalty, r.MinP, r.N, r.TopK); err != nil {
		return err
	}
	if r.RepetitionPenalty != nil && (*r.RepetitionPenalty <= 0 || *r.RepetitionPenalty > 10) {
		return invalid("repetition_penalty", CodeInvalidValue, "Invalid 'repetition_penalty': expected a value above 0 and at most 10, but got %s instead.", fmtFloat(*r.RepetitionPenalty))
	}
	if err := checkStop(r.Stop); err != nil {
		return err
	}
	if err := checkInt("max_tokens", r.MaxTokens, 1, MaxTokensLimit); err != nil {
		return err
	}
	if err := checkInt("max_completion_tokens", r.MaxCompletionTokens, 1, MaxTokensLimit); err != nil {
		return err
	}
	if err := checkLogitBias(r.LogitBias); err != nil {
		return err
	}
	if err := checkInt("top_logprobs", r.TopLogprobs, 0, MaxTopLogprobs); err != nil {
		return err
	}
	if r.TopLogprobs != nil && (r.Logprobs == nil || !*r.Logprobs) {
		return invalid("top_logprobs", CodeInvalidValue, "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is given.")
	}
	if r.StreamOptions != nil && !r.Stream {
		return invalid("stream_options", CodeInvalidValue, "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	if err := r.ResponseFormat.validate(); err != nil {
		return err
	}
	if err := r.validateTools(); err != nil {
		return err
	}
	if err := checkMetadata(r.Metadata); err != nil {
		return err
	}
	if r.ReasoningEffort != "" {
		if err := oneOf("reasoning_effort", r.ReasoningEffort, "none", "minimal", "low", "medium", "high", "xhigh"); err != nil {
			return err
		}
	}
	if r.ServiceTier != "" {
		if err := oneOf("service_tier", r.ServiceTier, "auto", "default", "flex", "scale", "priority"); err != nil {
			return err
		}
	}
	return nil
}

// MaxOutputTokens is the completion token limit the client asked for:
// max_completion_tokens when given, else max_tokens, else 0 (none).
func (r *ChatRequest) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// Choices is n, or 1 when not given.
func (r *ChatRequest) Choices() int {
	if r.N == nil {
		return 1
	}
	return *r.N
}

func (m *Message) validate(i int) error {
	at := func(field string) string { return fmt.Sprintf("messages[%d].%s", i, field) }
	if m.Role == "" {
		return missing(at("role"))
	}
	if !slices.Contains(roles, m.Role) { // checked first: at formats a string
		return oneOf(at("role"), m.Role, roles...)
	}
	hasCall := len(m.ToolCalls) > 0 || len(m.FunctionCall) > 0
	switch {
	case m.Content == nil && m.Role == RoleAssistant && (hasCall || m.Refusal != nil):
	case m.Content == nil:
		return missing(at("content"))
	case m.Content.Parts != nil:
		if err := checkLen(at("content"), len(m.Content.Parts), 1, MaxContentParts); err != nil {
			return err
		}
		for j := range m.Content.Parts {
			if err := m.Content.Parts[j].validate(fmt.Sprintf("messages[%d].content[%d]", i, j), m.Role); err != nil {
				return err
			}
		}
	}
	switch m.Role {
	case RoleTool:
		if m.ToolCallID == "" {
			return missing(at("tool_call_id"))
		}
	case RoleFunction:
		if m.Name == "" {
			return missing(at("name"))
		}
	}
	if len(m.ToolCalls) > 0 && m.Role != RoleAssistant {
		return invalid(at("tool_calls"), CodeInvalidValue, "Invalid '%s': only assistant messages may carry tool calls.", at("tool_calls"))
	}
	for j, c := range m.ToolCalls {
		p := fmt.Sprintf("messages[%d].tool_calls[%d]", i, j)
		if c.ID == "" {
			return missing(p + ".id")
		}
		if err := oneOf(p+".type", c.Type, "function"); err != nil {
			return err
		}
		if err := checkName(p+".function.name", c.Function.Name); err != nil {
			return err
		}
	}
	return nil
}

func (p *ContentPart) validate(param, role string) error {
	if p.Type == "" {
		return missing(param + ".type")
	}
	if err := oneOf(param+".type", p.Type, partTypes[role]...); err != nil {
		return err
	}
	switch p.Type {
	case "image_url":
		if p.ImageURL == nil || p.ImageURL.URL == "" {
			return missing(param + ".image_url.url")
		}
		if p.ImageURL.Detail != "" {
			return oneOf(param+".image_url.detail", p.ImageURL.Detail, "auto", "low", "high")
		}
	case "input_audio":
		if p.InputAudio == nil || p.InputAudio.Data == "" {
			return missing(param + ".input_audio.data")
		}
		return oneOf(param+".input_audio.format", p.InputAudio.Format, "wav", "mp3")
	}
	return nil
}

func (f *ResponseFormat) validate() error {
	if f == nil {
		return nil
	}
	if f.Type == "" {
		return missing("response_format.type")
	}
	if err := oneOf("response_format.type", f.Type, "text", "json_object", "json_schema"); err != nil {
		return err
	}
	if f.Type != "json_schema" {
		return nil
	}
	if f.JSONSchema == nil {
		return missing("response_format.json_schema")
	}
	if err := checkName("response_format.json_schema.name", f.JSONSchema.Name); err != nil {
		return err
	}
	if err := checkSchemaObject("response_format.json_schema.schema", f.JSONSchema.Schema); err != nil {
		return err
	}
	if f.JSONSchema.Strict != nil && *f.JSONSchema.Strict {
		return checkStrictSchema("response_format.json_schema.schema", "response_format '"+f.JSONSchema.Name+"'", f.JSONSchema.Schema)
	}
	return nil
}

func (r *ChatRequest) validateTools() error {
	if err := checkLen("tools", len(r.Tools), 0, MaxTools); err != nil {
		return err
	}
	names := make(map[string]bool, len(r.Tools))
	for i, t := range r.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type == "" {
			return missing(p + ".type")
		}
		if err := oneOf(p+".type", t.Type, "function"); err != nil {
			return err
		}
		if err := checkName(p+".function.name", t.Function.Name); err != nil {
			return err
		}
		if names[t.Function.Name] {
			return invalid(p+".function.name", CodeInvalidValue, "Invalid '%s.function.name': the function %q is declared twice.", p, t.Function.Name)
		}
		names[t.Function.Name] = true
		if err := checkSchemaObject(p+".function.parameters", t.Function.Parameters); err != nil {
			return err
		}
		if t.Function.Strict != nil && *t.Function.Strict {
			if err := checkStrictSchema(p+".function.parameters", "function '"+t.Function.Name+"'", t.Function.Parameters); err != nil {
				return err
			}
		}
	}
	c := r.ToolChoice
	if c == nil {
		return nil
	}
	if c.Function != "" {
		if !names[c.Function] {
			return invalid("tool_choice", CodeInvalidValue, "Invalid value for 'tool_choice': the function %q is not one of the 'tools'.", c.Function)
		}
		return nil
	}
	if err := oneOf("tool_choice", c.Mode, "none", "auto", "required"); err != nil {
		return err
	}
	if c.Mode == "required" && len(r.Tools) == 0 {
		return invalid("tool_choice", CodeInvalidValue, "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > MaxMetadata {
		return invalid("metadata", CodeInvalidValue, "Invalid 'metadata': expected at most %d keys, but got %d.", MaxMetadata, len(m))
	}
	for k, v := range m {
		if len(k) > 64 || len(v) > 512 {
			return invalid("metadata", CodeStringTooLong, "Invalid 'metadata': keys may be at most 64 and values at most 512 characters long (key %.64q).", k)
		}
	}
	return nil
}
