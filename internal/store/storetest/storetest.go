// Package storetest is the conformance suite every store.Store
// implementation passes: round trips of every entity, not-found, duplicate
// and in-use errors, cascades, key rotation, quota accounting and its
// behaviour under concurrency, and settings.
//
// An implementation's test calls Run with a function that opens a new,
// empty, fully migrated store and arranges (with t.Cleanup) for it to be
// closed.
package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// Run runs the suite. Each subtest calls open for a store of its own.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Empty", testEmpty},
		{"Hubs", testHubs},
		{"HubErrors", testHubErrors},
		{"Projects", testProjects},
		{"ProjectErrors", testProjectErrors},
		{"Keys", testKeys},
		{"KeyErrors", testKeyErrors},
		{"Models", testModels},
		{"ModelErrors", testModelErrors},
		{"Deployments", testDeployments},
		{"DeploymentErrors", testDeploymentErrors},
		{"DeploymentState", testDeploymentState},
		{"DeploymentTransition", testTransition},
		{"CascadeOnProjectDelete", testCascade},
		{"RestrictHubDelete", testRestrictHub},
		{"RestrictModelDelete", testRestrictModel},
		{"Quota", testQuota},
		{"QuotaUpdate", testQuotaUpdate},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"Settings", testSettings},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// Fixtures.

// at is a fixed time with nanoseconds, in a zone other than UTC, so that
// round trips show both precision and conversion to UTC.
func at() time.Time {
	return time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
}

// later is a fixed time after at.
func later() time.Time { return at().Add(36*time.Hour + 7*time.Nanosecond) }

// diff is cmp.Diff treating nil and empty slices alike; times compare with
// their Equal method.
func diff(want, got any) string { return cmp.Diff(want, got, cmpopts.EquateEmpty()) }

// newHub is a hub with the given quotas.
func newHub(name string, quotas ...hub.QuotaLimit) hub.Hub {
	return hub.Hub{Name: name, Description: "hub " + name, Quotas: quotas, CreatedAt: at()}
}

// newKey is a stored key of project p made from seed.
func newKey(p string, slot apikey.Slot, seed string) apikey.Key {
	return apikey.Key{Project: p, Slot: slot, Hash: apikey.Sum(seed), Sealed: []byte("sealed:" + seed), CreatedAt: at()}
}

// keysOf are the two keys newProject gives project p.
func keysOf(p string) [2]apikey.Key {
	return [2]apikey.Key{newKey(p, apikey.Key1, p+"/1"), newKey(p, apikey.Key2, p+"/2")}
}

// newProjectValue is a project of hub h.
func newProjectValue(h, name string) project.Project {
	return project.Project{Name: name, Hub: h, Region: "eu-" + name, Description: "project " + name, CreatedAt: at()}
}

// newModel is a model with one upstream and one GGUF version.
func newModel(name string) catalog.Model {
	dep, ret := at().Add(24*time.Hour), at().Add(48*time.Hour)
	return catalog.Model{
		Name:           name,
		Description:    "model " + name,
		DefaultVersion: "2",
		Versions: []catalog.Version{
			{
				Version:       "1",
				Format:        catalog.FormatUpstream,
				Upstream:      &catalog.Upstream{BaseURL: "http://127.0.0.1:8000/v1", Model: name + "-up", APIKey: "sk-x"},
				Capabilities:  catalog.Capabilities{Chat: true, Tools: true, JSONSchema: true},
				ContextLength: 8192,
				Lifecycle:     catalog.Deprecated,
				DeprecationAt: &dep,
				RetirementAt:  &ret,
				Prices:        catalog.Prices{InputPer1K: 0.5, OutputPer1K: 1.5, CachedInputPer1K: 0.25, PTUHour: 2},
				SKUs:          []string{"Standard", "GlobalStandard"},
			},
			{
				Version:       "2",
				Format:        catalog.FormatGGUF,
				File:          "/models/" + name + ".gguf",
				Capabilities:  catalog.Capabilities{Chat: true, Completion: true, Embeddings: true, FineTune: true},
				ContextLength: 4096,
				Lifecycle:     catalog.GenerallyAvailable,
			},
		},
		CreatedAt: at(),
		UpdatedAt: at(),
	}
}

// newDeployment is a deployment of model m, version "2".
func newDeployment(p, name, m, sku string, capacity int) deployment.Deployment {
	return deployment.Deployment{
		Project:              p,
		Name:                 name,
		Model:                m,
		Version:              "2",
		SKU:                  sku,
		Capacity:             capacity,
		VersionUpgradeOption: deployment.OnceNewDefaultVersionAvailable,
		RAIPolicy:            deployment.DefaultRAIPolicy,
		State:                deployment.Creating,
		CreatedAt:            at(),
		UpdatedAt:            at(),
	}
}

// Helpers that stop the test on failure.

func mustCreateHub(t *testing.T, s store.Store, h hub.Hub) {
	t.Helper()
	if err := s.CreateHub(t.Context(), h); err != nil {
		t.Fatalf("CreateHub(%q): %v", h.Name, err)
	}
}

