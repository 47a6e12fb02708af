package sqlite

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// Usage records.

// fingerprint is a digest of everything a record says but its hub (looked
// up when it is written, so it may differ between two writes of the same
// record): equal records have equal fingerprints.
func fingerprint(r *store.UsageRecord) string {
	h := sha256.New()
	var n [8]byte
	num := func(v int64) {
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str := func(s string) {
		num(int64(len(s)))
		h.Write([]byte(s))
	}
	str(r.RequestID)
	num(r.Time.UnixNano())
	for _, s := range []string{r.Project, r.KeyID, r.Deployment, r.Model, r.Version, r.SKU, r.Operation} {
		str(s)
	}
	for _, v := range []int64{int64(r.PromptTokens), int64(r.CompletionTokens), int64(r.CachedTokens),
		r.LatencyMS, r.TTFTMS, int64(r.Status), flag(r.Stream)} {
		num(v)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// flag is b as 0 or 1.
func flag(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

const insertUsage = `INSERT INTO usage_records (id, request_id, fingerprint, at_ns, hub, project, key_id, deployment,
	model, version, sku, operation, prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms, status, stream)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

// RecordUsage writes recs in one transaction; see store.UsageStore.
func (s *Store) RecordUsage(ctx context.Context, recs []store.UsageRecord) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		ins, err := tx.PrepareContext(ctx, insertUsage)
		if err != nil {
			return fmt.Errorf("sqlite: record usage: %w", err)
		}
		defer ins.Close()
		for i := range recs {
			r := &recs[i]
			fp := fingerprint(r)
			n, err := insertRecord(ctx, ins, r, r.RequestID, fp)
			if err != nil {
				return err
			}
			if n == 0 {
				// The id is taken: by this very record (a repeated
				// write), or by another request that sent the same id.
				var stored string
				if err := tx.QueryRowContext(ctx, `SELECT fingerprint FROM usage_records WHERE id = ?`, r.RequestID).Scan(&stored); err != nil {
					return fmt.Errorf("sqlite: record usage %q: %w", r.RequestID, err)
				}
				if stored != fp {
					if n, err = insertRecord(ctx, ins, r, r.RequestID+"~"+fp, fp); err != nil {
						return err
					}
				}
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// insertRecord inserts r under id and returns 1, or 0 when id is taken.
func insertRecord(ctx context.Context, ins *sql.Stmt, r *store.UsageRecord, id, fp string) (int64, error) {
	res, err := ins.ExecContext(ctx, id, r.RequestID, fp, r.Time.UnixNano(), r.Hub, r.Project, r.KeyID, r.Deployment,
		r.Model, r.Version, r.SKU, r.Operation, r.PromptTokens, r.CompletionTokens, r.CachedTokens,
		r.LatencyMS, r.TTFTMS, r.Status, flag(r.Stream))
	if err != nil {
		return 0, fmt.Errorf("sqlite: record usage %q: %w", r.RequestID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: record usage %q: %w", r.RequestID, err)
	}
	return n, nil
}

// window is [since, until) in Unix nanoseconds; zero times are unbounded.
func window(since, until time.Time) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !since.IsZero() {
		lo = since.UnixNano()
	}
	if !until.IsZero() {
		hi = until.UnixNano()
	}
	return lo, hi
}

// ListUsage returns the records f selects, oldest first.
func (s *Store) ListUsage(ctx context.Context, f store.UsageFilter) ([]store.UsageRecord, error) {
	lo, hi := window(f.Since, f.Until)
	limit := -1
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT request_id, at_ns, hub, project, key_id, deployment, model, version, sku,
		operation, prompt_tokens, completion_tokens, cached_tokens, latency_ms, ttft_ms, status, stream
		FROM usage_records
		WHERE (? = '' OR hub = ?) AND (? = '' OR project = ?) AND (? = '' OR request_id = ?) AND at_ns >= ? AND at_ns < ?
		ORDER BY at_ns, id LIMIT ?`,
		f.Hub, f.Hub, f.Project, f.Project, f.RequestID, f.RequestID, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	defer rows.Close()
	var out []store.UsageRecord
	for rows.Next() {
		var r store.UsageRecord
		var ns, stream int64
		if err := rows.Scan(&r.RequestID, &ns, &r.Hub, &r.Project, &r.KeyID, &r.Deployment, &r.Model, &r.Version, &r.SKU,
			&r.Operation, &r.PromptTokens, &r.CompletionTokens, &r.CachedTokens, &r.LatencyMS, &r.TTFTMS, &r.Status, &stream); err != nil {
			return nil, fmt.Errorf("sqlite: list usage: %w", err)
		}
		r.Time = time.Unix(0, ns).UTC()
		r.Stream = stream != 0
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	return out, nil
}

// Accruals.

// AccrueUsage writes accs in one transaction; see store.UsageStore.
func (s *Store) AccrueUsage(ctx context.Context, accs []store.Accrual) (int, error) {
	if len(accs) == 0 {
		return 0, nil
	}
	added := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		added = 0
		ins, err := tx.PrepareContext(ctx, `INSERT INTO usage_accruals (project, deployment, minute, hub, model, version, sku,
			instance_type, ptu_minutes, replica_minutes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (project, deployment, minute) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("sqlite: accrue usage: %w", err)
		}
		defer ins.Close()
		for _, a := range accs {
			res, err := ins.ExecContext(ctx, a.Project, a.Deployment, a.Minute.Truncate(time.Minute).Unix(), a.Hub, a.Model,
				a.Version, a.SKU, a.InstanceType, a.PTUMinutes, a.ReplicaMinutes)
			if err != nil {
				return fmt.Errorf("sqlite: accrue usage of %s/%s: %w", a.Project, a.Deployment, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("sqlite: accrue usage of %s/%s: %w", a.Project, a.Deployment, err)
			}
			added += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// Sums.

// groupExprs are the SQL expressions of a grouping over usage_records and
// usage_accruals.
func groupExprs(by string, hubScope bool) (records, accruals string, err error) {
	switch by {
	case store.ByDeployment:
		if hubScope {
			return `project || '/' || deployment`, `project || '/' || deployment`, nil
		}
		return `deployment`, `deployment`, nil
	case store.ByKey:
		return `key_id`, `''`, nil
	case store.ByModel:
		return `model`, `model`, nil
	case store.ByDay:
		return `strftime('%Y-%m-%d', at_ns / 1000000000, 'unixepoch')`, `strftime('%Y-%m-%d', minute, 'unixepoch')`, nil
	case store.BySKU:
		return `sku`, `sku`, nil
	case store.ByProject:
		return `project`, `project`, nil
	}
	return "", "", invalid("by", "cannot group usage by %q: want deployment, key, model, day, sku or project", by)
}

// UsageSums adds up usage; see store.UsageStore.
func (s *Store) UsageSums(ctx context.Context, q store.UsageQuery) ([]store.UsageSum, error) {
	if (q.Hub == "") == (q.Project == "") {
		return nil, invalid("scope", "a usage query needs a hub or a project, not both")
	}
	scope, name := "project", q.Project
	if q.Hub != "" {
		scope, name = "hub", q.Hub
	}
	recGroup, accGroup, err := groupExprs(q.By, q.Hub != "")
	if err != nil {
		return nil, err
	}
	lo, hi := window(q.Since, q.Until)
	// Column names are fixed strings chosen above, never input.
	query := `SELECT ` + recGroup + `, model, version, sku, '', count(*), sum(prompt_tokens), sum(completion_tokens),
			sum(cached_tokens), sum(status >= 400), sum(status = 429), 0, 0
		FROM usage_records WHERE ` + scope + ` = ? AND at_ns >= ? AND at_ns < ?
		GROUP BY 1, 2, 3, 4
		UNION ALL
		SELECT ` + accGroup + `, model, version, sku, instance_type, 0, 0, 0, 0, 0, 0, sum(ptu_minutes), sum(replica_minutes)
		FROM usage_accruals WHERE ` + scope + ` = ? AND minute * 1000000000 >= ? AND minute * 1000000000 < ?
		GROUP BY 1, 2, 3, 4, 5`
	type key struct{ group, model, version, sku, instance string }
	merged := map[key]*store.UsageSum{}
	err = s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, name, lo, hi, name, lo, hi)
		if err != nil {
			return fmt.Errorf("sqlite: usage sums: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var u store.UsageSum
			if err := rows.Scan(&u.Group, &u.Model, &u.Version, &u.SKU, &u.InstanceType, &u.Requests, &u.PromptTokens,
				&u.CompletionTokens, &u.CachedTokens, &u.Errors, &u.Throttled, &u.PTUMinutes, &u.ReplicaMinutes); err != nil {
				return fmt.Errorf("sqlite: usage sums: %w", err)
			}
			k := key{u.Group, u.Model, u.Version, u.SKU, u.InstanceType}
			m, ok := merged[k]
			if !ok {
				merged[k] = &u
				continue
			}
			m.Requests += u.Requests
			m.PromptTokens += u.PromptTokens
			m.CompletionTokens += u.CompletionTokens
			m.CachedTokens += u.CachedTokens
			m.Errors += u.Errors
			m.Throttled += u.Throttled
			m.PTUMinutes += u.PTUMinutes
			m.ReplicaMinutes += u.ReplicaMinutes
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.UsageSum, 0, len(merged))
	for _, u := range merged {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b store.UsageSum) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.SKU, b.SKU), cmp.Compare(a.InstanceType, b.InstanceType))
	})
	return out, nil
}

// Price sheets.

// GetPriceSheet returns hub's price sheet.
func (s *Store) GetPriceSheet(ctx context.Context, hubName string) (store.PriceSheet, error) {
	ps := store.PriceSheet{Hub: hubName}
	err := s.read(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, hubName)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(hubName)
		}
		rows, err := tx.QueryContext(ctx, `SELECT model, version, input_per_1k, output_per_1k, cached_input_per_1k, ptu_hour
			FROM hub_model_prices WHERE hub = ? ORDER BY pos`, hubName)
		if err != nil {
			return fmt.Errorf("sqlite: get price sheet: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var m store.ModelPrice
			if err := rows.Scan(&m.Model, &m.Version, &m.InputPer1K, &m.OutputPer1K, &m.CachedInputPer1K, &m.PTUHour); err != nil {
				return fmt.Errorf("sqlite: get price sheet: %w", err)
			}
			ps.Models = append(ps.Models, m)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: get price sheet: %w", err)
		}
		irows, err := tx.QueryContext(ctx, `SELECT name, per_hour FROM hub_instance_prices WHERE hub = ? ORDER BY pos`, hubName)
		if err != nil {
			return fmt.Errorf("sqlite: get price sheet: %w", err)
		}
		defer irows.Close()
		for irows.Next() {
			var ip store.InstancePrice
			if err := irows.Scan(&ip.Name, &ip.PerHour); err != nil {
				return fmt.Errorf("sqlite: get price sheet: %w", err)
			}
			ps.Instances = append(ps.Instances, ip)
		}
		if err := irows.Err(); err != nil {
			return fmt.Errorf("sqlite: get price sheet: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.PriceSheet{}, err
	}
	return ps, nil
}

// validSheet checks a price sheet: named models and instance types, each
// once, and no negative or non-finite price.
func validSheet(ps store.PriceSheet) error {
	bad := func(f float64) bool { return f < 0 || math.IsNaN(f) || math.IsInf(f, 0) }
	seen := map[[2]string]bool{}
	for i, m := range ps.Models {
		if m.Model == "" {
			return invalid(fmt.Sprintf("models[%d].model", i), "models[%d] names no model", i)
		}
		if k := [2]string{m.Model, m.Version}; seen[k] {
			return invalid(fmt.Sprintf("models[%d]", i), "model %q version %q is priced twice", m.Model, m.Version)
		} else {
			seen[k] = true
		}
		for _, p := range []float64{m.InputPer1K, m.OutputPer1K, m.CachedInputPer1K, m.PTUHour} {
			if bad(p) {
				return invalid(fmt.Sprintf("models[%d]", i), "model %q: prices must be 0 or more, got %v", m.Model, p)
			}
		}
	}
	names := map[string]bool{}
	for i, ip := range ps.Instances {
		if ip.Name == "" {
			return invalid(fmt.Sprintf("instanceTypes[%d].name", i), "instanceTypes[%d] names no instance type", i)
		}
		if names[ip.Name] {
			return invalid(fmt.Sprintf("instanceTypes[%d]", i), "instance type %q is priced twice", ip.Name)
		}
		names[ip.Name] = true
		if bad(ip.PerHour) {
			return invalid(fmt.Sprintf("instanceTypes[%d].perHour", i), "instance type %q: the price must be 0 or more, got %v", ip.Name, ip.PerHour)
		}
	}
	return nil
}

// PutPriceSheet replaces ps.Hub's price sheet.
func (s *Store) PutPriceSheet(ctx context.Context, ps store.PriceSheet) error {
	if err := validSheet(ps); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, ps.Hub)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(ps.Hub)
		}
		for _, q := range []string{`DELETE FROM hub_model_prices WHERE hub = ?`, `DELETE FROM hub_instance_prices WHERE hub = ?`} {
			if _, err := tx.ExecContext(ctx, q, ps.Hub); err != nil {
				return fmt.Errorf("sqlite: put price sheet: %w", err)
			}
		}
		for i, m := range ps.Models {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hub_model_prices (hub, model, version, input_per_1k, output_per_1k,
				cached_input_per_1k, ptu_hour, pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				ps.Hub, m.Model, m.Version, m.InputPer1K, m.OutputPer1K, m.CachedInputPer1K, m.PTUHour, i); err != nil {
				return constraint(err, "put price sheet", nil, func() error { return hubNotFound(ps.Hub) })
			}
		}
		for i, ip := range ps.Instances {
			if _, err := tx.ExecContext(ctx, `INSERT INTO hub_instance_prices (hub, name, per_hour, pos) VALUES (?, ?, ?, ?)`,
				ps.Hub, ip.Name, ip.PerHour, i); err != nil {
				return constraint(err, "put price sheet", nil, func() error { return hubNotFound(ps.Hub) })
			}
		}
		return nil
	})
}
