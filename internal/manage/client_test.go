package manage_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/deployment"
)

// reconcileStore is what the test reconciler needs of a store.
type reconcileStore interface {
	ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error)
	SetDeploymentState(ctx context.Context, projectName, name, state, reason string) error
	DeleteDeployment(ctx context.Context, projectName, name string) error
}

// startReconciler makes Reconcile act, after delay, as the real reconciler
// would: Creating deployments succeed, Deleting ones go.
func startReconciler(t *testing.T, e *env, st reconcileStore, delay time.Duration) {
	var wg sync.WaitGroup
	var mu sync.Mutex // one pass at a time, as the real reconciler's single goroutine
	t.Cleanup(wg.Wait)
	f := func() {
		wg.Go(func() {
			time.Sleep(delay)
			mu.Lock()
			defer mu.Unlock()
			ctx := context.Background()
			deps, err := st.ListDeployments(ctx, "")
			if err != nil {
				t.Errorf("reconciler: %v", err)
				return
			}
			for _, d := range deps {
				switch d.State {
				case deployment.Creating:
					err = st.SetDeploymentState(ctx, d.Project, d.Name, deployment.Succeeded, "")
				case deployment.Deleting:
					err = st.DeleteDeployment(ctx, d.Project, d.Name)
				}
				if err != nil {
					t.Errorf("reconciler: %v", err)
				}
			}
		})
	}
	e.onReconcile.Store(&f)
}

