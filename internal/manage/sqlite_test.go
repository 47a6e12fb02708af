package manage_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/store/sqlite"
)

// newSQLiteEnv is the API over a real SQLite store in a temp folder.
func newSQLiteEnv(t *testing.T) (*env, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return newEnv(t, st), st
}

func TestSQLiteClientFlow(t *testing.T) {
	e, st := newSQLiteEnv(t)
	startReconciler(t, e, st, 50*time.Millisecond)
	clientFlow(t, e)
}

func TestSQLiteErrors(t *testing.T) {
	e, st := newSQLiteEnv(t)
	e.seed(t)
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"a1","model":{"name":"m1"},"sku":{"capacity":12}}`, http.StatusCreated)
	for _, c := range []errCase{
		{name: "quota", method: "POST", path: depsPath, body: `{"name":"a2","model":{"name":"m1"},"sku":{"capacity":120}}`,
			status: 409, code: "InsufficientQuota", target: "sku.capacity",
			message: "The specified capacity '120' of account deployment is bigger than available capacity '108' for UsageName 'Tokens Per Minute (thousands) - m1 (Standard)'."},
		{name: "patch over quota", method: "PATCH", path: depsPath + "/a1", body: `{"capacity":121}`,
			status: 409, code: "InsufficientQuota", target: "sku.capacity", message: "available capacity '120'"},
		{name: "duplicate deployment", method: "POST", path: depsPath, body: `{"name":"a1","model":{"name":"m1"}}`,
			status: 409, code: "itemDoesAlreadyExist", target: "a1"},
		{name: "duplicate hub", method: "POST", path: "/api/v1/hubs", body: `{"name":"default"}`,
			status: 409, code: "itemDoesAlreadyExist", target: "default"},
		{name: "duplicate project", method: "POST", path: "/api/v1/projects", body: `{"name":"p1"}`,
			status: 409, code: "itemDoesAlreadyExist", target: "p1"},
		{name: "duplicate model", method: "POST", path: "/api/v1/models", body: chatModel(),
			status: 409, code: "itemDoesAlreadyExist", target: "m1"},
		{name: "model in use", method: "DELETE", path: "/api/v1/models/m1", status: 409, code: "conflict", target: "m1"},
		{name: "hub in use", method: "DELETE", path: "/api/v1/hubs/default", status: 409, code: "conflict", target: "default"},
		{name: "unknown model", method: "POST", path: depsPath, body: `{"name":"a3","model":{"name":"nope"}}`,
			status: 404, code: "ModelNotFound", target: "model.name"},
		{name: "missing deployment", method: "GET", path: depsPath + "/nope", status: 404, code: "DeploymentNotFound", target: "nope"},
		{name: "missing project", method: "GET", path: "/api/v1/projects/nope/keys", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "missing hub", method: "GET", path: "/api/v1/hubs/nope/quotas", status: 404, code: "HubNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}

	// The upstream key is stored, never shown, and kept by a PATCH that
	// repeats the upstream.
	m1 := chatModel()
	m1.Versions[0].Upstream.APIKey = ""
	got := want[api.Model](t, e, "PATCH", "/api/v1/models/m1", api.ModelUpdate{Versions: &m1.Versions}, http.StatusOK)
	if u := got.Versions[0].Upstream; u.APIKey != "" || !u.HasAPIKey {
		t.Errorf("upstream after PATCH: %+v", u)
	}
	stored, err := st.GetModel(context.Background(), "m1")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := stored.Version("1"); v.Upstream.APIKey != upstreamKey {
		t.Errorf("stored key %q, want it kept", v.Upstream.APIKey)
	}

	// Deleting marks, the reconciler removes, quota comes back.
	want[api.Deployment](t, e, "DELETE", depsPath+"/a1", nil, http.StatusAccepted)
	errCase{method: "PATCH", path: depsPath + "/a1", body: `{"capacity":2}`, status: 409, code: "DeploymentDeleting"}.run(t, e)
	if err := st.DeleteDeployment(context.Background(), "p1", "a1"); err != nil {
		t.Fatal(err)
	}
	want[api.Deployment](t, e, "POST", depsPath, `{"name":"a2","model":{"name":"m1"},"sku":{"capacity":120}}`, http.StatusCreated)
}
