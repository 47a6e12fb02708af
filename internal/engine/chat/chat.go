// Package chat turns a conversation into the prompt text a model was trained
// on. It renders the Jinja chat template stored in a GGUF file
// (tokenizer.chat_template) with gonja v2 plus the globals and Python
// behaviour Hugging Face's apply_chat_template provides, and it has pure-Go
// built-in renderers per model family (ChatML, Llama 3, Mistral, Zephyr and a
// plain fallback for base models) used when a model has no template or its
// template cannot be rendered.
//
// The package is independent of the gateway's request types: callers convert
// their messages into [Message] and [Tool].
//
// Rendered prompts contain special-token text such as "<|im_start|>" and, for
// families that use one, the BOS token text; the caller must tokenize with
// special-token parsing and must not add a second BOS.
package chat

import (
	"encoding/json"
	"errors"
	"time"
)

// ToolCall is one function call requested by the assistant.
type ToolCall struct {
	// ID identifies the call; tool results refer to it.
	ID string
	// Name is the function name.
	Name string
	// Arguments is the JSON text of the arguments (normally an object).
	Arguments string
}

// Message is one turn of a conversation.
type Message struct {
	// Role is "system", "user", "assistant" or "tool".
	Role string
	// Content is the text of the turn.
	Content string
	// Name optionally names the participant.
	Name string
	// ToolCalls are the calls an assistant turn requests.
	ToolCalls []ToolCall
	// ToolCallID links a "tool" turn to the call it answers.
	ToolCallID string
}

// Tool describes a function the model may call.
type Tool struct {
	// Name is the function name.
	Name string
	// Description tells the model what the function does.
	Description string
	// Parameters is the JSON schema of the arguments; its key order is kept.
	Parameters json.RawMessage
}

// Options are the per-request rendering inputs besides messages and tools.
type Options struct {
	// AddGenerationPrompt appends the header that starts the assistant's turn.
	AddGenerationPrompt bool
	// BOSToken and EOSToken are the text of the model's BOS and EOS tokens,
	// exposed to templates as bos_token and eos_token. Built-in renderers use
	// their family's usual token text when these are empty.
	BOSToken, EOSToken string
	// Extra holds further template variables (for example "date_string" or
	// "enable_thinking"). They cannot override the standard variables.
	Extra map[string]any
	// Now is the time strftime_now reports; the zero value means time.Now().
	Now time.Time
}

// Renderer renders conversations into prompts.
type Renderer interface {
	// Render returns the prompt for msgs and tools.
	Render(msgs []Message, tools []Tool, opts Options) (string, error)
	// StopSequences returns text markers that end the assistant's turn, so the
	// sampler can stop on them even if the tokenizer lacks the EOG flag.
	StopSequences() []string
	// Family reports the model family the renderer belongs to.
	Family() Family
}

// Errors reported by this package; match them with errors.Is.
var (
	// ErrRaised wraps the message of a template's raise_exception call.
	ErrRaised = errors.New("chat template raised an exception")
	// ErrLimit reports that a template exceeded a rendering bound (output
	// size, time, recursion, value size).
	ErrLimit = errors.New("chat template exceeded a rendering limit")
	// ErrTemplate reports a template that cannot be parsed or executed.
	ErrTemplate = errors.New("chat template error")
)