// clientFlow drives every client method against e; it runs on the fake
// store and on sqlite.
func clientFlow(t *testing.T, e *env) {
	ctx := context.Background()
	c := e.client
	ignoreTimes := cmpopts.IgnoreFields(api.Deployment{}, "CreatedAt", "UpdatedAt")

	// Hubs.
	h, err := c.CreateHub(ctx, defaultHub())
	if err != nil {
		t.Fatalf("CreateHub: %v", err)
	}
	wantHub := defaultHub()
	wantHub.CreatedAt = fixedNow
	if diff := cmp.Diff(wantHub, h); diff != "" {
		t.Errorf("CreateHub (-want +got):\n%s", diff)
	}
	wantHub.Description = "the first"
	if h, err = c.UpdateHub(ctx, api.Hub{Name: "default", Description: "the first"}); err != nil {
		t.Fatalf("UpdateHub: %v", err)
	}
	if diff := cmp.Diff(wantHub, h); diff != "" {
		t.Errorf("UpdateHub keeps the quotas (-want +got):\n%s", diff)
	}
	if h, err = c.GetHub(ctx, "default"); err != nil || h.Description != "the first" {
		t.Errorf("GetHub = %+v, %v", h, err)
	}
	if _, err := c.CreateHub(ctx, api.Hub{Name: "spare", Quotas: []api.QuotaLimit{}}); err != nil {
		t.Fatalf("CreateHub spare: %v", err)
	}
	if hubs, err := c.ListHubs(ctx); err != nil || len(hubs) != 2 {
		t.Errorf("ListHubs = %v, %v", hubs, err)
	}

	// Models.
	m, err := c.CreateModel(ctx, chatModel())
	if err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	if m.Versions[0].Upstream.APIKey != "" || !m.Versions[0].Upstream.HasAPIKey {
		t.Errorf("CreateModel shows upstream %+v", m.Versions[0].Upstream)
	}
	if _, err := c.CreateModel(ctx, embedModel()); err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	desc := "renamed"
	if m, err = c.UpdateModel(ctx, "m1", api.ModelUpdate{Description: &desc}); err != nil || m.Description != desc || !m.Versions[0].Upstream.HasAPIKey {
		t.Errorf("UpdateModel = %+v, %v", m, err)
	}
	if m, err = c.GetModel(ctx, "m1"); err != nil || m.DefaultVersion != "2" {
		t.Errorf("GetModel = %+v, %v", m, err)
	}
	if ms, err := c.ListModels(ctx); err != nil || len(ms) != 2 {
		t.Errorf("ListModels = %v, %v", ms, err)
	}

	// Projects and keys.
	p, err := c.CreateProject(ctx, api.CreateProject{Name: "p1", Region: "lab"})
	if err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	wantProject := api.Project{Name: "p1", Hub: "default", Region: "lab", Endpoint: publicURL, CreatedAt: fixedNow}
	if diff := cmp.Diff(wantProject, p); diff != "" {
		t.Errorf("CreateProject (-want +got):\n%s", diff)
	}
	if p, err = c.GetProject(ctx, "p1"); err != nil || p.Name != "p1" {
		t.Errorf("GetProject = %+v, %v", p, err)
	}
	if ps, err := c.ListProjects(ctx); err != nil || len(ps) != 1 {
		t.Errorf("ListProjects = %v, %v", ps, err)
	}
	keys, err := c.ListKeys(ctx, "p1")
	if err != nil || keys.Key1 == "" || keys.Key2 == "" || keys.Key1 == keys.Key2 {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}
	again, err := c.RegenerateKey(ctx, "p1", "key1")
	if err != nil || again.Key2 != keys.Key2 || again.Key1 == keys.Key1 {
		t.Errorf("RegenerateKey(key1) = %+v, %v; before %+v", again, err, keys)
	}

	// Deployments: create, wait, update, delete, wait for the 404.
	d, err := c.CreateDeployment(ctx, "p1", api.Deployment{Name: "chat", Model: api.DeploymentModel{Name: "m1"},
		SKU: api.SKU{Name: "Standard", Capacity: 12}})
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	wantDep := chatDeployment("chat", 12)
	if diff := cmp.Diff(wantDep, d, ignoreTimes); diff != "" {
		t.Errorf("CreateDeployment (-want +got):\n%s", diff)
	}
	if d, err = c.WaitDeployment(ctx, "p1", "chat"); err != nil || d.ProvisioningState != "Succeeded" {
		t.Fatalf("WaitDeployment = %+v, %v", d, err)
	}
	capacity := 20
	if d, err = c.UpdateDeployment(ctx, "p1", "chat", api.DeploymentUpdate{Capacity: &capacity}); err != nil || d.SKU.Capacity != 20 {
		t.Errorf("UpdateDeployment = %+v, %v", d, err)
	}
	if ds, err := c.ListDeployments(ctx, "p1"); err != nil || len(ds) != 1 {
		t.Errorf("ListDeployments = %v, %v", ds, err)
	}
	var apiErr *api.Error
	_, err = c.CreateDeployment(ctx, "p1", api.Deployment{Name: "big", Model: api.DeploymentModel{Name: "m1"}, SKU: api.SKU{Capacity: 101}})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "InsufficientQuota" || apiErr.Target != "sku.capacity" ||
		apiErr.Message != "The specified capacity '101' of account deployment is bigger than available capacity '100' for UsageName 'Tokens Per Minute (thousands) - m1 (Standard)'." {
		t.Errorf("over quota: %#v", err)
	}
	q, err := c.HubQuotas(ctx, "default")
	if err != nil || q[len(q)-1] != (api.QuotaUsage{Model: "m1", SKU: "Standard",
		UsageName: "Tokens Per Minute (thousands) - m1 (Standard)", Limit: 120, Used: 20, Unit: "K-TPM"}) {
		t.Errorf("HubQuotas = %+v, %v", q, err)
	}
	if err := c.DeleteDeployment(ctx, "p1", "chat"); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	if d, err = c.WaitDeployment(ctx, "p1", "chat"); !api.IsNotFound(err) {
		t.Fatalf("WaitDeployment after delete = %+v, %v; want a 404", d, err)
	}

	// Errors come back as *api.Error; path segments are escaped.
	_, err = c.GetProject(ctx, "a/b c")
	if !errors.As(err, &apiErr) || !api.IsNotFound(err) {
		t.Fatalf("GetProject(a/b c) = %v", err)
	}
	if apiErr.Code != "ProjectNotFound" || apiErr.Target != "a/b c" || apiErr.Error() != apiErr.Message+" (ProjectNotFound)" {
		t.Errorf("error %#v, Error() %q", apiErr, apiErr.Error())
	}
	if err := c.DeleteHub(ctx, "default"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict {
		t.Errorf("DeleteHub with projects = %v, want a 409", err)
	}
	for _, del := range []func() error{
		func() error { return c.DeleteProject(ctx, "p1") },
		func() error { return c.DeleteModel(ctx, "m1") },
		func() error { return c.DeleteHub(ctx, "spare") },
	} {
		if err := del(); err != nil {
			t.Errorf("delete: %v", err)
		}
	}
	if _, err := c.GetModel(ctx, "m1"); !api.IsNotFound(err) {
		t.Errorf("GetModel after delete: %v", err)
	}
}

func TestClient(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	startReconciler(t, e, st, 120*time.Millisecond)
	clientFlow(t, e)
}

func TestClientErrors(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	ctx := context.Background()

	bad := api.New(e.srv.URL+"/", "wrong")
	if bad.BaseURL() != e.srv.URL {
		t.Errorf("BaseURL() = %q, want %q", bad.BaseURL(), e.srv.URL)
	}
	_, err := bad.ListHubs(ctx)
	var apiErr *api.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != "unauthorized" || api.IsNotFound(err) {
		t.Errorf("wrong token: %#v", err)
	}

	// WaitDeployment gives up with its context.
	e.seed(t)
	if _, err := e.client.CreateDeployment(ctx, "p1", api.Deployment{Name: "stuck", Model: api.DeploymentModel{Name: "m1"}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := e.client.WaitDeployment(wctx, "p1", "stuck"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitDeployment on a stuck deployment = %v, want the deadline", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("WaitDeployment took %v to notice its deadline", time.Since(start))
	}
	// A failed deployment ends the wait with its reason.
	if err := st.SetDeploymentState(ctx, "p1", "stuck", deployment.Failed, "no such file"); err != nil {
		t.Fatal(err)
	}
	d, err := e.client.WaitDeployment(ctx, "p1", "stuck")
	if err != nil || d.ProvisioningState != "Failed" || d.Reason != "no such file" {
		t.Errorf("WaitDeployment on a failed deployment = %+v, %v", d, err)
	}
}
