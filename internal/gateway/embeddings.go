package gateway

import (
	"fmt"
	"net/http"
)

// embeddings serves embeddings. The backend always returns float vectors;
// the gateway encodes them as base64 when the client asked for it.
func (g *Gateway) embeddings(w *responseWriter, r *http.Request, c *call, in input) (err error) {
	req, err := decodeEmbedding(in.body)
	if err != nil {
		return err
	}
	x, err := g.begin(w, r, c, in, req.Model, opEmbedding, promptTokens(req.Input), 0)
	if err != nil {
		return err
	}
	defer func() { x.finish(err) }()
	format := req.EncodingFormat
	breq := *req
	breq.EncodingFormat = "float"
	resp, err := x.backend.Embed(r.Context(), x.target, &breq)
	if err != nil {
		return err
	}
	if resp.Usage != nil {
		x.usage = *resp.Usage
	}
	out := *resp
	if out.Object == "" {
		out.Object = "list"
	}
	if out.Model == "" {
		out.Model = x.target.Model
	}
	jb := getJSONBuffer()
	defer jb.release()
	var data []byte
	if format == "base64" {
		data, err = jb.marshal(out.Base64())
	} else {
		data, err = jb.marshal(&out)
	}
	if err != nil {
		return fmt.Errorf("gateway: encode embeddings: %w", err)
	}
	x.reply(data)
	return nil
}
