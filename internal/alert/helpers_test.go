package alert_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// march15 is the middle of March 2025 (UTC).
var march15 = time.Date(2025, 3, 15, 12, 0, 0, 0, time.UTC)

// openStore opens a SQLite store at path (a new temp file when "").
func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "db")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seed makes hub h1 with projects p1 and p2 and prices model gpt at 1 per
// 1,000 prompt tokens and 2 per 1,000 completion tokens.
func seed(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateHub(ctx, hub.Hub{Name: "h1", CreatedAt: march15}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"p1", "p2"} {
		keys := [2]apikey.Key{
			{Project: name, Slot: apikey.Key1, Hash: apikey.Sum(name + "/1"), Sealed: []byte("x"), CreatedAt: march15},
			{Project: name, Slot: apikey.Key2, Hash: apikey.Sum(name + "/2"), Sealed: []byte("y"), CreatedAt: march15},
		}
		if err := s.CreateProject(ctx, project.Project{Name: name, Hub: "h1", CreatedAt: march15}, keys); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutPriceSheet(ctx, store.PriceSheet{Hub: "h1", Models: []store.ModelPrice{
		{Model: "gpt", InputPer1K: 1, OutputPer1K: 2},
	}}); err != nil {
		t.Fatal(err)
	}
}

// spend records a request of project p at time at costing cost (in
// prompt tokens at 1 per 1,000).
func spend(t *testing.T, s store.Store, p string, at time.Time, cost float64) {
	t.Helper()
	record(t, s, store.UsageRecord{RequestID: fmt.Sprintf("%s-%d", p, at.UnixNano()), Time: at, Hub: "h1", Project: p,
		Deployment: "d1", Model: "gpt", SKU: "Standard", Operation: "chat", PromptTokens: int(cost * 1000), Status: 200})
}

func record(t *testing.T, s store.Store, recs ...store.UsageRecord) {
	t.Helper()
	if _, err := s.RecordUsage(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}
