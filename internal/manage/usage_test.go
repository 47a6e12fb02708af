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

// The fake store has no usage: the usage routes are tested on SQLite.
// These methods make it a manage.Store.

func (s *fakeStore) UsageSums(context.Context, store.UsageQuery) ([]store.UsageSum, error) {
	return nil, nil
}

func (s *fakeStore) GetPriceSheet(ctx context.Context, hubName string) (store.PriceSheet, error) {
	if _, err := s.GetHub(ctx, hubName); err != nil {
		return store.PriceSheet{}, err
	}
	return store.PriceSheet{Hub: hubName}, nil
}

func (s *fakeStore) PutPriceSheet(context.Context, store.PriceSheet) error {
	return errors.New("fakeStore: price sheets are tested on SQLite")
}

// seedUsage writes usage of p1 (hub default) in fixedNow's month and one
// record of the month before.
func seedUsage(t *testing.T, st store.Store) {
	t.Helper()
	rec := func(id, dep, key string, at time.Time, prompt, completion, status int) store.UsageRecord {
		return store.UsageRecord{RequestID: id, Time: at, Hub: "default", Project: "p1", KeyID: key, Deployment: dep,
			Model: "m1", Version: "1", SKU: "Standard", Operation: "chat", PromptTokens: prompt, CompletionTokens: completion, Status: status}
	}
	march := time.Date(2025, 3, 2, 10, 0, 0, 0, time.UTC)
	if _, err := st.RecordUsage(context.Background(), []store.UsageRecord{
		rec("r1", "a1", "k1", march, 1000, 500, 200),
		rec("r2", "a1", "k2", march.Add(time.Hour), 2000, 1000, 200),
		rec("r3", "b1", "k1", march.Add(24*time.Hour), 0, 0, 429),
		rec("r0", "a1", "k1", march.AddDate(0, -1, 0), 9999, 9999, 200), // February
	}); err != nil {
		t.Fatal(err)
	}
}

func TestSQLitePricesAndUsage(t *testing.T) {
	e, st := newSQLiteEnv(t)
	e.seed(t)
	seedUsage(t, st)
	ctx := context.Background()

	// A new hub has an empty sheet.
	got := want[api.PriceSheet](t, e, "GET", "/api/v1/hubs/default/prices", nil, http.StatusOK)
	if d := cmp.Diff(api.PriceSheet{Hub: "default", Models: []api.ModelPrice{}, InstanceTypes: []api.InstancePrice{}}, got); d != "" {
		t.Errorf("empty sheet (-want +got):\n%s", d)
	}
	sheet := api.PriceSheet{Hub: "default",
		Models:        []api.ModelPrice{{Model: "m1", InputPer1K: 1, OutputPer1K: 2, CachedInputPer1K: 0.5, PTUHour: 10}},
		InstanceTypes: []api.InstancePrice{{Name: "default", PerHour: 3}},
	}
	put, err := e.client.PutPrices(ctx, "default", sheet)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sheet, put); d != "" {
		t.Errorf("PutPrices (-want +got):\n%s", d)
	}
	if got, err := e.client.GetPrices(ctx, "default"); err != nil || cmp.Diff(sheet, got) != "" {
		t.Errorf("GetPrices = %+v, %v; want %+v", got, err, sheet)
	}

	// The default window is fixedNow's month; February is left out.
	rep := want[api.UsageReport](t, e, "GET", "/api/v1/projects/p1/usage", nil, http.StatusOK)
	wantRep := api.UsageReport{Project: "p1", Hub: "default", By: "deployment",
		Since: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC),
		Value: []api.UsageRow{
			{Group: "a1", Requests: 2, PromptTokens: 3000, CompletionTokens: 1500, TotalTokens: 4500, Cost: 3 + 3},
			{Group: "b1", Requests: 1, Errors: 1, Throttled: 1},
		},
		Total: api.UsageRow{Requests: 3, PromptTokens: 3000, CompletionTokens: 1500, TotalTokens: 4500, Cost: 6, Errors: 1, Throttled: 1},
	}
	if d := cmp.Diff(wantRep, rep); d != "" {
		t.Errorf("project usage (-want +got):\n%s", d)
	}

	// Through the client, by key, over two months; and the hub's report.
	opts := api.UsageOptions{Since: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), By: api.UsageByKey}
	byKey, err := e.client.ProjectUsage(ctx, "p1", opts)
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, r := range byKey.Value {
		groups = append(groups, r.Group)
	}
	if d := cmp.Diff([]string{"k1", "k2"}, groups); d != "" || byKey.Total.PromptTokens != 3000+9999 {
		t.Errorf("by key: groups (-want +got):\n%s\ntotal %+v", d, byKey.Total)
	}
	hubRep, err := e.client.HubUsage(ctx, "default", api.UsageOptions{By: api.UsageByProject})
	if err != nil {
		t.Fatal(err)
	}
	if len(hubRep.Value) != 1 || hubRep.Value[0].Group != "p1" || hubRep.Total != rep.Total || hubRep.Project != "" {
		t.Errorf("hub usage = %+v, want one row p1 with the project's total %+v", hubRep, rep.Total)
	}
	// Dates are accepted; only since ends with the current month.
	days := want[api.UsageReport](t, e, "GET", "/api/v1/projects/p1/usage?since=2025-03-03&by=day", nil, http.StatusOK)
	if len(days.Value) != 1 || days.Value[0].Group != "2025-03-03" || !days.Until.Equal(wantRep.Until) {
		t.Errorf("by day since 2025-03-03 = %+v", days)
	}
}

func TestSQLiteUsageErrors(t *testing.T) {
	e, _ := newSQLiteEnv(t)
	e.seed(t)
	for _, c := range []errCase{
		{name: "unknown project", method: "GET", path: "/api/v1/projects/nope/usage", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "unknown hub", method: "GET", path: "/api/v1/hubs/nope/usage", status: 404, code: "HubNotFound", target: "nope"},
		{name: "bad by", method: "GET", path: "/api/v1/projects/p1/usage?by=colour", status: 400, code: "invalidPayload", target: "by", message: "colour"},
		{name: "bad since", method: "GET", path: "/api/v1/hubs/default/usage?since=yesterday", status: 400, code: "invalidPayload", target: "since", message: "RFC 3339"},
		{name: "until before since", method: "GET", path: "/api/v1/projects/p1/usage?since=2025-03-02&until=2025-03-01", status: 400, code: "invalidPayload", target: "until"},
		{name: "prices of unknown hub", method: "GET", path: "/api/v1/hubs/nope/prices", status: 404, code: "HubNotFound", target: "nope"},
		{name: "put prices of unknown hub", method: "PUT", path: "/api/v1/hubs/nope/prices", body: `{}`, status: 404, code: "HubNotFound", target: "nope"},
		{name: "negative price", method: "PUT", path: "/api/v1/hubs/default/prices", body: `{"models":[{"model":"m1","inputPer1K":-1}]}`,
			status: 400, code: "invalidPayload", target: "models[0]", message: "0 or more"},
		{name: "hub mismatch", method: "PUT", path: "/api/v1/hubs/default/prices", body: `{"hub":"other"}`, status: 400, code: "invalidPayload", target: "hub"},
		{name: "bad body", method: "PUT", path: "/api/v1/hubs/default/prices", body: `{"models":3}`, status: 400, code: "invalidPayload", target: "models"},
		{name: "wrong method", method: "POST", path: "/api/v1/hubs/default/prices", body: `{}`, status: 405, code: "methodNotAllowed"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}
