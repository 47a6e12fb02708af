package upstream

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// The estimator used when an upstream reports no usage (or a stream ends
// before its usage chunk). It needs no tokenizer and errs on neither side
// in particular; it only keeps such requests from going unmetered:
//
//   - text: ceil(characters / 4), characters being Unicode code points;
//   - a chat prompt: for each message, 4 tokens of overhead plus the
//     estimate of its text (content text and text parts, name, refusal,
//     tool calls' names and arguments, tool_call_id); images and audio
//     are not counted;
//   - a legacy prompt or embeddings input: the estimate of each text, or
//     the number of ids of each token array;
//   - a completion: for each choice, the estimate of all the text it
//     produced (content, refusal, tool call names and arguments), summed.

// perMessage is the estimated overhead of one chat message.
const perMessage = 4

// EstimateText is ceil(code points / 4).
func EstimateText(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// EstimateChat estimates the prompt tokens of a chat request.
func EstimateChat(req *inference.ChatRequest) int {
	n := 0
	for i := range req.Messages {
		n += perMessage + (messageChars(&req.Messages[i])+3)/4
	}
	return n
}

// EstimatePrompt estimates the tokens of a legacy prompt or an embeddings
// input.
func EstimatePrompt(p inference.Prompt) int {
	n := 0
	for _, t := range p.Texts {
		n += EstimateText(t)
	}
	for _, ids := range p.Tokens {
		n += len(ids)
	}
	return n
}

// messageChars counts the characters of a message's text.
func messageChars(m *inference.Message) int {
	n := runes(m.Content.String()) + runes(m.Name) + runes(m.ToolCallID)
	if m.Refusal != nil {
		n += runes(*m.Refusal)
	}
	for _, tc := range m.ToolCalls {
		n += runes(tc.Function.Name) + runes(tc.Function.Arguments)
	}
	return n
}

// deltaChars counts the characters of a streamed delta.
func deltaChars(d *inference.Delta) int {
	n := 0
	if d.Content != nil {
		n += runes(*d.Content)
	}
	if d.Refusal != nil {
		n += runes(*d.Refusal)
	}
	for _, tc := range d.ToolCalls {
		n += runes(tc.Function.Name) + runes(tc.Function.Arguments)
	}
	return n
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// counter adds up the characters each choice produced and which choices
// finished.
type counter struct {
	chars    map[int]int
	finished map[int]bool
}

func (c *counter) add(choice, chars int) {
	if c.chars == nil {
		c.chars = map[int]int{}
	}
	c.chars[choice] += chars
}

func (c *counter) finish(choice int) {
	if c.finished == nil {
		c.finished = map[int]bool{}
	}
	c.add(choice, 0)
	c.finished[choice] = true
}

// tokens is the completion estimate: ceil(chars/4) per choice, summed.
func (c *counter) tokens() int {
	n := 0
	for _, chars := range c.chars {
		n += (chars + 3) / 4
	}
	return n
}

// complete reports whether at least one choice was seen and all seen
// choices finished.
func (c *counter) complete() bool {
	if len(c.chars) == 0 {
		return false
	}
	for i := range c.chars {
		if !c.finished[i] {
			return false
		}
	}
	return true
}

func usage(prompt, completion int) *inference.Usage {
	return &inference.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// decodeVector reads an embedding as a JSON array of numbers or as
// base64 little-endian float32s.
func decodeVector(raw json.RawMessage) ([]float32, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return inference.DecodeFloat32s(s)
	}
	var v []float32
	err := json.Unmarshal(raw, &v)
	return v, err
}
