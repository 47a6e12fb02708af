package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// RunLogs runs the suite of store.LogStore: capture settings (round trip,
// defaults, validation, not-found, cascade on deployment delete) and request
// logs (round trip, filters, cursor, limit, pruning by retention). Each
// subtest calls open for a store of its own.
func RunLogs(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CaptureSettings", testLogCapture},
		{"CaptureErrors", testLogCaptureErrors},
		{"CaptureCascade", testLogCaptureCascade},
		{"RequestLogs", testRequestLogs},
		{"RequestLogQueries", testRequestLogQueries},
		{"Prune", testPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// setupLogs is setup plus deployments "d1" and "d2" of project "p1".
func setupLogs(t *testing.T, s store.Store) {
	t.Helper()
	setup(t, s)
	mustCreateDeployment(t, s, newDeployment("p1", "d1", "gpt", "GlobalStandard", 0))
	mustCreateDeployment(t, s, newDeployment("p1", "d2", "gpt", "GlobalStandard", 0))
}

func testLogCapture(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	got, err := s.GetLogCapture(ctx, "p1", "d1")
	if err != nil {
		t.Fatalf("GetLogCapture before any put: %v", err)
	}
	if d := diff(store.LogCapture{Project: "p1", Deployment: "d1"}, got); d != "" {
		t.Errorf("default capture (-want +got):\n%s", d)
	}
	puts := []store.LogCapture{
		{Project: "p1", Deployment: "d1", Enabled: true, RetentionDays: 7, UpdatedAt: at()},
		{Project: "p1", Deployment: "d1", Enabled: false, RetentionDays: 30, UpdatedAt: later()},
		{Project: "p1", Deployment: "d2", Enabled: true, RetentionDays: store.MaxRetentionDays, UpdatedAt: at()},
	}
	for _, c := range puts {
		if err := s.PutLogCapture(ctx, c); err != nil {
			t.Fatalf("PutLogCapture(%+v): %v", c, err)
		}
		got, err := s.GetLogCapture(ctx, c.Project, c.Deployment)
		if err != nil {
			t.Fatalf("GetLogCapture: %v", err)
		}
		wantUTC(t, "UpdatedAt", got.UpdatedAt)
		if !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, c.UpdatedAt)
		}
		got.UpdatedAt = c.UpdatedAt
		if d := diff(c, got); d != "" {
			t.Errorf("capture after put (-want +got):\n%s", d)
		}
	}
	all, err := s.ListLogCaptures(ctx)
	if err != nil {
		t.Fatalf("ListLogCaptures: %v", err)
	}
	type row struct {
		Project, Deployment string
		Enabled             bool
		Days                int
	}
	var rows []row
	for _, c := range all {
		rows = append(rows, row{c.Project, c.Deployment, c.Enabled, c.RetentionDays})
	}
	want := []row{{"p1", "d1", false, 30}, {"p1", "d2", true, store.MaxRetentionDays}}
	if d := diff(want, rows); d != "" {
		t.Errorf("ListLogCaptures (-want +got):\n%s", d)
	}
}

func testLogCaptureErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	for _, days := range []int{0, -1, store.MaxRetentionDays + 1} {
		err := s.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "d1", Enabled: true, RetentionDays: days})
		wantFault(t, fmt.Sprintf("retention %d", days), err, nil, fault.Invalid, "invalidPayload", "retentionDays", "retention")
	}
	err := s.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "nope", Enabled: true, RetentionDays: 1})
	wantNotFound(t, "put on a missing deployment", err, "DeploymentNotFound", "nope")
	_, err = s.GetLogCapture(ctx, "p1", "nope")
	wantNotFound(t, "get of a missing deployment", err, "DeploymentNotFound", "nope")
	_, err = s.GetLogCapture(ctx, "ghost", "d1")
	wantNotFound(t, "get in a missing project", err, "ProjectNotFound", "ghost")
}

func testLogCaptureCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	for _, d := range []string{"d1", "d2"} {
		if err := s.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: d, Enabled: true, RetentionDays: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteDeployment(ctx, "p1", "d1"); err != nil {
		t.Fatal(err)
	}
	// A new deployment of the same name starts with capture off.
	mustCreateDeployment(t, s, newDeployment("p1", "d1", "gpt", "GlobalStandard", 0))
	got, err := s.GetLogCapture(ctx, "p1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Enabled || got.RetentionDays != 0 {
		t.Errorf("recreated deployment inherited capture: %+v", got)
	}
	if err := s.DeleteProject(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListLogCaptures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 0 {
		t.Errorf("settings left after the project was deleted: %+v", all)
	}
}

// reqLog is a request log of p1 at time at()+minutes.
func reqLog(id, deployment string, minutes int) store.RequestLog {
	return store.RequestLog{
		RequestID: id, Time: at().Add(time.Duration(minutes) * time.Minute), Project: "p1", Deployment: deployment,
		Model: "gpt", Operation: "chat", Stream: minutes%2 == 1, Status: 200, PromptTokens: 12, CompletionTokens: 34,
		Latency: 1500 * time.Millisecond, Request: `{"messages":[{"role":"user","content":"hi ` + id + `"}]}`,
		Response: `{"choices":[{"text":"hello"}]}`,
	}
}

// mustAdd stores logs, stopping the test on failure.
func mustAdd(t *testing.T, s store.Store, logs ...store.RequestLog) {
	t.Helper()
	if err := s.AddRequestLogs(t.Context(), logs); err != nil {
		t.Fatalf("AddRequestLogs: %v", err)
	}
}

// ids are the request ids of logs, in order.
func ids(logs []store.RequestLog) []string {
	out := []string{}
	for _, l := range logs {
		out = append(out, l.RequestID)
	}
	return out
}

func testRequestLogs(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	if err := s.AddRequestLogs(ctx, nil); err != nil {
		t.Fatalf("AddRequestLogs(nil): %v", err)
	}
	in := []store.RequestLog{reqLog("r1", "d1", 0), reqLog("r2", "d1", 1)}
	in[1].Status, in[1].ErrorCode, in[1].Response = 429, "429", `{"error":{"code":"429"}}`
	in[1].Request = "naïve ☃ \x00 text"
	mustAdd(t, s, in...)
	got, err := s.ListRequestLogs(ctx, store.LogQuery{Project: "p1"})
	if err != nil {
		t.Fatalf("ListRequestLogs: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d logs, want 2", len(got))
	}
	if got[0].ID <= 0 || got[1].ID <= got[0].ID {
		t.Errorf("IDs %d, %d: want positive and increasing", got[0].ID, got[1].ID)
	}
	for i := range got {
		wantUTC(t, "Time", got[i].Time)
		if !got[i].Time.Equal(in[i].Time) {
			t.Errorf("log %d: Time %v, want %v", i, got[i].Time, in[i].Time)
		}
		in[i].ID, in[i].Time = got[i].ID, got[i].Time
	}
	if d := cmp.Diff(in, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func testRequestLogQueries(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	mustCreateProject(t, s, "h1", "p2")
	other := reqLog("other", "d1", 5)
	other.Project = "p2"
	mustAdd(t, s, reqLog("a", "d1", 0), reqLog("b", "d2", 10), other)
	mustAdd(t, s, reqLog("c", "d1", 20), reqLog("d", "d2", 30), reqLog("e", "d1", 40))
	all, err := s.ListRequestLogs(ctx, store.LogQuery{Project: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	cursor := func(rid string) int64 {
		for _, l := range all {
			if l.RequestID == rid {
				return l.ID
			}
		}
		t.Fatalf("no log %q", rid)
		return 0
	}
	tests := []struct {
		name string
		q    store.LogQuery
		want []string
	}{
		{"project", store.LogQuery{Project: "p1"}, []string{"a", "b", "c", "d", "e"}},
		{"other project", store.LogQuery{Project: "p2"}, []string{"other"}},
		{"unknown project", store.LogQuery{Project: "nope"}, []string{}},
		{"deployment", store.LogQuery{Project: "p1", Deployment: "d1"}, []string{"a", "c", "e"}},
		{"since", store.LogQuery{Project: "p1", Since: at().Add(20 * time.Minute)}, []string{"c", "d", "e"}},
		{"after", store.LogQuery{Project: "p1", After: cursor("b")}, []string{"c", "d", "e"}},
		{"after and deployment", store.LogQuery{Project: "p1", Deployment: "d2", After: cursor("b")}, []string{"d"}},
		{"after the last", store.LogQuery{Project: "p1", After: cursor("e")}, []string{}},
		{"limit", store.LogQuery{Project: "p1", Limit: 2}, []string{"a", "b"}},
		{"limit after", store.LogQuery{Project: "p1", Limit: 2, After: cursor("b")}, []string{"c", "d"}},
		{"since and limit", store.LogQuery{Project: "p1", Since: at().Add(15 * time.Minute), Limit: 1}, []string{"c"}},
	}
	for _, tt := range tests {
		got, err := s.ListRequestLogs(ctx, tt.q)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if d := cmp.Diff(tt.want, ids(got)); d != "" {
			t.Errorf("%s: request ids (-want +got):\n%s", tt.name, d)
		}
	}
}

func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	setupLogs(t, s)
	mustCreateDeployment(t, s, newDeployment("p1", "d3", "gpt", "GlobalStandard", 0))
	day := 24 * 60 // minutes
	if err := s.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "d1", Enabled: true, RetentionDays: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLogCapture(ctx, store.LogCapture{Project: "p1", Deployment: "d2", Enabled: false, RetentionDays: 3}); err != nil {
		t.Fatal(err)
	}
	// d3 has no setting: the fallback (2 days) applies.
	mustAdd(t, s,
		reqLog("d1-old", "d1", -2*day), reqLog("d1-edge", "d1", -day), reqLog("d1-new", "d1", -day+1),
		reqLog("d2-old", "d2", -4*day), reqLog("d2-new", "d2", -2*day),
		reqLog("d3-old", "d3", -3*day), reqLog("d3-new", "d3", -day),
	)
	n, err := s.PruneRequestLogs(ctx, at(), 2*24*time.Hour)
	if err != nil {
		t.Fatalf("PruneRequestLogs: %v", err)
	}
	if n != 3 {
		t.Errorf("pruned %d, want 3", n)
	}
	got, err := s.ListRequestLogs(ctx, store.LogQuery{Project: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	// A log exactly at the retention edge is kept (deleted once older).
	if d := cmp.Diff([]string{"d1-edge", "d1-new", "d2-new", "d3-new"}, ids(got)); d != "" {
		t.Errorf("left after pruning (-want +got):\n%s", d)
	}
	if n, err := s.PruneRequestLogs(ctx, at(), 2*24*time.Hour); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v; want 0, nil", n, err)
	}
}
