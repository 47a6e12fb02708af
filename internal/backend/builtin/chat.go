package builtin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/engine/chat"
	"github.com/cerulean-ai/cerulean/internal/engine/runner"
	"github.com/cerulean-ai/cerulean/internal/engine/sample"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Chat answers a chat completions request.
func (b *Backend) Chat(ctx context.Context, t inference.Target, req *inference.ChatRequest) (*inference.ChatCompletion, error) {
	lm, err := b.acquire(ctx, t.Version.File)
	if err != nil {
		return nil, err
	}
	defer b.release(lm)
	j, err := lm.chatJob(ctx, t, req)
	if err != nil {
		return nil, err
	}
	g, err := lm.generate(ctx, j)
	if err != nil {
		return nil, err
	}
	defer g.close()
	outs, err := g.collect(ctx)
	if err != nil {
		return nil, err
	}
	resp := &inference.ChatCompletion{
		ID: newID("chatcmpl-"), Object: "chat.completion", Created: time.Now().Unix(),
		Model: lm.name, SystemFingerprint: lm.fingerprint, Usage: g.usage(),
		Choices: make([]inference.ChatChoice, len(outs)),
	}
	resp.StructuredOutput = j.structured
	for i, o := range outs {
		c := inference.ChatChoice{
			Index:        i,
			Message:      inference.Message{Role: "assistant", Content: inference.TextContent(o.text)},
			FinishReason: o.finish,
		}
		if j.tools != nil {
			c.Message, c.FinishReason = toolMessage(j.tools, o.text, o.finish)
		}
		if j.params.Logprobs {
			c.Logprobs = &inference.Logprobs{Content: lm.chatLogprobs(o.tokens)}
		}
		resp.Choices[i] = c
	}
	return resp, nil
}

// ChatStream answers a streamed chat completions request: for each choice
// a first chunk with the assistant role and empty content, then content
// deltas, then a chunk with the finish reason.
func (b *Backend) ChatStream(ctx context.Context, t inference.Target, req *inference.ChatRequest, emit func(*inference.ChatChunk) error) (*inference.Usage, error) {
	lm, err := b.acquire(ctx, t.Version.File)
	if err != nil {
		return nil, err
	}
	defer b.release(lm)
	j, err := lm.chatJob(ctx, t, req)
	if err != nil {
		return nil, err
	}
	g, err := lm.generate(ctx, j)
	if err != nil {
		return nil, err
	}
	defer g.close()
	id, created := newID("chatcmpl-"), time.Now().Unix()
	chunk := func(c inference.ChunkChoice) *inference.ChatChunk {
		return &inference.ChatChunk{
			ID: id, Object: "chat.completion.chunk", Created: created, Model: lm.name,
			SystemFingerprint: lm.fingerprint, Choices: []inference.ChunkChoice{c},
		}
	}
	scanners := make([]*toolScanner, j.n)
	for i := range j.n {
		if err := ctx.Err(); err != nil {
			return g.usage(), err
		}
		if j.tools != nil {
			scanners[i] = newToolScanner(j.tools)
		}
		empty := ""
		first := chunk(inference.ChunkChoice{Index: i, Delta: inference.Delta{Role: "assistant", Content: &empty}})
		first.StructuredOutput = j.structured
		if err := emit(first); err != nil {
			return g.usage(), err
		}
	}
	err = g.each(ctx, func(i int, e runner.Event) error {
		c := inference.ChunkChoice{Index: i}
		text := e.Text
		if sc := scanners[i]; sc != nil {
			text, c.Delta.ToolCalls = sc.push(text)
			if e.Done {
				text += sc.finish()
				if sc.calls() > 0 && e.FinishReason == runner.FinishStop {
					e.FinishReason = "tool_calls"
				}
			}
		}
		send := text != "" || e.Done || len(c.Delta.ToolCalls) > 0
		if text != "" {
			c.Delta.Content = &text
		}
		if j.params.Logprobs && e.Token != nil {
			c.Logprobs = &inference.Logprobs{Content: lm.chatLogprobs([]sample.Token{*e.Token})}
			if c.Delta.Content == nil {
				empty := ""
				c.Delta.Content = &empty
			}
			send = true
		}
		if e.Done {
			reason := e.FinishReason
			c.FinishReason = &reason
		}
		if !send {
			return nil
		}
		return emit(chunk(c))
	})
	return g.usage(), err
}

