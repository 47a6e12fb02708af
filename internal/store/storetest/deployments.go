package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/quota"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// roomy are quotas no test here runs out of.
func roomy() []hub.QuotaLimit {
	return []hub.QuotaLimit{{Model: hub.AnyModel, SKU: "Standard", Limit: 1000}, {Model: hub.AnyModel, SKU: "GlobalStandard", Limit: 1000}}
}

func testDeployments(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	mustCreateProject(t, s, "h1", "p2")
	ds := []deployment.Deployment{
		newDeployment("p1", "chat", "gpt", "Standard", 10),
		newDeployment("p1", "bulk", "gpt", "GlobalStandard", 20),
		newDeployment("p2", "chat", "gpt", "Standard", 5),
	}
	ds[1].State, ds[1].Reason = deployment.Failed, "no such file"
	for _, d := range ds {
		mustCreateDeployment(t, s, d)
	}
	for _, want := range ds {
		got, err := s.GetDeployment(ctx, want.Project, want.Name)
		if err != nil {
			t.Fatalf("GetDeployment(%q, %q): %v", want.Project, want.Name, err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("GetDeployment(%q, %q) mismatch (-want +got):\n%s", want.Project, want.Name, d)
		}
		wantUTC(t, "deployment CreatedAt", got.CreatedAt)
		wantUTC(t, "deployment UpdatedAt", got.UpdatedAt)
	}
	lists := []struct {
		project string
		want    []deployment.Deployment
	}{
		{"", []deployment.Deployment{ds[1], ds[0], ds[2]}},
		{"p1", []deployment.Deployment{ds[1], ds[0]}},
		{"p2", []deployment.Deployment{ds[2]}},
	}
	for _, tt := range lists {
		got, err := s.ListDeployments(ctx, tt.project)
		if err != nil {
			t.Fatalf("ListDeployments(%q): %v", tt.project, err)
		}
		if d := diff(tt.want, got); d != "" {
			t.Errorf("ListDeployments(%q) mismatch, want by project and name (-want +got):\n%s", tt.project, d)
		}
	}

	// UpdateDeployment writes the settable fields and keeps state, reason
	// and CreatedAt.
	up := ds[1]
	up.Version = "1"
	up.Capacity = 25
	up.VersionUpgradeOption = deployment.NoAutoUpgrade
	up.RAIPolicy = "Strict"
	up.State, up.Reason = deployment.Succeeded, "" // ignored
	up.CreatedAt = later()                         // ignored
	up.UpdatedAt = later()
	if err := s.UpdateDeployment(ctx, up); err != nil {
		t.Fatalf("UpdateDeployment: %v", err)
	}
	got, err := s.GetDeployment(ctx, "p1", "bulk")
	if err != nil {
		t.Fatalf("GetDeployment: %v", err)
	}
	want := up
	want.State, want.Reason, want.CreatedAt = ds[1].State, ds[1].Reason, ds[1].CreatedAt
	if d := diff(want, got); d != "" {
		t.Errorf("after UpdateDeployment (-want +got):\n%s", d)
	}

	if err := s.DeleteDeployment(ctx, "p1", "chat"); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	_, err = s.GetDeployment(ctx, "p1", "chat")
	wantNotFound(t, "GetDeployment after delete", err, "DeploymentNotFound", "chat")
	// A deployment of the same name in another project is another deployment.
	if _, err := s.GetDeployment(ctx, "p2", "chat"); err != nil {
		t.Errorf("GetDeployment(p2, chat) after deleting p1's: %v", err)
	}
}

func testDeploymentErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	mustCreateDeployment(t, s, newDeployment("p1", "chat", "gpt", "Standard", 1))

	wantExists(t, "CreateDeployment duplicate", s.CreateDeployment(ctx, newDeployment("p1", "chat", "gpt", "Standard", 1)), "chat")
	tests := []struct {
		name string
		err  func() error
		code string
		what string // named in the message
	}{
		{"create in missing project", func() error {
			return s.CreateDeployment(ctx, newDeployment("nope", "d1", "gpt", "Standard", 1))
		}, "ProjectNotFound", "nope"},
		{"create of missing model", func() error {
			return s.CreateDeployment(ctx, newDeployment("p1", "d1", "nope", "Standard", 1))
		}, "ModelNotFound", "nope"},
		{"get missing", func() error {
			_, err := s.GetDeployment(ctx, "p1", "nope")
			return err
		}, "DeploymentNotFound", "nope"},
		{"get in missing project", func() error {
			_, err := s.GetDeployment(ctx, "nope", "chat")
			return err
		}, "ProjectNotFound", "nope"},
		{"update missing", func() error {
			return s.UpdateDeployment(ctx, newDeployment("p1", "nope", "gpt", "Standard", 1))
		}, "DeploymentNotFound", "nope"},
		{"update to missing model", func() error {
			return s.UpdateDeployment(ctx, newDeployment("p1", "chat", "nope", "Standard", 1))
		}, "ModelNotFound", "nope"},
		{"set state of missing", func() error {
			return s.SetDeploymentState(ctx, "p1", "nope", deployment.Succeeded, "")
		}, "DeploymentNotFound", "nope"},
		{"delete missing", func() error {
			return s.DeleteDeployment(ctx, "p1", "nope")
		}, "DeploymentNotFound", "nope"},
		{"delete in missing project", func() error {
			return s.DeleteDeployment(ctx, "nope", "chat")
		}, "ProjectNotFound", "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNotFound(t, tt.name, tt.err(), tt.code, tt.what)
		})
	}
}

