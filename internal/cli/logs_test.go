package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
)

// fakeLogs is a hand-written stand-in for the request-log routes of the
// management API: project "demo" with deployment "chat". It pages by
// pageSize whatever limit it is asked for.
type fakeLogs struct {
	*httptest.Server
	pageSize int

	mu       sync.Mutex
	entries  []api.RequestLog
	settings api.LogSettings
	queries  []string // raw queries of the list route
	puts     []api.LogSettings
}

func newFakeLogs(t *testing.T, pageSize int) *fakeLogs {
	t.Helper()
	f := &fakeLogs{pageSize: pageSize, settings: api.LogSettings{RetentionDays: 7}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/projects/demo/logs", f.list)
	mux.HandleFunc("GET /api/v1/projects/demo/deployments/chat/logging", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		replyJSON(w, http.StatusOK, f.settings)
	})
	mux.HandleFunc("PUT /api/v1/projects/demo/deployments/chat/logging", func(w http.ResponseWriter, r *http.Request) {
		var s api.LogSettings
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			replyJSON(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorDetail{Code: "invalidPayload", Message: err.Error()}})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.puts = append(f.puts, s)
		s.UpdatedAt = t0
		f.settings = s
		replyJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusNotFound, api.ErrorBody{Error: api.ErrorDetail{Code: "DeploymentNotFound",
			Message: "no route " + r.Method + " " + r.URL.Path}})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func replyJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeLogs) list(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+adminToken {
		replyJSON(w, http.StatusUnauthorized, api.ErrorBody{Error: api.ErrorDetail{Code: "unauthorized", Message: "bad token"}})
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.URL.RawQuery)
	after, _ := strconv.Atoi(q.Get("after"))
	since, _ := time.Parse(time.RFC3339Nano, q.Get("since"))
	page := api.LogPage{Value: []api.RequestLog{}, Next: q.Get("after")}
	for _, e := range f.entries {
		id, _ := strconv.Atoi(e.ID)
		if id <= after || e.Time.Before(since) || q.Get("deployment") != "" && e.Deployment != q.Get("deployment") {
			continue
		}
		if len(page.Value) == f.pageSize {
			page.HasMore = true
			break
		}
		page.Value = append(page.Value, e)
		page.Next = e.ID
	}
	replyJSON(w, http.StatusOK, page)
}

// add appends entries with the next ids.
func (f *fakeLogs) add(reqIDs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rid := range reqIDs {
		n := len(f.entries) + 1
		f.entries = append(f.entries, api.RequestLog{ID: strconv.Itoa(n), RequestID: rid, Time: t0.Add(time.Duration(n) * time.Minute),
			Deployment: "chat", Model: "llama3", Operation: "chat", Status: 200, PromptTokens: 12, CompletionTokens: n,
			LatencyMS: float64(n) * 400, Request: `{"messages":[{"role":"user","content":"hi"}],"api_key":"[REDACTED]"}`,
			Response: `{"choices":[{"message":{"content":"Hello!"}}]}`})
	}
}

func (f *fakeLogs) state() ([]string, []api.LogSettings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...), append([]api.LogSettings(nil), f.puts...)
}

func TestLogsTable(t *testing.T) {
	f := newFakeLogs(t, 2)
	f.add("r1", "r2", "r3")
	f.mu.Lock()
	f.entries[2].Status, f.entries[2].ErrorCode, f.entries[2].Response = 429, "429", ""
	f.mu.Unlock()
	res := run(t, f.URL, "", "logs", "--project", "demo")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	want := `TIME                  DEPLOYMENT        STATUS  TOKENS       LATENCY    REQUEST ID
2025-01-02T03:05:05Z  chat              200     12+1         400ms      r1
  > {"messages":[{"role":"user","content":"hi"}],"api_key":"[REDACTED]"}
  < {"choices":[{"message":{"content":"Hello!"}}]}
2025-01-02T03:06:05Z  chat              200     12+2         800ms      r2
  > {"messages":[{"role":"user","content":"hi"}],"api_key":"[REDACTED]"}
  < {"choices":[{"message":{"content":"Hello!"}}]}
2025-01-02T03:07:05Z  chat              429 429  12+3         1.20s      r3
  > {"messages":[{"role":"user","content":"hi"}],"api_key":"[REDACTED]"}
`
	if d := cmp.Diff(want, res.stdout); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
	// Two pages: the second after the first's cursor.
	queries, _ := f.state()
	if d := cmp.Diff([]string{"limit=100", "after=2&limit=100"}, queries); d != "" {
		t.Errorf("queries (-want +got):\n%s", d)
	}
}

