// Package inference holds the OpenAI wire types that the gateway decodes,
// backends consume and produce, and the gateway encodes: chat, legacy
// completions and embeddings, streaming chunks, usage. One internal request
// type serves both the Azure and the OpenAI dialect.
package inference

import (
	"encoding/json"
)

// ChatRequest is a chat completions request.
type ChatRequest struct {
	Model               string             `json:"model,omitempty"`
	Messages            []Message          `json:"messages"`
	Temperature         *float64           `json:"temperature,omitempty"`
	TopP                *float64           `json:"top_p,omitempty"`
	N                   *int               `json:"n,omitempty"`
	Stream              bool               `json:"stream,omitempty"`
	StreamOptions       *StreamOptions     `json:"stream_options,omitempty"`
	Stop                Strings            `json:"stop,omitempty"`
	MaxTokens           *int               `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int               `json:"max_completion_tokens,omitempty"`
	PresencePenalty     *float64           `json:"presence_penalty,omitempty"`
	FrequencyPenalty    *float64           `json:"frequency_penalty,omitempty"`
	LogitBias           map[string]float64 `json:"logit_bias,omitempty"`
	Logprobs            *bool              `json:"logprobs,omitempty"`
	TopLogprobs         *int               `json:"top_logprobs,omitempty"`
	Seed                *int64             `json:"seed,omitempty"`
	User                string             `json:"user,omitempty"`
	ResponseFormat      *ResponseFormat    `json:"response_format,omitempty"`
	Tools               []Tool             `json:"tools,omitempty"`
	ToolChoice          *ToolChoice        `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool              `json:"parallel_tool_calls,omitempty"`
	Functions           json.RawMessage    `json:"functions,omitempty"`     // deprecated, passed on
	FunctionCall        json.RawMessage    `json:"function_call,omitempty"` // deprecated, passed on
	Store               *bool              `json:"store,omitempty"`
	Metadata            map[string]string  `json:"metadata,omitempty"`
	ReasoningEffort     string             `json:"reasoning_effort,omitempty"`
	ServiceTier         string             `json:"service_tier,omitempty"`
	// TopK, MinP and RepetitionPenalty are common extensions (vLLM,
	// llama.cpp, Ollama); the built-in engine honours them.
	TopK              *int     `json:"top_k,omitempty"`
	MinP              *float64 `json:"min_p,omitempty"`
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
}

// StreamOptions are the options of a streamed response.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message. Content is a string, an array of parts or
// null (assistant messages with tool calls).
type Message struct {
	Role         string          `json:"role"`
	Content      *Content        `json:"content,omitempty"`
	Name         string          `json:"name,omitempty"`
	ToolCalls    []ToolCall      `json:"tool_calls,omitempty"`
	ToolCallID   string          `json:"tool_call_id,omitempty"`
	Refusal      *string         `json:"refusal,omitempty"`
	FunctionCall json.RawMessage `json:"function_call,omitempty"`
}

// Content is a message's content: Text, or Parts when the client sent an
// array. A nil *Content is JSON null or absent.
type Content struct {
	Text  string
	Parts []ContentPart
}

// TextContent returns content holding s.
func TextContent(s string) *Content { return &Content{Text: s} }

// IsParts reports whether the content is an array of parts.
func (c *Content) IsParts() bool { return c != nil && c.Parts != nil }

// String is the text of the content: Text, or its text parts joined.
func (c *Content) String() string {
	if c == nil {
		return ""
	}
	if c.Parts == nil {
		return c.Text
	}
	var s string
	for _, p := range c.Parts {
		if p.Type == "text" {
			s += p.Text
		}
	}
	return s
}

// ContentPart is one part of a multi-part message.
type ContentPart struct {
	Type       string      `json:"type"` // text, image_url, input_audio, refusal
	Text       string      `json:"text,omitempty"`
	ImageURL   *ImageURL   `json:"image_url,omitempty"`
	InputAudio *InputAudio `json:"input_audio,omitempty"`
	Refusal    string      `json:"refusal,omitempty"`
}

// ImageURL is an image part.
type ImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

// InputAudio is an audio part.
type InputAudio struct {
	Data   string `json:"data"`
	Format string `json:"format"`
}

