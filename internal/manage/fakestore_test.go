package manage_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/manage"
	"github.com/cerulean-ai/cerulean/internal/project"
	"github.com/cerulean-ai/cerulean/internal/quota"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// fakeStore is an in-memory manage.Store that behaves as store.Store says
// and as internal/store/sqlite does: faults wrapping the store's sentinels
// with sqlite's codes (HubNotFound, itemDoesAlreadyExist, conflict, ...),
// quota checked on writes. Setting
// fail makes every call return it.
type fakeStore struct {
	mu          sync.Mutex
	fail        error
	hubs        map[string]hub.Hub
	projects    map[string]project.Project
	keys        map[string][2]apikey.Key
	models      map[string]catalog.Model
	deployments map[[2]string]deployment.Deployment
}

var _ manage.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{
		hubs:        map[string]hub.Hub{},
		projects:    map[string]project.Project{},
		keys:        map[string][2]apikey.Key{},
		models:      map[string]catalog.Model{},
		deployments: map[[2]string]deployment.Deployment{},
	}
}

func notFoundErr(kind, name string) error {
	return &fault.Error{Kind: fault.NotFound, Code: kind + "NotFound", Param: name,
		Message: fmt.Sprintf("%s %q does not exist", kind, name), Err: store.ErrNotFound}
}

func existsErr(kind, name string) error {
	return &fault.Error{Kind: fault.Conflict, Code: "itemDoesAlreadyExist", Param: name,
		Message: fmt.Sprintf("%s %q already exists", kind, name), Err: store.ErrExists}
}

func inUseErr(kind, name, by string) error {
	return &fault.Error{Kind: fault.Conflict, Code: "conflict", Param: name,
		Message: fmt.Sprintf("%s %q is used by %s", kind, name, by), Err: store.ErrInUse}
}

func cloneHub(h hub.Hub) hub.Hub { h.Quotas = slices.Clone(h.Quotas); return h }

func cloneModel(m catalog.Model) catalog.Model {
	m.Versions = slices.Clone(m.Versions)
	for i := range m.Versions {
		if u := m.Versions[i].Upstream; u != nil {
			c := *u
			m.Versions[i].Upstream = &c
		}
		m.Versions[i].SKUs = slices.Clone(m.Versions[i].SKUs)
	}
	return m
}

func sorted[T any](m map[string]T, keep func(T) bool) []T {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []T
	for _, n := range names {
		if keep == nil || keep(m[n]) {
			out = append(out, m[n])
		}
	}
	return out
}

func (s *fakeStore) CreateHub(_ context.Context, h hub.Hub) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.hubs[h.Name]; ok {
		return existsErr("Hub", h.Name)
	}
	s.hubs[h.Name] = cloneHub(h)
	return nil
}

func (s *fakeStore) GetHub(_ context.Context, name string) (hub.Hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return hub.Hub{}, s.fail
	}
	h, ok := s.hubs[name]
	if !ok {
		return hub.Hub{}, notFoundErr("Hub", name)
	}
	return cloneHub(h), nil
}

func (s *fakeStore) ListHubs(context.Context) ([]hub.Hub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []hub.Hub
	for _, h := range sorted(s.hubs, nil) {
		out = append(out, cloneHub(h))
	}
	return out, nil
}

func (s *fakeStore) UpdateHub(_ context.Context, h hub.Hub) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	old, ok := s.hubs[h.Name]
	if !ok {
		return notFoundErr("Hub", h.Name)
	}
	old.Description, old.Quotas = h.Description, slices.Clone(h.Quotas)
	s.hubs[h.Name] = old
	return nil
}

func (s *fakeStore) DeleteHub(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.hubs[name]; !ok {
		return notFoundErr("Hub", name)
	}
	for _, p := range s.projects {
		if p.Hub == name {
			return inUseErr("Hub", name, "project "+p.Name)
		}
	}
	delete(s.hubs, name)
	return nil
}

func (s *fakeStore) CreateProject(_ context.Context, p project.Project, keys [2]apikey.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.hubs[p.Hub]; !ok {
		return notFoundErr("Hub", p.Hub)
	}
	if _, ok := s.projects[p.Name]; ok {
		return existsErr("Project", p.Name)
	}
	s.projects[p.Name] = p
	s.keys[p.Name] = keys
	return nil
}

func (s *fakeStore) GetProject(_ context.Context, name string) (project.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return project.Project{}, s.fail
	}
	p, ok := s.projects[name]
	if !ok {
		return project.Project{}, notFoundErr("Project", name)
	}
	return p, nil
}

func (s *fakeStore) ListProjects(_ context.Context, hubName string) ([]project.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	return sorted(s.projects, func(p project.Project) bool { return hubName == "" || p.Hub == hubName }), nil
}

func (s *fakeStore) DeleteProject(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.projects[name]; !ok {
		return notFoundErr("Project", name)
	}
	delete(s.projects, name)
	delete(s.keys, name)
	for k := range s.deployments {
		if k[0] == name {
			delete(s.deployments, k)
		}
	}
	return nil
}

