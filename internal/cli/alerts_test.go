package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// alertServer is a fake management API for budgets and alerts: it
// answers with canned values and notes each request's method, path and
// body.
type alertServer struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

var alertT = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func newAlertServer(t *testing.T) *alertServer {
	t.Helper()
	s := &alertServer{}
	budget := api.Budget{Name: "monthly", Project: "demo", Amount: 100, Thresholds: []float64{50, 80, 100}, Hard: true,
		Webhooks: []api.Webhook{{URL: "https://hooks.example/x", HasSecret: true}}, Period: "2025-03", Spend: 42.5, Percent: 42.5}
	rule := api.AlertRule{Name: "slow", Project: "demo", Metric: "p95_latency_ms", Comparator: ">", Threshold: 500, Window: "5m0s",
		State: "firing", LastValue: 812, StateSince: alertT}
	mux := http.NewServeMux()
	note := func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.asked = append(s.asked, strings.TrimSpace(r.Method+" "+r.URL.RequestURI()+" "+string(b)))
		s.mu.Unlock()
	}
	mux.HandleFunc("POST /api/v1/projects/demo/budgets", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		reply(w, http.StatusCreated, budget)
	})
	mux.HandleFunc("GET /api/v1/hubs/{hub}/budgets", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		b := budget
		b.Project, b.Hub = "", r.PathValue("hub")
		reply(w, http.StatusOK, api.List[api.Budget]{Value: []api.Budget{b}})
	})
	mux.HandleFunc("DELETE /api/v1/projects/demo/budgets/{name}", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		if r.PathValue("name") != "monthly" {
			writeError(w, http.StatusNotFound, "BudgetNotFound", `budget "`+r.PathValue("name")+`" does not exist in project "demo"`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/v1/projects/demo/alert-rules", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		reply(w, http.StatusCreated, rule)
	})
	mux.HandleFunc("GET /api/v1/projects/demo/alerts", func(w http.ResponseWriter, r *http.Request) {
		note(r)
		reply(w, http.StatusOK, api.List[api.AlertEvent]{Value: []api.AlertEvent{
			{ID: "2", Type: "alert.firing", Name: "slow", Value: 812, Threshold: 500, Message: "p95 is 812", Time: alertT},
			{ID: "1", Type: "budget.threshold", Name: "monthly", Value: 50, Threshold: 50, Period: "2025-03", Message: "passed 50%", Time: alertT.Add(-time.Hour)},
		}})
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *alertServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asked...)
}

func TestBudgetCommands(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdout string
		asked  []string
	}{
		{
			name: "create",
			args: []string{"budget", "create", "--project", "demo", "--name", "monthly", "--amount", "100", "--thresholds", "50,80,100",
				"--hard", "--webhook", "https://hooks.example/x", "--webhook-secret", "shh"},
			stdout: `Name:        monthly
Project:     demo
Amount:      100
Period:      2025-03
Spend:       42.5 (42.5%)
Thresholds:  50%,80%,100%
Hard:        true
Exceeded:    false
Webhooks:    https://hooks.example/x (signed)
`,
			asked: []string{`POST /api/v1/projects/demo/budgets {"name":"monthly","amount":100,"thresholds":[50,80,100],"hard":true,` +
				`"webhooks":[{"url":"https://hooks.example/x","secret":"shh"}],"spend":0,"percent":0,"exceeded":false}`},
		},
		{
			name: "list",
			args: []string{"budget", "list", "--hub", "default"},
			stdout: `NAME     AMOUNT  SPEND  PERCENT  THRESHOLDS    HARD  PERIOD
monthly  100     42.5   42.5%    50%,80%,100%  true  2025-03
`,
			asked: []string{"GET /api/v1/hubs/default/budgets"},
		},
		{
			name:   "delete",
			args:   []string{"budget", "delete", "monthly", "--project", "demo"},
			stdout: "Deleted budget monthly.\n",
			asked:  []string{"DELETE /api/v1/projects/demo/budgets/monthly"},
		},
		{
			name: "rule create",
			args: []string{"alert", "rule", "create", "--project", "demo", "--name", "slow", "--metric", "p95_latency_ms",
				"--threshold", "500", "--window", "5m"},
			stdout: `NAME  DEPLOYMENT  CONDITION             WINDOW  COOLDOWN  STATE   LAST VALUE  SINCE
slow  -           p95_latency_ms > 500  5m0s    -         firing  812         2025-03-04T05:06:07Z
`,
			asked: []string{`POST /api/v1/projects/demo/alert-rules {"name":"slow","metric":"p95_latency_ms","comparator":"\u003e","threshold":500,"window":"5m"}`},
		},
		{
			name: "history",
			args: []string{"alert", "history", "--project", "demo", "--limit", "5"},
			stdout: `TIME                  TYPE              NAME     VALUE  THRESHOLD  MESSAGE
2025-03-04T05:06:07Z  alert.firing      slow     812    500        p95 is 812
2025-03-04T04:06:07Z  budget.threshold  monthly  50     50         passed 50%
`,
			asked: []string{"GET /api/v1/projects/demo/alerts?limit=5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAlertServer(t)
			got := run(t, srv.URL, "", tt.args...)
			if got.code != 0 {
				t.Fatalf("exit %d: %s", got.code, got.stderr)
			}
			if d := cmp.Diff(tt.stdout, got.stdout); d != "" {
				t.Errorf("stdout (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.asked, srv.requests()); d != "" {
				t.Errorf("requests (-want +got):\n%s", d)
			}
		})
	}
}

func TestBudgetJSON(t *testing.T) {
	srv := newAlertServer(t)
	got := run(t, srv.URL, "", "budget", "list", "--hub", "default", "-o", "json")
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	var bs []api.Budget
	if err := json.Unmarshal([]byte(got.stdout), &bs); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got.stdout)
	}
	if len(bs) != 1 || bs[0].Hub != "default" || bs[0].Spend != 42.5 {
		t.Errorf("budgets = %+v", bs)
	}
}

func TestAlertCommandErrors(t *testing.T) {
	srv := newAlertServer(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no scope", []string{"budget", "list"}, exitUsage, "give --project or --hub"},
		{"both scopes", []string{"alert", "history", "--project", "p", "--hub", "h"}, exitUsage, "give --project or --hub"},
		{"no amount", []string{"budget", "create", "--project", "demo", "--name", "x"}, exitUsage, "--amount"},
		{"bad thresholds", []string{"budget", "create", "--project", "demo", "--name", "x", "--amount", "1", "--thresholds", "half"}, exitUsage, "--thresholds"},
		{"unknown budget", []string{"budget", "delete", "nope", "--project", "demo"}, exitError, "BudgetNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, srv.URL, "", tt.args...)
			if got.code != tt.code || !strings.Contains(got.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", got.code, got.stderr, tt.code, tt.stderr)
			}
		})
	}
}
