package manage

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/quota"
)

func (a *API) listHubs(r *http.Request) (reply, error) {
	hubs, err := a.store.ListHubs(r.Context())
	if err != nil {
		return reply{}, fmt.Errorf("list hubs: %w", err)
	}
	out := make([]api.Hub, 0, len(hubs))
	for _, h := range hubs {
		out = append(out, hubToAPI(h))
	}
	return reply{status: http.StatusOK, body: api.List[api.Hub]{Value: out}}, nil
}

func (a *API) getHub(r *http.Request) (reply, error) {
	h, err := a.store.GetHub(r.Context(), r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("get hub: %w", err)
	}
	return reply{status: http.StatusOK, body: hubToAPI(h)}, nil
}

// createHub makes a hub. Quotas left out (or null) get hub.DefaultQuotas;
// an empty list means no quota at all.
func (a *API) createHub(r *http.Request) (reply, error) {
	var in api.Hub
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	h := hub.Hub{Name: in.Name, Description: in.Description, Quotas: quotasFromAPI(in.Quotas), CreatedAt: a.now().UTC()}
	if in.Quotas == nil {
		h.Quotas = hub.DefaultQuotas()
	}
	if err := h.Validate(); err != nil {
		return reply{}, err
	}
	if err := a.store.CreateHub(r.Context(), h); err != nil {
		return reply{}, fmt.Errorf("create hub: %w", err)
	}
	a.changed()
	return reply{status: http.StatusCreated, body: hubToAPI(h), location: "/api/v1/hubs/" + h.Name}, nil
}

// hubPatch is the body of a hub update: absent (or null) fields stay.
type hubPatch struct {
	Name        string            `json:"name"`
	Description *string           `json:"description"`
	Quotas      *[]api.QuotaLimit `json:"quotas"`
}

// updateHub replaces the hub's description and/or its quotas.
func (a *API) updateHub(r *http.Request) (reply, error) {
	name := r.PathValue("hub")
	var in hubPatch
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	if in.Name != "" && in.Name != name {
		return reply{}, fault.Param("name", codeInvalidPayload, "a hub cannot be renamed: the body names %q but the path %q", in.Name, name)
	}
	h, err := a.store.GetHub(r.Context(), name)
	if err != nil {
		return reply{}, fmt.Errorf("get hub: %w", err)
	}
	if in.Description != nil {
		h.Description = *in.Description
	}
	if in.Quotas != nil {
		h.Quotas = quotasFromAPI(*in.Quotas)
	}
	if err := h.Validate(); err != nil {
		return reply{}, err
	}
	if err := a.store.UpdateHub(r.Context(), h); err != nil {
		return reply{}, fmt.Errorf("update hub: %w", err)
	}
	a.changed()
	return reply{status: http.StatusOK, body: hubToAPI(h)}, nil
}

func (a *API) deleteHub(r *http.Request) (reply, error) {
	if err := a.store.DeleteHub(r.Context(), r.PathValue("hub")); err != nil {
		return reply{}, fmt.Errorf("delete hub: %w", err)
	}
	a.changed()
	return reply{status: http.StatusNoContent}, nil
}

// hubQuotas lists one row per quota limit of the hub, then one per (model,
// sku) its deployments hold that has no limit entry of its own. A row for
// hub.AnyModel shows the limit each such model gets; its use is in the
// per-model rows.
func (a *API) hubQuotas(r *http.Request) (reply, error) {
	ctx := r.Context()
	h, err := a.store.GetHub(ctx, r.PathValue("hub"))
	if err != nil {
		return reply{}, fmt.Errorf("get hub: %w", err)
	}
	inUse, err := a.hubModelSKUs(r, h.Name)
	if err != nil {
		return reply{}, err
	}
	type key struct{ model, sku string }
	var keys []key
	seen := map[key]bool{}
	for _, q := range h.Quotas {
		k := key{q.Model, q.SKU}
		keys, seen[k] = append(keys, k), true
	}
	for _, k := range inUse {
		if k := (key{k[0], k[1]}); !seen[k] {
			keys, seen[k] = append(keys, k), true
		}
	}
	out := make([]api.QuotaUsage, 0, len(keys))
	for _, k := range keys {
		used := 0
		if k.model != hub.AnyModel {
			if used, err = a.store.QuotaUsage(ctx, h.Name, k.model, k.sku); err != nil {
				return reply{}, fmt.Errorf("quota usage of %s/%s: %w", k.model, k.sku, err)
			}
		}
		out = append(out, api.QuotaUsage{
			Model: k.model, SKU: k.sku, UsageName: quota.UsageName(k.model, k.sku),
			Limit: h.Limit(k.model, k.sku), Used: used, Unit: quotaUnit(k.sku),
		})
	}
	return reply{status: http.StatusOK, body: api.List[api.QuotaUsage]{Value: out}}, nil
}

// hubModelSKUs lists the (model, sku) pairs the hub's deployments hold,
// sorted.
func (a *API) hubModelSKUs(r *http.Request, hubName string) ([][2]string, error) {
	projects, err := a.store.ListProjects(r.Context(), hubName)
	if err != nil {
		return nil, fmt.Errorf("list projects of hub %s: %w", hubName, err)
	}
	inHub := map[string]bool{}
	for _, p := range projects {
		inHub[p.Name] = true
	}
	deps, err := a.store.ListDeployments(r.Context(), "")
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	var pairs [][2]string
	for _, d := range deps {
		if p := [2]string{d.Model, d.SKU}; inHub[d.Project] && !slices.Contains(pairs, p) {
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(x, y [2]string) int {
		return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1]))
	})
	return pairs, nil
}

// quotaUnit is the unit of a deployment type's capacity.
func quotaUnit(sku string) string {
	switch sku {
	case "ManagedCompute":
		return "replicas"
	case "ProvisionedManaged", "GlobalProvisionedManaged", "DataZoneProvisionedManaged":
		return "PTU"
	}
	return "K-TPM" // Standard types; batch types count thousands of enqueued tokens
}

func hubToAPI(h hub.Hub) api.Hub {
	q := make([]api.QuotaLimit, 0, len(h.Quotas))
	for _, l := range h.Quotas {
		q = append(q, api.QuotaLimit{Model: l.Model, SKU: l.SKU, Limit: l.Limit})
	}
	return api.Hub{Name: h.Name, Description: h.Description, Quotas: q, CreatedAt: h.CreatedAt}
}

func quotasFromAPI(in []api.QuotaLimit) []hub.QuotaLimit {
	out := make([]hub.QuotaLimit, 0, len(in))
	for _, l := range in {
		out = append(out, hub.QuotaLimit{Model: l.Model, SKU: l.SKU, Limit: l.Limit})
	}
	return out
}
