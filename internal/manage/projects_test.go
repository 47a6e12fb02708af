package manage_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/api"
	"github.com/cerulean-ai/cerulean/internal/apikey"
)

func TestProjects(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	want[api.Hub](t, e, "POST", "/api/v1/hubs", defaultHub(), http.StatusCreated)
	want[api.Hub](t, e, "POST", "/api/v1/hubs", api.Hub{Name: "other"}, http.StatusCreated)

	p1 := api.Project{Name: "p1", Hub: "default", Endpoint: publicURL, CreatedAt: fixedNow}
	p2 := api.Project{Name: "p2", Hub: "other", Region: "eu-west", Description: "second", Endpoint: publicURL, CreatedAt: fixedNow}
	for _, tt := range []struct {
		body api.CreateProject
		want api.Project
	}{
		{api.CreateProject{Name: "p1"}, p1},
		{api.CreateProject{Name: "p2", Hub: "other", Region: "eu-west", Description: "second"}, p2},
	} {
		got := want[api.Project](t, e, "POST", "/api/v1/projects", tt.body, http.StatusCreated)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("create %s (-want +got):\n%s", tt.body.Name, diff)
		}
		got = want[api.Project](t, e, "GET", "/api/v1/projects/"+tt.body.Name, nil, http.StatusOK)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("get %s (-want +got):\n%s", tt.body.Name, diff)
		}
	}

	// Each project got two keys, sealed, in their slots, that hash to
	// what is stored.
	for _, name := range []string{"p1", "p2"} {
		keys, err := st.ListKeys(context.Background(), name)
		if err != nil || len(keys) != 2 {
			t.Fatalf("stored keys of %s: %v, %v", name, keys, err)
		}
		seen := map[string]bool{}
		for i, k := range keys {
			plain, err := e.sealer.Open(k.Sealed)
			if err != nil {
				t.Fatalf("open %s key %d: %v", name, i+1, err)
			}
			if b, err := hex.DecodeString(plain); err != nil || len(b) != 32 {
				t.Errorf("key %q is not 32 bytes of hex", plain)
			}
			if k.Slot != apikey.Slot(i+1) || k.Project != name || k.Hash != apikey.Sum(plain) || !k.CreatedAt.Equal(fixedNow) {
				t.Errorf("stored key %d of %s: %+v", i+1, name, k)
			}
			seen[plain] = true
		}
		if len(seen) != 2 {
			t.Errorf("%s's two keys are equal", name)
		}
	}

	for _, tt := range []struct {
		query string
		want  []api.Project
	}{
		{"", []api.Project{p1, p2}},
		{"?hub=default", []api.Project{p1}},
		{"?hub=other", []api.Project{p2}},
	} {
		got := want[api.List[api.Project]](t, e, "GET", "/api/v1/projects"+tt.query, nil, http.StatusOK)
		if diff := cmp.Diff(tt.want, got.Value); diff != "" {
			t.Errorf("list%s (-want +got):\n%s", tt.query, diff)
		}
	}

	// Deleting a project takes its deployments along and nudges the
	// reconciler.
	want[api.Model](t, e, "POST", "/api/v1/models", chatModel(), http.StatusCreated)
	want[api.Deployment](t, e, "POST", "/api/v1/projects/p2/deployments",
		api.Deployment{Name: "d1", Model: api.DeploymentModel{Name: "m1"}}, http.StatusCreated)
	reconciled, changed := e.reconciled.Load(), e.changed.Load()
	if status, b := e.call(t, "DELETE", "/api/v1/projects/p2", nil); status != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("delete: %d %s, want 204", status, b)
	}
	if e.reconciled.Load() != reconciled+1 || e.changed.Load() != changed+1 {
		t.Error("delete did not call Reconcile and Changed")
	}
	if deps, _ := st.ListDeployments(context.Background(), "p2"); len(deps) != 0 {
		t.Errorf("deployments of the deleted project remain: %v", deps)
	}
	errCase{method: "GET", path: "/api/v1/projects/p2", status: 404, code: "ProjectNotFound", target: "p2"}.run(t, e)
	errCase{method: "GET", path: "/api/v1/projects/p2/deployments", status: 404, code: "ProjectNotFound", target: "p2"}.run(t, e)
}

