package studio

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cerulean-ai/cerulean/api"
)

func TestAlertsPageListsBudgetsRulesAndHistory(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	resp, body := h.get("/studio/projects/default/alerts")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body,
		`<svg class="bar" id="budget-project-monthly"`, `aria-label="Spent $4.20 of $10.00 (42%) this month; thresholds at 50%, 80%, 100%."`,
		`<li class="budget over">`, `<span class="badge hard">hard stop</span>`, `exceeded: requests refused`,
		`<svg class="bar" id="budget-hub-org"`, `href="/studio/hubs/default"`,
		`href="/studio/projects/default/alerts/budgets/monthly/delete"`, `<span class="state bad">firing</span>`,
		`<code>rate_429 &gt; 5</code>`, "rate_429 is 12.5, above 5 over 5m", "HTTP 500 from the receiver",
		`<code>https://hooks.example/cerulean</code> (signed)`)
	if strings.Contains(body, `href="/studio/projects/default/alerts/budgets/org/delete"`) {
		t.Error("the hub's budget links to a delete the project page cannot do")
	}
}

func TestBudgetBar(t *testing.T) {
	v := newBudgetView(api.Budget{Name: "b", Project: "p", Amount: 10, Spend: 25, Percent: 250, Exceeded: true, Thresholds: []float64{50, 150}})
	svg := string(v.Bar.SVG())
	for _, s := range []string{`class="fill over" x="0" y="0" width="400.0"`, `x1="133.3"`, `x1="399.0"`, `<title>150%</title>`} {
		if !strings.Contains(svg, s) {
			t.Errorf("bar lacks %q:\n%s", s, svg)
		}
	}
	v = newBudgetView(api.Budget{Name: `<x>`, Hub: "h", Amount: 100, Spend: 60})
	svg = string(v.Bar.SVG())
	if v.State != "warn" || v.Percent != 60 || !strings.Contains(svg, `id="budget-hub-&lt;x&gt;"`) || !strings.Contains(svg, `width="240.0"`) {
		t.Errorf("state %q percent %v:\n%s", v.State, v.Percent, svg)
	}
	if v := newBudgetView(api.Budget{Amount: 100, Spend: 10, Percent: 10}); v.State != "ok" {
		t.Errorf("10%% of a budget is %q, want ok", v.State)
	}
}