// chatJob renders and tokenizes the conversation and maps the parameters.
func (lm *loaded) chatJob(ctx context.Context, t inference.Target, req *inference.ChatRequest) (job, error) {
	if raw := bytes.TrimSpace(req.Functions); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		return job{}, notYet("functions", "The deprecated 'functions' parameter")
	}
	rg, err := lm.responseGrammar(req.ResponseFormat)
	if err != nil {
		return job{}, err
	}
	tools, plan := lm.toolPlan(req)
	msgs, err := chatMessages(req.Messages)
	if err != nil {
		return job{}, err
	}
	prompt, err := lm.renderChat(ctx, msgs, tools)
	if err != nil {
		return job{}, err
	}
	if plan != nil {
		// A template that ignores tools renders the same prompt without
		// them: describe them in a system message instead.
		bare, err := lm.renderChat(ctx, msgs, nil)
		if err != nil {
			return job{}, err
		}
		if bare == prompt {
			if prompt, err = lm.renderChat(ctx, withInstructions(msgs, toolInstructions(plan.format, tools)), nil); err != nil {
				return job{}, err
			}
		}
	}
	var constraint *runner.Constraint
	switch {
	case plan != nil && plan.forced:
		parallel := req.ParallelToolCalls == nil || *req.ParallelToolCalls
		g, err := lm.callGrammar(plan.format, req.Tools, plan.names, parallel)
		if err != nil {
			return job{}, err
		}
		constraint = lm.constraint(g)
		prompt += plan.format.prefix
	case rg != nil:
		// With a JSON response format the output is the format; tool calls
		// are not parsed out of it.
		constraint, plan = lm.constraint(rg), nil
	}
	p, err := lm.params(sampling{
		Temperature: req.Temperature, TopP: req.TopP, MinP: req.MinP, TopK: req.TopK,
		Presence: req.PresencePenalty, Frequency: req.FrequencyPenalty, Repetition: req.RepetitionPenalty,
		LogitBias: req.LogitBias, Seed: req.Seed,
		Logprobs: req.Logprobs != nil && *req.Logprobs, TopLogprobs: deref(req.TopLogprobs),
	})
	if err != nil {
		return job{}, err
	}
	stops := append(slices.Clone([]string(req.Stop)), lm.render.StopSequences()...)
	structured := ""
	if constraint != nil {
		// The grammar decides where the output ends; a stop string could
		// only cut it short.
		stops, structured = nil, inference.StructuredGrammar
	}
	return job{
		prompt: lm.encode(prompt), n: max(req.Choices(), 1), params: p,
		maxTokens: req.MaxOutputTokens(), stops: stops, ctxLimit: t.Version.ContextLength, weight: lm.weightOf(t),
		param: "messages", what: "messages",
		constraint: constraint, tools: plan, structured: structured,
	}, nil
}

// renderChat renders the conversation with the model's template.
func (lm *loaded) renderChat(ctx context.Context, msgs []chat.Message, tools []chat.Tool) (string, error) {
	res, err := lm.render.RenderResult(ctx, msgs, tools, chat.Options{AddGenerationPrompt: true, BOSToken: lm.bosText, EOSToken: lm.eosText})
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case err != nil && errors.Is(err, chat.ErrLimit):
		return "", fault.Param("messages", inference.CodeInvalidValue, "The conversation is too large to render: %v", err)
	case err != nil:
		return "", &fault.Error{Kind: fault.Internal, Code: "TemplateError", Message: "the model's chat template failed", Err: err}
	case res.FellBack && errors.Is(res.Cause, chat.ErrRaised):
		return "", fault.Param("messages", inference.CodeInvalidValue, "The model's chat template rejected the conversation: %v", res.Cause)
	}
	return res.Prompt, nil
}

