package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// ownerColumns are the values of the project and hub columns of o (one of
// them NULL), or an Invalid error for an unknown scope.
func ownerColumns(o store.Owner) (project, hub any, err error) {
	switch o.Scope {
	case store.ScopeProject:
		return o.Name, nil, nil
	case store.ScopeHub:
		return nil, o.Name, nil
	}
	return nil, nil, invalid("scope", "scope must be %q or %q, got %q", store.ScopeProject, store.ScopeHub, o.Scope)
}

// ownerWhere is the condition selecting o's rows of a budgets-like table.
func ownerWhere(o store.Owner) (string, []any, error) {
	if o == (store.Owner{}) {
		return "1 = 1", nil, nil
	}
	switch o.Scope {
	case store.ScopeProject:
		return "project = ?", []any{o.Name}, nil
	case store.ScopeHub:
		return "hub = ?", []any{o.Name}, nil
	}
	return "", nil, invalid("scope", "scope must be %q or %q, got %q", store.ScopeProject, store.ScopeHub, o.Scope)
}

// ownerExists returns ProjectNotFound or HubNotFound unless o exists.
func ownerExists(ctx context.Context, q querier, o store.Owner) error {
	if o.Scope == store.ScopeProject {
		_, err := projectHub(ctx, q, o.Name)
		return err
	}
	found, err := exists(ctx, q, `SELECT 1 FROM hubs WHERE name = ?`, o.Name)
	if err != nil || found {
		return err
	}
	return hubNotFound(o.Name)
}

// scanOwner makes an Owner of nullable project and hub columns.
func scanOwner(project, hub sql.NullString) store.Owner {
	if project.Valid {
		return store.Owner{Scope: store.ScopeProject, Name: project.String}
	}
	return store.Owner{Scope: store.ScopeHub, Name: hub.String}
}

func budgetNotFound(o store.Owner, name string) error {
	return notFound("BudgetNotFound", name, "budget %q does not exist in %s %q", name, o.Scope, o.Name)
}

func ruleNotFound(o store.Owner, name string) error {
	return notFound("AlertRuleNotFound", name, "alert rule %q does not exist in %s %q", name, o.Scope, o.Name)
}

func marshalJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode: %w", err)
	}
	return string(b), nil
}

// Budgets.

const budgetColumns = `id, project, hub, name, amount, thresholds, hard, webhooks, created_at, updated_at`

func scanBudget(row interface{ Scan(...any) error }) (store.Budget, error) {
	var b store.Budget
	var project, hub sql.NullString
	var thresholds, webhooks, created, updated string
	var hard int
	if err := row.Scan(&b.ID, &project, &hub, &b.Name, &b.Amount, &thresholds, &hard, &webhooks, &created, &updated); err != nil {
		return store.Budget{}, err
	}
	b.Owner = scanOwner(project, hub)
	b.Hard = hard == 1
	if err := json.Unmarshal([]byte(thresholds), &b.Thresholds); err != nil {
		return store.Budget{}, fmt.Errorf("sqlite: bad stored thresholds of budget %q: %w", b.Name, err)
	}
	if err := json.Unmarshal([]byte(webhooks), &b.Webhooks); err != nil {
		return store.Budget{}, fmt.Errorf("sqlite: bad stored webhooks of budget %q: %w", b.Name, err)
	}
	var err error
	if b.CreatedAt, err = parseTime(created); err != nil {
		return store.Budget{}, err
	}
	if b.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Budget{}, err
	}
	return b, nil
}

// CreateBudget stores a new budget.
func (s *Store) CreateBudget(ctx context.Context, b store.Budget) error {
	project, hub, err := ownerColumns(b.Owner)
	if err != nil {
		return err
	}
	if b.Amount <= 0 {
		return invalid("amount", "amount must be more than 0, got %v", b.Amount)
	}
	thresholds, err := marshalJSON(emptyIfNil(b.Thresholds))
	if err != nil {
		return err
	}
	webhooks, err := marshalJSON(emptyIfNil(b.Webhooks))
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := ownerExists(ctx, tx, b.Owner); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO budgets (project, hub, name, amount, thresholds, hard, webhooks, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, project, hub, b.Name, b.Amount, thresholds, boolInt(b.Hard), webhooks,
			formatTime(b.CreatedAt), formatTime(b.UpdatedAt))
		if err != nil {
			return constraint(err, "create budget",
				func() error {
					return alreadyExists(b.Name, "budget %q already exists in %s %q", b.Name, b.Owner.Scope, b.Owner.Name)
				},
				func() error { return ownerExists(ctx, tx, b.Owner) })
		}
		return nil
	})
}

