package metering_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestAccrualIdempotentAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for _, d := range []struct {
		name, sku string
		capacity  int
		state     string
	}{
		{"ptu", "ProvisionedManaged", 50, deployment.Succeeded},
		{"gptu", "GlobalProvisionedManaged", 15, deployment.Succeeded},
		{"mc", "ManagedCompute", 3, deployment.Succeeded},
		{"ptu-new", "ProvisionedManaged", 25, deployment.Creating},
		{"mc-failed", "ManagedCompute", 2, deployment.Failed},
	} {
		if err := addDeployment(ctx, st, d.name, d.sku, d.capacity, d.state); err != nil {
			t.Fatalf("deployment %s: %v", d.name, err)
		}
	}
	clock := &fakeClock{t: t0.Add(10 * time.Second)}
	a := metering.NewAccrual(metering.AccrualOptions{Store: st, Now: clock.now})
	steps := []struct {
		name    string
		at      time.Duration // after t0
		restart bool
		want    int
	}{
		{"first tick", 10 * time.Second, false, 3},
		{"same minute", 50 * time.Second, false, 0},
		{"next minute", 65 * time.Second, false, 3},
		{"restart in the same minute", 100 * time.Second, true, 0},
		{"restart again, same minute", 110 * time.Second, true, 0},
		{"a skipped minute is caught up", 3*time.Minute + 5*time.Second, false, 6},
	}
	for _, s := range steps {
		clock.t = t0.Add(s.at)
		if s.restart {
			a = metering.NewAccrual(metering.AccrualOptions{Store: st, Now: clock.now})
		}
		got, err := a.Tick(ctx)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: %d new accruals, want %d", s.name, got, s.want)
		}
	}
	sums, err := st.UsageSums(ctx, store.UsageQuery{Project: testProject, By: store.ByDeployment})
	if err != nil {
		t.Fatal(err)
	}
	// Minutes 12:00, 12:01, 12:02 and 12:03.
	want := []store.UsageSum{
		{Group: "gptu", Model: testModel, Version: "1", SKU: "GlobalProvisionedManaged", PTUMinutes: 4 * 15},
		{Group: "mc", Model: testModel, Version: "1", SKU: "ManagedCompute", InstanceType: metering.DefaultInstanceType, ReplicaMinutes: 4 * 3},
		{Group: "ptu", Model: testModel, Version: "1", SKU: "ProvisionedManaged", PTUMinutes: 4 * 50},
	}
	if d := cmp.Diff(want, sums); d != "" {
		t.Errorf("accrued (-want +got):\n%s", d)
	}
	accs, err := st.UsageSums(ctx, store.UsageQuery{Hub: testHub, By: store.ByDay})
	if err != nil {
		t.Fatal(err)
	}
	if len(accs) != 3 || accs[0].Group != "2025-03-14" {
		t.Errorf("hub sums by day = %+v, want the hub's three deployments on 2025-03-14", accs)
	}
}

func TestAccrualRunStops(t *testing.T) {
	st := newStore(t)
	if err := addDeployment(context.Background(), st, "ptu", "ProvisionedManaged", 50, deployment.Succeeded); err != nil {
		t.Fatal(err)
	}
	a := metering.NewAccrual(metering.AccrualOptions{Store: st, Every: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		sums, err := st.UsageSums(context.Background(), store.UsageQuery{Project: testProject, By: store.ByDeployment})
		if err == nil && len(sums) == 1 && sums[0].PTUMinutes >= 50 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	sums, _ := st.UsageSums(context.Background(), store.UsageQuery{Project: testProject, By: store.ByDeployment})
	if len(sums) != 1 || sums[0].PTUMinutes%50 != 0 || sums[0].PTUMinutes == 0 {
		t.Errorf("sums = %+v, want whole minutes of 50 PTU", sums)
	}
}