// toolPlan returns the tools to render and how to handle tool calls: nil
// without tools or with tool_choice "none" (the tools are then left out of
// the prompt, so the model is not invited to call them).
func (lm *loaded) toolPlan(req *inference.ChatRequest) ([]chat.Tool, *toolPlan) {
	tc := req.ToolChoice
	if len(req.Tools) == 0 || (tc != nil && tc.Mode == "none") {
		return nil, nil
	}
	plan := &toolPlan{format: formatOf(lm.render.Family()), names: map[string]bool{}}
	var tools []chat.Tool
	for _, tl := range req.Tools {
		tools = append(tools, chat.Tool{Name: tl.Function.Name, Description: tl.Function.Description, Parameters: tl.Function.Parameters})
		plan.names[tl.Function.Name] = true
	}
	switch {
	case tc != nil && tc.Function != "":
		plan.forced, plan.names = true, map[string]bool{tc.Function: true}
	case tc != nil && tc.Mode == "required":
		plan.forced = true
	}
	return tools, plan
}

// encode tokenizes text with special-token parsing, adding BOS when the
// model wants one and the text does not already start with it.
func (lm *loaded) encode(text string) []int32 {
	ids := lm.tok.Encode(text, false, true)
	if lm.addBOS && (len(ids) == 0 || ids[0] != lm.tok.BOS()) {
		ids = append([]int32{lm.tok.BOS()}, ids...)
	}
	return ids
}

// chatMessages converts the request's messages; only text content is
// accepted.
func chatMessages(in []inference.Message) ([]chat.Message, error) {
	out := make([]chat.Message, 0, len(in))
	for i, m := range in {
		cm := chat.Message{Role: m.Role, Name: m.Name, ToolCallID: m.ToolCallID}
		switch m.Role {
		case "developer":
			cm.Role = "system"
		case "function":
			cm.Role = "tool"
		}
		switch {
		case m.Content.IsParts():
			var sb strings.Builder
			for k, p := range m.Content.Parts {
				param := fmt.Sprintf("messages[%d].content[%d]", i, k)
				switch p.Type {
				case "text":
					sb.WriteString(p.Text)
				case "refusal":
					sb.WriteString(p.Refusal)
				case "image_url":
					return nil, badRequest(param, "This model does not accept images.")
				case "input_audio":
					return nil, badRequest(param, "This model does not accept audio.")
				default:
					return nil, badRequest(param, "Content parts of type %q are not supported by this model.", p.Type)
				}
			}
			cm.Content = sb.String()
		case m.Content != nil:
			cm.Content = m.Content.Text
		case m.Refusal != nil:
			cm.Content = *m.Refusal
		}
		for _, tc := range m.ToolCalls {
			cm.ToolCalls = append(cm.ToolCalls, chat.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		out = append(out, cm)
	}
	return out, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// toolMessage is the assistant message of a finished choice whose text may
// hold tool calls: the calls, the content around them (null when there is
// none) and finish_reason "tool_calls" when calls ended the turn.
func toolMessage(p *toolPlan, text, finish string) (inference.Message, string) {
	sc := newToolScanner(p)
	content, deltas := sc.push(text)
	content += sc.finish()
	msg := inference.Message{Role: "assistant", Content: inference.TextContent(content)}
	for _, d := range deltas {
		if d.ID != "" {
			msg.ToolCalls = append(msg.ToolCalls, inference.ToolCall{ID: d.ID, Type: d.Type, Function: d.Function})
			continue
		}
		msg.ToolCalls[len(msg.ToolCalls)-1].Function.Arguments += d.Function.Arguments
	}
	if len(msg.ToolCalls) == 0 {
		return msg, finish
	}
	if trimSpace(content) == "" {
		msg.Content = nil
	}
	if finish == runner.FinishStop {
		finish = "tool_calls"
	}
	return msg, finish
}