func testDeploymentState(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	d := newDeployment("p1", "chat", "gpt", "Standard", 1)
	mustCreateDeployment(t, s, d)
	steps := []struct{ state, reason string }{
		{deployment.Failed, "model file missing"},
		{deployment.Succeeded, ""},
		{deployment.Deleting, ""},
	}
	for _, st := range steps {
		if err := s.SetDeploymentState(ctx, "p1", "chat", st.state, st.reason); err != nil {
			t.Fatalf("SetDeploymentState(%s): %v", st.state, err)
		}
		got, err := s.GetDeployment(ctx, "p1", "chat")
		if err != nil {
			t.Fatalf("GetDeployment: %v", err)
		}
		want := d
		want.State, want.Reason = st.state, st.reason
		// UpdatedAt is the store's to set.
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(deployment.Deployment{}, "UpdatedAt")); diff != "" {
			t.Errorf("after SetDeploymentState(%s, %q) (-want +got):\n%s", st.state, st.reason, diff)
		}
	}
}

func testCascade(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	mustCreateProject(t, s, "h1", "p2")
	mustCreateDeployment(t, s, newDeployment("p1", "a", "gpt", "Standard", 10))
	mustCreateDeployment(t, s, newDeployment("p1", "b", "gpt", "Standard", 20))
	mustCreateDeployment(t, s, newDeployment("p2", "a", "gpt", "Standard", 5))

	if err := s.DeleteProject(ctx, "p1"); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	for _, k := range keysOf("p1") {
		_, err := s.FindKey(ctx, k.Hash)
		wantFault(t, "FindKey of deleted project's "+k.Slot.String(), err, store.ErrNotFound, fault.NotFound, "KeyNotFound", "", "")
	}
	for _, k := range keysOf("p2") {
		if _, err := s.FindKey(ctx, k.Hash); err != nil {
			t.Errorf("FindKey of the other project's %s: %v", k.Slot, err)
		}
	}
	got, err := s.ListDeployments(ctx, "")
	if err != nil {
		t.Fatalf("ListDeployments: %v", err)
	}
	if d := diff([]deployment.Deployment{newDeployment("p2", "a", "gpt", "Standard", 5)}, got); d != "" {
		t.Errorf("ListDeployments after deleting p1 (-want +got):\n%s", d)
	}
	wantUsage(t, s, "h1", "gpt", "Standard", 5)
	// The name is free again.
	if err := s.CreateProject(ctx, newProjectValue("h1", "p1"), keysOf("p1")); err != nil {
		t.Errorf("CreateProject(p1) again: %v", err)
	}
	if keys, err := s.ListKeys(ctx, "p1"); err != nil || len(keys) != 2 {
		t.Errorf("ListKeys(p1) = %d keys, %v; want 2", len(keys), err)
	}
}

func testRestrictHub(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	mustCreateProject(t, s, "h1", "p1")
	wantFault(t, "DeleteHub with 1 project", s.DeleteHub(ctx, "h1"), store.ErrInUse, fault.Conflict, "conflict", "h1",
		`hub "h1" is used by 1 project`)
	mustCreateProject(t, s, "h1", "p2")
	wantFault(t, "DeleteHub with 2 projects", s.DeleteHub(ctx, "h1"), store.ErrInUse, fault.Conflict, "conflict", "h1",
		`hub "h1" is used by 2 projects; delete them first`)
	if _, err := s.GetHub(ctx, "h1"); err != nil {
		t.Errorf("GetHub after refused delete: %v", err)
	}
	for _, p := range []string{"p1", "p2"} {
		if err := s.DeleteProject(ctx, p); err != nil {
			t.Fatalf("DeleteProject(%q): %v", p, err)
		}
	}
	if err := s.DeleteHub(ctx, "h1"); err != nil {
		t.Errorf("DeleteHub without projects: %v", err)
	}
}