func TestProjectErrors(t *testing.T) {
	e := newEnv(t, newFakeStore())
	e.seed(t)
	for _, c := range []errCase{
		{name: "invalid name", method: "POST", path: "/api/v1/projects", body: `{"name":"-p"}`,
			status: 400, code: "invalidPayload", target: "name", message: "starting with a letter or digit"},
		{name: "name too long", method: "POST", path: "/api/v1/projects", body: api.CreateProject{Name: string(make([]byte, 65))},
			status: 400, code: "invalidPayload", target: "name"},
		{name: "wrong type", method: "POST", path: "/api/v1/projects", body: `{"name":"p9","hub":true}`,
			status: 400, code: "invalidPayload", target: "hub"},
		{name: "duplicate", method: "POST", path: "/api/v1/projects", body: `{"name":"p1"}`,
			status: 409, code: "itemDoesAlreadyExist", target: "p1"},
		{name: "missing hub", method: "POST", path: "/api/v1/projects", body: `{"name":"p9","hub":"nohub"}`,
			status: 404, code: "HubNotFound", target: "hub", message: `"nohub"`},
		{name: "list of missing hub", method: "GET", path: "/api/v1/projects?hub=nohub", status: 404, code: "HubNotFound", target: "nohub"},
		{name: "get missing", method: "GET", path: "/api/v1/projects/nope", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "delete missing", method: "DELETE", path: "/api/v1/projects/nope", status: 404, code: "ProjectNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}

func TestKeys(t *testing.T) {
	st := newFakeStore()
	e := newEnv(t, st)
	e.seed(t)
	first := want[api.Keys](t, e, "GET", "/api/v1/projects/p1/keys", nil, http.StatusOK)
	if first.Key1 == "" || first.Key2 == "" || first.Key1 == first.Key2 {
		t.Fatalf("keys %+v: want two different keys", first)
	}
	if got := want[api.Keys](t, e, "POST", "/api/v1/projects/p1/listKeys", nil, http.StatusOK); got != first {
		t.Errorf("listKeys = %+v, want %+v", got, first)
	}

	cur := first
	for _, tt := range []struct {
		path, keyName string
		slot          apikey.Slot
	}{
		{"/api/v1/projects/p1/keys/regenerate", "key1", apikey.Key1},
		{"/api/v1/projects/p1/keys/regenerate", "key2", apikey.Key2},
		{"/api/v1/projects/p1/regenerateKey", "Key1", apikey.Key1}, // Azure's spelling
		{"/api/v1/projects/p1/regenerateKey", "Key2", apikey.Key2},
	} {
		t.Run(tt.path+" "+tt.keyName, func(t *testing.T) {
			changed := e.changed.Load()
			got := want[api.Keys](t, e, "POST", tt.path, api.RegenerateKey{KeyName: tt.keyName}, http.StatusOK)
			wantKeys := cur
			if tt.slot == apikey.Key1 {
				if got.Key1 == cur.Key1 || got.Key1 == cur.Key2 {
					t.Errorf("key1 was not replaced by a new key: %+v", got)
				}
				wantKeys.Key1 = got.Key1
			} else {
				if got.Key2 == cur.Key2 || got.Key2 == cur.Key1 {
					t.Errorf("key2 was not replaced by a new key: %+v", got)
				}
				wantKeys.Key2 = got.Key2
			}
			if got != wantKeys {
				t.Errorf("after regenerating %s: %+v, want the other key kept: %+v", tt.keyName, got, wantKeys)
			}
			if e.changed.Load() != changed+1 {
				t.Error("regenerating did not call Changed")
			}
			// The store holds both keys' hashes: both authenticate.
			stored, _ := st.ListKeys(context.Background(), "p1")
			if stored[0].Hash != apikey.Sum(got.Key1) || stored[1].Hash != apikey.Sum(got.Key2) {
				t.Error("stored hashes do not match the listed keys")
			}
			if listed := want[api.Keys](t, e, "GET", "/api/v1/projects/p1/keys", nil, http.StatusOK); listed != got {
				t.Errorf("listed %+v after regenerating, want %+v", listed, got)
			}
			cur = got
		})
	}

	for _, c := range []errCase{
		{name: "unknown key", method: "POST", path: "/api/v1/projects/p1/keys/regenerate", body: `{"keyName":"key3"}`,
			status: 400, code: "invalidPayload", target: "keyName", message: "key1 or key2"},
		{name: "no key name", method: "POST", path: "/api/v1/projects/p1/regenerateKey", body: `{}`,
			status: 400, code: "invalidPayload", target: "keyName"},
		{name: "bad body", method: "POST", path: "/api/v1/projects/p1/keys/regenerate", body: `{"keyName":1}`,
			status: 400, code: "invalidPayload", target: "keyName"},
		{name: "list keys of missing", method: "GET", path: "/api/v1/projects/nope/keys", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "listKeys of missing", method: "POST", path: "/api/v1/projects/nope/listKeys", status: 404, code: "ProjectNotFound", target: "nope"},
		{name: "regenerate of missing", method: "POST", path: "/api/v1/projects/nope/keys/regenerate", body: `{"keyName":"key1"}`,
			status: 404, code: "ProjectNotFound", target: "nope"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
}
