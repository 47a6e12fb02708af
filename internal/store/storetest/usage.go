package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// RunUsage runs the conformance suite of store.UsageStore: the ledger's
// idempotency, filters, accruals, sums and price sheets. Each subtest
// calls open for a store of its own.
func RunUsage(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RecordIdempotent", testRecordIdempotent},
		{"RecordSharedRequestID", testRecordSharedID},
		{"RecordConcurrent", testRecordConcurrent},
		{"ListUsage", testListUsage},
		{"AccrueIdempotent", testAccrueIdempotent},
		{"Sums", testSums},
		{"SumsErrors", testSumsErrors},
		{"PriceSheets", testPriceSheets},
		{"PriceSheetErrors", testPriceSheetErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// usageAt is a fixed time in the middle of a day, in UTC.
var usageAt = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// rec is a usage record of request id at usageAt+offset.
func rec(id, project, dep string, offset time.Duration, prompt, completion, cached, status int) store.UsageRecord {
	return store.UsageRecord{
		RequestID: id, Time: usageAt.Add(offset), Hub: "h1", Project: project, KeyID: "key-" + project,
		Deployment: dep, Model: "gpt", Version: "2", SKU: "Standard", Operation: "chat",
		PromptTokens: prompt, CompletionTokens: completion, CachedTokens: cached,
		LatencyMS: 120, TTFTMS: 30, Status: status, Stream: status == 200 && prompt%2 == 1,
	}
}

func mustRecord(t *testing.T, s store.Store, wantNew int, recs ...store.UsageRecord) {
	t.Helper()
	n, err := s.RecordUsage(t.Context(), recs)
	if err != nil {
		t.Fatalf("RecordUsage: %v", err)
	}
	if n != wantNew {
		t.Errorf("RecordUsage of %d records added %d, want %d", len(recs), n, wantNew)
	}
}

func mustList(t *testing.T, s store.Store, f store.UsageFilter) []store.UsageRecord {
	t.Helper()
	got, err := s.ListUsage(t.Context(), f)
	if err != nil {
		t.Fatalf("ListUsage(%+v): %v", f, err)
	}
	return got
}

func testRecordIdempotent(t *testing.T, s store.Store) {
	a := rec("req-a", "p1", "d1", 0, 10, 5, 2, 200)
	b := rec("req-b", "p1", "d1", time.Second, 7, 3, 0, 200)
	mustRecord(t, s, 2, a, b)
	mustRecord(t, s, 0, a)       // written again
	mustRecord(t, s, 0, b, b, a) // twice in one batch
	c := rec("req-c", "p1", "d1", 2*time.Second, 1, 1, 0, 500)
	mustRecord(t, s, 1, c, c)
	// The hub is looked up at write time: a second write that found
	// another hub is still the same record.
	a2 := a
	a2.Hub = ""
	mustRecord(t, s, 0, a2)
	got := mustList(t, s, store.UsageFilter{})
	if d := diff([]store.UsageRecord{a, b, c}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func testRecordSharedID(t *testing.T, s store.Store) {
	// Two requests that sent the same client request id: both count.
	a := rec("same", "p1", "d1", 0, 10, 5, 0, 200)
	b := rec("same", "p1", "d1", time.Second, 20, 6, 0, 200)
	mustRecord(t, s, 2, a, b)
	mustRecord(t, s, 0, b, a)
	got := mustList(t, s, store.UsageFilter{RequestID: "same"})
	if d := diff([]store.UsageRecord{a, b}, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

func testRecordConcurrent(t *testing.T, s store.Store) {
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			var batch []store.UsageRecord
			for i := range each {
				// Writers overlap: writer w also writes writer w-1's ids.
				for _, o := range []int{w, (w + writers - 1) % writers} {
					batch = append(batch, rec(fmt.Sprintf("r-%d-%d", o, i), "p1", "d1", time.Duration(o*each+i)*time.Millisecond, 1, 1, 0, 200))
				}
				if len(batch) >= 10 {
					if _, err := s.RecordUsage(t.Context(), batch); err != nil {
						errs <- err
						return
					}
					batch = batch[:0]
				}
			}
			if _, err := s.RecordUsage(t.Context(), batch); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("RecordUsage: %v", err)
	}
	if got := len(mustList(t, s, store.UsageFilter{})); got != writers*each {
		t.Errorf("%d records, want %d", got, writers*each)
	}
}

func testListUsage(t *testing.T, s store.Store) {
	r1 := rec("r1", "p1", "d1", 0, 1, 1, 0, 200)
	r2 := rec("r2", "p2", "d1", time.Minute, 2, 1, 0, 200)
	r3 := rec("r3", "p1", "d2", 2*time.Minute, 3, 1, 0, 429)
	r3.Hub = "h2"
	mustRecord(t, s, 3, r3, r1, r2)
	tests := []struct {
		name string
		f    store.UsageFilter
		want []store.UsageRecord
	}{
		{"all", store.UsageFilter{}, []store.UsageRecord{r1, r2, r3}},
		{"project", store.UsageFilter{Project: "p1"}, []store.UsageRecord{r1, r3}},
		{"hub", store.UsageFilter{Hub: "h1"}, []store.UsageRecord{r1, r2}},
		{"request", store.UsageFilter{RequestID: "r2"}, []store.UsageRecord{r2}},
		{"since inclusive", store.UsageFilter{Since: usageAt.Add(time.Minute)}, []store.UsageRecord{r2, r3}},
		{"until exclusive", store.UsageFilter{Until: usageAt.Add(time.Minute)}, []store.UsageRecord{r1}},
		{"limit", store.UsageFilter{Limit: 2}, []store.UsageRecord{r1, r2}},
		{"none", store.UsageFilter{Project: "nope"}, nil},
	}
	for _, tt := range tests {
		if d := diff(tt.want, mustList(t, s, tt.f)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

// acc is an accrual of deployment dep of p1 at minute m after usageAt.
func acc(dep, sku string, m int, ptu, replicas int) store.Accrual {
	return store.Accrual{Hub: "h1", Project: "p1", Deployment: dep, Model: "gpt", Version: "2", SKU: sku,
		Minute: usageAt.Add(time.Duration(m) * time.Minute), PTUMinutes: ptu, ReplicaMinutes: replicas}
}

func testAccrueIdempotent(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, step := range []struct {
		accs []store.Accrual
		want int
	}{
		{[]store.Accrual{acc("ptu", "ProvisionedManaged", 0, 50, 0), acc("ptu", "ProvisionedManaged", 1, 50, 0)}, 2},
		{[]store.Accrual{acc("ptu", "ProvisionedManaged", 1, 50, 0), acc("ptu", "ProvisionedManaged", 2, 50, 0)}, 1},
		// A time inside minute 2 is minute 2.
		{[]store.Accrual{func() store.Accrual {
			a := acc("ptu", "ProvisionedManaged", 2, 99, 0)
			a.Minute = a.Minute.Add(30 * time.Second)
			return a
		}()}, 0},
		{[]store.Accrual{acc("mc", "ManagedCompute", 2, 0, 3)}, 1},
	} {
		n, err := s.AccrueUsage(ctx, step.accs)
		if err != nil {
			t.Fatalf("AccrueUsage: %v", err)
		}
		if n != step.want {
			t.Errorf("AccrueUsage(%d accruals) added %d, want %d", len(step.accs), n, step.want)
		}
	}
	got, err := s.UsageSums(ctx, store.UsageQuery{Project: "p1", By: store.ByDeployment})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.UsageSum{
		{Group: "mc", Model: "gpt", Version: "2", SKU: "ManagedCompute", ReplicaMinutes: 3},
		{Group: "ptu", Model: "gpt", Version: "2", SKU: "ProvisionedManaged", PTUMinutes: 150},
	}
	if d := diff(want, got); d != "" {
		t.Errorf("sums (-want +got):\n%s", d)
	}
}

func testSums(t *testing.T, s store.Store) {
	ctx := t.Context()
	day2 := 24 * time.Hour
	k2 := rec("r4", "p1", "d1", day2, 100, 50, 0, 200)
	k2.KeyID = "key-other"
	other := rec("r6", "p2", "d1", 0, 1000, 1000, 0, 200)
	ptuRec := rec("r7", "p1", "ptu", 0, 40, 10, 0, 200)
	ptuRec.SKU = "ProvisionedManaged"
	mustRecord(t, s, 7,
		rec("r1", "p1", "d1", 0, 10, 5, 2, 200),
		rec("r2", "p1", "d1", time.Hour, 20, 0, 0, 429),
		rec("r3", "p1", "d2", 2*time.Hour, 30, 7, 4, 500),
		k2,
		rec("r5", "p1", "d1", 3*day2, 9, 9, 0, 200), // outside the window
		other, ptuRec)
	if _, err := s.AccrueUsage(ctx, []store.Accrual{acc("ptu", "ProvisionedManaged", 0, 50, 0), acc("ptu", "ProvisionedManaged", 1, 50, 0)}); err != nil {
		t.Fatal(err)
	}
	std := func(group string) store.UsageSum {
		return store.UsageSum{Group: group, Model: "gpt", Version: "2", SKU: "Standard"}
	}
	with := func(u store.UsageSum, f func(*store.UsageSum)) store.UsageSum { f(&u); return u }
	ptuSum := func(group string, reqs int64) store.UsageSum {
		u := store.UsageSum{Group: group, Model: "gpt", Version: "2", SKU: "ProvisionedManaged", PTUMinutes: 100}
		if reqs > 0 {
			u.Requests, u.PromptTokens, u.CompletionTokens = 1, 40, 10
		}
		return u
	}
	window := func(q store.UsageQuery) store.UsageQuery {
		q.Since, q.Until = usageAt.Add(-time.Hour), usageAt.Add(2*day2)
		return q
	}
	tests := []struct {
		name string
		q    store.UsageQuery
		want []store.UsageSum
	}{
		{"project by deployment", window(store.UsageQuery{Project: "p1", By: store.ByDeployment}), []store.UsageSum{
			with(std("d1"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 3, 130, 55, 2, 1, 1
			}),
			with(std("d2"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors = 1, 30, 7, 4, 1
			}),
			ptuSum("ptu", 1),
		}},
		{"project by key", window(store.UsageQuery{Project: "p1", By: store.ByKey}), []store.UsageSum{
			ptuSum("", 0),
			with(std("key-other"), func(u *store.UsageSum) { u.Requests, u.PromptTokens, u.CompletionTokens = 1, 100, 50 }),
			// The key's requests to the PTU deployment; its PTU-minutes are
			// in the "" group above, as no key made them.
			with(ptuSum("key-p1", 1), func(u *store.UsageSum) { u.PTUMinutes = 0 }),
			with(std("key-p1"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 3, 60, 12, 6, 2, 1
			}),
		}},
		{"project by day", window(store.UsageQuery{Project: "p1", By: store.ByDay}), []store.UsageSum{
			ptuSum("2025-03-14", 1),
			with(std("2025-03-14"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 3, 60, 12, 6, 2, 1
			}),
			with(std("2025-03-15"), func(u *store.UsageSum) { u.Requests, u.PromptTokens, u.CompletionTokens = 1, 100, 50 }),
		}},
		{"hub by deployment", window(store.UsageQuery{Hub: "h1", By: store.ByDeployment}), []store.UsageSum{
			with(std("p1/d1"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 3, 130, 55, 2, 1, 1
			}),
			with(std("p1/d2"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors = 1, 30, 7, 4, 1
			}),
			ptuSum("p1/ptu", 1),
			with(std("p2/d1"), func(u *store.UsageSum) { u.Requests, u.PromptTokens, u.CompletionTokens = 1, 1000, 1000 }),
		}},
		{"hub by sku", window(store.UsageQuery{Hub: "h1", By: store.BySKU}), []store.UsageSum{
			ptuSum("ProvisionedManaged", 1),
			with(std("Standard"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 5, 1160, 1062, 6, 2, 1
			}),
		}},
		{"hub by project, unbounded", store.UsageQuery{Hub: "h1", By: store.ByProject}, []store.UsageSum{
			ptuSum("p1", 1),
			with(std("p1"), func(u *store.UsageSum) {
				u.Requests, u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.Errors, u.Throttled = 5, 169, 71, 6, 2, 1
			}),
			with(std("p2"), func(u *store.UsageSum) { u.Requests, u.PromptTokens, u.CompletionTokens = 1, 1000, 1000 }),
		}},
		{"empty hub", store.UsageQuery{Hub: "h9", By: store.ByModel}, nil},
	}
	for _, tt := range tests {
		got, err := s.UsageSums(ctx, tt.q)
		if err != nil {
			t.Fatalf("%s: UsageSums: %v", tt.name, err)
		}
		if d := diff(tt.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

func testSumsErrors(t *testing.T, s store.Store) {
	for _, q := range []store.UsageQuery{
		{Project: "p1", By: "colour"},
		{By: store.ByModel},
		{Hub: "h1", Project: "p1", By: store.ByModel},
	} {
		_, err := s.UsageSums(t.Context(), q)
		if fault.KindOf(err) != fault.Invalid {
			t.Errorf("UsageSums(%+v) = %v, want an Invalid fault", q, err)
		}
	}
}

func testPriceSheets(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	got, err := s.GetPriceSheet(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(store.PriceSheet{Hub: "h1"}, got); d != "" {
		t.Errorf("new hub's sheet (-want +got):\n%s", d)
	}
	sheet := store.PriceSheet{Hub: "h1",
		Models: []store.ModelPrice{
			{Model: "gpt", InputPer1K: 0.25, OutputPer1K: 1, CachedInputPer1K: 0.125, PTUHour: 3},
			{Model: "gpt", Version: "2", InputPer1K: 0.5},
			{Model: "alpha", OutputPer1K: 2},
		},
		Instances: []store.InstancePrice{{Name: "default", PerHour: 1.5}, {Name: "Standard_NC24ads_A100_v4", PerHour: 4}},
	}
	for _, want := range []store.PriceSheet{sheet, {Hub: "h1", Instances: []store.InstancePrice{{Name: "x", PerHour: 0}}}, {Hub: "h1"}} {
		if err := s.PutPriceSheet(ctx, want); err != nil {
			t.Fatalf("PutPriceSheet: %v", err)
		}
		got, err := s.GetPriceSheet(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("sheet (-want +got):\n%s", d)
		}
	}
	// Deleting the hub deletes its prices.
	if err := s.PutPriceSheet(ctx, sheet); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteHub(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	mustCreateHub(t, s, newHub("h1"))
	if got, err := s.GetPriceSheet(ctx, "h1"); err != nil || len(got.Models)+len(got.Instances) != 0 {
		t.Errorf("recreated hub's sheet = %+v, %v; want empty", got, err)
	}
}

func testPriceSheetErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateHub(t, s, newHub("h1"))
	_, err := s.GetPriceSheet(ctx, "nope")
	wantFault(t, "GetPriceSheet(nope)", err, store.ErrNotFound, fault.NotFound, "HubNotFound", "nope", "nope")
	err = s.PutPriceSheet(ctx, store.PriceSheet{Hub: "nope"})
	wantFault(t, "PutPriceSheet(nope)", err, store.ErrNotFound, fault.NotFound, "HubNotFound", "nope", "nope")
	for _, ps := range []store.PriceSheet{
		{Hub: "h1", Models: []store.ModelPrice{{Model: "gpt", InputPer1K: -1}}},
		{Hub: "h1", Models: []store.ModelPrice{{Model: "gpt"}, {Model: "gpt"}}},
		{Hub: "h1", Models: []store.ModelPrice{{InputPer1K: 1}}},
		{Hub: "h1", Instances: []store.InstancePrice{{Name: "a"}, {Name: "a"}}},
		{Hub: "h1", Instances: []store.InstancePrice{{Name: "a", PerHour: -2}}},
		{Hub: "h1", Instances: []store.InstancePrice{{PerHour: 2}}},
	} {
		if err := s.PutPriceSheet(ctx, ps); fault.KindOf(err) != fault.Invalid {
			t.Errorf("PutPriceSheet(%+v) = %v, want an Invalid fault", ps, err)
		}
	}
	// A refused sheet leaves the old one.
	good := store.PriceSheet{Hub: "h1", Models: []store.ModelPrice{{Model: "gpt", InputPer1K: 1}}}
	if err := s.PutPriceSheet(ctx, good); err != nil {
		t.Fatal(err)
	}
	_ = s.PutPriceSheet(ctx, store.PriceSheet{Hub: "h1", Models: []store.ModelPrice{{Model: "gpt", InputPer1K: -1}}})
	if got, err := s.GetPriceSheet(ctx, "h1"); err != nil || diff(good, got) != "" {
		t.Errorf("sheet after a refused put = %+v, %v; want %+v", got, err, good)
	}
}