// GetBudget returns one budget.
func (s *Store) GetBudget(ctx context.Context, o store.Owner, name string) (store.Budget, error) {
	return budgetTable.get(ctx, s.reader, o, name)
}

// ListBudgets returns an owner's budgets, or every budget.
func (s *Store) ListBudgets(ctx context.Context, o store.Owner) ([]store.Budget, error) {
	return budgetTable.list(ctx, s.reader, o)
}

// UpdateBudget replaces a budget's definition; a new amount or new
// thresholds forget its firings.
func (s *Store) UpdateBudget(ctx context.Context, b store.Budget) error {
	where, args, err := ownerWhere(b.Owner)
	if err != nil {
		return err
	}
	if b.Amount <= 0 {
		return invalid("amount", "amount must be more than 0, got %v", b.Amount)
	}
	thresholds, err := marshalJSON(emptyIfNil(b.Thresholds))
	if err != nil {
		return err
	}
	webhooks, err := marshalJSON(emptyIfNil(b.Webhooks))
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		old, err := scanBudget(tx.QueryRowContext(ctx, `SELECT `+budgetColumns+` FROM budgets WHERE `+where+` AND name = ?`,
			append(args, b.Name)...))
		if errors.Is(err, sql.ErrNoRows) {
			if err := ownerExists(ctx, tx, b.Owner); err != nil {
				return err
			}
			return budgetNotFound(b.Owner, b.Name)
		}
		if err != nil {
			return fmt.Errorf("sqlite: update budget %q: %w", b.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE budgets SET amount = ?, thresholds = ?, hard = ?, webhooks = ?, updated_at = ?
			WHERE id = ?`, b.Amount, thresholds, boolInt(b.Hard), webhooks, formatTime(b.UpdatedAt), old.ID); err != nil {
			return fmt.Errorf("sqlite: update budget %q: %w", b.Name, err)
		}
		if old.Amount != b.Amount || !slices.Equal(old.Thresholds, b.Thresholds) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM budget_firings WHERE budget_id = ?`, old.ID); err != nil {
				return fmt.Errorf("sqlite: re-arm budget %q: %w", b.Name, err)
			}
		}
		return nil
	})
}

// DeleteBudget deletes a budget and its firings.
func (s *Store) DeleteBudget(ctx context.Context, o store.Owner, name string) error {
	return s.deleteOwned(ctx, "budgets", o, name, budgetNotFound)
}

// deleteOwned deletes the row named name of o from table.
func (s *Store) deleteOwned(ctx context.Context, table string, o store.Owner, name string, missing func(store.Owner, string) error) error {
	where, args, err := ownerWhere(o)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+where+` AND name = ?`, append(args, name)...)
		if err != nil {
			return fmt.Errorf("sqlite: delete from %s %q: %w", table, name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete from %s %q: %w", table, name, err)
		}
		if n == 0 {
			if err := ownerExists(ctx, tx, o); err != nil {
				return err
			}
			return missing(o, name)
		}
		return nil
	})
}

// ownedTable is a table of rows named within an owner (budgets, alert
// rules): how to read its rows and name them in errors.
type ownedTable[T any] struct {
	table, columns string
	one, many      string // "budget", "budgets" in error messages
	scan           func(row interface{ Scan(...any) error }) (T, error)
	missing        func(store.Owner, string) error
}

var (
	budgetTable = ownedTable[store.Budget]{table: "budgets", columns: budgetColumns,
		one: "budget", many: "budgets", scan: scanBudget, missing: budgetNotFound}
	ruleTable = ownedTable[store.AlertRule]{table: "alert_rules", columns: ruleColumns,
		one: "alert rule", many: "alert rules", scan: scanRule, missing: ruleNotFound}
)

