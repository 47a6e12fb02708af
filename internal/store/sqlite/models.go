package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cerulean-ai/cerulean/internal/catalog"
)

// CreateModel stores a new catalog model.
func (s *Store) CreateModel(ctx context.Context, m catalog.Model) error {
	versions, err := encodeVersions(m.Versions)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM models WHERE name = ?`, m.Name)
		if err != nil {
			return err
		}
		if found {
			return alreadyExists(m.Name, "model %q already exists", m.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO models (name, description, default_version, versions, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			m.Name, m.Description, m.DefaultVersion, versions, formatTime(m.CreatedAt), formatTime(m.UpdatedAt)); err != nil {
			return constraint(err, "create model", func() error { return alreadyExists(m.Name, "model %q already exists", m.Name) }, nil)
		}
		return nil
	})
}

// encodeVersions writes versions as JSON, with their times in UTC.
func encodeVersions(vs []catalog.Version) (string, error) {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	if vs != nil {
		vs = append([]catalog.Version(nil), vs...)
	}
	for i := range vs {
		vs[i].DeprecationAt = utc(vs[i].DeprecationAt)
		vs[i].RetirementAt = utc(vs[i].RetirementAt)
	}
	b, err := json.Marshal(vs)
	if err != nil {
		return "", fmt.Errorf("sqlite: encode model versions: %w", err)
	}
	return string(b), nil
}

const modelColumns = `name, description, default_version, versions, created_at, updated_at`

// scanModel reads a row of modelColumns.
func scanModel(row interface{ Scan(...any) error }) (catalog.Model, error) {
	var m catalog.Model
	var versions, created, updated string
	if err := row.Scan(&m.Name, &m.Description, &m.DefaultVersion, &versions, &created, &updated); err != nil {
		return catalog.Model{}, err
	}
	if err := json.Unmarshal([]byte(versions), &m.Versions); err != nil {
		return catalog.Model{}, fmt.Errorf("stored versions of model %q: %w", m.Name, err)
	}
	var err error
	if m.CreatedAt, err = parseTime(created); err != nil {
		return catalog.Model{}, err
	}
	if m.UpdatedAt, err = parseTime(updated); err != nil {
		return catalog.Model{}, err
	}
	return m, nil
}

// GetModel returns the model named name.
func (s *Store) GetModel(ctx context.Context, name string) (catalog.Model, error) {
	m, err := scanModel(s.reader.QueryRowContext(ctx, `SELECT `+modelColumns+` FROM models WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Model{}, modelNotFound(name)
	}
	if err != nil {
		return catalog.Model{}, fmt.Errorf("sqlite: get model %q: %w", name, err)
	}
	return m, nil
}

// ListModels returns every model, by name.
func (s *Store) ListModels(ctx context.Context) ([]catalog.Model, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+modelColumns+` FROM models ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list models: %w", err)
	}
	defer rows.Close()
	var ms []catalog.Model
	for rows.Next() {
		m, err := scanModel(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list models: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list models: %w", err)
	}
	return ms, nil
}

// UpdateModel replaces the model's description, default version and
// versions, and sets UpdatedAt (now when zero). CreatedAt is kept.
func (s *Store) UpdateModel(ctx context.Context, m catalog.Model) error {
	versions, err := encodeVersions(m.Versions)
	if err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE models SET description = ?, default_version = ?, versions = ?, updated_at = ? WHERE name = ?`,
			m.Description, m.DefaultVersion, versions, formatTime(m.UpdatedAt), m.Name)
		if err != nil {
			return fmt.Errorf("sqlite: update model %q: %w", m.Name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: update model %q: %w", m.Name, err)
		}
		if n == 0 {
			return modelNotFound(m.Name)
		}
		return nil
	})
}

// DeleteModel deletes a model that no deployment uses.
func (s *Store) DeleteModel(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM models WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if !found {
			return modelNotFound(name)
		}
		n, err := count(ctx, tx, `SELECT count(*) FROM deployments WHERE model = ?`, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return inUse(name, "model %q is used by %s; delete %s first", name, plural(n, "deployment"), them(n))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM models WHERE name = ?`, name); err != nil {
			return constraint(err, "delete model", nil, func() error {
				return inUse(name, "model %q is used by deployments; delete them first", name)
			})
		}
		return nil
	})
}
