package studio

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cerulean-ai/cerulean/api"
)

// historyLimit is how many alert events and webhook deliveries the alerts
// page shows.
const historyLimit = 50

// budgetView is a budget with its progress bar.
type budgetView struct {
	api.Budget
	Bar   Bar
	State string // "ok", "warn" (a threshold passed) or "over" (exceeded)
}

// newBudgetView draws b's bar.
func newBudgetView(b api.Budget) budgetView {
	share := b.Percent
	if share == 0 && b.Amount > 0 {
		share = b.Spend / b.Amount * 100
	}
	th := b.Thresholds
	if len(th) == 0 {
		th = []float64{50, 80, 100} // the API's default
	}
	v := budgetView{Budget: b, State: "ok"}
	for _, t := range th {
		if share >= t {
			v.State = "warn"
		}
	}
	if b.Exceeded || (b.Amount > 0 && b.Spend >= b.Amount) {
		v.State = "over"
	}
	v.Budget.Thresholds, v.Budget.Percent = th, share
	scope := "project"
	if b.Project == "" && b.Hub != "" {
		scope = "hub"
	}
	v.Bar = Bar{ID: "budget-" + scope + "-" + b.Name, Percent: share, Marks: th, State: v.State,
		Label: "Spent " + money(b.Spend) + " of " + money(b.Amount) + " (" + pct(share) + ") this month; thresholds at " + percents(th) + "."}
	return v
}

// percents lists thresholds as "50%, 80%, 100%".
func percents(ps []float64) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.FormatFloat(p, 'f', -1, 64) + "%"
	}
	return strings.Join(out, ", ")
}

// budgetViews draws the bars of bs, sorted by name.
func budgetViews(bs []api.Budget) []budgetView {
	slices.SortFunc(bs, func(a, b api.Budget) int { return strings.Compare(a.Name, b.Name) })
	out := make([]budgetView, len(bs))
	for i, b := range bs {
		out[i] = newBudgetView(b)
	}
	return out
}

// budgetForm is the create-budget form, as typed. The webhook secret is
// never shown back.
type budgetForm struct {
	Name, Amount, Thresholds, WebhookURL string
	Hard                                 bool
}

// newBudgetForm is the budget form as the page first shows it.
func newBudgetForm() budgetForm { return budgetForm{Thresholds: "50, 80, 100"} }

// ruleForm is the create-rule form, as typed.
type ruleForm struct {
	Name, Metric, Comparator, Threshold, Window, Cooldown, Deployment, WebhookURL string
}

// newRuleForm is the rule form as the page first shows it.
func newRuleForm() ruleForm {
	return ruleForm{Metric: api.MetricRate429, Comparator: ">", Window: "5m", Cooldown: "15m"}
}

// metricChoice is one metric an alert rule can watch.
type metricChoice struct{ Name, Label string }

// ruleMetrics are the metrics of the rule form.
func ruleMetrics() []metricChoice {
	return []metricChoice{
		{api.MetricRate429, "429 rate (% of requests)"}, {api.MetricP95, "p95 latency (ms)"},
		{api.MetricErrorRate, "error rate (% answered 5xx)"}, {api.MetricRequests, "requests (count)"},
	}
}

// alertsPage is a project's budgets, its hub's, alert rules, alert history
// and webhook deliveries, with the forms that add budgets and rules.
type alertsPage struct {
	Project      api.Project
	Enabled      bool // the server has the alerts API
	Budgets      []budgetView
	HubBudgets   []budgetView
	Rules        []api.AlertRule
	Events       []api.AlertEvent
	Deliveries   []api.WebhookDelivery
	Deployments  []api.Deployment
	Metrics      []metricChoice
	Budget       budgetForm
	Rule         ruleForm
	BudgetErrors []formError
	RuleErrors   []formError
}

// budgetFields maps the API's error targets to the budget form.
func budgetFields() map[string]string {
	return map[string]string{"name": "name", "amount": "amount", "thresholds": "thresholds", "webhooks": "webhook"}
}

// ruleFields maps the API's error targets to the rule form.
func ruleFields() map[string]string {
	return map[string]string{"name": "name", "metric": "metric", "comparator": "comparator", "threshold": "threshold",
		"window": "window", "cooldown": "cooldown", "deployment": "deployment", "webhooks": "webhook"}
}

// alertsURL is the Studio's alerts page of a project.
func alertsURL(project string) string {
	return "/studio/projects/" + url.PathEscape(project) + "/alerts"
}