func testRestrictModel(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	mustCreateDeployment(t, s, newDeployment("p1", "a", "gpt", "Standard", 1))
	mustCreateDeployment(t, s, newDeployment("p1", "b", "gpt", "GlobalStandard", 1))
	wantFault(t, "DeleteModel with 2 deployments", s.DeleteModel(ctx, "gpt"), store.ErrInUse, fault.Conflict, "conflict", "gpt",
		`model "gpt" is used by 2 deployments; delete them first`)
	if _, err := s.GetModel(ctx, "gpt"); err != nil {
		t.Errorf("GetModel after refused delete: %v", err)
	}
	for _, name := range []string{"a", "b"} {
		if err := s.DeleteDeployment(ctx, "p1", name); err != nil {
			t.Fatalf("DeleteDeployment(%q): %v", name, err)
		}
	}
	if err := s.DeleteModel(ctx, "gpt"); err != nil {
		t.Errorf("DeleteModel without deployments: %v", err)
	}
}

// wantUsage checks QuotaUsage.
func wantUsage(t *testing.T, s store.Store, h, model, sku string, want int) {
	t.Helper()
	got, err := s.QuotaUsage(t.Context(), h, model, sku)
	if err != nil {
		t.Fatalf("QuotaUsage(%s, %s, %s): %v", h, model, sku, err)
	}
	if got != want {
		t.Errorf("QuotaUsage(%s, %s, %s) = %d, want %d", h, model, sku, got, want)
	}
}

// wantQuotaError checks that err is quota.Check's error for requesting
// requested with available left (so it names both).
func wantQuotaError(t *testing.T, what string, err error, model, sku string, requested, available int) {
	t.Helper()
	want := quota.Check(model, sku, available, 0, requested)
	if want == nil {
		t.Fatalf("%s: bad test: %d fits in %d", what, requested, available)
	}
	f, ok := fault.As(err)
	if !ok {
		t.Errorf("%s: got %v, want %v", what, err, want)
		return
	}
	wf, _ := fault.As(want)
	if d := diff(*wf, *f); d != "" {
		t.Errorf("%s: quota error mismatch (-want +got):\n%s", what, d)
	}
	if f.Kind != fault.QuotaExceeded || f.Code != "InsufficientQuota" {
		t.Errorf("%s: got kind %v code %q, want QuotaExceeded InsufficientQuota", what, f.Kind, f.Code)
	}
}

// quotaHub has a "*" limit per SKU and a lower one of its own for gpt.
func quotaHub() []hub.QuotaLimit {
	return []hub.QuotaLimit{
		{Model: hub.AnyModel, SKU: "Standard", Limit: 100},
		{Model: "gpt", SKU: "Standard", Limit: 30},
		{Model: hub.AnyModel, SKU: "GlobalStandard", Limit: 10},
	}
}

