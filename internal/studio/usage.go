package studio

import (
	"net/http"

	"github.com/cerulean-ai/cerulean/api"
)

// usagePage is a project's (or one deployment's) usage and cost.
type usagePage struct {
	Project    api.Project
	Deployment string
	Enabled    bool
}

// usage shows usage and cost. The management client has no usage API
// yet, so the page says usage reporting is not enabled.
func (s *Studio) usage(q *request) {
	p := usagePage{Deployment: q.r.URL.Query().Get("deployment")}
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), q.r.PathValue("project")); err != nil {
		s.fail(q, err)
		return
	}
	if q.r.URL.Query().Get("format") == "csv" {
		http.Error(q.w, "usage reporting is not enabled on this server", http.StatusNotFound)
		return
	}
	s.render(q.w, http.StatusOK, "usage", q.view("Usage & cost · "+p.Project.Name, "usage", p))
}

// alerts shows alert rules and budgets. There is no alerts API yet.
func (s *Studio) alerts(q *request) {
	p, err := q.api.GetProject(q.ctx(), q.r.PathValue("project"))
	if err != nil {
		s.fail(q, err)
		return
	}
	s.render(q.w, http.StatusOK, "alerts", q.view("Alerts · "+p.Name, "alerts", p))
}