// get returns the row named name of o.
func (t ownedTable[T]) get(ctx context.Context, q querier, o store.Owner, name string) (T, error) {
	var zero T
	where, args, err := ownerWhere(o)
	if err != nil {
		return zero, err
	}
	v, err := t.scan(q.QueryRowContext(ctx, `SELECT `+t.columns+` FROM `+t.table+` WHERE `+where+` AND name = ?`,
		append(args, name)...))
	if errors.Is(err, sql.ErrNoRows) {
		if err := ownerExists(ctx, q, o); err != nil {
			return zero, err
		}
		return zero, t.missing(o, name)
	}
	if err != nil {
		return zero, fmt.Errorf("sqlite: get %s %q: %w", t.one, name, err)
	}
	return v, nil
}

// list returns o's rows, or every row when o is zero.
func (t ownedTable[T]) list(ctx context.Context, q querier, o store.Owner) ([]T, error) {
	where, args, err := ownerWhere(o)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT `+t.columns+` FROM `+t.table+` WHERE `+where+
		` ORDER BY project IS NULL, project, hub, name`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", t.many, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := t.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s: %w", t.many, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s: %w", t.many, err)
	}
	if len(out) == 0 && o != (store.Owner{}) {
		if err := ownerExists(ctx, q, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecordBudgetFiring stores a firing with its event and deliveries unless
// it was stored before.
func (s *Store) RecordBudgetFiring(ctx context.Context, f store.BudgetFiring, ev store.AlertEvent, ds []store.Delivery) (bool, error) {
	var fresh bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO budget_firings (budget_id, period, threshold, spend, fired_at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM budgets WHERE id = ?)
			ON CONFLICT (budget_id, period, threshold) DO NOTHING`,
			f.BudgetID, f.Period, f.Threshold, f.Spend, formatTime(f.Time), f.BudgetID)
		if err != nil {
			return fmt.Errorf("sqlite: record budget firing: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: record budget firing: %w", err)
		}
		if n == 0 {
			return nil // fired before, or the budget is gone
		}
		fresh = true
		return addEvent(ctx, tx, ev, ds)
	})
	return fresh, err
}