// ToolCall is a call the assistant made.
type ToolCall struct {
	Index    *int         `json:"index,omitempty"` // in stream deltas only
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names a function and its JSON arguments.
type FunctionCall struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Tool is a tool the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a function tool.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// ToolChoice is "none", "auto", "required" or a named function.
type ToolChoice struct {
	Mode     string // none, auto, required; "" when Function is set
	Function string
}

// ResponseFormat asks for text, any JSON object or JSON matching a schema.
type ResponseFormat struct {
	Type       string      `json:"type"` // text, json_object, json_schema
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

// JSONSchema is the schema of a json_schema response format.
type JSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

// Strings is a string or an array of strings on the wire (stop).
type Strings []string

// ChatCompletion is a non-streamed chat response.
type ChatCompletion struct {
	ID                  string               `json:"id"`
	Object              string               `json:"object"`
	Created             int64                `json:"created"`
	Model               string               `json:"model"`
	SystemFingerprint   string               `json:"system_fingerprint,omitempty"`
	PromptFilterResults []PromptFilterResult `json:"prompt_filter_results,omitempty"`
	Choices             []ChatChoice         `json:"choices"`
	Usage               *Usage               `json:"usage,omitempty"`
	ServiceTier         string               `json:"service_tier,omitempty"`
	// StructuredOutput is how the backend made the output follow the
	// requested format (StructuredGrammar, StructuredValidated, or "");
	// the gateway sends it as the HeaderStructuredOutput header.
	StructuredOutput string `json:"-"`
}

// ChatChoice is one choice of a chat response.
type ChatChoice struct {
	Index                int                   `json:"index"`
	Message              Message               `json:"message"`
	FinishReason         string                `json:"finish_reason"`
	Logprobs             *Logprobs             `json:"logprobs"`
	ContentFilterResults *ContentFilterResults `json:"content_filter_results,omitempty"`
}

// ChatChunk is one streamed chat event.
type ChatChunk struct {
	ID                  string               `json:"id"`
	Object              string               `json:"object"`
	Created             int64                `json:"created"`
	Model               string               `json:"model"`
	SystemFingerprint   string               `json:"system_fingerprint,omitempty"`
	PromptFilterResults []PromptFilterResult `json:"prompt_filter_results,omitempty"`
	Choices             []ChunkChoice        `json:"choices"`
	// Usage is set on the final usage chunk (choices empty).
	Usage *Usage `json:"usage,omitempty"`
	// StructuredOutput is as in ChatCompletion; the gateway reads it from
	// the first chunk a backend emits (before any header is written).
	StructuredOutput string `json:"-"`
}

// Structured output modes and the response header that reports them.
const (
	// HeaderStructuredOutput names the mode a structured request was
	// served with.
	HeaderStructuredOutput = "x-cerulean-structured-output"
	// StructuredGrammar: the built-in engine decoded under a grammar, so
	// the output matches the schema by construction.
	StructuredGrammar = "grammar"
	// StructuredValidated: an upstream produced the output and it was
	// checked against the schema afterwards (a mismatch is an error).
	StructuredValidated = "validated"
)

// ChunkChoice is one choice's delta in a chunk.
type ChunkChoice struct {
	Index                int                   `json:"index"`
	Delta                Delta                 `json:"delta"`
	FinishReason         *string               `json:"finish_reason"`
	Logprobs             *Logprobs             `json:"logprobs,omitempty"`
	ContentFilterResults *ContentFilterResults `json:"content_filter_results,omitempty"`
}

// Delta is the new part of a streamed message.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
}

// Logprobs are the log probabilities of a choice's tokens.
type Logprobs struct {
	Content []TokenLogprob `json:"content"`
	Refusal []TokenLogprob `json:"refusal,omitempty"`
}

// TokenLogprob is one token's log probability and its top alternatives.
type TokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// TopLogprob is one alternative token.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Usage counts the tokens of a request.
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// Cached is the number of prompt tokens served from a cache.
func (u *Usage) Cached() int {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// PromptFilterResult is Azure's content-filter annotation of one prompt.
type PromptFilterResult struct {
	PromptIndex          int                  `json:"prompt_index"`
	ContentFilterResults ContentFilterResults `json:"content_filter_results"`
}

// ContentFilterResults are Azure's per-category filter results.
type ContentFilterResults struct {
	Hate      *FilterSeverity `json:"hate,omitempty"`
	SelfHarm  *FilterSeverity `json:"self_harm,omitempty"`
	Sexual    *FilterSeverity `json:"sexual,omitempty"`
	Violence  *FilterSeverity `json:"violence,omitempty"`
	Jailbreak *FilterDetected `json:"jailbreak,omitempty"`
	Profanity *FilterDetected `json:"profanity,omitempty"`
}

// FilterSeverity is one severity category's result.
type FilterSeverity struct {
	Filtered bool   `json:"filtered"`
	Severity string `json:"severity"`
}

// FilterDetected is one binary category's result.
type FilterDetected struct {
	Filtered bool `json:"filtered"`
	Detected bool `json:"detected"`
}

// CompletionRequest is a legacy completions request.
type CompletionRequest struct {
	Model            string             `json:"model,omitempty"`
	Prompt           Prompt             `json:"prompt"`
	Suffix           string             `json:"suffix,omitempty"`
	MaxTokens        *int               `json:"max_tokens,omitempty"`
	Temperature      *float64           `json:"temperature,omitempty"`
	TopP             *float64           `json:"top_p,omitempty"`
	N                *int               `json:"n,omitempty"`
	Stream           bool               `json:"stream,omitempty"`
	StreamOptions    *StreamOptions     `json:"stream_options,omitempty"`
	Logprobs         *int               `json:"logprobs,omitempty"`
	Echo             bool               `json:"echo,omitempty"`
	Stop             Strings            `json:"stop,omitempty"`
	PresencePenalty  *float64           `json:"presence_penalty,omitempty"`
	FrequencyPenalty *float64           `json:"frequency_penalty,omitempty"`
	BestOf           *int               `json:"best_of,omitempty"`
	LogitBias        map[string]float64 `json:"logit_bias,omitempty"`
	Seed             *int64             `json:"seed,omitempty"`
	User             string             `json:"user,omitempty"`
	TopK             *int               `json:"top_k,omitempty"`
	MinP             *float64           `json:"min_p,omitempty"`
}

// Prompt is a legacy prompt: a string, strings, token ids or arrays of
// token ids. Exactly one of Texts and Tokens is set.
type Prompt struct {
	Texts  []string
	Tokens [][]int
}

// Completion is a legacy completions response (and, with object
// "text_completion", each streamed chunk).
type Completion struct {
	ID                  string               `json:"id"`
	Object              string               `json:"object"`
	Created             int64                `json:"created"`
	Model               string               `json:"model"`
	SystemFingerprint   string               `json:"system_fingerprint,omitempty"`
	PromptFilterResults []PromptFilterResult `json:"prompt_filter_results,omitempty"`
	Choices             []CompletionChoice   `json:"choices"`
	Usage               *Usage               `json:"usage,omitempty"`
}

// CompletionChoice is one legacy choice.
type CompletionChoice struct {
	Text                 string                `json:"text"`
	Index                int                   `json:"index"`
	Logprobs             *CompletionLogprobs   `json:"logprobs"`
	FinishReason         *string               `json:"finish_reason"`
	ContentFilterResults *ContentFilterResults `json:"content_filter_results,omitempty"`
}

// CompletionLogprobs are legacy log probabilities.
type CompletionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// EmbeddingRequest is an embeddings request.
type EmbeddingRequest struct {
	Model          string `json:"model,omitempty"`
	Input          Prompt `json:"input"`
	EncodingFormat string `json:"encoding_format,omitempty"` // float or base64
	Dimensions     *int   `json:"dimensions,omitempty"`
	User           string `json:"user,omitempty"`
	InputType      string `json:"input_type,omitempty"`
}

// EmbeddingList is an embeddings response. The backend fills Data with
// float vectors; the gateway encodes base64 when asked.
type EmbeddingList struct {
	Object string      `json:"object"`
	Model  string      `json:"model"`
	Data   []Embedding `json:"data"`
	Usage  *Usage      `json:"usage"`
}

// Embedding is one vector.
type Embedding struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}
