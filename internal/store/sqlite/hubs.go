package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/hub"
)

// CreateHub stores a new hub and its quotas.
func (s *Store) CreateHub(ctx context.Context, h hub.Hub) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, h.Name)
		if err != nil {
			return err
		}
		if found {
			return alreadyExists(h.Name, "hub %q already exists", h.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO hubs (name, description, created_at) VALUES (?, ?, ?)`,
			h.Name, h.Description, formatTime(h.CreatedAt)); err != nil {
			return constraint(err, "create hub", func() error { return alreadyExists(h.Name, "hub %q already exists", h.Name) }, nil)
		}
		return insertQuotas(ctx, tx, h)
	})
}

// insertQuotas writes h's quota rows, keeping their order.
func insertQuotas(ctx context.Context, tx *sql.Tx, h hub.Hub) error {
	for i, q := range h.Quotas {
		if _, err := tx.ExecContext(ctx, `INSERT INTO hub_quotas (hub, model, sku, quota_limit, pos) VALUES (?, ?, ?, ?, ?)`,
			h.Name, q.Model, q.SKU, q.Limit, i); err != nil {
			return constraint(err, "store hub quotas", func() error {
				return invalid("quotas", "quotas has model %q sku %q twice", q.Model, q.SKU)
			}, nil)
		}
	}
	return nil
}

// GetHub returns the hub named name with its quotas.
func (s *Store) GetHub(ctx context.Context, name string) (hub.Hub, error) {
	var h hub.Hub
	err := s.read(ctx, func(tx *sql.Tx) error {
		var created string
		err := tx.QueryRowContext(ctx, `SELECT name, description, created_at FROM hubs WHERE name = ?`, name).
			Scan(&h.Name, &h.Description, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return hubNotFound(name)
		}
		if err != nil {
			return fmt.Errorf("sqlite: get hub %q: %w", name, err)
		}
		if h.CreatedAt, err = parseTime(created); err != nil {
			return err
		}
		quotas, err := readQuotas(ctx, tx, name)
		if err != nil {
			return err
		}
		h.Quotas = quotas[name]
		return nil
	})
	if err != nil {
		return hub.Hub{}, err
	}
	return h, nil
}

// readQuotas reads the quotas of hub name, or of every hub when name is "",
// by hub name.
func readQuotas(ctx context.Context, q querier, name string) (map[string][]hub.QuotaLimit, error) {
	rows, err := q.QueryContext(ctx, `SELECT hub, model, sku, quota_limit FROM hub_quotas
		WHERE ? = '' OR hub = ? ORDER BY hub, pos`, name, name)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read hub quotas: %w", err)
	}
	defer rows.Close()
	out := map[string][]hub.QuotaLimit{}
	for rows.Next() {
		var h string
		var l hub.QuotaLimit
		if err := rows.Scan(&h, &l.Model, &l.SKU, &l.Limit); err != nil {
			return nil, fmt.Errorf("sqlite: read hub quotas: %w", err)
		}
		out[h] = append(out[h], l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read hub quotas: %w", err)
	}
	return out, nil
}

// ListHubs returns every hub, by name.
func (s *Store) ListHubs(ctx context.Context) ([]hub.Hub, error) {
	var hubs []hub.Hub
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name, description, created_at FROM hubs ORDER BY name`)
		if err != nil {
			return fmt.Errorf("sqlite: list hubs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var h hub.Hub
			var created string
			if err := rows.Scan(&h.Name, &h.Description, &created); err != nil {
				return fmt.Errorf("sqlite: list hubs: %w", err)
			}
			if h.CreatedAt, err = parseTime(created); err != nil {
				return err
			}
			hubs = append(hubs, h)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list hubs: %w", err)
		}
		quotas, err := readQuotas(ctx, tx, "")
		if err != nil {
			return err
		}
		for i := range hubs {
			hubs[i].Quotas = quotas[hubs[i].Name]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hubs, nil
}

// UpdateHub replaces the hub's description and quotas. Lowering a limit
// below what deployments hold is allowed: it refuses new capacity only.
func (s *Store) UpdateHub(ctx context.Context, h hub.Hub) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE hubs SET description = ? WHERE name = ?`, h.Description, h.Name)
		if err != nil {
			return fmt.Errorf("sqlite: update hub %q: %w", h.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: update hub %q: %w", h.Name, err)
		} else if n == 0 {
			return hubNotFound(h.Name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hub_quotas WHERE hub = ?`, h.Name); err != nil {
			return fmt.Errorf("sqlite: update hub %q: %w", h.Name, err)
		}
		return insertQuotas(ctx, tx, h)
	})
}

// DeleteHub deletes a hub that has no projects.
func (s *Store) DeleteHub(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(name)
		}
		n, err := count(ctx, tx, `SELECT count(*) FROM projects WHERE hub = ?`, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return inUse(name, "hub %q is used by %s; delete %s first", name, plural(n, "project"), them(n))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hubs WHERE name = ?`, name); err != nil {
			return constraint(err, "delete hub", nil, func() error { return inUse(name, "hub %q is used by projects; delete them first", name) })
		}
		return nil
	})
}