// ListBudgetFirings returns a budget's firings, oldest first.
func (s *Store) ListBudgetFirings(ctx context.Context, budgetID int64, period string) ([]store.BudgetFiring, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT budget_id, period, threshold, spend, fired_at FROM budget_firings
		WHERE budget_id = ? AND (? = '' OR period = ?) ORDER BY period, threshold`, budgetID, period, period)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list budget firings: %w", err)
	}
	defer rows.Close()
	var out []store.BudgetFiring
	for rows.Next() {
		var f store.BudgetFiring
		var at string
		if err := rows.Scan(&f.BudgetID, &f.Period, &f.Threshold, &f.Spend, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list budget firings: %w", err)
		}
		if f.Time, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list budget firings: %w", err)
	}
	return out, nil
}

// addEvent stores ev and its deliveries.
func addEvent(ctx context.Context, tx *sql.Tx, ev store.AlertEvent, ds []store.Delivery) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO alert_events (scope, owner, type, name, deployment, metric, value, threshold,
		period, message, at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.Owner.Scope, ev.Owner.Name, ev.Type, ev.Name,
		ev.Deployment, ev.Metric, ev.Value, ev.Threshold, ev.Period, ev.Message, unixNano(ev.Time))
	if err != nil {
		return fmt.Errorf("sqlite: add alert event: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlite: add alert event: %w", err)
	}
	for _, d := range ds {
		state := d.State
		if state == "" {
			state = store.DeliveryPending
		}
		created := d.CreatedAt
		if created.IsZero() {
			created = ev.Time
		}
		next := d.NextAt
		if next.IsZero() {
			next = created
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (event_id, scope, owner, url, secret, type, body, state,
			attempts, status_code, error, next_at_ns, created_at_ns, updated_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, d.Owner.Scope, d.Owner.Name, d.URL, d.Secret, d.Type, d.Body, state, d.Attempts, d.StatusCode, d.Error,
			unixNano(next), unixNano(created), unixNano(created)); err != nil {
			return fmt.Errorf("sqlite: add webhook delivery: %w", err)
		}
	}
	return nil
}

// Alert rules.

const ruleColumns = `id, project, hub, name, deployment, metric, comparator, threshold, window_ns, cooldown_ns, webhooks,
	state, state_since, last_fired, last_value, created_at, updated_at`

func scanRule(row interface{ Scan(...any) error }) (store.AlertRule, error) {
	var r store.AlertRule
	var project, hub sql.NullString
	var window, cooldown int64
	var webhooks, since, fired, created, updated string
	if err := row.Scan(&r.ID, &project, &hub, &r.Name, &r.Deployment, &r.Metric, &r.Comparator, &r.Threshold, &window, &cooldown,
		&webhooks, &r.State, &since, &fired, &r.LastValue, &created, &updated); err != nil {
		return store.AlertRule{}, err
	}
	r.Owner = scanOwner(project, hub)
	r.Window, r.Cooldown = time.Duration(window), time.Duration(cooldown)
	if err := json.Unmarshal([]byte(webhooks), &r.Webhooks); err != nil {
		return store.AlertRule{}, fmt.Errorf("sqlite: bad stored webhooks of rule %q: %w", r.Name, err)
	}
	var err error
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{since, &r.StateSince}, {created, &r.CreatedAt}, {updated, &r.UpdatedAt}, {fired, &r.LastFired}} {
		if t.s == "" {
			continue
		}
		if *t.dst, err = parseTime(t.s); err != nil {
			return store.AlertRule{}, err
		}
	}
	return r, nil
}

// CreateAlertRule stores a new rule in state ok.
func (s *Store) CreateAlertRule(ctx context.Context, r store.AlertRule) error {
	project, hub, err := ownerColumns(r.Owner)
	if err != nil {
		return err
	}
	if r.Window <= 0 {
		return invalid("window", "window must be positive, got %s", r.Window)
	}
	webhooks, err := marshalJSON(emptyIfNil(r.Webhooks))
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := ownerExists(ctx, tx, r.Owner); err != nil {
			return err
		}
		created := formatTime(r.CreatedAt)
		_, err := tx.ExecContext(ctx, `INSERT INTO alert_rules (project, hub, name, deployment, metric, comparator, threshold,
			window_ns, cooldown_ns, webhooks, state, state_since, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)`, project, hub, r.Name, r.Deployment, r.Metric, r.Comparator,
			r.Threshold, int64(r.Window), int64(r.Cooldown), webhooks, created, created, formatTime(r.UpdatedAt))
		if err != nil {
			return constraint(err, "create alert rule",
				func() error {
					return alreadyExists(r.Name, "alert rule %q already exists in %s %q", r.Name, r.Owner.Scope, r.Owner.Name)
				},
				func() error { return ownerExists(ctx, tx, r.Owner) })
		}
		return nil
	})
}

// GetAlertRule returns one rule.
func (s *Store) GetAlertRule(ctx context.Context, o store.Owner, name string) (store.AlertRule, error) {
	return ruleTable.get(ctx, s.reader, o, name)
}

// ListAlertRules returns an owner's rules, or every rule.
func (s *Store) ListAlertRules(ctx context.Context, o store.Owner) ([]store.AlertRule, error) {
	return ruleTable.list(ctx, s.reader, o)
}

// UpdateAlertRule replaces a rule's definition, keeping its state.
func (s *Store) UpdateAlertRule(ctx context.Context, r store.AlertRule) error {
	where, args, err := ownerWhere(r.Owner)
	if err != nil {
		return err
	}
	if r.Window <= 0 {
		return invalid("window", "window must be positive, got %s", r.Window)
	}
	webhooks, err := marshalJSON(emptyIfNil(r.Webhooks))
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alert_rules SET deployment = ?, metric = ?, comparator = ?, threshold = ?,
			window_ns = ?, cooldown_ns = ?, webhooks = ?, updated_at = ? WHERE `+where+` AND name = ?`,
			append([]any{r.Deployment, r.Metric, r.Comparator, r.Threshold, int64(r.Window), int64(r.Cooldown), webhooks,
				formatTime(r.UpdatedAt)}, append(args, r.Name)...)...)
		if err != nil {
			return fmt.Errorf("sqlite: update alert rule %q: %w", r.Name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: update alert rule %q: %w", r.Name, err)
		}
		if n == 0 {
			if err := ownerExists(ctx, tx, r.Owner); err != nil {
				return err
			}
			return ruleNotFound(r.Owner, r.Name)
		}
		return nil
	})
}

// DeleteAlertRule deletes a rule.
func (s *Store) DeleteAlertRule(ctx context.Context, o store.Owner, name string) error {
	return s.deleteOwned(ctx, "alert_rules", o, name, ruleNotFound)
}

