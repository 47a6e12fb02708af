package deployment

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type fakeStore struct {
	mu sync.Mutex
	ds map[string]Deployment
}

func (f *fakeStore) ListDeployments(ctx context.Context, projectName string) ([]Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Deployment
	for _, d := range f.ds {
		out = append(out, d)
	}
	return out, nil
}

func (f *fakeStore) TransitionDeployment(ctx context.Context, seen Deployment, state, reason string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.ds[seen.Name]
	if !ok || d.State != seen.State || d.Version != seen.Version {
		return false, nil
	}
	d.State, d.Reason = state, reason
	f.ds[seen.Name] = d
	return true, nil
}

// racingProv marks the deployment for deletion while provisioning it, as
// a DELETE arriving during a pass would.
type racingProv struct{ st *fakeStore }

func (p racingProv) Provision(ctx context.Context, d Deployment) error {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	x := p.st.ds[d.Name]
	x.State = Deleting
	p.st.ds[d.Name] = x
	return nil
}
func (p racingProv) Release(ctx context.Context, d Deployment) error { return nil }

func TestReconcilerKeepsChangesMadeDuringAPass(t *testing.T) {
	st := &fakeStore{ds: map[string]Deployment{"d": {Project: "p", Name: "d", State: Creating}}}
	r := NewReconciler(st, racingProv{st}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := r.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.ds["d"]; !ok || st.ds["d"].State != Deleting {
		t.Fatalf("deployment = %+v, want it still Deleting (not overwritten with Succeeded)", st.ds["d"])
	}
	if err := r.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.ds["d"]; ok {
		t.Errorf("the next pass did not delete it")
	}
}

func (f *fakeStore) DeleteDeployment(ctx context.Context, p, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.ds, name)
	return nil
}

type fakeProv struct {
	fail     map[string]error
	released []string
}

func (p *fakeProv) Provision(ctx context.Context, d Deployment) error { return p.fail[d.Name] }
func (p *fakeProv) Release(ctx context.Context, d Deployment) error {
	p.released = append(p.released, d.Name)
	return nil
}

func TestReconcilerPass(t *testing.T) {
	st := &fakeStore{ds: map[string]Deployment{
		"ok":      {Project: "p", Name: "ok", State: Creating},
		"bad":     {Project: "p", Name: "bad", State: Creating},
		"gone":    {Project: "p", Name: "gone", State: Deleting},
		"running": {Project: "p", Name: "running", State: Succeeded},
	}}
	prov := &fakeProv{fail: map[string]error{"bad": errors.New("upstream http://x does not answer")}}
	changes := 0
	r := NewReconciler(st, prov, slog.New(slog.NewTextHandler(io.Discard, nil)), func() { changes++ })
	if err := r.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for n, d := range st.ds {
		got[n] = [2]string{d.State, d.Reason}
	}
	want := map[string][2]string{
		"ok":      {Succeeded, ""},
		"bad":     {Failed, "upstream http://x does not answer"},
		"running": {Succeeded, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"gone"}, prov.released); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
	if changes != 3 {
		t.Errorf("changed called %d times, want 3", changes)
	}
	// A second pass has nothing to do.
	if err := r.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if changes != 3 {
		t.Errorf("second pass changed things: %d calls", changes)
	}
}

func TestNudgeNeverBlocks(t *testing.T) {
	r := NewReconciler(&fakeStore{ds: map[string]Deployment{}}, &fakeProv{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	for range 10 {
		r.Nudge()
	}
}
