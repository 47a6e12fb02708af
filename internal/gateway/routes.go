package gateway

import (
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// addressing says where a route finds the deployment name.
type addressing int

const (
	byPath     addressing = iota // /openai/deployments/{deployment}/... (Azure)
	byModelV1                    // body model, /openai/v1/... (Azure v1)
	byModelAPI                   // body model, /v1/... (OpenAI)
)

// input is what every inference handler starts from: the caller, the
// body and the deployment named in the path (empty when the body names it).
type input struct {
	caller     Caller
	body       []byte
	deployment string
	apiVersion string
}

// opHandler serves one operation once the common steps are done.
type opHandler func(w *responseWriter, r *http.Request, c *call, in input) error

// Register adds the inference routes to mux:
//
//	POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=
//	GET  /openai/models, /openai/deployments                         (api-version required)
//	POST /openai/v1/{chat/completions|completions|embeddings}         (api-version optional)
//	GET  /openai/v1/models, /openai/v1/models/{model}
//	POST /v1/{chat/completions|completions|embeddings}
//	GET  /v1/models, /v1/models/{model}
//
// Any other path under /openai/ or /v1/ gets a 404, and a known path with
// the wrong method a 405, both in the dialect's error envelope.
func (g *Gateway) Register(mux *http.ServeMux) {
	route := func(d dialect, method, path string, h handlerFunc) {
		mux.Handle(method+" "+path, g.wrap(d, h))
		mux.Handle(path, g.wrap(d, methodNotAllowed(method)))
	}
	ops := []struct {
		path  string
		serve opHandler
	}{
		{"chat/completions", g.chat},
		{"completions", g.completions},
		{"embeddings", g.embeddings},
	}
	for _, op := range ops {
		route(dialectAzure, http.MethodPost, "/openai/deployments/{deployment}/"+op.path, g.inference(byPath, op.serve))
		route(dialectAzure, http.MethodPost, "/openai/v1/"+op.path, g.inference(byModelV1, op.serve))
		route(dialectOpenAI, http.MethodPost, "/v1/"+op.path, g.inference(byModelAPI, op.serve))
	}
	route(dialectAzure, http.MethodGet, "/openai/models", g.azureModels)
	route(dialectAzure, http.MethodGet, "/openai/deployments", g.azureDeployments)
	route(dialectAzure, http.MethodGet, "/openai/v1/models", g.listModels(true))
	route(dialectAzure, http.MethodGet, "/openai/v1/models/{model}", g.getModel(true))
	route(dialectOpenAI, http.MethodGet, "/v1/models", g.listModels(false))
	route(dialectOpenAI, http.MethodGet, "/v1/models/{model}", g.getModel(false))
	mux.Handle("/openai/", g.wrap(dialectAzure, notFound))
	mux.Handle("/v1/", g.wrap(dialectOpenAI, notFound))
}

// inference runs the steps every inference operation shares: api-version,
// key, body; the operation decodes, resolves and serves.
func (g *Gateway) inference(a addressing, serve opHandler) handlerFunc {
	return func(w *responseWriter, r *http.Request, c *call) error {
		var in input
		var err error
		if a != byModelAPI {
			if in.apiVersion, err = g.apiVersion(r, a == byModelV1); err != nil {
				return err
			}
		}
		if in.caller, err = g.authenticate(r.Context(), w, r); err != nil {
			return err
		}
		if in.body, err = readBody(w, r, g.maxBody); err != nil {
			return err
		}
		if a == byPath {
			in.deployment = r.PathValue("deployment")
		}
		return serve(w, r, c, in)
	}
}

// notFound answers paths the gateway does not serve.
func notFound(_ *responseWriter, r *http.Request, c *call) error {
	if c.dialect == dialectAzure {
		return fault.New(fault.NotFound, "404", resourceNotFound)
	}
	return fault.New(fault.NotFound, "unknown_url", "Invalid URL (%s %s)", r.Method, clip(r.URL.Path, 200))
}

// methodNotAllowed answers a known path called with the wrong method.
func methodNotAllowed(allowed string) handlerFunc {
	return func(w *responseWriter, r *http.Request, c *call) error {
		w.Header().Set("allow", allowed)
		code := "method_not_allowed"
		if c.dialect == dialectAzure {
			code = "405"
		}
		return &statusError{status: http.StatusMethodNotAllowed, err: &fault.Error{Kind: fault.Invalid, Code: code,
			Message: "Invalid method for URL (" + clip(r.Method, 20) + " " + clip(r.URL.Path, 200) + "): use " + allowed + "."}}
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
