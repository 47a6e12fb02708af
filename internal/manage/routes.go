package manage

import (
	"net/http"
	"strings"

	"github.com/cerulean-ai/cerulean/internal/fault"
)

// Register adds every management route to mux. All of them need the admin
// token.
func (a *API) Register(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		h       handlerFunc
	}{
		// Hubs.
		{"GET /api/v1/hubs", a.listHubs},
		{"POST /api/v1/hubs", a.createHub},
		{"GET /api/v1/hubs/{hub}", a.getHub},
		{"PATCH /api/v1/hubs/{hub}", a.updateHub},
		{"DELETE /api/v1/hubs/{hub}", a.deleteHub},
		{"GET /api/v1/hubs/{hub}/quotas", a.hubQuotas},
		{"GET /api/v1/hubs/{hub}/prices", a.getPrices},
		{"PUT /api/v1/hubs/{hub}/prices", a.putPrices},
		{"GET /api/v1/hubs/{hub}/usage", a.hubUsage},
		{"GET /api/v1/hubs/{hub}/instance-types", a.listInstanceTypes},
		{"GET /api/v1/hubs/{hub}/instance-types/{name}", a.getInstanceType},
		{"PUT /api/v1/hubs/{hub}/instance-types/{name}", a.putInstanceType},

		// Projects.
		{"GET /api/v1/projects", a.listProjects},
		{"POST /api/v1/projects", a.createProject},
		{"GET /api/v1/projects/{project}", a.getProject},
		{"DELETE /api/v1/projects/{project}", a.deleteProject},
		{"GET /api/v1/projects/{project}/usage", a.projectUsage},

		// Keys, with Azure's listKeys and regenerateKey spellings.
		{"GET /api/v1/projects/{project}/keys", a.listKeys},
		{"POST /api/v1/projects/{project}/listKeys", a.listKeys},
		{"POST /api/v1/projects/{project}/keys/regenerate", a.regenerateKey},
		{"POST /api/v1/projects/{project}/regenerateKey", a.regenerateKey},

		// Models.
		{"GET /api/v1/models", a.listModels},
		{"POST /api/v1/models", a.createModel},
		{"GET /api/v1/models/{model}", a.getModel},
		{"PATCH /api/v1/models/{model}", a.updateModel},
		{"DELETE /api/v1/models/{model}", a.deleteModel},

		// Deployments.
		{"GET /api/v1/projects/{project}/deployments", a.listDeployments},
		{"POST /api/v1/projects/{project}/deployments", a.createDeployment},
		{"GET /api/v1/projects/{project}/deployments/{deployment}", a.getDeployment},
		{"PUT /api/v1/projects/{project}/deployments/{deployment}", a.putDeployment},
		{"PATCH /api/v1/projects/{project}/deployments/{deployment}", a.updateDeployment},
		{"DELETE /api/v1/projects/{project}/deployments/{deployment}", a.deleteDeployment},

		// Request logs (logs.go).
		{"GET /api/v1/projects/{project}/deployments/{deployment}/logging", a.getLogging},
		{"PUT /api/v1/projects/{project}/deployments/{deployment}/logging", a.putLogging},
		{"GET /api/v1/projects/{project}/logs", a.listLogs},

		// Budgets, alert rules, alert history and webhook deliveries
		// (alerts.go), of projects and of hubs.
		{"GET /api/v1/projects/{project}/budgets", a.listBudgets},
		{"POST /api/v1/projects/{project}/budgets", a.createBudget},
		{"GET /api/v1/projects/{project}/budgets/{name}", a.getBudget},
		{"PUT /api/v1/projects/{project}/budgets/{name}", a.putBudget},
		{"DELETE /api/v1/projects/{project}/budgets/{name}", a.deleteBudget},
		{"GET /api/v1/hubs/{hub}/budgets", a.listBudgets},
		{"POST /api/v1/hubs/{hub}/budgets", a.createBudget},
		{"GET /api/v1/hubs/{hub}/budgets/{name}", a.getBudget},
		{"PUT /api/v1/hubs/{hub}/budgets/{name}", a.putBudget},
		{"DELETE /api/v1/hubs/{hub}/budgets/{name}", a.deleteBudget},
		{"GET /api/v1/projects/{project}/alert-rules", a.listAlertRules},
		{"POST /api/v1/projects/{project}/alert-rules", a.createAlertRule},
		{"GET /api/v1/projects/{project}/alert-rules/{name}", a.getAlertRule},
		{"PUT /api/v1/projects/{project}/alert-rules/{name}", a.putAlertRule},
		{"DELETE /api/v1/projects/{project}/alert-rules/{name}", a.deleteAlertRule},
		{"GET /api/v1/hubs/{hub}/alert-rules", a.listAlertRules},
		{"POST /api/v1/hubs/{hub}/alert-rules", a.createAlertRule},
		{"GET /api/v1/hubs/{hub}/alert-rules/{name}", a.getAlertRule},
		{"PUT /api/v1/hubs/{hub}/alert-rules/{name}", a.putAlertRule},
		{"DELETE /api/v1/hubs/{hub}/alert-rules/{name}", a.deleteAlertRule},
		{"GET /api/v1/projects/{project}/alerts", a.listAlerts},
		{"GET /api/v1/hubs/{hub}/alerts", a.listAlerts},
		{"GET /api/v1/projects/{project}/webhook-deliveries", a.listDeliveries},
		{"GET /api/v1/hubs/{hub}/webhook-deliveries", a.listDeliveries},
	}
	allowed := map[string][]string{} // path pattern → its methods
	for _, rt := range routes {
		mux.Handle(rt.pattern, a.handle(rt.h))
		method, path, _ := strings.Cut(rt.pattern, " ")
		allowed[path] = append(allowed[path], method)
	}
	paths := http.NewServeMux()
	for p := range allowed {
		paths.Handle(p, http.NotFoundHandler())
	}
	// Anything else under /api/v1/ is a JSON 405 or 404 (after the token
	// check).
	mux.Handle("/api/v1/", a.handle(func(r *http.Request) (reply, error) {
		if _, p := paths.Handler(r); p != "" {
			return reply{}, &methodNotAllowed{method: r.Method, path: r.URL.Path, allow: allowed[p]}
		}
		return reply{}, fault.New(fault.NotFound, codeNotFound, "there is no management route %s %s", r.Method, r.URL.Path)
	}))
}