// TransitionAlertRule changes a rule's state if it is still in state from,
// storing the event and deliveries with it.
func (s *Store) TransitionAlertRule(ctx context.Context, id int64, from string, st store.AlertState, ev store.AlertEvent, ds []store.Delivery) (bool, error) {
	var done bool
	fired := ""
	if !st.LastFired.IsZero() {
		fired = formatTime(st.LastFired)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE alert_rules SET state = ?, state_since = ?, last_fired = ?, last_value = ?
			WHERE id = ? AND state = ?`, st.State, formatTime(st.StateSince), fired, st.LastValue, id, from)
		if err != nil {
			return constraint(err, "transition alert rule", nil, nil)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: transition alert rule: %w", err)
		}
		if n == 0 {
			return nil
		}
		done = true
		return addEvent(ctx, tx, ev, ds)
	})
	return done, err
}

// History and deliveries.

func limitOf(n int) int {
	switch {
	case n <= 0:
		return store.DefaultAlertLimit
	case n > store.MaxAlertLimit:
		return store.MaxAlertLimit
	}
	return n
}

// ListAlertEvents returns an owner's history, newest first.
func (s *Store) ListAlertEvents(ctx context.Context, q store.AlertEventQuery) ([]store.AlertEvent, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, scope, owner, type, name, deployment, metric, value, threshold, period,
		message, at_ns FROM alert_events WHERE scope = ? AND owner = ? ORDER BY id DESC LIMIT ?`,
		q.Owner.Scope, q.Owner.Name, limitOf(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list alert events: %w", err)
	}
	defer rows.Close()
	var out []store.AlertEvent
	for rows.Next() {
		var e store.AlertEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.Owner.Scope, &e.Owner.Name, &e.Type, &e.Name, &e.Deployment, &e.Metric, &e.Value,
			&e.Threshold, &e.Period, &e.Message, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list alert events: %w", err)
		}
		e.Time = time.Unix(0, at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list alert events: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, event_id, scope, owner, url, secret, type, body, state, attempts, status_code, error,
	next_at_ns, created_at_ns, updated_at_ns`

func scanDeliveries(rows *sql.Rows) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		var next, created, updated int64
		if err := rows.Scan(&d.ID, &d.EventID, &d.Owner.Scope, &d.Owner.Name, &d.URL, &d.Secret, &d.Type, &d.Body, &d.State,
			&d.Attempts, &d.StatusCode, &d.Error, &next, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
		}
		d.NextAt, d.CreatedAt, d.UpdatedAt = time.Unix(0, next).UTC(), time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	return out, nil
}

// DueDeliveries returns pending deliveries due at now.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE state = 'pending' AND next_at_ns <= ? ORDER BY next_at_ns, id LIMIT ?`, unixNano(now), limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: due webhook deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// UpdateDelivery records the outcome of an attempt.
func (s *Store) UpdateDelivery(ctx context.Context, d store.Delivery) error {
	switch d.State {
	case store.DeliveryPending, store.DeliveryDelivered, store.DeliveryFailed:
	default:
		return invalid("state", "delivery state must be pending, delivered or failed, got %q", d.State)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, status_code = ?, error = ?,
			next_at_ns = ?, updated_at_ns = ? WHERE id = ?`, d.State, d.Attempts, d.StatusCode, d.Error, unixNano(d.NextAt),
			unixNano(d.UpdatedAt), d.ID)
		if err != nil {
			return fmt.Errorf("sqlite: update webhook delivery %d: %w", d.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("sqlite: update webhook delivery %d: %w", d.ID, err)
			}
			return notFound("DeliveryNotFound", fmt.Sprint(d.ID), "webhook delivery %d does not exist", d.ID)
		}
		return nil
	})
}

// ListDeliveries returns an owner's deliveries, newest first.
func (s *Store) ListDeliveries(ctx context.Context, q store.DeliveryQuery) ([]store.Delivery, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE scope = ? AND owner = ? ORDER BY id DESC LIMIT ?`, q.Owner.Scope, q.Owner.Name, limitOf(q.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook deliveries: %w", err)
	}
	return scanDeliveries(rows)
}

// emptyIfNil is s, or an empty slice when s is nil (so JSON says []).
func emptyIfNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
