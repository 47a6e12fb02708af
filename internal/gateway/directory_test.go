package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/store"

	"github.com/google/go-cmp/cmp"
)

// fakeStore is an in-memory DirectoryStore that counts reads.
type fakeStore struct {
	mu          sync.Mutex
	keys        map[apikey.Hash]apikey.Key
	deployments map[[2]string]deployment.Deployment
	models      map[string]catalog.Model
	reads       int
}

func storeNotFound(what string) error {
	return &fault.Error{Kind: fault.NotFound, Code: "notFound", Message: what + " not found", Err: store.ErrNotFound}
}

func (s *fakeStore) FindKey(_ context.Context, h apikey.Hash) (apikey.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	k, ok := s.keys[h]
	if !ok {
		return apikey.Key{}, storeNotFound("key")
	}
	return k, nil
}

func (s *fakeStore) GetProject(_ context.Context, name string) (project.Project, error) {
	return project.Project{Name: name, Region: "region-" + name}, nil
}

func (s *fakeStore) GetDeployment(_ context.Context, p, name string) (deployment.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	d, ok := s.deployments[[2]string{p, name}]
	if !ok {
		return deployment.Deployment{}, storeNotFound("deployment")
	}
	return d, nil
}

func (s *fakeStore) ListDeployments(_ context.Context, p string) ([]deployment.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []deployment.Deployment
	for k, d := range s.deployments {
		if k[0] == p {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *fakeStore) GetModel(_ context.Context, name string) (catalog.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[name]
	if !ok {
		return catalog.Model{}, storeNotFound("model")
	}
	return m, nil
}

func (s *fakeStore) setKey(p, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, k := range s.keys {
		if k.Project == p {
			delete(s.keys, h)
		}
	}
	s.keys[apikey.Sum(key)] = apikey.Key{Project: p, Slot: apikey.Key1, Hash: apikey.Sum(key)}
}

func newFakeStore() *fakeStore {
	retired := testNow.Add(-time.Hour)
	s := &fakeStore{
		keys: map[apikey.Hash]apikey.Key{},
		deployments: map[[2]string]deployment.Deployment{
			{"p", "ok"}:       {Project: "p", Name: "ok", Model: "m", Version: "1", SKU: "Standard", State: deployment.Succeeded},
			{"p", "old"}:      {Project: "p", Name: "old", Model: "m", Version: "0", SKU: "Standard", State: deployment.Succeeded},
			{"p", "creating"}: {Project: "p", Name: "creating", Model: "m", Version: "1", State: deployment.Creating},
			{"p", "failed"}:   {Project: "p", Name: "failed", Model: "m", Version: "1", State: deployment.Failed, Reason: "out of quota"},
			{"q", "other"}:    {Project: "q", Name: "other", Model: "m", Version: "1", State: deployment.Succeeded},
		},
		models: map[string]catalog.Model{"m": {Name: "m", DefaultVersion: "1", Versions: []catalog.Version{
			{Version: "0", RetirementAt: &retired},
			{Version: "1", Capabilities: catalog.Capabilities{Chat: true}},
		}}},
	}
	s.setKey("p", "k1")
	return s
}

func TestCachedDirectoryAuthenticate(t *testing.T) {
	s := newFakeStore()
	d := NewDirectory(s, time.Minute)
	ctx := t.Context()
	c, err := d.Authenticate(ctx, "k1")
	want := Caller{Project: "p", KeyID: apikey.Sum("k1").ID(), Region: "region-p"}
	if err != nil || c != want {
		t.Fatalf("Authenticate = %+v, %v", c, err)
	}
	reads := s.reads
	if _, err := d.Authenticate(ctx, "k1"); err != nil || s.reads != reads {
		t.Errorf("second lookup not cached: %d reads, %v", s.reads-reads, err)
	}
	if _, err := d.Authenticate(ctx, "wrong"); fault.KindOf(err) != fault.Unauthorized {
		t.Errorf("unknown key: %v", err)
	}
	// Regenerate: the old key is still cached until Invalidate.
	s.setKey("p", "k2")
	d.Invalidate()
	if _, err := d.Authenticate(ctx, "k1"); fault.KindOf(err) != fault.Unauthorized {
		t.Errorf("regenerated key still accepted: %v", err)
	}
	if c, err := d.Authenticate(ctx, "k2"); err != nil || c.Project != "p" {
		t.Errorf("new key: %+v %v", c, err)
	}
}

func TestCachedDirectoryExpiry(t *testing.T) {
	s := newFakeStore()
	d := NewDirectory(s, time.Minute)
	now := testNow
	d.now = func() time.Time { return now }
	if _, err := d.Resolve(t.Context(), "p", "ok"); err != nil {
		t.Fatal(err)
	}
	reads := s.reads
	now = now.Add(30 * time.Second)
	d.Resolve(t.Context(), "p", "ok")
	if s.reads != reads {
		t.Error("fresh entry not used")
	}
	now = now.Add(time.Minute)
	d.Resolve(t.Context(), "p", "ok")
	if s.reads == reads {
		t.Error("expired entry used")
	}
}

func TestCachedDirectoryResolve(t *testing.T) {
	s := newFakeStore()
	d := NewDirectory(s, time.Minute)
	d.now = func() time.Time { return testNow }
	cases := []struct {
		project, name string
		wantCode      string
		wantMsg       string
	}{
		{"p", "ok", "", ""},
		{"p", "nope", "DeploymentNotFound", deploymentMissing},
		{"p", "other", "DeploymentNotFound", deploymentMissing},
		{"p", "creating", "DeploymentNotFound", "state Creating"},
		{"p", "failed", "DeploymentNotFound", "state Failed and cannot take requests: out of quota"},
		{"p", "old", "DeploymentNotFound", "retired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target, err := d.Resolve(t.Context(), tc.project, tc.name)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff("m/1/Standard/true", fmt.Sprintf("%s/%s/%s/%v", target.Model, target.Version.Version, target.SKU, target.Version.Capabilities.Chat)); diff != "" {
					t.Error(diff)
				}
				return
			}
			f, ok := fault.As(err)
			if !ok || f.Kind != fault.NotFound || f.Code != tc.wantCode || !strings.Contains(f.Message, tc.wantMsg) {
				t.Errorf("Resolve(%s) = %v, want %s %q", tc.name, err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// TestCachedDirectoryInvalidateRace checks that a lookup that began before
// Invalidate does not put a stale entry back.
func TestCachedDirectoryInvalidateRace(t *testing.T) {
	s := newFakeStore()
	d := NewDirectory(s, time.Minute)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				if (i+j)%7 == 0 {
					d.Invalidate()
				}
				d.Authenticate(t.Context(), "k1")
				d.Resolve(t.Context(), "p", "ok")
			}
		})
	}
	wg.Wait()
	s.setKey("p", "k3")
	d.Invalidate()
	if _, err := d.Authenticate(t.Context(), "k1"); err == nil {
		t.Error("old key accepted after Invalidate")
	}
}

// store.Store is a DirectoryStore.
var _ DirectoryStore = store.Store(nil)
