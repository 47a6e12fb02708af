package manage

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
)

func (a *API) listModels(r *http.Request) (reply, error) {
	ms, err := a.store.ListModels(r.Context())
	if err != nil {
		return reply{}, fmt.Errorf("list models: %w", err)
	}
	out := make([]api.Model, 0, len(ms))
	for _, m := range ms {
		out = append(out, modelToAPI(m))
	}
	return reply{status: http.StatusOK, body: api.List[api.Model]{Value: out}}, nil
}

func (a *API) getModel(r *http.Request) (reply, error) {
	m, err := a.store.GetModel(r.Context(), r.PathValue("model"))
	if err != nil {
		return reply{}, fmt.Errorf("get model: %w", err)
	}
	return reply{status: http.StatusOK, body: modelToAPI(m)}, nil
}

// createModel adds a catalog entry; Validate fills its defaults.
func (a *API) createModel(r *http.Request) (reply, error) {
	var in api.Model
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	m := modelFromAPI(in)
	if err := a.inspectFiles(r.Context(), &m); err != nil {
		return reply{}, err
	}
	if err := m.Validate(); err != nil {
		return reply{}, err
	}
	m.CreatedAt = a.now().UTC()
	m.UpdatedAt = m.CreatedAt
	if err := a.store.CreateModel(r.Context(), m); err != nil {
		return reply{}, fmt.Errorf("create model: %w", err)
	}
	a.changed()
	return reply{status: http.StatusCreated, body: modelToAPI(m), location: "/api/v1/models/" + m.Name}, nil
}

// updateModel merges an api.ModelUpdate: absent fields stay; versions, when
// given, replace the list. A version that repeats its stored upstream base
// URL without an API key keeps the stored key (responses never show it, so
// a client cannot send it back). Versions that deployments use cannot be
// removed.
func (a *API) updateModel(r *http.Request) (reply, error) {
	var in api.ModelUpdate
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	ctx := r.Context()
	old, err := a.store.GetModel(ctx, r.PathValue("model"))
	if err != nil {
		return reply{}, fmt.Errorf("get model: %w", err)
	}
	m := old
	if in.Description != nil {
		m.Description = *in.Description
	}
	if in.Versions != nil {
		m.Versions = make([]catalog.Version, 0, len(*in.Versions))
		for _, v := range *in.Versions {
			m.Versions = append(m.Versions, keepAPIKey(versionFromAPI(v), &old))
		}
		if _, ok := m.Version(m.DefaultVersion); !ok && in.DefaultVersion == nil {
			m.DefaultVersion = "" // the default went away: Validate picks the last
		}
	}
	if in.DefaultVersion != nil {
		m.DefaultVersion = *in.DefaultVersion
	}
	if err := a.inspectFiles(ctx, &m); err != nil {
		return reply{}, err
	}
	if err := m.Validate(); err != nil {
		return reply{}, err
	}
	if in.Versions != nil {
		if err := a.checkVersionsInUse(r, &m); err != nil {
			return reply{}, err
		}
	}
	m.UpdatedAt = a.now().UTC()
	if err := a.store.UpdateModel(ctx, m); err != nil {
		return reply{}, fmt.Errorf("update model: %w", err)
	}
	a.changed()
	return reply{status: http.StatusOK, body: modelToAPI(m)}, nil
}

// inspectFiles lets the engine read each GGUF version's file.
func (a *API) inspectFiles(ctx context.Context, m *catalog.Model) error {
	for i := range m.Versions {
		if m.Versions[i].Format != catalog.FormatGGUF {
			continue
		}
		if err := a.inspect(ctx, &m.Versions[i]); err != nil {
			return err
		}
	}
	return nil
}

// keepAPIKey gives v the API key of old's version of the same name when v
// names the same upstream base URL without a key of its own.
func keepAPIKey(v catalog.Version, old *catalog.Model) catalog.Version {
	if v.Upstream == nil || v.Upstream.APIKey != "" {
		return v
	}
	prev, ok := old.Version(v.Version)
	if v.Version == "" || !ok || prev.Upstream == nil || prev.Upstream.BaseURL != v.Upstream.BaseURL {
		return v
	}
	u := *v.Upstream
	u.APIKey = prev.Upstream.APIKey
	v.Upstream = &u
	return v
}

// checkVersionsInUse refuses a version list that drops a version a
// deployment serves.
func (a *API) checkVersionsInUse(r *http.Request, m *catalog.Model) error {
	deps, err := a.store.ListDeployments(r.Context(), "")
	if err != nil {
		return fmt.Errorf("list deployments: %w", err)
	}
	for _, d := range deps {
		if d.Model != m.Name {
			continue
		}
		if _, ok := m.Version(d.Version); !ok {
			return &fault.Error{Kind: fault.Conflict, Code: "ModelVersionInUse", Param: "versions",
				Message: fmt.Sprintf("model %q version %q is used by deployment %q of project %q: delete it or move it to another version first",
					m.Name, d.Version, d.Name, d.Project)}
		}
	}
	return nil
}

