package gateway

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Capturer keeps the request and response bodies of the deployments that
// have capture switched on. The gateway asks Enabled once per request that
// resolved a deployment and does nothing more for it unless Enabled said
// yes; then it calls Capture once, when the request ends.
type Capturer interface {
	// Enabled reports whether project's deployment captures bodies. It is
	// called on the request path and must answer from memory.
	Enabled(project, deployment string) bool
	// Capture receives the request's Record, the request body as the client
	// sent it, and the response body: the JSON sent, the error envelope
	// sent, or for a stream a JSON document assembled from its events (the
	// text of each choice's deltas, its finish reason and the usage). It
	// must not block; the slices are its to keep and must not be modified.
	Capture(ctx context.Context, r Record, req, resp []byte)
}

// transcript assembles a streamed response for a Capturer, chunk by chunk.
type transcript struct {
	id, model string
	chat      bool
	choices   map[int]*transcriptChoice
}

// transcriptChoice is the assembled part of one streamed choice.
type transcriptChoice struct {
	text    strings.Builder
	refusal strings.Builder
	tools   map[int]*inference.ToolCall
	finish  string
}

func (t *transcript) choice(i int) *transcriptChoice {
	if t.choices == nil {
		t.choices = map[int]*transcriptChoice{}
	}
	c := t.choices[i]
	if c == nil {
		c = &transcriptChoice{}
		t.choices[i] = c
	}
	return c
}

func (t *transcript) head(id, model string) {
	if t.id == "" {
		t.id = id
	}
	if t.model == "" {
		t.model = model
	}
}

// addChat adds a chat chunk's deltas.
func (t *transcript) addChat(ch *inference.ChatChunk) {
	t.head(ch.ID, ch.Model)
	for i := range ch.Choices {
		cc := &ch.Choices[i]
		c := t.choice(cc.Index)
		if d := cc.Delta.Content; d != nil {
			c.text.WriteString(*d)
		}
		if d := cc.Delta.Refusal; d != nil {
			c.refusal.WriteString(*d)
		}
		for j, tc := range cc.Delta.ToolCalls {
			k := j
			if tc.Index != nil {
				k = *tc.Index
			}
			if c.tools == nil {
				c.tools = map[int]*inference.ToolCall{}
			}
			acc := c.tools[k]
			if acc == nil {
				acc = &inference.ToolCall{Type: "function"}
				c.tools[k] = acc
			}
			if tc.ID != "" {
				acc.ID = tc.ID
			}
			if tc.Type != "" {
				acc.Type = tc.Type
			}
			acc.Function.Name += tc.Function.Name
			acc.Function.Arguments += tc.Function.Arguments
		}
		if cc.FinishReason != nil {
			c.finish = *cc.FinishReason
		}
	}
}

// addCompletion adds a legacy completion chunk's text.
func (t *transcript) addCompletion(ch *inference.Completion) {
	t.head(ch.ID, ch.Model)
	for i := range ch.Choices {
		cc := &ch.Choices[i]
		c := t.choice(cc.Index)
		c.text.WriteString(cc.Text)
		if cc.FinishReason != nil {
			c.finish = *cc.FinishReason
		}
	}
}

// json is the assembled response in the shape of the non-streamed one.
func (t *transcript) json(u inference.Usage) []byte {
	keys := slices.Sorted(maps.Keys(t.choices))
	var v any
	if t.chat {
		out := inference.ChatCompletion{ID: t.id, Object: "chat.completion", Model: t.model,
			Choices: []inference.ChatChoice{}, Usage: &u}
		for _, k := range keys {
			c := t.choices[k]
			m := inference.Message{Role: "assistant", Content: inference.TextContent(c.text.String())}
			if c.refusal.Len() > 0 {
				r := c.refusal.String()
				m.Refusal = &r
			}
			for _, tk := range slices.Sorted(maps.Keys(c.tools)) {
				m.ToolCalls = append(m.ToolCalls, *c.tools[tk])
			}
			out.Choices = append(out.Choices, inference.ChatChoice{Index: k, Message: m, FinishReason: c.finish})
		}
		v = &out
	} else {
		out := inference.Completion{ID: t.id, Object: "text_completion", Model: t.model,
			Choices: []inference.CompletionChoice{}, Usage: &u}
		for _, k := range keys {
			c := t.choices[k]
			cc := inference.CompletionChoice{Index: k, Text: c.text.String()}
			if c.finish != "" {
				f := c.finish
				cc.FinishReason = &f
			}
			out.Choices = append(out.Choices, cc)
		}
		v = &out
	}
	data, err := marshal(v)
	if err != nil { // plain structs of strings and numbers: cannot fail
		return nil
	}
	return data
}

// errorCodeOf is the code an error envelope shows the client.
func errorCodeOf(body envelope) string {
	switch e := body.Error.(type) {
	case shortError:
		return e.Code
	case fullError:
		if e.Code != nil {
			return *e.Code
		}
	}
	return ""
}