func (s *fakeStore) ListKeys(_ context.Context, projectName string) ([]apikey.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	k, ok := s.keys[projectName]
	if !ok {
		return nil, notFoundErr("Project", projectName)
	}
	return k[:], nil
}

func (s *fakeStore) ReplaceKey(_ context.Context, k apikey.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	keys, ok := s.keys[k.Project]
	if !ok {
		return notFoundErr("Project", k.Project)
	}
	keys[k.Slot-1] = k
	s.keys[k.Project] = keys
	return nil
}

func (s *fakeStore) CreateModel(_ context.Context, m catalog.Model) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.models[m.Name]; ok {
		return existsErr("Model", m.Name)
	}
	s.models[m.Name] = cloneModel(m)
	return nil
}

func (s *fakeStore) GetModel(_ context.Context, name string) (catalog.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return catalog.Model{}, s.fail
	}
	m, ok := s.models[name]
	if !ok {
		return catalog.Model{}, notFoundErr("Model", name)
	}
	return cloneModel(m), nil
}

func (s *fakeStore) ListModels(context.Context) ([]catalog.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []catalog.Model
	for _, m := range sorted(s.models, nil) {
		out = append(out, cloneModel(m))
	}
	return out, nil
}

func (s *fakeStore) UpdateModel(_ context.Context, m catalog.Model) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	old, ok := s.models[m.Name]
	if !ok {
		return notFoundErr("Model", m.Name)
	}
	m.CreatedAt = old.CreatedAt
	s.models[m.Name] = cloneModel(m)
	return nil
}

func (s *fakeStore) DeleteModel(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if _, ok := s.models[name]; !ok {
		return notFoundErr("Model", name)
	}
	for _, d := range s.deployments {
		if d.Model == name {
			return inUseErr("Model", name, "deployment "+d.Name)
		}
	}
	delete(s.models, name)
	return nil
}

// checkQuota is quota.Check over the hub's other deployments; s.mu is held.
func (s *fakeStore) checkQuota(d deployment.Deployment) error {
	p, ok := s.projects[d.Project]
	if !ok {
		return notFoundErr("Project", d.Project)
	}
	h := s.hubs[p.Hub]
	used := 0
	for k, o := range s.deployments {
		if k == [2]string{d.Project, d.Name} || o.Model != d.Model || o.SKU != d.SKU {
			continue
		}
		if s.projects[o.Project].Hub == p.Hub {
			used += o.Capacity
		}
	}
	return quota.Check(d.Model, d.SKU, h.Limit(d.Model, d.SKU), used, d.Capacity)
}

func (s *fakeStore) CreateDeployment(_ context.Context, d deployment.Deployment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	k := [2]string{d.Project, d.Name}
	if _, ok := s.deployments[k]; ok {
		return existsErr("Deployment", d.Name)
	}
	if err := s.checkQuota(d); err != nil {
		return err
	}
	s.deployments[k] = d
	return nil
}

func (s *fakeStore) GetDeployment(_ context.Context, projectName, name string) (deployment.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return deployment.Deployment{}, s.fail
	}
	d, ok := s.deployments[[2]string{projectName, name}]
	if !ok {
		return deployment.Deployment{}, notFoundErr("Deployment", name)
	}
	return d, nil
}

func (s *fakeStore) ListDeployments(_ context.Context, projectName string) ([]deployment.Deployment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	var out []deployment.Deployment
	for _, d := range s.deployments {
		if projectName == "" || d.Project == projectName {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b deployment.Deployment) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

func (s *fakeStore) UpdateDeployment(_ context.Context, d deployment.Deployment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	k := [2]string{d.Project, d.Name}
	old, ok := s.deployments[k]
	if !ok {
		return notFoundErr("Deployment", d.Name)
	}
	if d.Capacity > old.Capacity {
		if err := s.checkQuota(d); err != nil {
			return err
		}
	}
	old.Capacity, old.Version, old.VersionUpgradeOption, old.RAIPolicy, old.UpdatedAt =
		d.Capacity, d.Version, d.VersionUpgradeOption, d.RAIPolicy, d.UpdatedAt
	s.deployments[k] = old
	return nil
}

func (s *fakeStore) SetDeploymentState(_ context.Context, projectName, name, state, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	k := [2]string{projectName, name}
	d, ok := s.deployments[k]
	if !ok {
		return notFoundErr("Deployment", name)
	}
	d.State, d.Reason = state, reason
	s.deployments[k] = d
	return nil
}

// DeleteDeployment is not in manage.Store: tests call it as the reconciler.
func (s *fakeStore) DeleteDeployment(_ context.Context, projectName, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{projectName, name}
	if _, ok := s.deployments[k]; !ok {
		return notFoundErr("Deployment", name)
	}
	delete(s.deployments, k)
	return nil
}

func (s *fakeStore) QuotaUsage(_ context.Context, hubName, model, sku string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	used := 0
	for _, d := range s.deployments {
		if d.Model == model && d.SKU == sku && s.projects[d.Project].Hub == hubName {
			used += d.Capacity
		}
	}
	return used, nil
}

func (s *fakeStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}
