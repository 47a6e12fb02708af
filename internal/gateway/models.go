package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

// modelEntry is one entry of /v1/models: a callable deployment.
type modelEntry struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type list[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

func entry(d deployment.Deployment) modelEntry {
	return modelEntry{ID: d.Name, Object: "model", Created: d.CreatedAt.Unix(), OwnedBy: "cerulean"}
}

// callable lists the caller's deployments that take requests.
func (g *Gateway) callable(w *responseWriter, r *http.Request, c *call, azureV1 bool) (Caller, []deployment.Deployment, error) {
	if c.dialect == dialectAzure {
		if _, err := g.apiVersion(r, azureV1); err != nil {
			return Caller{}, nil, err
		}
	}
	caller, err := g.authenticate(r.Context(), w, r)
	if err != nil {
		return Caller{}, nil, err
	}
	all, err := g.dir.Deployments(r.Context(), caller.Project)
	if err != nil {
		return Caller{}, nil, err
	}
	out := all[:0:0]
	for _, d := range all {
		if d.Callable() {
			out = append(out, d)
		}
	}
	return caller, out, nil
}

// listModels answers GET /v1/models: the project's callable deployments.
func (g *Gateway) listModels(azureV1 bool) handlerFunc {
	return func(w *responseWriter, r *http.Request, c *call) error {
		_, ds, err := g.callable(w, r, c, azureV1)
		if err != nil {
			return err
		}
		out := list[modelEntry]{Object: "list", Data: make([]modelEntry, 0, len(ds))}
		for _, d := range ds {
			out.Data = append(out.Data, entry(d))
		}
		return sendJSON(w, out)
	}
}

// getModel answers GET /v1/models/{model}.
func (g *Gateway) getModel(azureV1 bool) handlerFunc {
	return func(w *responseWriter, r *http.Request, c *call) error {
		_, ds, err := g.callable(w, r, c, azureV1)
		if err != nil {
			return err
		}
		name := r.PathValue("model")
		for _, d := range ds {
			if d.Name == name {
				return sendJSON(w, entry(d))
			}
		}
		return &fault.Error{Kind: fault.NotFound, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("The model '%s' does not exist or you do not have access to it.", clip(name, 100))}
	}
}

// azureModel is one entry of Azure's GET /openai/models.
type azureModel struct {
	ID              string          `json:"id"`
	Object          string          `json:"object"`
	Status          string          `json:"status"`
	LifecycleStatus string          `json:"lifecycle_status"`
	Capabilities    map[string]bool `json:"capabilities"`
	Deprecation     map[string]int  `json:"deprecation,omitempty"`
	CreatedAt       int64           `json:"created_at"`
}

// azureModels answers GET /openai/models with the models the project's
// callable deployments serve.
func (g *Gateway) azureModels(w *responseWriter, r *http.Request, c *call) error {
	caller, ds, err := g.callable(w, r, c, false)
	if err != nil {
		return err
	}
	out := list[azureModel]{Object: "list", Data: []azureModel{}}
	seen := map[string]bool{}
	for _, d := range ds {
		t, err := g.dir.Resolve(r.Context(), caller.Project, d.Name)
		if err != nil {
			continue // changed state since the listing
		}
		id := t.Model + "-" + t.Version.Version
		if seen[id] {
			continue
		}
		seen[id] = true
		caps := t.Version.Capabilities
		m := azureModel{ID: id, Object: "model", Status: "succeeded", LifecycleStatus: strings.ReplaceAll(t.Version.Lifecycle, "-", ""),
			Capabilities: map[string]bool{"chat_completion": caps.Chat, "completion": caps.Completion, "embeddings": caps.Embeddings,
				"fine_tune": caps.FineTune, "inference": true},
			CreatedAt: d.CreatedAt.Unix()}
		if t.Version.RetirementAt != nil {
			m.Deprecation = map[string]int{"inference": int(t.Version.RetirementAt.Unix())}
		}
		out.Data = append(out.Data, m)
	}
	return sendJSON(w, out)
}

// azureDeployment is one entry of the legacy GET /openai/deployments.
type azureDeployment struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	Model         string            `json:"model"`
	Owner         string            `json:"owner"`
	Status        string            `json:"status"`
	ScaleSettings map[string]string `json:"scale_settings"`
	CreatedAt     int64             `json:"created_at"`
	UpdatedAt     int64             `json:"updated_at"`
}

// azureDeployments answers GET /openai/deployments.
func (g *Gateway) azureDeployments(w *responseWriter, r *http.Request, c *call) error {
	_, ds, err := g.callable(w, r, c, false)
	if err != nil {
		return err
	}
	out := list[azureDeployment]{Object: "list", Data: make([]azureDeployment, 0, len(ds))}
	for _, d := range ds {
		out.Data = append(out.Data, azureDeployment{ID: d.Name, Object: "deployment", Model: d.Model, Owner: "organization-owner",
			Status: "succeeded", ScaleSettings: map[string]string{"scale_type": "standard"},
			CreatedAt: d.CreatedAt.Unix(), UpdatedAt: d.UpdatedAt.Unix()})
	}
	return sendJSON(w, out)
}

// sendJSON writes v as a 200 JSON body.
func sendJSON(w *responseWriter, v any) error {
	data, err := marshal(v)
	if err != nil {
		return fmt.Errorf("gateway: encode response: %w", err)
	}
	writeJSON(w, data)
	return nil
}
