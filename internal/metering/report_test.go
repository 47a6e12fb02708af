package metering_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cerulean-ai/cerulean/internal/catalog"
	"github.com/cerulean-ai/cerulean/internal/metering"
	"github.com/cerulean-ai/cerulean/internal/store"
)

func TestCost(t *testing.T) {
	p := catalog.Prices{InputPer1K: 0.5, OutputPer1K: 1.5, CachedInputPer1K: 0.25, PTUHour: 2}
	noCached := p
	noCached.CachedInputPer1K = 0
	tokens := func(sku string) store.UsageSum {
		return store.UsageSum{SKU: sku, PromptTokens: 1000, CachedTokens: 200, CompletionTokens: 500}
	}
	with := func(u store.UsageSum, f func(*store.UsageSum)) store.UsageSum { f(&u); return u }
	tests := []struct {
		name     string
		u        store.UsageSum
		p        catalog.Prices
		instance float64
		want     float64
	}{
		{"standard, cached price", tokens("Standard"), p, 0, 0.8*0.5 + 0.2*0.25 + 0.5*1.5},
		{"standard, no cached price", tokens("Standard"), noCached, 0, 1*0.5 + 0.5*1.5},
		{"global standard", tokens("GlobalStandard"), p, 0, 1.2},
		{"data zone standard", tokens("DataZoneStandard"), p, 0, 1.2},
		{"developer", tokens("Developer"), p, 0, 1.2},
		{"global batch at a discount", tokens("GlobalBatch"), p, 0, 1.2 * metering.BatchDiscount},
		{"provisioned tokens are free", tokens("ProvisionedManaged"), p, 0, 0},
		{"PTU-hours", with(tokens("ProvisionedManaged"), func(u *store.UsageSum) { u.PTUMinutes = 90 }), p, 0, 1.5 * 2},
		{"global PTU-hours", store.UsageSum{SKU: "GlobalProvisionedManaged", PTUMinutes: 60 * 15}, p, 0, 15 * 2},
		{"managed compute tokens are free", tokens("ManagedCompute"), p, 3, 0},
		{"replica-hours", store.UsageSum{SKU: "ManagedCompute", ReplicaMinutes: 150}, p, 3, 2.5 * 3},
		{"unpriced instance", store.UsageSum{SKU: "ManagedCompute", ReplicaMinutes: 150}, p, 0, 0},
		{"cached above prompt is clamped", store.UsageSum{SKU: "Standard", PromptTokens: 100, CachedTokens: 500}, p, 0, 0.1 * 0.25},
		{"nothing", store.UsageSum{SKU: "Standard"}, p, 0, 0},
		{"no prices", tokens("Standard"), catalog.Prices{}, 0, 0},
	}
	for _, tt := range tests {
		got := metering.Cost(tt.u, tt.p, tt.instance)
		if d := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); d != "" {
			t.Errorf("%s: Cost (-want +got):\n%s", tt.name, d)
		}
	}
}

func TestBillingOf(t *testing.T) {
	want := map[string]metering.Billing{
		"Standard": metering.PerToken, "GlobalStandard": metering.PerToken, "DataZoneStandard": metering.PerToken,
		"Developer": metering.PerToken, "GlobalBatch": metering.PerBatchToken, "DataZoneBatch": metering.PerBatchToken,
		"ProvisionedManaged": metering.PerPTUHour, "GlobalProvisionedManaged": metering.PerPTUHour,
		"DataZoneProvisionedManaged": metering.PerPTUHour, "ManagedCompute": metering.PerReplicaHour,
	}
	for _, sku := range catalog.SKUs {
		if got := metering.BillingOf(sku); got != want[sku] {
			t.Errorf("BillingOf(%s) = %d, want %d", sku, got, want[sku])
		}
	}
}