func testQuota(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, quotaHub()...)
	mustCreateProject(t, s, "h1", "p2")
	mustCreateModel(t, s, newModel("llama"))
	mustCreateHub(t, s, newHub("h2", quotaHub()...))
	mustCreateProject(t, s, "h2", "q1")

	type usage struct {
		hub, model, sku string
		used            int
	}
	steps := []struct {
		name      string
		op        string // create, delete or state (to Deleting)
		d         deployment.Deployment
		available int // when > -1, the create is refused with this much available
		after     []usage
	}{
		{"fallback: within * limit", "create", newDeployment("p1", "l1", "llama", "Standard", 60), -1,
			[]usage{{"h1", "llama", "Standard", 60}, {"h1", "gpt", "Standard", 0}}},
		{"fallback: over * limit", "create", newDeployment("p1", "l2", "llama", "Standard", 50), 40,
			[]usage{{"h1", "llama", "Standard", 60}}},
		{"fallback: other project, same hub, fills it", "create", newDeployment("p2", "l2", "llama", "Standard", 40), -1,
			[]usage{{"h1", "llama", "Standard", 100}}},
		{"fallback: full", "create", newDeployment("p1", "l3", "llama", "Standard", 1), 0, nil},
		{"other hub is separate", "create", newDeployment("q1", "l1", "llama", "Standard", 100), -1,
			[]usage{{"h1", "llama", "Standard", 100}, {"h2", "llama", "Standard", 100}}},
		{"override: own limit below *", "create", newDeployment("p1", "g1", "gpt", "Standard", 31), 30,
			[]usage{{"h1", "gpt", "Standard", 0}}},
		{"override: exactly the limit", "create", newDeployment("p1", "g1", "gpt", "Standard", 30), -1,
			[]usage{{"h1", "gpt", "Standard", 30}}},
		{"override: full", "create", newDeployment("p2", "g1", "gpt", "Standard", 1), 0, nil},
		{"other sku has its own limit", "create", newDeployment("p1", "g2", "gpt", "GlobalStandard", 10), -1,
			[]usage{{"h1", "gpt", "GlobalStandard", 10}, {"h1", "gpt", "Standard", 30}}},
		{"sku without a limit has none", "create", newDeployment("p1", "g3", "gpt", "ProvisionedManaged", 1), 0, nil},
		{"deleting still holds quota", "state", newDeployment("p1", "l1", "llama", "Standard", 60), -1,
			[]usage{{"h1", "llama", "Standard", 100}}},
		{"so a create is still refused", "create", newDeployment("p1", "l3", "llama", "Standard", 1), 0, nil},
		{"delete returns capacity", "delete", newDeployment("p1", "l1", "llama", "Standard", 60), -1,
			[]usage{{"h1", "llama", "Standard", 40}, {"h2", "llama", "Standard", 100}}},
		{"which a create can take", "create", newDeployment("p1", "l3", "llama", "Standard", 60), -1,
			[]usage{{"h1", "llama", "Standard", 100}}},
	}
	for _, st := range steps {
		var err error
		switch st.op {
		case "create":
			err = s.CreateDeployment(ctx, st.d)
		case "delete":
			err = s.DeleteDeployment(ctx, st.d.Project, st.d.Name)
		case "state":
			err = s.SetDeploymentState(ctx, st.d.Project, st.d.Name, deployment.Deleting, "")
		}
		if st.available >= 0 {
			wantQuotaError(t, st.name, err, st.d.Model, st.d.SKU, st.d.Capacity, st.available)
			if _, err := s.GetDeployment(ctx, st.d.Project, st.d.Name); err == nil && st.op == "create" {
				t.Errorf("%s: the refused deployment was stored", st.name)
			}
		} else if err != nil {
			t.Fatalf("%s: %s: %v", st.name, st.op, err)
		}
		for _, u := range st.after {
			wantUsage(t, s, u.hub, u.model, u.sku, u.used)
		}
	}
}

func testQuotaUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, quotaHub()...)
	mustCreateModel(t, s, newModel("llama"))
	mustCreateDeployment(t, s, newDeployment("p1", "a", "gpt", "Standard", 10))
	mustCreateDeployment(t, s, newDeployment("p1", "b", "gpt", "Standard", 10))
	mustCreateDeployment(t, s, newDeployment("p1", "c", "gpt", "GlobalStandard", 8))

	// Each step updates deployment "a" (gpt Standard, limit 30, "b" holds 10).
	steps := []struct {
		name      string
		model     string
		sku       string
		capacity  int
		available int // when > -1, refused with this much available
		after     int // capacity of "a" afterwards
	}{
		{"grow within limit", "gpt", "Standard", 20, -1, 20},
		{"grow beyond limit", "gpt", "Standard", 21, 20, 20},
		{"shrink", "gpt", "Standard", 5, -1, 5},
		{"same capacity", "gpt", "Standard", 5, -1, 5},
		{"move to a full sku", "gpt", "GlobalStandard", 5, 2, 5},
		{"move to a sku with room", "gpt", "GlobalStandard", 2, -1, 2},
		{"move to another model", "llama", "Standard", 90, -1, 90}, // "*" limit 100, none used
		{"move back, too big", "gpt", "Standard", 25, 20, 90},
	}
	for _, st := range steps {
		cur, err := s.GetDeployment(ctx, "p1", "a")
		if err != nil {
			t.Fatalf("%s: GetDeployment: %v", st.name, err)
		}
		d := cur
		d.Model, d.SKU, d.Capacity = st.model, st.sku, st.capacity
		err = s.UpdateDeployment(ctx, d)
		if st.available >= 0 {
			wantQuotaError(t, st.name, err, st.model, st.sku, st.capacity, st.available)
		} else if err != nil {
			t.Fatalf("%s: UpdateDeployment: %v", st.name, err)
		}
		got, err := s.GetDeployment(ctx, "p1", "a")
		if err != nil {
			t.Fatalf("%s: GetDeployment: %v", st.name, err)
		}
		if got.Capacity != st.after {
			t.Errorf("%s: capacity of a = %d, want %d", st.name, got.Capacity, st.after)
		}
	}
	wantUsage(t, s, "h1", "gpt", "Standard", 10)
	wantUsage(t, s, "h1", "gpt", "GlobalStandard", 8)
	wantUsage(t, s, "h1", "llama", "Standard", 90)
}

