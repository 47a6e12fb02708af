package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// usageServer is a fake management API serving canned usage reports and
// noting the paths and queries it was asked.
type usageServer struct {
	*httptest.Server
	mu    sync.Mutex
	asked []string
}

var usageReport = api.UsageReport{Project: "demo", Hub: "default", By: "deployment",
	Since: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
	Value: []api.UsageRow{
		{Group: "chat", Requests: 3, PromptTokens: 3000, CompletionTokens: 1500, CachedTokens: 200, TotalTokens: 4500, Cost: 6, Errors: 1, Throttled: 1},
		{Group: "ptu", PTUHours: 1.5, Cost: 3},
	},
	Total: api.UsageRow{Requests: 3, PromptTokens: 3000, CompletionTokens: 1500, CachedTokens: 200, TotalTokens: 4500, PTUHours: 1.5, Cost: 9, Errors: 1, Throttled: 1},
}

func newUsageServer(t *testing.T) *usageServer {
	t.Helper()
	u := &usageServer{}
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.asked = append(u.asked, r.URL.Path+"?"+r.URL.RawQuery)
		u.mu.Unlock()
		rep := usageReport
		if h := r.PathValue("hub"); h != "" {
			rep.Project = ""
			if h != "default" {
				writeError(w, http.StatusNotFound, "HubNotFound", "hub \""+h+"\" does not exist")
				return
			}
		}
		reply(w, http.StatusOK, rep)
	}
	mux.HandleFunc("GET /api/v1/projects/{project}/usage", serve)
	mux.HandleFunc("GET /api/v1/hubs/{hub}/usage", serve)
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	return u
}

func (u *usageServer) queries() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.asked...)
}

func TestUsageTable(t *testing.T) {
	srv := newUsageServer(t)
	got := run(t, srv.URL, "", "usage", "--project", "demo", "--since", "2025-03-01", "--until", "2025-03-15T12:00:00Z", "--by", "key")
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	want := `Usage of project demo from 2025-03-01T00:00:00Z to 2025-04-01T00:00:00Z, by deployment

DEPLOYMENT  REQUESTS  PROMPT  COMPLETION  CACHED  TOTAL  PTU-HOURS  REPLICA-HOURS  COST  ERRORS  THROTTLED
chat        3         3000    1500        200     4500   0.000      0.000          6     1       1
ptu         0         0       0           0       0      1.500      0.000          3     0       0
TOTAL       3         3000    1500        200     4500   1.500      0.000          9     1       1
`
	if d := cmp.Diff(want, got.stdout); d != "" {
		t.Errorf("stdout (-want +got):\n%s", d)
	}
	q := url.Values{"since": {"2025-03-01T00:00:00Z"}, "until": {"2025-03-15T12:00:00Z"}, "by": {"key"}}
	if d := cmp.Diff([]string{"/api/v1/projects/demo/usage?" + q.Encode()}, srv.queries()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

func TestUsageJSON(t *testing.T) {
	srv := newUsageServer(t)
	got := run(t, srv.URL, "", "usage", "--hub", "default", "-o", "json")
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	var rep api.UsageReport
	if err := json.Unmarshal([]byte(got.stdout), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got.stdout)
	}
	want := usageReport
	want.Project = ""
	if d := cmp.Diff(want, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"/api/v1/hubs/default/usage?by=deployment"}, srv.queries()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

func TestUsageErrors(t *testing.T) {
	srv := newUsageServer(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no scope", []string{"usage"}, exitUsage, "give --project or --hub"},
		{"both scopes", []string{"usage", "--project", "p", "--hub", "h"}, exitUsage, "give --project or --hub"},
		{"bad by", []string{"usage", "--project", "p", "--by", "colour"}, exitUsage, `--by "colour"`},
		{"bad since", []string{"usage", "--project", "p", "--since", "yesterday"}, exitUsage, `--since "yesterday"`},
		{"unknown hub", []string{"usage", "--hub", "nope"}, exitError, "HubNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, srv.URL, "", tt.args...)
			if got.code != tt.code || !strings.Contains(got.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", got.code, got.stderr, tt.code, tt.stderr)
			}
		})
	}
}