func TestLogsJSONAndFilters(t *testing.T) {
	f := newFakeLogs(t, 100)
	f.add("r1", "r2")
	res := run(t, f.URL, "", "logs", "-p", "demo", "-d", "chat", "--since", "2025-01-02T03:06:00Z", "-o", "json")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1 JSON object: %s", len(lines), res.stdout)
	}
	var got api.RequestLog
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatal(err)
	}
	if got.RequestID != "r2" || got.Response == "" {
		t.Errorf("entry %+v", got)
	}
	queries, _ := f.state()
	if d := cmp.Diff([]string{"deployment=chat&limit=100&since=2025-01-02T03%3A06%3A00Z"}, queries); d != "" {
		t.Errorf("queries (-want +got):\n%s", d)
	}

	// A relative --since becomes a time before now.
	before := time.Now()
	if res := run(t, f.URL, "", "logs", "-p", "demo", "--since", "90m"); res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	queries, _ = f.state()
	v := strings.TrimPrefix(queries[len(queries)-1], "limit=100&since=")
	v = strings.ReplaceAll(v, "%3A", ":")
	since, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		t.Fatalf("since in %q: %v", queries[len(queries)-1], err)
	}
	if d := before.Add(-90 * time.Minute).Sub(since); d > time.Second || d < -5*time.Second {
		t.Errorf("since %v is not 90m before %v", since, before)
	}
}

func TestLogsUsageErrors(t *testing.T) {
	f := newFakeLogs(t, 100)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, `"project" not set`},
		{[]string{"logs", "-p", "demo", "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"logs", "-p", "demo", "--since", "-1h"}, `--since "-1h"`},
		{[]string{"logs", "enable", "-p", "demo"}, `"deployment" not set`},
		{[]string{"logs", "enable", "-p", "demo", "-d", "chat", "--retention-days", "0"}, "--retention-days 0"},
	}
	for _, tt := range tests {
		res := run(t, f.URL, "", tt.args...)
		if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tt.args, res.code, res.stderr, tt.want)
		}
	}
	if queries, puts := f.state(); len(queries) != 0 || len(puts) != 0 {
		t.Errorf("the server was called: %v %v", queries, puts)
	}
}

// TestLogsFollow runs `logs -f` against the fake, adds entries while it
// polls, and interrupts it.
func TestLogsFollow(t *testing.T) {
	f := newFakeLogs(t, 100)
	f.add("r1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr recorder
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"logs", "-p", "demo", "-f", "--poll-interval", "5ms", "-o", "json"},
			hostEnv(f.URL), strings.NewReader(""), &stdout, &stderr)
	}()
	waitOutput := func(s string) {
		t.Helper()
		for !strings.Contains(stdout.String(), s) {
			select {
			case <-ctx.Done():
				t.Fatalf("waiting for %q; output so far %q, stderr %q", s, stdout.String(), stderr.String())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	waitOutput(`"requestId":"r1"`)
	f.add("r2", "r3")
	waitOutput(`"requestId":"r3"`)
	f.add("r4")
	waitOutput(`"requestId":"r4"`)
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logs -f did not stop when interrupted")
	}
	if code != exitInterrupted {
		t.Errorf("exit %d, want %d", code, exitInterrupted)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var e api.RequestLog
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ids = append(ids, e.RequestID)
	}
	if d := cmp.Diff([]string{"r1", "r2", "r3", "r4"}, ids); d != "" {
		t.Errorf("entries printed (-want +got), each once:\n%s", d)
	}
	// Every poll after the first asks after the last entry seen.
	queries, _ := f.state()
	if queries[0] != "limit=100" {
		t.Errorf("first query %q", queries[0])
	}
	for _, q := range queries[1:] {
		if !strings.HasPrefix(q, "after=") {
			t.Errorf("poll without a cursor: %q", q)
			break
		}
	}
}

func TestLogsEnableDisable(t *testing.T) {
	f := newFakeLogs(t, 100)
	tests := []struct {
		args    []string
		wantOut string
		wantPut api.LogSettings
	}{
		{[]string{"logs", "enable", "-p", "demo", "-d", "chat", "--retention-days", "30"},
			"Request logging of deployment chat is on; captured requests are kept 30 days.\n", api.LogSettings{Enabled: true, RetentionDays: 30}},
		{[]string{"logs", "enable", "-p", "demo", "-d", "chat"},
			"Request logging of deployment chat is on; captured requests are kept 7 days.\n", api.LogSettings{Enabled: true, RetentionDays: 7}},
		{[]string{"logs", "disable", "-p", "demo", "-d", "chat"},
			"Request logging of deployment chat is off.\n", api.LogSettings{RetentionDays: 7}},
	}
	for _, tt := range tests {
		res := run(t, f.URL, "", tt.args...)
		if res.code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, res.code, res.stderr)
		}
		if res.stdout != tt.wantOut {
			t.Errorf("%v: output %q, want %q", tt.args, res.stdout, tt.wantOut)
		}
		_, puts := f.state()
		if d := cmp.Diff(tt.wantPut, puts[len(puts)-1]); d != "" {
			t.Errorf("%v: PUT body (-want +got):\n%s", tt.args, d)
		}
	}
	res := run(t, f.URL, "", "logs", "settings", "-p", "demo", "-d", "chat")
	want := "Deployment:  chat\nLogging:     off\nRetention:   7 days\nUpdated:     2025-01-02T03:04:05Z\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("settings: exit %d, output %q, want %q", res.code, res.stdout, want)
	}
	res = run(t, f.URL, "", "logs", "enable", "-p", "demo", "-d", "nope")
	if res.code != exitError || !strings.Contains(res.stderr, "DeploymentNotFound") {
		t.Errorf("missing deployment: exit %d, stderr %q", res.code, res.stderr)
	}
}
