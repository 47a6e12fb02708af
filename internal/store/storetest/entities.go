package storetest

import (
	"testing"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"
)

func testHubs(t *testing.T, s store.Store) {
	ctx := t.Context()
	hubs := []hub.Hub{
		newHub("zeta", hub.QuotaLimit{Model: "gpt", SKU: "Standard", Limit: 30}, hub.QuotaLimit{Model: hub.AnyModel, SKU: "Standard", Limit: 100}),
		newHub("alpha", hub.DefaultQuotas()...),
		newHub("empty"),
	}
	for _, h := range hubs {
		mustCreateHub(t, s, h)
	}
	for _, want := range hubs {
		got, err := s.GetHub(ctx, want.Name)
		if err != nil {
			t.Fatalf("GetHub(%q): %v", want.Name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetHub(%q) mismatch (-want +got):\n%s", want.Name, d)
		}
		wantUTC(t, "hub CreatedAt", got.CreatedAt)
	}
	list, err := s.ListHubs(ctx)
	if err != nil {
		t.Fatalf("ListHubs: %v", err)
	}
	if d := diff([]hub.Hub{hubs[1], hubs[2], hubs[0]}, list); d != "" {
		t.Errorf("ListHubs mismatch, want by name (-want +got):\n%s", d)
	}

	tests := []struct {
		name   string
		update hub.Hub
	}{
		{"replace quotas", hub.Hub{Name: "zeta", Description: "new", Quotas: []hub.QuotaLimit{{Model: "llama", SKU: "GlobalStandard", Limit: 7}}}},
		{"clear quotas", hub.Hub{Name: "alpha", Description: ""}},
		{"add quotas", hub.Hub{Name: "empty", Description: "now with quota", Quotas: hub.DefaultQuotas()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.UpdateHub(ctx, tt.update); err != nil {
				t.Fatalf("UpdateHub: %v", err)
			}
			got, err := s.GetHub(ctx, tt.update.Name)
			if err != nil {
				t.Fatalf("GetHub: %v", err)
			}
			want := tt.update
			want.CreatedAt = at() // kept
			if d := diff(want, got); d != "" {
				t.Errorf("after UpdateHub (-want +got):\n%s", d)
			}
		})
	}

	if err := s.DeleteHub(ctx, "empty"); err != nil {
		t.Fatalf("DeleteHub: %v", err)
	}
	_, err = s.GetHub(ctx, "empty")
	wantNotFound(t, "GetHub after delete", err, "HubNotFound", "empty")
}

func testHubErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	wantExists(t, "CreateHub duplicate", s.CreateHub(ctx, newHub("h1")), "h1")
	_, err := s.GetHub(ctx, "nope")
	wantNotFound(t, "GetHub", err, "HubNotFound", "nope")
	wantNotFound(t, "UpdateHub", s.UpdateHub(ctx, newHub("nope")), "HubNotFound", "nope")
	wantNotFound(t, "DeleteHub", s.DeleteHub(ctx, "nope"), "HubNotFound", "nope")
	_, err = s.ListProjects(ctx, "nope")
	wantNotFound(t, "ListProjects", err, "HubNotFound", "nope")
	_, err = s.QuotaUsage(ctx, "nope", "gpt", "Standard")
	wantNotFound(t, "QuotaUsage", err, "HubNotFound", "nope")
	err = s.CreateProject(ctx, newProjectValue("nope", "p1"), keysOf("p1"))
	wantNotFound(t, "CreateProject in missing hub", err, "HubNotFound", "nope")
}

func testProjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	mustCreateHub(t, s, newHub("h2"))
	p1 := mustCreateProject(t, s, "h1", "p1")
	p2 := mustCreateProject(t, s, "h2", "p2")
	p0 := mustCreateProject(t, s, "h1", "p0")

	got, err := s.GetProject(ctx, "p1")
	if err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	if d := diff(p1, got); d != "" {
		t.Errorf("GetProject mismatch (-want +got):\n%s", d)
	}
	wantUTC(t, "project CreatedAt", got.CreatedAt)

	tests := []struct {
		hub  string
		want []project.Project
	}{
		{"", []project.Project{p0, p1, p2}},
		{"h1", []project.Project{p0, p1}},
		{"h2", []project.Project{p2}},
	}
	for _, tt := range tests {
		got, err := s.ListProjects(ctx, tt.hub)
		if err != nil {
			t.Fatalf("ListProjects(%q): %v", tt.hub, err)
		}
		if d := diff(tt.want, got); d != "" {
			t.Errorf("ListProjects(%q) mismatch (-want +got):\n%s", tt.hub, d)
		}
	}

	if err := s.DeleteProject(ctx, "p1"); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	_, err = s.GetProject(ctx, "p1")
	wantNotFound(t, "GetProject after delete", err, "ProjectNotFound", "p1")
	list, err := s.ListProjects(ctx, "h1")
	if err != nil {
		t.Fatalf("ListProjects: %v", err)
	}
	if d := diff([]project.Project{p0}, list); d != "" {
		t.Errorf("ListProjects after delete (-want +got):\n%s", d)
	}
}

func testProjectErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	mustCreateProject(t, s, "h1", "p1")
	wantExists(t, "CreateProject duplicate", s.CreateProject(ctx, newProjectValue("h1", "p1"),
		[2]apikey.Key{newKey("p1", apikey.Key1, "again/1"), newKey("p1", apikey.Key2, "again/2")}), "p1")
	_, err := s.GetProject(ctx, "nope")
	wantNotFound(t, "GetProject", err, "ProjectNotFound", "nope")
	wantNotFound(t, "DeleteProject", s.DeleteProject(ctx, "nope"), "ProjectNotFound", "nope")
	_, err = s.ListKeys(ctx, "nope")
	wantNotFound(t, "ListKeys", err, "ProjectNotFound", "nope")
	_, err = s.ListDeployments(ctx, "nope")
	wantNotFound(t, "ListDeployments", err, "ProjectNotFound", "nope")

	// A failed create leaves nothing behind.
	err = s.CreateProject(ctx, newProjectValue("h1", "p2"), [2]apikey.Key{newKey("p2", apikey.Key1, "x"), newKey("p2", apikey.Key2, "p1/1")})
	wantFault(t, "CreateProject with a key hash in use", err, store.ErrExists, fault.Conflict, "itemDoesAlreadyExist", "key2", "")
	_, err = s.GetProject(ctx, "p2")
	wantNotFound(t, "GetProject after failed create", err, "ProjectNotFound", "p2")
	_, err = s.FindKey(ctx, apikey.Sum("x"))
	wantFault(t, "FindKey after failed create", err, store.ErrNotFound, fault.NotFound, "KeyNotFound", "", "")
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	mustCreateProject(t, s, "h1", "p1")
	mustCreateProject(t, s, "h1", "p2")

	// Keys given key2 first are listed key1 first.
	keys := keysOf("p3")
	if err := s.CreateProject(ctx, newProjectValue("h1", "p3"), [2]apikey.Key{keys[1], keys[0]}); err != nil {
		t.Fatalf("CreateProject with key2 first: %v", err)
	}
	for _, p := range []string{"p1", "p2", "p3"} {
		got, err := s.ListKeys(ctx, p)
		if err != nil {
			t.Fatalf("ListKeys(%q): %v", p, err)
		}
		want := keysOf(p)
		if d := diff(want[:], got); d != "" {
			t.Errorf("ListKeys(%q) mismatch (-want +got):\n%s", p, d)
		}
		for _, k := range got {
			wantUTC(t, "key CreatedAt", k.CreatedAt)
		}
		for _, k := range want {
			got, err := s.FindKey(ctx, k.Hash)
			if err != nil {
				t.Fatalf("FindKey(%s %s): %v", p, k.Slot, err)
			}
			if d := diff(k, got); d != "" {
				t.Errorf("FindKey(%s %s) mismatch (-want +got):\n%s", p, k.Slot, d)
			}
		}
	}

	tests := []struct {
		slot       apikey.Slot
		seed       string
		gone, kept string // seeds of the old key and of the other slot's key
	}{
		{apikey.Key1, "p1/1-new", "p1/1", "p1/2"},
		{apikey.Key2, "p1/2-new", "p1/2", "p1/1-new"},
		{apikey.Key1, "p1/1-newer", "p1/1-new", "p1/2-new"},
	}
	for _, tt := range tests {
		k := newKey("p1", tt.slot, tt.seed)
		k.CreatedAt = later()
		if err := s.ReplaceKey(ctx, k); err != nil {
			t.Fatalf("ReplaceKey(%s): %v", tt.slot, err)
		}
		_, err := s.FindKey(ctx, apikey.Sum(tt.gone))
		wantFault(t, "FindKey(replaced key)", err, store.ErrNotFound, fault.NotFound, "KeyNotFound", "", "")
		if got, err := s.FindKey(ctx, apikey.Sum(tt.kept)); err != nil || got.Project != "p1" {
			t.Errorf("FindKey(other slot) after replacing %s = %+v, %v; want p1's key", tt.slot, got, err)
		}
		got, err := s.FindKey(ctx, k.Hash)
		if err != nil {
			t.Fatalf("FindKey(new key): %v", err)
		}
		if d := diff(k, got); d != "" {
			t.Errorf("FindKey(new %s) mismatch (-want +got):\n%s", tt.slot, d)
		}
	}
	got, err := s.ListKeys(ctx, "p1")
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	want := []apikey.Key{newKey("p1", apikey.Key1, "p1/1-newer"), newKey("p1", apikey.Key2, "p1/2-new")}
	for i := range want {
		want[i].CreatedAt = later()
	}
	if d := diff(want, got); d != "" {
		t.Errorf("ListKeys after rotation (-want +got):\n%s", d)
	}
	// The other project's keys are untouched.
	other, err := s.ListKeys(ctx, "p2")
	if err != nil {
		t.Fatalf("ListKeys(p2): %v", err)
	}
	wantOther := keysOf("p2")
	if d := diff(wantOther[:], other); d != "" {
		t.Errorf("ListKeys(p2) after rotating p1 (-want +got):\n%s", d)
	}
}

func testKeyErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	mustCreateProject(t, s, "h1", "p1")
	err := s.ReplaceKey(ctx, newKey("nope", apikey.Key1, "x"))
	wantNotFound(t, "ReplaceKey in missing project", err, "ProjectNotFound", "nope")
	// Taking the other slot's hash would let one key stand for two.
	err = s.ReplaceKey(ctx, newKey("p1", apikey.Key1, "p1/2"))
	wantFault(t, "ReplaceKey with the other slot's hash", err, store.ErrExists, fault.Conflict, "itemDoesAlreadyExist", "key1", "")
	if got, err := s.FindKey(ctx, apikey.Sum("p1/1")); err != nil || got.Slot != apikey.Key1 {
		t.Errorf("FindKey(key1) after a refused replace = %+v, %v; want key1 unchanged", got, err)
	}
	_, err = s.FindKey(ctx, apikey.Sum("never issued"))
	wantFault(t, "FindKey(unknown)", err, store.ErrNotFound, fault.NotFound, "KeyNotFound", "", "")
}

func testModels(t *testing.T, s store.Store) {
	ctx := t.Context()
	models := []catalog.Model{newModel("gpt-4o"), newModel("embed"), {Name: "bare", Versions: []catalog.Version{{Version: "1", Format: catalog.FormatGGUF, File: "x.gguf"}}, CreatedAt: at(), UpdatedAt: at()}}
	for _, m := range models {
		mustCreateModel(t, s, m)
	}
	for _, want := range models {
		got, err := s.GetModel(ctx, want.Name)
		if err != nil {
			t.Fatalf("GetModel(%q): %v", want.Name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetModel(%q) mismatch (-want +got):\n%s", want.Name, d)
		}
		wantUTC(t, "model CreatedAt", got.CreatedAt)
		wantUTC(t, "model UpdatedAt", got.UpdatedAt)
	}
	list, err := s.ListModels(ctx)
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	if d := diff([]catalog.Model{models[2], models[1], models[0]}, list); d != "" {
		t.Errorf("ListModels mismatch, want by name (-want +got):\n%s", d)
	}

	update := newModel("gpt-4o")
	update.Description = "updated"
	update.DefaultVersion = "1"
	update.Versions = update.Versions[:1]
	update.Versions[0].Lifecycle = catalog.GenerallyAvailable
	update.CreatedAt = later() // ignored: CreatedAt is kept
	update.UpdatedAt = later()
	if err := s.UpdateModel(ctx, update); err != nil {
		t.Fatalf("UpdateModel: %v", err)
	}
	got, err := s.GetModel(ctx, "gpt-4o")
	if err != nil {
		t.Fatalf("GetModel: %v", err)
	}
	want := update
	want.CreatedAt = at()
	if d := diff(want, got); d != "" {
		t.Errorf("after UpdateModel (-want +got):\n%s", d)
	}

	if err := s.DeleteModel(ctx, "embed"); err != nil {
		t.Fatalf("DeleteModel: %v", err)
	}
	_, err = s.GetModel(ctx, "embed")
	wantNotFound(t, "GetModel after delete", err, "ModelNotFound", "embed")
}

func testModelErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateModel(t, s, newModel("gpt"))
	wantExists(t, "CreateModel duplicate", s.CreateModel(ctx, newModel("gpt")), "gpt")
	_, err := s.GetModel(ctx, "nope")
	wantNotFound(t, "GetModel", err, "ModelNotFound", "nope")
	wantNotFound(t, "UpdateModel", s.UpdateModel(ctx, newModel("nope")), "ModelNotFound", "nope")
	wantNotFound(t, "DeleteModel", s.DeleteModel(ctx, "nope"), "ModelNotFound", "nope")
}