// notAvailable reports whether err says the server lacks an API (an older
// or smaller server: 404 without a resource, or 501).
func notAvailable(err error) bool {
	status, ok := apiStatus(err)
	return ok && (status == http.StatusNotFound || status == http.StatusNotImplemented)
}

// alerts shows the alerts page.
func (s *Studio) alerts(q *request) {
	s.alertsWith(q, http.StatusOK, alertsPage{
		Budget: newBudgetForm(),
		Rule:   newRuleForm(),
	})
}

// alertsWith loads the lists into p (which holds the forms) and renders.
func (s *Studio) alertsWith(q *request, status int, p alertsPage) {
	name := q.r.PathValue("project")
	var err error
	if p.Project, err = q.api.GetProject(q.ctx(), name); err != nil {
		s.fail(q, err)
		return
	}
	p.Metrics = ruleMetrics()
	title := "Alerts · " + p.Project.Name
	scope := api.Scope{Project: p.Project.Name}
	budgets, err := q.api.ListBudgets(q.ctx(), scope)
	if notAvailable(err) {
		s.render(q.w, status, "alerts", q.view(title, "alerts", p))
		return
	}
	if err != nil {
		s.fail(q, err)
		return
	}
	p.Enabled = true
	p.Budgets = budgetViews(budgets)
	hub, err := q.api.ListBudgets(q.ctx(), api.Scope{Hub: p.Project.Hub})
	if err != nil {
		s.fail(q, err)
		return
	}
	p.HubBudgets = budgetViews(hub)
	if p.Rules, err = q.api.ListAlertRules(q.ctx(), scope); err != nil {
		s.fail(q, err)
		return
	}
	slices.SortFunc(p.Rules, func(a, b api.AlertRule) int { return strings.Compare(a.Name, b.Name) })
	if p.Events, err = q.api.ListAlerts(q.ctx(), scope, historyLimit); err != nil {
		s.fail(q, err)
		return
	}
	if p.Deliveries, err = q.api.ListWebhookDeliveries(q.ctx(), scope, historyLimit); err != nil {
		s.fail(q, err)
		return
	}
	if p.Deployments, err = q.api.ListDeployments(q.ctx(), p.Project.Name); err != nil {
		s.fail(q, err)
		return
	}
	slices.SortFunc(p.Deployments, func(a, b api.Deployment) int { return strings.Compare(a.Name, b.Name) })
	s.render(q.w, status, "alerts", q.view(title, "alerts", p))
}

// webhooks is the one webhook of a form, or none when the URL is empty.
func webhooks(u, secret string) []api.Webhook {
	if u == "" {
		return nil
	}
	return []api.Webhook{{URL: u, Secret: secret}}
}

// parseThresholds reads "50, 80 100" as percents; empty means the API's
// default.
func parseThresholds(s string) ([]float64, bool) {
	var out []float64
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '%' }) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// createBudget posts the budget form.
func (s *Studio) createBudget(q *request) {
	pf := q.r.PostForm
	f := budgetForm{Name: strings.TrimSpace(pf.Get("name")), Amount: strings.TrimSpace(pf.Get("amount")),
		Thresholds: strings.TrimSpace(pf.Get("thresholds")), WebhookURL: strings.TrimSpace(pf.Get("webhookURL")),
		Hard: pf.Get("hard") == "on"}
	project := q.r.PathValue("project")
	again := func(fe formError) {
		s.alertsWith(q, http.StatusUnprocessableEntity, alertsPage{Budget: f, BudgetErrors: []formError{fe},
			Rule: newRuleForm()})
	}
	amount, err := strconv.ParseFloat(strings.TrimPrefix(f.Amount, "$"), 64)
	if err != nil {
		again(formError{Field: "amount", Message: "Enter an amount in dollars, such as 100."})
		return
	}
	th, ok := parseThresholds(f.Thresholds)
	if !ok {
		again(formError{Field: "thresholds", Message: "Enter percents separated by commas, such as 50, 80, 100."})
		return
	}
	b, err := q.api.CreateBudget(q.ctx(), api.Scope{Project: project}, api.Budget{Name: f.Name, Amount: amount,
		Thresholds: th, Hard: f.Hard, Webhooks: webhooks(f.WebhookURL, pf.Get("webhookSecret"))})
	if err != nil {
		fe, ok := toFormError(err, budgetFields())
		if !ok {
			s.fail(q, err)
			return
		}
		if status, _ := apiStatus(err); status == http.StatusConflict {
			fe.Field = "name"
		}
		again(fe)
		return
	}
	seeOther(q, alertsURL(project)+"?flash="+url.QueryEscape("Budget "+b.Name+" created.")+"#budgets")
}