// mustCreateProject creates project name in hub h with keysOf(name).
func mustCreateProject(t *testing.T, s store.Store, h, name string) project.Project {
	t.Helper()
	p := newProjectValue(h, name)
	if err := s.CreateProject(t.Context(), p, keysOf(name)); err != nil {
		t.Fatalf("CreateProject(%q): %v", name, err)
	}
	return p
}

func mustCreateModel(t *testing.T, s store.Store, m catalog.Model) {
	t.Helper()
	if err := s.CreateModel(t.Context(), m); err != nil {
		t.Fatalf("CreateModel(%q): %v", m.Name, err)
	}
}

func mustCreateDeployment(t *testing.T, s store.Store, d deployment.Deployment) {
	t.Helper()
	if err := s.CreateDeployment(t.Context(), d); err != nil {
		t.Fatalf("CreateDeployment(%q/%q): %v", d.Project, d.Name, err)
	}
}

// setup creates hub "h1" with quotas, project "p1" in it and model "gpt".
func setup(t *testing.T, s store.Store, quotas ...hub.QuotaLimit) {
	t.Helper()
	mustCreateHub(t, s, newHub("h1", quotas...))
	mustCreateProject(t, s, "h1", "p1")
	mustCreateModel(t, s, newModel("gpt"))
}

// wantFault checks that err is a *fault.Error of kind and code wrapping
// sentinel, whose Param is param (the resource's name, which the API shows
// as the error's target), with a message that contains want and no SQL.
func wantFault(t *testing.T, what string, err, sentinel error, kind fault.Kind, code, param, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %s", what, code)
		return
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("%s: got %v, want an error that is %v", what, err, sentinel)
	}
	f, ok := fault.As(err)
	if !ok {
		t.Errorf("%s: got %T %v, want a *fault.Error", what, err, err)
		return
	}
	if f.Kind != kind || f.Code != code {
		t.Errorf("%s: got kind %v code %q (%v), want kind %v code %q", what, f.Kind, f.Code, err, kind, code)
	}
	if f.Param != param {
		t.Errorf("%s: got Param %q, want %q", what, f.Param, param)
	}
	if !strings.Contains(f.Message, want) {
		t.Errorf("%s: message %q does not contain %q", what, f.Message, want)
	}
	for _, leak := range []string{"SQL", "sql", "constraint", "UNIQUE", "FOREIGN"} {
		if strings.Contains(f.Message, leak) {
			t.Errorf("%s: message %q leaks storage details (%q)", what, f.Message, leak)
		}
	}
}

func wantNotFound(t *testing.T, what string, err error, code, name string) {
	t.Helper()
	wantFault(t, what, err, store.ErrNotFound, fault.NotFound, code, name, fmt.Sprintf("%q", name))
}

func wantExists(t *testing.T, what string, err error, name string) {
	t.Helper()
	wantFault(t, what, err, store.ErrExists, fault.Conflict, "itemDoesAlreadyExist", name, fmt.Sprintf("%q", name))
}

// wantUTC checks that a time read back is in UTC.
func wantUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", what, tm.Location())
	}
}

func testEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	hubs, err := s.ListHubs(ctx)
	if err != nil || len(hubs) != 0 {
		t.Errorf("ListHubs = %v, %v; want none", hubs, err)
	}
	ps, err := s.ListProjects(ctx, "")
	if err != nil || len(ps) != 0 {
		t.Errorf("ListProjects(\"\") = %v, %v; want none", ps, err)
	}
	ms, err := s.ListModels(ctx)
	if err != nil || len(ms) != 0 {
		t.Errorf("ListModels = %v, %v; want none", ms, err)
	}
	ds, err := s.ListDeployments(ctx, "")
	if err != nil || len(ds) != 0 {
		t.Errorf("ListDeployments(\"\") = %v, %v; want none", ds, err)
	}
	_, err = s.FindKey(ctx, apikey.Sum("nothing"))
	wantFault(t, "FindKey", err, store.ErrNotFound, fault.NotFound, "KeyNotFound", "", "")
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSetting(ctx, "missing")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSetting(missing): got %v, want ErrNotFound", err)
	}
	steps := []struct{ key, value string }{
		{"schema.note", "first"},
		{"secret.id", "abc"},
		{"schema.note", "second"}, // overwrite
		{"empty", ""},
	}
	want := map[string]string{}
	for _, st := range steps {
		if err := s.PutSetting(ctx, st.key, st.value); err != nil {
			t.Fatalf("PutSetting(%q): %v", st.key, err)
		}
		want[st.key] = st.value
	}
	for k, v := range want {
		got, err := s.GetSetting(ctx, k)
		if err != nil {
			t.Errorf("GetSetting(%q): %v", k, err)
			continue
		}
		if got != v {
			t.Errorf("GetSetting(%q) = %q, want %q", k, got, v)
		}
	}
}
