package studio

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/api"
)

// seedAlerts fills the fake's budgets, rules, history, deliveries,
// instance types and request logs.
func (f *fakeAPI) seedAlerts() {
	f.budgets = map[string][]api.Budget{
		"projects/default": {
			{Name: "monthly", Project: "default", Amount: 10, Thresholds: []float64{50, 80, 100}, Period: "2025-01", Spend: 4.2, Percent: 42,
				Webhooks: []api.Webhook{{URL: "https://hooks.example/cerulean", HasSecret: true}}, CreatedAt: fixedTime},
			{Name: "hard-cap", Project: "default", Amount: 5, Thresholds: []float64{90}, Hard: true, Period: "2025-01", Spend: 5.5, Percent: 110,
				Exceeded: true, CreatedAt: fixedTime},
		},
		"hubs/default": {{Name: "org", Hub: "default", Amount: 1000, Thresholds: []float64{50, 80, 100, 120}, Period: "2025-01", Spend: 4.2, Percent: 0.42, CreatedAt: fixedTime}},
	}
	f.rules = map[string][]api.AlertRule{"projects/default": {{
		Name: "throttling", Project: "default", Metric: api.MetricRate429, Comparator: ">", Threshold: 5, Window: "5m", Cooldown: "15m",
		State: "firing", StateSince: fixedTime, LastFired: fixedTime, LastValue: 12.5, CreatedAt: fixedTime,
	}}}
	f.events = []api.AlertEvent{
		{ID: "e2", Type: "alert.firing", Name: "throttling", Metric: api.MetricRate429, Value: 12.5, Threshold: 5,
			Message: "rate_429 is 12.5, above 5 over 5m", Time: fixedTime},
		{ID: "e1", Type: "budget.threshold", Name: "hard-cap", Value: 90, Threshold: 90, Period: "2025-01",
			Message: "budget hard-cap passed 90% of $5", Time: fixedTime.Add(-time.Hour)},
	}
	f.deliveries = []api.WebhookDelivery{
		{ID: "d2", EventID: "e2", URL: "https://hooks.example/cerulean", Type: "alert.firing", State: "failed", Attempts: 5,
			StatusCode: 500, Error: "HTTP 500 from the receiver", CreatedAt: fixedTime, UpdatedAt: fixedTime},
		{ID: "d1", EventID: "e1", URL: "https://hooks.example/cerulean", Type: "budget.threshold", State: "delivered", Attempts: 1,
			StatusCode: 200, CreatedAt: fixedTime.Add(-time.Hour), UpdatedAt: fixedTime.Add(-time.Hour)},
	}
	f.instances = []api.InstanceType{{Name: "cpu-2", Threads: 2, MemoryMB: 4096, PricePerHour: 0.1}, {Name: "cpu-8", Threads: 8, MemoryMB: 16384, PricePerHour: 0.4}}
	f.logSettings = map[string]api.LogSettings{"default/demo": {Enabled: true, RetentionDays: 7, UpdatedAt: fixedTime}}
	f.logs = []api.RequestLog{
		{ID: "1", RequestID: "r1", Time: fixedTime.Add(-2 * time.Minute), Deployment: "demo", Status: 200, PromptTokens: 12, CompletionTokens: 5, LatencyMS: 183,
			Request: `{"messages":[{"role":"user","content":"Hi <b>there</b>"}]}`, Response: `{"choices":[{"message":{"content":"Hello!"}}]}`},
		{ID: "2", RequestID: "r2", Time: fixedTime.Add(-time.Minute), Deployment: "demo", Status: 429, ErrorCode: "429", LatencyMS: 2,
			Request: `{"messages":[{"role":"user","content":"again"}]}`},
	}
}

