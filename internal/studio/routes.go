package studio

import (
	"errors"
	"io/fs"
	"net/http"

	"github.com/cerulean-ai/cerulean/api"
)

// Register adds the Studio's routes to mux: everything under /studio, and
// GET / redirecting to it.
func (s *Studio) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static") // the directory is embedded: no error
	mux.Handle("GET /studio/static/", secure(cacheStatic(http.StripPrefix("/studio/static/", http.FileServerFS(static)))))
	mux.Handle("GET /{$}", http.RedirectHandler("/studio/", http.StatusSeeOther))
	mux.Handle("GET /studio", http.RedirectHandler("/studio/", http.StatusSeeOther))
	mux.Handle("GET /studio/signin", secure(http.HandlerFunc(s.signinForm)))
	mux.Handle("POST /studio/signin", secure(http.HandlerFunc(s.signin)))

	pages := []struct {
		pattern string
		h       handler
	}{
		{"POST /studio/signout", s.signout},
		{"GET /studio/{$}", s.projects},

		// Hubs.
		{"GET /studio/hubs", s.hubs},
		{"POST /studio/hubs", s.createHub},
		{"GET /studio/hubs/{hub}", s.hub},
		{"GET /studio/hubs/{hub}/delete", s.confirmDeleteHub},
		{"POST /studio/hubs/{hub}/delete", s.deleteHub},

		// Projects.
		{"GET /studio/projects", s.projects},
		{"POST /studio/projects", s.createProject},
		{"GET /studio/projects/{project}", s.projectHome},
		{"GET /studio/projects/{project}/delete", s.confirmDeleteProject},
		{"POST /studio/projects/{project}/delete", s.deleteProject},
		{"GET /studio/projects/{project}/keys", s.keys},
		{"GET /studio/projects/{project}/keys/{key}/regenerate", s.confirmRegenerate},
		{"POST /studio/projects/{project}/keys/{key}/regenerate", s.regenerate},

		// Catalog.
		{"GET /studio/models", s.catalog},
		{"GET /studio/models/new", s.newModel},
		{"POST /studio/models", s.createModel},

		// Deployments.
		{"GET /studio/projects/{project}/deployments", s.deployments},
		{"GET /studio/projects/{project}/deploy", s.deployPick},
		{"GET /studio/projects/{project}/deploy/{model}", s.deployForm},
		{"POST /studio/projects/{project}/deploy/{model}", s.deploy},
		{"GET /studio/projects/{project}/deployments/{deployment}", s.deploymentPage},
		{"GET /studio/projects/{project}/deployments/{deployment}/delete", s.confirmDeleteDeployment},
		{"POST /studio/projects/{project}/deployments/{deployment}/delete", s.deleteDeployment},
		{"POST /studio/projects/{project}/deployments/{deployment}/update", s.updateDeployment},
		{"POST /studio/projects/{project}/deployments/{deployment}/logging", s.setLogging},

		// Playground.
		{"GET /studio/projects/{project}/playground", s.playground},
		{"POST /studio/projects/{project}/playground", s.playgroundPost},

		// Usage and alerts.
		{"GET /studio/projects/{project}/usage", s.usage},
		{"GET /studio/projects/{project}/alerts", s.alerts},
		{"POST /studio/projects/{project}/alerts/budgets", s.createBudget},
		{"GET /studio/projects/{project}/alerts/budgets/{name}/delete", s.confirmDeleteAlert(budgetThing())},
		{"POST /studio/projects/{project}/alerts/budgets/{name}/delete", s.deleteAlert(budgetThing())},
		{"POST /studio/projects/{project}/alerts/rules", s.createRule},
		{"GET /studio/projects/{project}/alerts/rules/{name}/delete", s.confirmDeleteAlert(ruleThing())},
		{"POST /studio/projects/{project}/alerts/rules/{name}/delete", s.deleteAlert(ruleThing())},

		// What arrives with fine-tuning.
		{"GET /studio/projects/{project}/fine-tuning", s.comingSoon("Fine-tuning", "fine-tuning")},
		{"GET /studio/projects/{project}/files", s.comingSoon("Files", "files")},
	}
	for _, p := range pages {
		mux.Handle(p.pattern, secure(s.authed(p.h)))
	}
	mux.Handle("/studio/", secure(s.authed(func(q *request) {
		v := q.view("Not found", "", nil)
		v.Error = "There is no Studio page at " + q.r.URL.Path + "."
		s.render(q.w, http.StatusNotFound, "error", v)
	})))
}

// cacheStatic lets browsers keep the static files for an hour.
func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// apiStatus is the HTTP status of an *api.Error.
func apiStatus(err error) (int, bool) {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status, true
	}
	return 0, false
}

// formError is an API error shown beside a form: the field it concerns
// (a form field name, or "" for the form as a whole) and the message.
type formError struct {
	Field   string
	Message string
	Code    string
}

// toFormError maps a validation error of the API to the form field named
// by its target (via fields: API target → form field). It reports false
// for errors that are not the caller's (5xx, auth, unreachable).
func toFormError(err error, fields map[string]string) (formError, bool) {
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status >= 500 || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden {
		return formError{}, false
	}
	fe := formError{Message: ae.Message, Code: ae.Code}
	if f, ok := fields[ae.Target]; ok {
		fe.Field = f
	}
	return fe, true
}

// comingSoon is a page of a feature that arrives later.
func (s *Studio) comingSoon(title, tab string) handler {
	return func(q *request) {
		s.render(q.w, http.StatusOK, "soon", q.view(title, tab, map[string]string{"Feature": title}))
	}
}
