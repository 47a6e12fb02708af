package manage

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// listProjects lists all projects, or a hub's with ?hub=.
func (a *API) listProjects(r *http.Request) (reply, error) {
	hubName := r.URL.Query().Get("hub")
	if hubName != "" {
		if _, err := a.store.GetHub(r.Context(), hubName); err != nil {
			return reply{}, fmt.Errorf("get hub: %w", err)
		}
	}
	ps, err := a.store.ListProjects(r.Context(), hubName)
	if err != nil {
		return reply{}, fmt.Errorf("list projects: %w", err)
	}
	out := make([]api.Project, 0, len(ps))
	for _, p := range ps {
		out = append(out, a.projectToAPI(p))
	}
	return reply{status: http.StatusOK, body: api.List[api.Project]{Value: out}}, nil
}

func (a *API) getProject(r *http.Request) (reply, error) {
	p, err := a.mustProject(r)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK, body: a.projectToAPI(p)}, nil
}

// createProject makes a project in its hub ("default" unless named) with
// two new keys.
func (a *API) createProject(r *http.Request) (reply, error) {
	var in api.CreateProject
	if err := decode(r, &in); err != nil {
		return reply{}, err
	}
	now := a.now().UTC()
	p := project.Project{Name: in.Name, Hub: in.Hub, Region: in.Region, Description: in.Description, CreatedAt: now}
	if p.Hub == "" {
		p.Hub = hub.Default
	}
	if err := p.Validate(); err != nil {
		return reply{}, err
	}
	if _, err := a.store.GetHub(r.Context(), p.Hub); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return reply{}, notFound("HubNotFound", "hub", "hub %q does not exist", p.Hub)
		}
		return reply{}, fmt.Errorf("get hub: %w", err)
	}
	var keys [2]apikey.Key
	for i, slot := range []apikey.Slot{apikey.Key1, apikey.Key2} {
		_, k, err := apikey.New(a.sealer, p.Name, slot, now)
		if err != nil {
			return reply{}, fmt.Errorf("make %s of project %s: %w", slot, p.Name, err)
		}
		keys[i] = k
	}
	if err := a.store.CreateProject(r.Context(), p, keys); err != nil {
		return reply{}, fmt.Errorf("create project: %w", err)
	}
	a.changed()
	return reply{status: http.StatusCreated, body: a.projectToAPI(p), location: "/api/v1/projects/" + p.Name}, nil
}

// deleteProject removes a project with its keys and deployments.
func (a *API) deleteProject(r *http.Request) (reply, error) {
	if err := a.store.DeleteProject(r.Context(), r.PathValue("project")); err != nil {
		return reply{}, fmt.Errorf("delete project: %w", err)
	}
	a.changed()
	a.reconcile() // its deployments are gone: let the reconciler release them
	return reply{status: http.StatusNoContent}, nil
}

func (a *API) projectToAPI(p project.Project) api.Project {
	return api.Project{Name: p.Name, Hub: p.Hub, Region: p.Region, Description: p.Description,
		Endpoint: a.publicURL(), CreatedAt: p.CreatedAt}
}

// mustProject returns the named project, or its store error.
func (a *API) mustProject(r *http.Request) (project.Project, error) {
	p, err := a.store.GetProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return project.Project{}, fmt.Errorf("get project: %w", err)
	}
	return p, nil
}