// alertRoutes adds the fake's alerts, compute, update and log routes.
func (f *fakeAPI) alertRoutes(h func(string, func(http.ResponseWriter, *http.Request))) {
	for _, kind := range []string{"projects", "hubs"} {
		base := "/api/v1/" + kind + "/{owner}/"
		scope := func(r *http.Request) string { return kind + "/" + r.PathValue("owner") }
		h("GET "+base+"budgets", func(w http.ResponseWriter, r *http.Request) {
			writeFakeJSON(w, 200, api.List[api.Budget]{Value: f.budgets[scope(r)]})
		})
		h("POST "+base+"budgets", func(w http.ResponseWriter, r *http.Request) {
			var in api.Budget
			_ = json.NewDecoder(r.Body).Decode(&in)
			switch {
			case in.Name == "":
				fakeErr(w, 400, "invalidPayload", "name", "name must be 1 to 64 characters, got 0")
			case in.Amount <= 0:
				fakeErr(w, 400, "invalidPayload", "amount", "amount must be a number of currency units above 0, got 0")
			case len(in.Webhooks) > 0 && !strings.HasPrefix(in.Webhooks[0].URL, "http"):
				fakeErr(w, 400, "invalidPayload", "webhooks", "webhook URL \""+in.Webhooks[0].URL+"\" must be an absolute http or https URL")
			default:
				for _, b := range f.budgets[scope(r)] {
					if b.Name == in.Name {
						fakeErr(w, 409, "itemDoesAlreadyExist", in.Name, "budget "+in.Name+" already exists")
						return
					}
				}
				if len(in.Thresholds) == 0 {
					in.Thresholds = []float64{50, 80, 100}
				}
				for i := range in.Webhooks {
					in.Webhooks[i].HasSecret, in.Webhooks[i].Secret = in.Webhooks[i].Secret != "", ""
				}
				in.Period, in.CreatedAt = "2025-01", fixedTime
				f.budgets[scope(r)] = append(f.budgets[scope(r)], in)
				writeFakeJSON(w, 201, in)
			}
		})
		h("GET "+base+"budgets/{name}", func(w http.ResponseWriter, r *http.Request) {
			for _, b := range f.budgets[scope(r)] {
				if b.Name == r.PathValue("name") {
					writeFakeJSON(w, 200, b)
					return
				}
			}
			fakeErr(w, 404, "BudgetNotFound", r.PathValue("name"), "budget does not exist")
		})
		h("DELETE "+base+"budgets/{name}", func(w http.ResponseWriter, r *http.Request) {
			bs := f.budgets[scope(r)]
			for i, b := range bs {
				if b.Name == r.PathValue("name") {
					f.budgets[scope(r)] = append(bs[:i:i], bs[i+1:]...)
					w.WriteHeader(204)
					return
				}
			}
			fakeErr(w, 404, "BudgetNotFound", r.PathValue("name"), "budget does not exist")
		})
		h("GET "+base+"alert-rules", func(w http.ResponseWriter, r *http.Request) {
			writeFakeJSON(w, 200, api.List[api.AlertRule]{Value: f.rules[scope(r)]})
		})
		h("POST "+base+"alert-rules", func(w http.ResponseWriter, r *http.Request) {
			var in api.AlertRule
			_ = json.NewDecoder(r.Body).Decode(&in)
			if _, err := time.ParseDuration(in.Window); err != nil {
				fakeErr(w, 400, "invalidPayload", "window", "window must be a duration such as 5m or 1h, got \""+in.Window+"\"")
				return
			}
			in.State, in.CreatedAt = "ok", fixedTime
			f.rules[scope(r)] = append(f.rules[scope(r)], in)
			writeFakeJSON(w, 201, in)
		})
		h("GET "+base+"alert-rules/{name}", func(w http.ResponseWriter, r *http.Request) {
			for _, x := range f.rules[scope(r)] {
				if x.Name == r.PathValue("name") {
					writeFakeJSON(w, 200, x)
					return
				}
			}
			fakeErr(w, 404, "AlertRuleNotFound", r.PathValue("name"), "alert rule does not exist")
		})
		h("DELETE "+base+"alert-rules/{name}", func(w http.ResponseWriter, r *http.Request) {
			rs := f.rules[scope(r)]
			for i, x := range rs {
				if x.Name == r.PathValue("name") {
					f.rules[scope(r)] = append(rs[:i:i], rs[i+1:]...)
					w.WriteHeader(204)
					return
				}
			}
			fakeErr(w, 404, "AlertRuleNotFound", r.PathValue("name"), "alert rule does not exist")
		})
		h("GET "+base+"alerts", func(w http.ResponseWriter, r *http.Request) {
			writeFakeJSON(w, 200, api.List[api.AlertEvent]{Value: f.events})
		})
		h("GET "+base+"webhook-deliveries", func(w http.ResponseWriter, r *http.Request) {
			writeFakeJSON(w, 200, api.List[api.WebhookDelivery]{Value: f.deliveries})
		})
	}
	h("GET /api/v1/hubs/{hub}/instance-types", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, api.List[api.InstanceType]{Value: f.instances})
	})
	h("PATCH /api/v1/projects/{project}/deployments/{deployment}", func(w http.ResponseWriter, r *http.Request) {
		var u api.DeploymentUpdate
		_ = json.NewDecoder(r.Body).Decode(&u)
		f.updates = append(f.updates, u)
		ds := f.deployments[r.PathValue("project")]
		for i := range ds {
			d := &ds[i]
			if d.Name != r.PathValue("deployment") {
				continue
			}
			if u.Capacity != nil && *u.Capacity-d.SKU.Capacity > 100-f.quotaUsed {
				fakeErr(w, 409, "InsufficientQuota", "sku.capacity", "not enough quota: 90 K-TPM left")
				return
			}
			if u.Capacity != nil {
				d.SKU.Capacity = *u.Capacity
			}
			if u.VersionUpgradeOption != nil {
				d.VersionUpgradeOption = *u.VersionUpgradeOption
			}
			if u.InstanceType != nil {
				d.InstanceType = *u.InstanceType
			}
			if u.ScaleToZero != nil {
				d.ScaleToZero = *u.ScaleToZero
			}
			writeFakeJSON(w, 200, *d)
			return
		}
		fakeErr(w, 404, "DeploymentNotFound", "deployment", "deployment does not exist")
	})
	h("GET /api/v1/projects/{project}/deployments/{deployment}/logging", func(w http.ResponseWriter, r *http.Request) {
		writeFakeJSON(w, 200, f.logSettings[r.PathValue("project")+"/"+r.PathValue("deployment")])
	})
	h("PUT /api/v1/projects/{project}/deployments/{deployment}/logging", func(w http.ResponseWriter, r *http.Request) {
		var in api.LogSettings
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in.RetentionDays == 0 {
			in.RetentionDays = 7
		}
		if in.RetentionDays < 1 || in.RetentionDays > 365 {
			fakeErr(w, 400, "invalidPayload", "retentionDays", "retentionDays must be 1 to 365")
			return
		}
		in.UpdatedAt = fixedTime
		f.logSettings[r.PathValue("project")+"/"+r.PathValue("deployment")] = in
		writeFakeJSON(w, 200, in)
	})
	h("GET /api/v1/projects/{project}/logs", func(w http.ResponseWriter, r *http.Request) {
		var out []api.RequestLog
		for _, l := range f.logs {
			if d := r.URL.Query().Get("deployment"); d == "" || d == l.Deployment {
				out = append(out, l)
			}
		}
		writeFakeJSON(w, 200, api.LogPage{Value: out, Next: "2"})
	})
}