func testQuotaConcurrent(t *testing.T, s store.Store) {
	const workers = 16
	tests := []struct {
		name     string
		limit    int
		capacity int
		wantOK   int
	}{
		{"units of 1", 10, 1, 10},
		{"units of 3", 10, 3, 3},
		{"room for all", 100, 5, workers},
		{"room for none", 2, 3, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			h, m := fmt.Sprintf("hub%d", i), fmt.Sprintf("model%d", i)
			mustCreateHub(t, s, newHub(h, hub.QuotaLimit{Model: m, SKU: "Standard", Limit: tt.limit}))
			mustCreateModel(t, s, newModel(m))
			projects := []string{h + "-a", h + "-b"} // two projects draw on one hub
			for _, p := range projects {
				if err := s.CreateProject(ctx, newProjectValue(h, p), [2]apikey.Key{
					newKey(p, apikey.Key1, p+"/1"), newKey(p, apikey.Key2, p+"/2")}); err != nil {
					t.Fatalf("CreateProject: %v", err)
				}
			}
			errs := make([]error, workers)
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					d := newDeployment(projects[w%2], fmt.Sprintf("d%02d", w), m, "Standard", tt.capacity)
					errs[w] = s.CreateDeployment(ctx, d)
				})
			}
			wg.Wait()
			ok := 0
			for w, err := range errs {
				switch f, _ := fault.As(err); {
				case err == nil:
					ok++
				case f != nil && f.Code == "InsufficientQuota":
				default:
					t.Errorf("worker %d: unexpected error: %v", w, err)
				}
			}
			if ok != tt.wantOK {
				t.Errorf("%d creations succeeded, want %d", ok, tt.wantOK)
			}
			wantUsage(t, s, h, m, "Standard", tt.wantOK*tt.capacity)
			ds, err := s.ListDeployments(ctx, "")
			if err != nil {
				t.Fatalf("ListDeployments: %v", err)
			}
			stored := 0
			for _, d := range ds {
				if d.Model == m {
					stored++
				}
			}
			if stored != tt.wantOK {
				t.Errorf("%d deployments stored, want %d", stored, tt.wantOK)
			}
		})
	}
}

// testTransition: a transition from a stale view changes nothing.
func testTransition(t *testing.T, s store.Store) {
	ctx := t.Context()
	setup(t, s, roomy()...)
	mustCreateDeployment(t, s, newDeployment("p1", "chat", "gpt", "Standard", 1))
	seen, err := s.GetDeployment(ctx, "p1", "chat")
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile the deployment is marked for deletion.
	if err := s.SetDeploymentState(ctx, "p1", "chat", deployment.Deleting, ""); err != nil {
		t.Fatal(err)
	}
	ok, err := s.TransitionDeployment(ctx, seen, deployment.Succeeded, "")
	if err != nil || ok {
		t.Fatalf("stale TransitionDeployment = %v, %v; want false, nil", ok, err)
	}
	got, _ := s.GetDeployment(ctx, "p1", "chat")
	if got.State != deployment.Deleting {
		t.Fatalf("state = %s, want Deleting kept", got.State)
	}
	ok, err = s.TransitionDeployment(ctx, got, deployment.Failed, "gone wrong")
	if err != nil || !ok {
		t.Fatalf("fresh TransitionDeployment = %v, %v; want true, nil", ok, err)
	}
	got, _ = s.GetDeployment(ctx, "p1", "chat")
	if got.State != deployment.Failed || got.Reason != "gone wrong" {
		t.Errorf("after transition: %s %q", got.State, got.Reason)
	}
	ok, err = s.TransitionDeployment(ctx, deployment.Deployment{Project: "p1", Name: "nope"}, deployment.Failed, "")
	if err != nil || ok {
		t.Errorf("transition of a missing deployment = %v, %v; want false, nil", ok, err)
	}
}
