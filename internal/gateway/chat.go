package gateway

import (
	"fmt"
	"net/http"

	"github.com/cerulean-ai/cerulean/internal/inference"
)

// chat serves chat completions, streamed or not.
func (g *Gateway) chat(w *responseWriter, r *http.Request, c *call, in input) (err error) {
	req, err := decodeChat(in.body)
	if err != nil {
		return err
	}
	x, err := g.begin(w, r, c, in, req.Model, opChat, chatPromptTokens(req), req.MaxOutputTokens()*req.Choices())
	if err != nil {
		return err
	}
	defer func() { x.finish(err) }()
	if req.Stream {
		return g.chatStream(x, req)
	}
	resp, err := x.backend.Chat(r.Context(), x.target, req)
	if err != nil {
		return err
	}
	if resp.Usage != nil {
		x.usage = *resp.Usage
	}
	out := *resp
	g.fillChat(x, &out)
	if c.dialect == dialectAzure {
		if out.PromptFilterResults == nil {
			out.PromptFilterResults = g.promptFilter(1)
		}
		out.Choices = append([]inference.ChatChoice(nil), out.Choices...)
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
		return fmt.Errorf("gateway: encode chat completion: %w", err)
	}
	if out.StructuredOutput != "" {
		x.w.Header().Set(inference.HeaderStructuredOutput, out.StructuredOutput)
	}
	x.reply(data)
	return nil
}

// fillChat sets what a backend left empty, like fillCompletion.
func (g *Gateway) fillChat(x *exchange, out *inference.ChatCompletion) {
	if out.ID == "" {
		out.ID = "chatcmpl-" + newUUID()
	}
	if out.Object == "" {
		out.Object = "chat.completion"
	}
	if out.Created == 0 {
		out.Created = g.now().Unix()
	}
	if out.Model == "" {
		out.Model = x.target.Model
	}
	if out.Choices == nil {
		out.Choices = []inference.ChatChoice{}
	}
}

// chatStream relays a backend's chunks as server-sent events. The Azure
// dialect opens with the prompt-filter event; the usage chunk goes before
// [DONE] when the client asked for it. An error after the first event is
// sent as an error event by writeError and the stream ends without [DONE].
func (g *Gateway) chatStream(x *exchange, req *inference.ChatRequest) error {
	s := newSSE(x.w, x.c)
	azure := x.c.dialect == dialectAzure
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	breq := *req
	breq.StreamOptions = &inference.StreamOptions{IncludeUsage: true} // always count
	var last inference.ChatChunk
	opened := false
	open := func() error {
		if opened {
			return nil
		}
		opened = true
		if !azure {
			return nil
		}
		return s.send(&inference.ChatChunk{PromptFilterResults: g.promptFilter(1), Choices: []inference.ChunkChoice{}})
	}
	tr := x.transcript(true)
	emit := func(ch *inference.ChatChunk) error {
		x.firstToken()
		if tr != nil {
			tr.addChat(ch)
		}
		if !opened && ch.StructuredOutput != "" {
			// Headers go out with the first event.
			x.w.Header().Set(inference.HeaderStructuredOutput, ch.StructuredOutput)
		}
		if err := open(); err != nil {
			return err
		}
		out := *ch
		out.Usage = nil
		if out.Object == "" {
			out.Object = "chat.completion.chunk"
		}
		if out.Choices == nil {
			out.Choices = []inference.ChunkChoice{}
		}
		if azure {
			out.Choices = append([]inference.ChunkChoice(nil), out.Choices...)
			for i := range out.Choices {
				if d := out.Choices[i].Delta.Content; d != nil && *d != "" && out.Choices[i].ContentFilterResults == nil {
					out.Choices[i].ContentFilterResults = g.safe
				}
			}
		}
		last = out
		return s.send(&out)
	}
	usage, err := x.backend.ChatStream(x.r.Context(), x.target, &breq, emit)
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
			last.ID = "chatcmpl-" + newUUID()
			last.Created = g.now().Unix()
		}
		if last.Model == "" {
			last.Model = x.target.Model
		}
		if err := s.send(&inference.ChatChunk{ID: last.ID, Object: "chat.completion.chunk", Created: last.Created,
			Model: last.Model, SystemFingerprint: last.SystemFingerprint, Choices: []inference.ChunkChoice{}, Usage: &u}); err != nil {
			return err
		}
	}
	return s.done()
}

// chatPromptTokens estimates the prompt's tokens for admission.
func chatPromptTokens(req *inference.ChatRequest) int {
	n := 0
	for i := range req.Messages {
		m := &req.Messages[i]
		n += 16 + len(m.Name) // role and framing
		if m.Content != nil {
			if m.Content.Parts == nil {
				n += len(m.Content.Text)
			}
			for _, p := range m.Content.Parts {
				n += len(p.Text) + len(p.Refusal)
				if p.ImageURL != nil {
					n += 85 * 4 // a low-detail image
				}
			}
		}
		for _, tc := range m.ToolCalls {
			n += len(tc.Function.Name) + len(tc.Function.Arguments)
		}
	}
	for _, t := range req.Tools {
		n += len(t.Function.Name) + len(t.Function.Description) + len(t.Function.Parameters)
	}
	return estimateTokens(n)
}
