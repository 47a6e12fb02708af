package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/inference"
)

// Operations, as named in Estimate and Record.
const (
	opChat       = "chat"
	opCompletion = "completion"
	opEmbedding  = "embedding"
)

// exchange is one admitted request on its way to a backend: it settles the
// admission and records usage exactly once.
type exchange struct {
	g       *Gateway
	w       *responseWriter
	r       *http.Request
	c       *call
	caller  Caller
	target  inference.Target
	op      string
	backend Backend

	settle   func(inference.Usage)
	usage    inference.Usage
	firstTok time.Duration
	done     bool

	// Set only when the Capturer enabled capture for the deployment.
	capture  bool
	reqBody  []byte      // the request body as read
	resp     []byte      // the JSON body sent
	streamed *transcript // the streamed response, assembled
}

// begin resolves the deployment a request names, checks that its model
// can serve the operation, admits the request and picks the backend.
// name is the deployment from the path, else the body's model.
func (g *Gateway) begin(w *responseWriter, r *http.Request, c *call, in input, model, op string, promptTokens, maxTokens int) (*exchange, error) {
	ctx := r.Context()
	name := in.deployment
	if name == "" {
		name = model
	}
	if name == "" {
		return nil, fault.Param("model", "missing_required_parameter", "Missing required parameter: 'model'. Set it to the name of a deployment of your project.")
	}
	t, err := g.dir.Resolve(ctx, in.caller.Project, name)
	if err != nil {
		return nil, err
	}
	if err := supports(t, op); err != nil {
		return nil, err
	}
	x := &exchange{g: g, w: w, r: r, c: c, caller: in.caller, target: t, op: op}
	if g.capture != nil && g.capture.Enabled(in.caller.Project, t.Deployment) {
		x.capture, x.reqBody = true, in.body
	}
	if g.admitter != nil {
		settle, err := g.admitter.Admit(ctx, Estimate{RequestID: c.id, Caller: in.caller, Target: t, Operation: op, APIVersion: in.apiVersion,
			PromptTokens: promptTokens, MaxTokens: maxTokens, Header: w.Header()})
		if err != nil {
			err = fmt.Errorf("gateway: admission: %w", err)
			x.finish(err)
			return nil, err
		}
		x.settle = settle
	}
	if x.backend, err = g.backend(t); err != nil {
		err = fmt.Errorf("gateway: backend for %s: %w", t.Deployment, err)
		x.finish(err)
		return nil, err
	}
	return x, nil
}

// supports checks that the deployment's model version serves op, with
// Azure's OperationNotSupported error when it does not.
func supports(t inference.Target, op string) error {
	caps := t.Version.Capabilities
	var ok bool
	var name string
	switch op {
	case opChat:
		ok, name = caps.Chat, "chatCompletion"
	case opCompletion:
		ok, name = caps.Completion, "completion"
	case opEmbedding:
		ok, name = caps.Embeddings, "embeddings"
	}
	if ok {
		return nil
	}
	return fault.New(fault.Invalid, "OperationNotSupported",
		"The %s operation does not work with the specified model, %s. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.", name, t.Model)
}

// firstToken notes the time to the first streamed chunk.
func (x *exchange) firstToken() {
	if x.firstTok == 0 {
		x.firstTok = max(x.g.now().Sub(x.c.start), time.Nanosecond)
	}
}

// finish settles the admission with the actual usage and hands the meter
// its record; err is how the request ended. It runs once.
func (x *exchange) finish(err error) {
	if x.done {
		return
	}
	x.done = true
	if x.settle != nil {
		x.settle(x.usage)
	}
	if x.g.meter == nil && !x.capture {
		return
	}
	status, code := http.StatusOK, ""
	var errBody envelope
	switch {
	case err == nil:
	case x.r.Context().Err() != nil && errors.Is(err, context.Canceled):
		if !x.w.started() {
			status = 499 // client closed the request
		}
	default:
		var s int
		s, errBody = renderError(x.c, err)
		code = errorCodeOf(errBody)
		if !x.w.started() {
			status = s
		}
	}
	latency := x.g.now().Sub(x.c.start)
	ttft := x.firstTok
	if ttft == 0 {
		ttft = latency
	}
	ctx := context.WithoutCancel(x.r.Context())
	rec := Record{
		RequestID: x.c.id, Project: x.caller.Project, KeyID: x.caller.KeyID,
		Deployment: x.target.Deployment, Model: x.target.Model, Version: x.target.Version.Version, SKU: x.target.SKU,
		Operation: x.op, Usage: x.usage, Status: status, Stream: x.c.stream,
		Latency: latency, TimeToFirstToken: ttft, Time: x.c.start, ErrorCode: code,
	}
	if x.g.meter != nil {
		x.g.meter.Record(ctx, rec)
	}
	if x.capture {
		resp := x.resp
		switch {
		case x.streamed != nil:
			resp = x.streamed.json(x.usage)
		case status != http.StatusOK && errBody.Error != nil:
			resp, _ = marshal(errBody) // plain structs of strings: cannot fail
		}
		x.g.capture.Capture(ctx, rec, x.reqBody, resp)
	}
}

// reply sends a 200 JSON body and keeps a copy when capture is on (data
// may be a pooled buffer's).
func (x *exchange) reply(data []byte) {
	if x.capture {
		x.resp = bytes.Clone(data)
	}
	writeJSON(x.w, data)
}

// transcript starts assembling a streamed response (a chat one when chat
// is set) for the Capturer; it returns nil when capture is off.
func (x *exchange) transcript(chat bool) *transcript {
	if x.capture {
		x.streamed = &transcript{chat: chat}
	}
	return x.streamed
}

// writeJSON sends a 200 JSON body.
func writeJSON(w *responseWriter, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// estimateTokens is a rough token count of text: one token per 4 bytes.
func estimateTokens(n int) int { return (n + 3) / 4 }