// createRule posts the alert rule form.
func (s *Studio) createRule(q *request) {
	pf := q.r.PostForm
	f := ruleForm{Name: strings.TrimSpace(pf.Get("name")), Metric: pf.Get("metric"), Comparator: pf.Get("comparator"),
		Threshold: strings.TrimSpace(pf.Get("threshold")), Window: strings.TrimSpace(pf.Get("window")),
		Cooldown: strings.TrimSpace(pf.Get("cooldown")), Deployment: pf.Get("deployment"),
		WebhookURL: strings.TrimSpace(pf.Get("webhookURL"))}
	project := q.r.PathValue("project")
	again := func(fe formError) {
		s.alertsWith(q, http.StatusUnprocessableEntity, alertsPage{Rule: f, RuleErrors: []formError{fe},
			Budget: newBudgetForm()})
	}
	threshold, err := strconv.ParseFloat(f.Threshold, 64)
	if err != nil {
		again(formError{Field: "threshold", Message: "Enter a number, such as 5."})
		return
	}
	r, err := q.api.CreateAlertRule(q.ctx(), api.Scope{Project: project}, api.AlertRule{Name: f.Name, Metric: f.Metric,
		Comparator: f.Comparator, Threshold: threshold, Window: f.Window, Cooldown: f.Cooldown, Deployment: f.Deployment,
		Webhooks: webhooks(f.WebhookURL, pf.Get("webhookSecret"))})
	if err != nil {
		fe, ok := toFormError(err, ruleFields())
		if !ok {
			s.fail(q, err)
			return
		}
		if status, _ := apiStatus(err); status == http.StatusConflict {
			fe.Field = "name"
		}
		again(fe)
		return
	}
	seeOther(q, alertsURL(project)+"?flash="+url.QueryEscape("Alert rule "+r.Name+" created.")+"#rules")
}

// alertThing is what the delete routes of the alerts page remove.
type alertThing struct {
	kind  string // "budget" or "alert rule"
	path  string // "budgets" or "rules"
	check func(q *request, s api.Scope, name string) error
	del   func(q *request, s api.Scope, name string) error
}

// budgetThing and ruleThing are the two.
func budgetThing() alertThing {
	return alertThing{kind: "budget", path: "budgets",
		check: func(q *request, s api.Scope, n string) error { _, err := q.api.GetBudget(q.ctx(), s, n); return err },
		del:   func(q *request, s api.Scope, n string) error { return q.api.DeleteBudget(q.ctx(), s, n) }}
}

func ruleThing() alertThing {
	return alertThing{kind: "alert rule", path: "rules",
		check: func(q *request, s api.Scope, n string) error { _, err := q.api.GetAlertRule(q.ctx(), s, n); return err },
		del:   func(q *request, s api.Scope, n string) error { return q.api.DeleteAlertRule(q.ctx(), s, n) }}
}

// confirmDeleteAlert asks before a budget or rule is deleted.
func (s *Studio) confirmDeleteAlert(t alertThing) handler {
	return func(q *request) {
		project, name := q.r.PathValue("project"), q.r.PathValue("name")
		if err := t.check(q, api.Scope{Project: project}, name); err != nil {
			s.fail(q, err)
			return
		}
		base := alertsURL(project)
		msg := "Its thresholds stop notifying and, if it is a hard budget, requests are no longer refused because of it."
		if t.path == "rules" {
			msg = "It stops watching its metric; its past alerts stay in the history."
		}
		s.render(q.w, http.StatusOK, "confirm", q.view("Delete "+t.kind+" "+name, "alerts", confirmPage{
			Heading: "Delete " + t.kind + " " + name + "?", Message: msg,
			Action: base + "/" + t.path + "/" + url.PathEscape(name) + "/delete", Button: "Delete " + t.kind, Cancel: base,
		}))
	}
}

// deleteAlert deletes a budget or rule.
func (s *Studio) deleteAlert(t alertThing) handler {
	return func(q *request) {
		project, name := q.r.PathValue("project"), q.r.PathValue("name")
		if err := t.del(q, api.Scope{Project: project}, name); err != nil {
			s.fail(q, err)
			return
		}
		what := strings.ToUpper(t.kind[:1]) + t.kind[1:]
		seeOther(q, alertsURL(project)+"?flash="+url.QueryEscape(what+" "+name+" deleted."))
	}
}