// seedUsage writes four requests and two deployments' accruals of p1.
func seedUsage(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	rec := func(id, dep, sku, key string, at time.Duration, prompt, cached, completion, status int) store.UsageRecord {
		return store.UsageRecord{RequestID: id, Time: t0.Add(at), Hub: testHub, Project: testProject, KeyID: key,
			Deployment: dep, Model: testModel, Version: "1", SKU: sku, Operation: "chat", PromptTokens: prompt,
			CachedTokens: cached, CompletionTokens: completion, Status: status}
	}
	if _, err := st.RecordUsage(ctx, []store.UsageRecord{
		rec("r1", "chat", "Standard", "k1", 0, 1000, 200, 500, 200),
		rec("r2", "chat", "Standard", "k2", 24*time.Hour, 0, 0, 0, 429),
		rec("r3", "chat", "Standard", "k1", time.Hour, 0, 0, 0, 500),
		rec("r4", "ptu", "ProvisionedManaged", "k1", 0, 4000, 0, 4000, 200),
	}); err != nil {
		t.Fatal(err)
	}
	acc := func(dep, sku string, m, ptu, replicas int) store.Accrual {
		inst := ""
		if replicas > 0 {
			inst = metering.DefaultInstanceType
		}
		return store.Accrual{Hub: testHub, Project: testProject, Deployment: dep, Model: testModel, Version: "1", SKU: sku,
			InstanceType: inst, Minute: t0.Add(time.Duration(m) * time.Minute), PTUMinutes: ptu, ReplicaMinutes: replicas}
	}
	if _, err := st.AccrueUsage(ctx, []store.Accrual{
		acc("ptu", "ProvisionedManaged", 0, 30, 0), acc("ptu", "ProvisionedManaged", 1, 30, 0),
		acc("mc", "ManagedCompute", 0, 0, 3), acc("mc", "ManagedCompute", 1, 0, 3),
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReport(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seedUsage(t, st)
	q := store.UsageQuery{Project: testProject, By: store.ByDeployment, Since: t0.Add(-time.Hour), Until: t0.Add(48 * time.Hour)}

	// Catalog prices: input 0.5, cached 0.25, output 1.5, PTU-hour 2;
	// the instance type is not priced.
	got, err := metering.BuildReport(ctx, st, q, testHub)
	if err != nil {
		t.Fatal(err)
	}
	want := metering.Report{Query: q,
		Rows: []metering.Row{
			{Group: "chat", Requests: 3, PromptTokens: 1000, CompletionTokens: 500, CachedTokens: 200, TotalTokens: 1500,
				Cost: 1.2, Errors: 2, Throttled: 1},
			{Group: "mc", ReplicaHours: 0.1},
			{Group: "ptu", Requests: 1, PromptTokens: 4000, CompletionTokens: 4000, TotalTokens: 8000, PTUHours: 1, Cost: 2},
		},
		Total: metering.Row{Requests: 4, PromptTokens: 5000, CompletionTokens: 4500, CachedTokens: 200, TotalTokens: 9500,
			PTUHours: 1, ReplicaHours: 0.1, Cost: 3.2, Errors: 2, Throttled: 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report at catalog prices (-want +got):\n%s", d)
	}

	// The hub's sheet overrides the catalog: no cached price (cached
	// tokens at the input price), and prices the instance type.
	if err := st.PutPriceSheet(ctx, store.PriceSheet{Hub: testHub,
		Models:    []store.ModelPrice{{Model: testModel, InputPer1K: 1, OutputPer1K: 2, PTUHour: 10}},
		Instances: []store.InstancePrice{{Name: metering.DefaultInstanceType, PerHour: 3}},
	}); err != nil {
		t.Fatal(err)
	}
	got, err = metering.BuildReport(ctx, st, q, testHub)
	if err != nil {
		t.Fatal(err)
	}
	want.Rows[0].Cost, want.Rows[1].Cost, want.Rows[2].Cost, want.Total.Cost = 2, 0.3, 10, 12.3
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report at the hub's prices (-want +got):\n%s", d)
	}
}

// TestReportTotals checks, for every grouping, that the rows add up
// exactly to the total and the total to what was recorded.
func TestReportTotals(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seedUsage(t, st)
	for _, by := range []string{store.ByDeployment, store.ByKey, store.ByModel, store.ByDay, store.BySKU, store.ByProject} {
		for _, q := range []store.UsageQuery{{Project: testProject, By: by}, {Hub: testHub, By: by}} {
			rep, err := metering.BuildReport(ctx, st, q, testHub)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			var sum metering.Row
			var ptuMin, replicaMin float64
			for _, r := range rep.Rows {
				sum.Requests += r.Requests
				sum.PromptTokens += r.PromptTokens
				sum.CompletionTokens += r.CompletionTokens
				sum.CachedTokens += r.CachedTokens
				sum.TotalTokens += r.TotalTokens
				sum.Errors += r.Errors
				sum.Throttled += r.Throttled
				sum.Cost += r.Cost
				ptuMin += r.PTUHours * 60
				replicaMin += r.ReplicaHours * 60
			}
			sum.PTUHours, sum.ReplicaHours = ptuMin/60, replicaMin/60
			want := metering.Row{Requests: 4, PromptTokens: 5000, CompletionTokens: 4500, CachedTokens: 200, TotalTokens: 9500,
				PTUHours: 1, ReplicaHours: 0.1, Cost: 3.2, Errors: 2, Throttled: 1}
			approx := cmpopts.EquateApprox(0, 1e-9)
			if d := cmp.Diff(want, rep.Total, approx); d != "" {
				t.Errorf("by %s, %+v: total differs from what was recorded (-want +got):\n%s", by, q, d)
			}
			if d := cmp.Diff(rep.Total, sum, approx); d != "" {
				t.Errorf("by %s: rows do not add up to the total (-total +rows):\n%s", by, d)
			}
		}
	}
}
