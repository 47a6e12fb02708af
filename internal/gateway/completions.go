package gateway

import (
	"fmt"
	"net/http"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// defaultCompletionTokens is the legacy API's max_tokens default.
const defaultCompletionTokens = 16

// completions serves legacy completions, streamed or not.
func (g *Gateway) completions(w *responseWriter, r *http.Request, c *call, in input) (err error) {
	req, err := decodeCompletion(in.body)
	if err != nil {
		return err
	}
	maxTokens := defaultCompletionTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	choices := req.Choices()
	if req.BestOf != nil {
		choices = max(choices, *req.BestOf)
	}
	x, err := g.begin(w, r, c, in, req.Model, opCompletion, promptTokens(req.Prompt)+estimateTokens(len(req.Suffix)), maxTokens*choices)
	if err != nil {
		return err
	}
	defer func() { x.finish(err) }()
	if req.Stream {
		return g.completionStream(x, req)
	}
	resp, err := x.backend.Complete(r.Context(), x.target, req)
	if err != nil {
		return err
	}
	if resp.Usage != nil {
		x.usage = *resp.Usage
	}
	out := *resp
	g.fillCompletion(x, &out)
	if c.dialect == dialectAzure {
		if out.PromptFilterResults == nil {
			out.PromptFilterResults = g.promptFilter(req.Prompt.Len())
		}
		out.Choices = append([]inference.CompletionChoice(nil), out.Choices...)
		for i := range out.Choices {
			if out.Choices[i].ContentFilterResults == nil {
				out.Choices[i].ContentFilterResults = g.safe
			}
		}
	}
	jb := getJSONBuffer()
	defer jb.release()
	data, err := jb.marshal(&out)
	if err != nil {
		return fmt.Errorf("gateway: encode completion: %w", err)
	}
	x.reply(data)
	return nil
}

// fillCompletion sets what a backend left empty.
func (g *Gateway) fillCompletion(x *exchange, out *inference.Completion) {
	if out.ID == "" {
		out.ID = "cmpl-" + newUUID()
	}
	if out.Object == "" {
		out.Object = "text_completion"
	}
	if out.Created == 0 {
		out.Created = g.now().Unix()
	}
	if out.Model == "" {
		out.Model = x.target.Model
	}
	if out.Choices == nil {
		out.Choices = []inference.CompletionChoice{}
	}
}

// completionStream relays legacy completion chunks as server-sent events,
// like chatStream.
func (g *Gateway) completionStream(x *exchange, req *inference.CompletionRequest) error {
	s := newSSE(x.w, x.c)
	azure := x.c.dialect == dialectAzure
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	breq := *req
	breq.StreamOptions = &inference.StreamOptions{IncludeUsage: true}
	var last inference.Completion
	opened := false
	open := func() error {
		if opened {
			return nil
		}
		opened = true
		if !azure {
			return nil
		}
		return s.send(&inference.Completion{PromptFilterResults: g.promptFilter(req.Prompt.Len()), Choices: []inference.CompletionChoice{}})
	}
	tr := x.transcript(false)
	emit := func(ch *inference.Completion) error {
		x.firstToken()
		if tr != nil {
			tr.addCompletion(ch)
		}
		if err := open(); err != nil {
			return err
		}
		out := *ch
		out.Usage = nil
		g.fillCompletion(x, &out)
		if azure {
			out.Choices = append([]inference.CompletionChoice(nil), out.Choices...)
			for i := range out.Choices {
				if out.Choices[i].Text != "" && out.Choices[i].ContentFilterResults == nil {
					out.Choices[i].ContentFilterResults = g.safe
				}
			}
		}
		last = out
		return s.send(&out)
	}
	usage, err := x.backend.CompleteStream(x.r.Context(), x.target, &breq, emit)
	if usage != nil {
		x.usage = *usage
	}
	if err != nil {
		return err
	}
	if err := open(); err != nil {
		return err
	}
	if includeUsage {
		u := x.usage
		if last.ID == "" {
			g.fillCompletion(x, &last)
		}
		if err := s.send(&inference.Completion{ID: last.ID, Object: "text_completion", Created: last.Created,
			Model: last.Model, Choices: []inference.CompletionChoice{}, Usage: &u}); err != nil {
			return err
		}
	}
	return s.done()
}

// promptTokens estimates the tokens of a prompt or embeddings input.
func promptTokens(p inference.Prompt) int {
	n := 0
	for _, t := range p.Texts {
		n += estimateTokens(len(t))
	}
	for _, ids := range p.Tokens {
		n += len(ids)
	}
	return n
}