func TestCreateBudget(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	resp, body := h.post("/studio/projects/default/alerts/budgets", url.Values{"csrf": {csrf}, "name": {"team"}, "amount": {"$250"},
		"thresholds": {"25, 75%"}, "hard": {"on"}, "webhookURL": {"https://hooks.example/x"}, "webhookSecret": {"s3cret"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/studio/projects/default/alerts?flash=Budget+team+created.") {
		t.Errorf("redirect to %q", loc)
	}
	bs := h.fake.budgets["projects/default"]
	b := bs[len(bs)-1]
	if b.Name != "team" || b.Amount != 250 || !b.Hard || len(b.Thresholds) != 2 || b.Thresholds[1] != 75 ||
		len(b.Webhooks) != 1 || b.Webhooks[0].URL != "https://hooks.example/x" || !b.Webhooks[0].HasSecret {
		t.Errorf("budget sent: %+v", b)
	}
	_, body = h.get("/studio/projects/default/alerts")
	wantContains(t, body, `id="budget-project-team"`)
}

func TestBudgetFormShowsErrorsInline(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	cases := []struct {
		form url.Values
		want []string
	}{
		{url.Values{"name": {"x"}, "amount": {"lots"}},
			[]string{`aria-invalid="true" aria-describedby="b-amount-error"`, `id="b-amount-error" role="alert">Enter an amount in dollars`, `value="lots"`}},
		{url.Values{"name": {"x"}, "amount": {"0"}},
			[]string{`id="b-amount-error" role="alert">amount must be a number of currency units above 0`}},
		{url.Values{"name": {"x"}, "amount": {"5"}, "thresholds": {"half"}},
			[]string{`id="b-thresholds-error" role="alert">Enter percents`}},
		{url.Values{"name": {"x"}, "amount": {"5"}, "webhookURL": {"ftp:nope"}, "webhookSecret": {"never-shown"}},
			[]string{`id="b-webhook-error" role="alert">webhook URL &#34;ftp:nope&#34; must be an absolute http or https URL`, `value="ftp:nope"`}},
		{url.Values{"name": {"monthly"}, "amount": {"5"}},
			[]string{`id="b-name-error" role="alert">budget monthly already exists`}},
	}
	for _, c := range cases {
		c.form.Set("csrf", csrf)
		resp, body := h.post("/studio/projects/default/alerts/budgets", c.form)
		wantStatus(t, resp, body, http.StatusUnprocessableEntity)
		wantContains(t, body, append(c.want, `<details class="card form-card" open id="new-budget">`)...)
		if strings.Contains(body, "never-shown") {
			t.Error("the webhook secret was echoed back into the page")
		}
	}
	if n := len(h.fake.budgets["projects/default"]); n != 2 {
		t.Errorf("%d budgets after failed posts, want the 2 seeded", n)
	}
}

func TestCreateRule(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	form := url.Values{"csrf": {csrf}, "name": {"slow"}, "metric": {api.MetricP95}, "comparator": {">"}, "threshold": {"1500"},
		"window": {"10m"}, "cooldown": {""}, "deployment": {"demo"}}
	resp, body := h.post("/studio/projects/default/alerts/rules", form)
	wantStatus(t, resp, body, http.StatusSeeOther)
	rs := h.fake.rules["projects/default"]
	if r := rs[len(rs)-1]; r.Name != "slow" || r.Metric != api.MetricP95 || r.Threshold != 1500 || r.Window != "10m" || r.Deployment != "demo" || r.Webhooks != nil {
		t.Errorf("rule sent: %+v", r)
	}
	form.Set("window", "soon")
	resp, body = h.post("/studio/projects/default/alerts/rules", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="r-window-error" role="alert">window must be a duration`, `value="soon"`,
		`<option value="p95_latency_ms" selected>`, `<option value="demo" selected>demo</option>`)
	form.Set("threshold", "high")
	resp, body = h.post("/studio/projects/default/alerts/rules", form)
	wantStatus(t, resp, body, http.StatusUnprocessableEntity)
	wantContains(t, body, `id="r-threshold-error" role="alert">Enter a number`)
}

func TestDeleteBudgetAndRuleConfirm(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	for _, c := range []struct{ path, heading string }{
		{"budgets/monthly", "Delete budget monthly?"}, {"rules/throttling", "Delete alert rule throttling?"},
	} {
		base := "/studio/projects/default/alerts/" + c.path + "/delete"
		resp, body := h.get(base)
		wantStatus(t, resp, body, http.StatusOK)
		wantContains(t, body, c.heading, `action="`+base+`"`)
		resp, body = h.post(base, url.Values{"csrf": {csrf}})
		wantStatus(t, resp, body, http.StatusSeeOther)
		resp, body = h.get(base)
		wantStatus(t, resp, body, http.StatusNotFound)
	}
	if len(h.fake.budgets["projects/default"]) != 1 || len(h.fake.rules["projects/default"]) != 0 {
		t.Errorf("after deleting: budgets %v, rules %v", h.fake.budgets["projects/default"], h.fake.rules["projects/default"])
	}
}

func TestNewFormsNeedTheCSRFToken(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	_, body := h.get("/studio/projects/default/alerts")
	if n := strings.Count(body, `name="csrf" value="`+csrf+`"`); n != 3 {
		t.Errorf("the alerts page has %d forms with the CSRF token, want 3 (sign out, budget, rule)", n)
	}
	_, body = h.get("/studio/projects/default/deployments/demo")
	if n := strings.Count(body, `name="csrf" value="`+csrf+`"`); n != 3 {
		t.Errorf("the deployment page has %d forms with the CSRF token, want 3 (sign out, settings, logs)", n)
	}
	posts := map[string]url.Values{
		"/studio/projects/default/alerts/budgets":                 {"name": {"x"}, "amount": {"5"}},
		"/studio/projects/default/alerts/budgets/monthly/delete":  {},
		"/studio/projects/default/alerts/rules":                   {"name": {"x"}, "threshold": {"1"}, "window": {"5m"}},
		"/studio/projects/default/alerts/rules/throttling/delete": {},
		"/studio/projects/default/deployments/demo/update":        {"capacity": {"20"}},
		"/studio/projects/default/deployments/demo/logging":       {"retentionDays": {"3"}},
	}
	for p, form := range posts {
		for _, tok := range []string{"", "wrong"} {
			if tok != "" {
				form.Set("csrf", tok)
			}
			resp, body := h.post(p, form)
			wantStatus(t, resp, body, http.StatusForbidden)
		}
	}
	if len(h.fake.budgets["projects/default"]) != 2 || len(h.fake.rules["projects/default"]) != 1 || len(h.fake.updates) != 0 ||
		h.fake.logSettings["default/demo"].RetentionDays != 7 {
		t.Error("a POST without the CSRF token changed something")
	}
}

func TestAlertsDisabledWhenTheServerHasNoAlertsAPI(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	h.fake.srv.Config.Handler = without(h.fake.srv.Config.Handler, "/budgets", "/logging")
	resp, body := h.get("/studio/projects/default/alerts")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, `id="alerts-disabled"`)
	resp, body = h.get("/studio/projects/default/usage")
	wantStatus(t, resp, body, http.StatusOK)
	if strings.Contains(body, `class="budgets"`) {
		t.Error("the usage page shows budgets the server does not have")
	}
	resp, body = h.get("/studio/projects/default/deployments/demo")
	wantStatus(t, resp, body, http.StatusOK)
	wantContains(t, body, `id="logs-disabled"`)
}

// without answers 404 to the paths that end with any of suffixes, as a
// server without those APIs.
func without(next http.Handler, suffixes ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, s := range suffixes {
			if strings.HasSuffix(r.URL.Path, s) {
				fakeErr(w, http.StatusNotFound, "NotFound", "", "there is no management route")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func TestGoldenAlertForms(t *testing.T) {
	h := newHarness(t)
	csrf := h.signIn()
	_, body := h.post("/studio/projects/default/alerts/budgets", url.Values{"csrf": {csrf}, "name": {"x"}, "amount": {"0"}})
	golden(t, "alerts_budget_error.html", body)
	_, body = h.get("/studio/projects/default/alerts/budgets/monthly/delete")
	golden(t, "budget_delete.html", body)
}
