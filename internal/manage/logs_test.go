package manage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// The fake store keeps no request logs: the log routes are tested on
// SQLite. These methods make it a manage.Store.

func (s *fakeStore) GetLogCapture(ctx context.Context, projectName, name string) (store.LogCapture, error) {
	return store.LogCapture{}, errors.New("fakeStore: request logs are tested on SQLite")
}

func (s *fakeStore) PutLogCapture(context.Context, store.LogCapture) error {
	return errors.New("fakeStore: request logs are tested on SQLite")
}

func (s *fakeStore) ListRequestLogs(context.Context, store.LogQuery) ([]store.RequestLog, error) {
	return nil, errors.New("fakeStore: request logs are tested on SQLite")
}

const loggingPath = depsPath + "/a1/logging"

func TestSQLiteLogSettings(t *testing.T) {
	e, _ := newSQLiteEnv(t)
	e.seed(t)
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"a1","model":{"name":"m1"},"sku":{"capacity":1}}`, http.StatusCreated)
	ctx := context.Background()

	got, err := e.client.GetLogSettings(ctx, "p1", "a1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(api.LogSettings{RetentionDays: store.DefaultRetentionDays}, got); d != "" {
		t.Errorf("default settings (-want +got):\n%s", d)
	}
	changed := e.changed.Load()
	tests := []struct {
		in, want api.LogSettings
	}{
		{api.LogSettings{Enabled: true}, api.LogSettings{Enabled: true, RetentionDays: 7, UpdatedAt: fixedNow}},
		{api.LogSettings{Enabled: true, RetentionDays: 30}, api.LogSettings{Enabled: true, RetentionDays: 30, UpdatedAt: fixedNow}},
		{api.LogSettings{Enabled: false, RetentionDays: 1}, api.LogSettings{RetentionDays: 1, UpdatedAt: fixedNow}},
	}
	for _, tt := range tests {
		put, err := e.client.SetLogSettings(ctx, "p1", "a1", tt.in)
		if err != nil {
			t.Fatalf("SetLogSettings(%+v): %v", tt.in, err)
		}
		got, err := e.client.GetLogSettings(ctx, "p1", "a1")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, put); d != "" {
			t.Errorf("PUT %+v (-want +got):\n%s", tt.in, d)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("GET after PUT %+v (-want +got):\n%s", tt.in, d)
		}
	}
	if n := e.changed.Load() - changed; n != int64(len(tests)) {
		t.Errorf("Changed called %d times for %d writes", n, len(tests))
	}

	for _, c := range []errCase{
		{name: "retention too long", method: "PUT", path: loggingPath, body: `{"enabled":true,"retentionDays":366}`,
			status: 400, code: "invalidPayload", target: "retentionDays", message: "1 to 365"},
		{name: "negative retention", method: "PUT", path: loggingPath, body: `{"enabled":true,"retentionDays":-1}`,
			status: 400, code: "invalidPayload", target: "retentionDays"},
		{name: "bad body", method: "PUT", path: loggingPath, body: `{"enabled":"yes"}`,
			status: 400, code: "invalidPayload", target: "enabled"},
		{name: "missing deployment", method: "PUT", path: depsPath + "/nope/logging", body: `{"enabled":true}`,
			status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "get missing deployment", method: "GET", path: depsPath + "/nope/logging",
			status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "missing project", method: "GET", path: "/api/v1/projects/nope/deployments/a1/logging",
			status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "wrong method", method: "DELETE", path: loggingPath, status: 405, code: "methodNotAllowed"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestSQLiteListLogs(t *testing.T) {
	e, st := newSQLiteEnv(t)
	e.seed(t)
	ctx := context.Background()
	entry := func(id, dep string, ago time.Duration) store.RequestLog {
		return store.RequestLog{RequestID: id, Time: fixedNow.Add(-ago), Project: "p1", Deployment: dep, Model: "m1",
			Operation: "chat", Status: 200, PromptTokens: 3, CompletionTokens: 4, Latency: 1234567 * time.Microsecond,
			Request: `{"messages":[]}`, Response: `{"choices":[]}`}
	}
	if err := st.AddRequestLogs(ctx, []store.RequestLog{
		entry("r1", "a1", 3*time.Hour), entry("r2", "b1", 2*time.Hour), entry("r3", "a1", 30*time.Minute), entry("r4", "a1", 0),
	}); err != nil {
		t.Fatal(err)
	}
	all, err := e.client.ListLogs(ctx, "p1", api.LogQuery{})
	if err != nil {
		t.Fatal(err)
	}
	first := api.RequestLog{ID: all.Value[0].ID, RequestID: "r1", Time: fixedNow.Add(-3 * time.Hour), Deployment: "a1", Model: "m1",
		Operation: "chat", Status: 200, PromptTokens: 3, CompletionTokens: 4, LatencyMS: 1234.567,
		Request: `{"messages":[]}`, Response: `{"choices":[]}`}
	if d := cmp.Diff(first, all.Value[0]); d != "" {
		t.Errorf("first entry (-want +got):\n%s", d)
	}
	cursor := map[string]string{}
	for _, l := range all.Value {
		cursor[l.RequestID] = l.ID
	}
	type page struct {
		IDs     []string
		Next    string
		HasMore bool
	}
	tests := []struct {
		name string
		q    api.LogQuery
		want page
	}{
		{"all", api.LogQuery{}, page{[]string{"r1", "r2", "r3", "r4"}, cursor["r4"], false}},
		{"deployment", api.LogQuery{Deployment: "a1"}, page{[]string{"r1", "r3", "r4"}, cursor["r4"], false}},
		{"since", api.LogQuery{Since: fixedNow.Add(-time.Hour)}, page{[]string{"r3", "r4"}, cursor["r4"], false}},
		{"limit", api.LogQuery{Limit: 2}, page{[]string{"r1", "r2"}, cursor["r2"], true}},
		{"after", api.LogQuery{After: cursor["r2"], Limit: 2}, page{[]string{"r3", "r4"}, cursor["r4"], false}},
		{"nothing new", api.LogQuery{After: cursor["r4"]}, page{[]string{}, cursor["r4"], false}},
		{"deleted deployment", api.LogQuery{Deployment: "gone"}, page{[]string{}, "", false}},
	}
	for _, tt := range tests {
		got, err := e.client.ListLogs(ctx, "p1", tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		p := page{IDs: []string{}, Next: got.Next, HasMore: got.HasMore}
		for _, l := range got.Value {
			p.IDs = append(p.IDs, l.RequestID)
		}
		if d := cmp.Diff(tt.want, p); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
	// since as a duration before the server's now.
	got := want[api.LogPage](t, e, "GET", "/api/v1/projects/p1/logs?since=2h30m", nil, http.StatusOK)
	if len(got.Value) != 3 || got.Value[0].RequestID != "r2" {
		t.Errorf("since=2h30m: %+v", got.Value)
	}

	for _, c := range []errCase{
		{name: "bad since", method: "GET", path: "/api/v1/projects/p1/logs?since=yesterday", status: 400, code: "invalidPayload", target: "since"},
		{name: "negative since", method: "GET", path: "/api/v1/projects/p1/logs?since=-1h", status: 400, code: "invalidPayload", target: "since"},
		{name: "bad after", method: "GET", path: "/api/v1/projects/p1/logs?after=x", status: 400, code: "invalidPayload", target: "after"},
		{name: "limit zero", method: "GET", path: "/api/v1/projects/p1/logs?limit=0", status: 400, code: "invalidPayload", target: "limit"},
		{name: "limit too big", method: "GET", path: "/api/v1/projects/p1/logs?limit=1001", status: 400, code: "invalidPayload", target: "limit"},
		{name: "missing project", method: "GET", path: "/api/v1/projects/nope/logs", status: 404, code: "ProjectNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}
