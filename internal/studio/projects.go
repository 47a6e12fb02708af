package studio

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
)

// projectsPage lists projects with the form that makes one.
type projectsPage struct {
	Projects []api.Project
	Hubs     []api.Hub
	Form     api.CreateProject
	Errors   []formError
}

// projectFields maps the API's error targets to the project form.
func projectFields() map[string]string {
	return map[string]string{"name": "name", "hub": "hub", "region": "region", "description": "description"}
}

// projects lists projects; it is also the Studio's start page.
func (s *Studio) projects(q *request) { s.projectsWith(q, http.StatusOK, projectsPage{}) }

func (s *Studio) projectsWith(q *request, status int, p projectsPage) {
	var err error
	if p.Projects, err = q.api.ListProjects(q.ctx()); err != nil {
		s.fail(q, err)
		return
	}
	if p.Hubs, err = q.api.ListHubs(q.ctx()); err != nil {
		s.fail(q, err)
		return
	}
	slices.SortFunc(p.Projects, func(a, b api.Project) int { return strings.Compare(a.Name, b.Name) })
	if p.Form.Hub == "" {
		p.Form.Hub = "default"
	}
	s.render(q.w, status, "projects", q.view("Projects", "projects", p))
}

// createProject posts the project form.
func (s *Studio) createProject(q *request) {
	f := q.r.PostForm
	in := api.CreateProject{Name: strings.TrimSpace(f.Get("name")), Hub: f.Get("hub"),
		Region: strings.TrimSpace(f.Get("region")), Description: strings.TrimSpace(f.Get("description"))}
	p, err := q.api.CreateProject(q.ctx(), in)
	if err != nil {
		fe, ok := toFormError(err, projectFields())
		if !ok {
			s.fail(q, err)
			return
		}
		s.projectsWith(q, http.StatusUnprocessableEntity, projectsPage{Form: in, Errors: []formError{fe}})
		return
	}
	seeOther(q, "/studio/projects/"+url.PathEscape(p.Name)+"/deployments?flash="+url.QueryEscape("Project "+p.Name+" created."))
}

// projectHome sends a project's page to its deployments.
func (s *Studio) projectHome(q *request) {
	seeOther(q, "/studio/projects/"+url.PathEscape(q.r.PathValue("project"))+"/deployments")
}

// confirmPage asks before something is deleted or replaced.
type confirmPage struct {
	Heading string
	Message string
	Action  string // the form's POST target
	Button  string
	Cancel  string // where "Cancel" goes
}

func (s *Studio) confirmDeleteProject(q *request) {
	name := q.r.PathValue("project")
	if _, err := q.api.GetProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	base := "/studio/projects/" + url.PathEscape(name)
	s.render(q.w, http.StatusOK, "confirm", q.view("Delete project "+name, "deployments", confirmPage{
		Heading: "Delete project " + name + "?",
		Message: "This deletes the project's keys and all its deployments. Applications using its endpoint stop working. This cannot be undone.",
		Action:  base + "/delete", Button: "Delete project", Cancel: base + "/deployments",
	}))
}

func (s *Studio) deleteProject(q *request) {
	name := q.r.PathValue("project")
	if err := q.api.DeleteProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	seeOther(q, "/studio/projects?flash="+url.QueryEscape("Project "+name+" deleted."))
}

// hubsPage lists hubs with the form that makes one.
type hubsPage struct {
	Hubs   []api.Hub
	Form   api.Hub
	Errors []formError
}

func hubFields() map[string]string {
	return map[string]string{"name": "name", "description": "description"}
}

func (s *Studio) hubs(q *request) { s.hubsWith(q, http.StatusOK, hubsPage{}) }

func (s *Studio) hubsWith(q *request, status int, p hubsPage) {
	var err error
	if p.Hubs, err = q.api.ListHubs(q.ctx()); err != nil {
		s.fail(q, err)
		return
	}
	slices.SortFunc(p.Hubs, func(a, b api.Hub) int { return strings.Compare(a.Name, b.Name) })
	s.render(q.w, status, "hubs", q.view("Hubs", "hubs", p))
}

func (s *Studio) createHub(q *request) {
	f := q.r.PostForm
	in := api.Hub{Name: strings.TrimSpace(f.Get("name")), Description: strings.TrimSpace(f.Get("description"))}
	h, err := q.api.CreateHub(q.ctx(), in)
	if err != nil {
		fe, ok := toFormError(err, hubFields())
		if !ok {
			s.fail(q, err)
			return
		}
		s.hubsWith(q, http.StatusUnprocessableEntity, hubsPage{Form: in, Errors: []formError{fe}})
		return
	}
	seeOther(q, "/studio/hubs/"+url.PathEscape(h.Name)+"?flash="+url.QueryEscape("Hub "+h.Name+" created."))
}

// hubPage is one hub: its quotas and projects.
type hubPage struct {
	Hub      api.Hub
	Quotas   []api.QuotaUsage
	Projects []api.Project
}

func (s *Studio) hub(q *request) {
	name := q.r.PathValue("hub")
	var p hubPage
	var err error
	if p.Hub, err = q.api.GetHub(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	if p.Quotas, err = q.api.HubQuotas(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	all, err := q.api.ListProjects(q.ctx())
	if err != nil {
		s.fail(q, err)
		return
	}
	for _, pr := range all {
		if pr.Hub == name {
			p.Projects = append(p.Projects, pr)
		}
	}
	s.render(q.w, http.StatusOK, "hub", q.view("Hub "+name, "hubs", p))
}

func (s *Studio) confirmDeleteHub(q *request) {
	name := q.r.PathValue("hub")
	if _, err := q.api.GetHub(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	base := "/studio/hubs/" + url.PathEscape(name)
	s.render(q.w, http.StatusOK, "confirm", q.view("Delete hub "+name, "hubs", confirmPage{
		Heading: "Delete hub " + name + "?",
		Message: "A hub can be deleted only when it has no projects. Its quotas go with it. This cannot be undone.",
		Action:  base + "/delete", Button: "Delete hub", Cancel: base,
	}))
}

func (s *Studio) deleteHub(q *request) {
	name := q.r.PathValue("hub")
	if err := q.api.DeleteHub(q.ctx(), name); err != nil {
		if fe, ok := toFormError(err, nil); ok {
			base := "/studio/hubs/" + url.PathEscape(name)
			v := q.view("Delete hub "+name, "hubs", confirmPage{
				Heading: "Delete hub " + name + "?", Action: base + "/delete", Button: "Delete hub", Cancel: base,
			})
			v.Error = fe.Message
			s.render(q.w, http.StatusConflict, "confirm", v)
			return
		}
		s.fail(q, err)
		return
	}
	seeOther(q, "/studio/hubs?flash="+url.QueryEscape("Hub "+name+" deleted."))
}