// deleteModel removes a catalog entry; the store refuses while deployments
// use it.
func (a *API) deleteModel(r *http.Request) (reply, error) {
	if err := a.store.DeleteModel(r.Context(), r.PathValue("model")); err != nil {
		return reply{}, fmt.Errorf("delete model: %w", err)
	}
	a.changed()
	return reply{status: http.StatusNoContent}, nil
}

// modelToAPI converts m for a response: upstream API keys are replaced by
// HasAPIKey.
func modelToAPI(m catalog.Model) api.Model {
	out := api.Model{Name: m.Name, Description: m.Description, DefaultVersion: m.DefaultVersion,
		Versions: make([]api.ModelVersion, 0, len(m.Versions)), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
	for _, v := range m.Versions {
		out.Versions = append(out.Versions, versionToAPI(v))
	}
	return out
}

func versionToAPI(v catalog.Version) api.ModelVersion {
	out := api.ModelVersion{
		Version: v.Version, Format: v.Format, File: v.File,
		Capabilities: capabilitiesToAPI(v.Capabilities), ContextLength: v.ContextLength, Lifecycle: v.Lifecycle,
		DeprecationAt: v.DeprecationAt, RetirementAt: v.RetirementAt,
		Prices: api.Prices{InputPer1K: v.Prices.InputPer1K, OutputPer1K: v.Prices.OutputPer1K,
			CachedInputPer1K: v.Prices.CachedInputPer1K, PTUHour: v.Prices.PTUHour},
		SKUs: slices.Clone(v.SKUs),
	}
	if v.Upstream != nil {
		out.Upstream = &api.Upstream{BaseURL: v.Upstream.BaseURL, Model: v.Upstream.Model, HasAPIKey: v.Upstream.APIKey != ""}
	}
	if p := v.PTU; p != nil {
		out.PTU = &api.PTUSpec{Minimum: p.Minimum, Step: p.Step, InputTPMPerPTU: p.InputTPMPerPTU, OutputTokenWeight: p.OutputTokenWeight}
	}
	return out
}

func capabilitiesToAPI(c catalog.Capabilities) api.Capabilities {
	return api.Capabilities{Chat: c.Chat, Completion: c.Completion, Embeddings: c.Embeddings,
		JSONSchema: c.JSONSchema, Tools: c.Tools, FineTune: c.FineTune}
}

// modelFromAPI converts a request body; read-only fields are dropped.
func modelFromAPI(in api.Model) catalog.Model {
	m := catalog.Model{Name: in.Name, Description: in.Description, DefaultVersion: in.DefaultVersion,
		Versions: make([]catalog.Version, 0, len(in.Versions))}
	for _, v := range in.Versions {
		m.Versions = append(m.Versions, versionFromAPI(v))
	}
	return m
}

func versionFromAPI(v api.ModelVersion) catalog.Version {
	c := v.Capabilities
	out := catalog.Version{
		Version: v.Version, Format: strings.ToLower(v.Format), File: v.File,
		Capabilities: catalog.Capabilities{Chat: c.Chat, Completion: c.Completion, Embeddings: c.Embeddings,
			JSONSchema: c.JSONSchema, Tools: c.Tools, FineTune: c.FineTune},
		ContextLength: v.ContextLength, Lifecycle: lifecycleFromAPI(v.Lifecycle),
		DeprecationAt: v.DeprecationAt, RetirementAt: v.RetirementAt,
		Prices: catalog.Prices{InputPer1K: v.Prices.InputPer1K, OutputPer1K: v.Prices.OutputPer1K,
			CachedInputPer1K: v.Prices.CachedInputPer1K, PTUHour: v.Prices.PTUHour},
		SKUs: slices.Clone(v.SKUs),
	}
	if v.Upstream != nil {
		out.Upstream = &catalog.Upstream{BaseURL: v.Upstream.BaseURL, Model: v.Upstream.Model, APIKey: v.Upstream.APIKey}
	}
	if p := v.PTU; p != nil {
		out.PTU = &catalog.PTUSpec{Minimum: p.Minimum, Step: p.Step, InputTPMPerPTU: p.InputTPMPerPTU, OutputTokenWeight: p.OutputTokenWeight}
	}
	return out
}

// lifecycleFromAPI accepts Azure's spellings (GenerallyAvailable, Preview,
// Deprecated) as well as Cerulean's.
func lifecycleFromAPI(s string) string {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "generallyavailable":
		return catalog.GenerallyAvailable
	case "preview":
		return catalog.Preview
	case "deprecated":
		return catalog.Deprecated
	}
	return s
}
