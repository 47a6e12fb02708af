package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/apikey"
	"github.com/cerulean-ai/cerulean/internal/project"
)

// CreateProject stores a project and its two keys, which must fill slots
// key1 and key2 (in either order) and belong to the project or name none.
func (s *Store) CreateProject(ctx context.Context, p project.Project, keys [2]apikey.Key) error {
	for _, k := range keys {
		if k.Project != "" && k.Project != p.Name {
			return invalid("keys", "key %s belongs to project %q, not %q", k.Slot, k.Project, p.Name)
		}
		if k.Slot != apikey.Key1 && k.Slot != apikey.Key2 {
			return invalid("keys", "key slot %d is unknown: want 1 or 2", int(k.Slot))
		}
	}
	if keys[0].Slot == keys[1].Slot {
		return invalid("keys", "both keys are %s: a project needs key1 and key2", keys[0].Slot)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, p.Hub)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(p.Hub)
		}
		found, err = exists(ctx, tx, `SELECT 1 FROM projects WHERE name = ?`, p.Name)
		if err != nil {
			return err
		}
		if found {
			return alreadyExists(p.Name, "project %q already exists", p.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO projects (name, hub, region, description, created_at) VALUES (?, ?, ?, ?, ?)`,
			p.Name, p.Hub, p.Region, p.Description, formatTime(p.CreatedAt)); err != nil {
			return constraint(err, "create project",
				func() error { return alreadyExists(p.Name, "project %q already exists", p.Name) },
				func() error { return hubNotFound(p.Hub) })
		}
		for _, k := range keys {
			k.Project = p.Name
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (project, slot, hash, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
				p.Name, int(k.Slot), k.Hash[:], nonNil(k.Sealed), formatTime(k.CreatedAt)); err != nil {
				return constraint(err, "store project key", func() error { return duplicateKey(k) }, nil)
			}
		}
		return nil
	})
}

// duplicateKey is the error for a key whose hash another key has.
func duplicateKey(k apikey.Key) error {
	return alreadyExists(k.Slot.String(), "key %s of project %q: another key has the same hash (id %s); generate a new key", k.Slot, k.Project, k.Hash.ID())
}

// nonNil returns b, or an empty slice for nil, since SQLite stores nil as
// NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const projectColumns = `name, hub, region, description, created_at`

// scanProject reads a row of projectColumns.
func scanProject(row interface{ Scan(...any) error }) (project.Project, error) {
	var p project.Project
	var created string
	if err := row.Scan(&p.Name, &p.Hub, &p.Region, &p.Description, &created); err != nil {
		return project.Project{}, err
	}
	var err error
	if p.CreatedAt, err = parseTime(created); err != nil {
		return project.Project{}, err
	}
	return p, nil
}

// GetProject returns the project named name.
func (s *Store) GetProject(ctx context.Context, name string) (project.Project, error) {
	p, err := scanProject(s.reader.QueryRowContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return project.Project{}, projectNotFound(name)
	}
	if err != nil {
		return project.Project{}, fmt.Errorf("sqlite: get project %q: %w", name, err)
	}
	return p, nil
}

// ListProjects returns the projects of hub hubName, or of every hub when
// hubName is "", by name. A hub that does not exist is an error.
func (s *Store) ListProjects(ctx context.Context, hubName string) ([]project.Project, error) {
	var ps []project.Project
	err := s.read(ctx, func(tx *sql.Tx) error {
		if hubName != "" {
			found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, hubName)
			if err != nil {
				return err
			}
			if !found {
				return hubNotFound(hubName)
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+projectColumns+` FROM projects WHERE ? = '' OR hub = ? ORDER BY name`, hubName, hubName)
		if err != nil {
			return fmt.Errorf("sqlite: list projects: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanProject(rows)
			if err != nil {
				return fmt.Errorf("sqlite: list projects: %w", err)
			}
			ps = append(ps, p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list projects: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ps, nil
}

// DeleteProject deletes a project with its keys and deployments, which
// releases the quota they held.
func (s *Store) DeleteProject(ctx context.Context, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE name = ?`, name)
		if err != nil {
			return fmt.Errorf("sqlite: delete project %q: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete project %q: %w", name, err)
		}
		if n == 0 {
			return projectNotFound(name)
		}
		return nil
	})
}

const keyColumns = `project, slot, hash, sealed, created_at`

// scanKey reads a row of keyColumns.
func scanKey(row interface{ Scan(...any) error }) (apikey.Key, error) {
	var k apikey.Key
	var slot int
	var hash []byte
	var created string
	if err := row.Scan(&k.Project, &slot, &hash, &k.Sealed, &created); err != nil {
		return apikey.Key{}, err
	}
	if len(hash) != len(k.Hash) {
		return apikey.Key{}, fmt.Errorf("stored key hash of project %q slot %d has %d bytes, want %d", k.Project, slot, len(hash), len(k.Hash))
	}
	k.Slot = apikey.Slot(slot)
	copy(k.Hash[:], hash)
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return apikey.Key{}, err
	}
	return k, nil
}

// ListKeys returns the project's keys, key1 then key2.
func (s *Store) ListKeys(ctx context.Context, projectName string) ([]apikey.Key, error) {
	var keys []apikey.Key
	err := s.read(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM projects WHERE name = ?`, projectName)
		if err != nil {
			return err
		}
		if !found {
			return projectNotFound(projectName)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE project = ? ORDER BY slot`, projectName)
		if err != nil {
			return fmt.Errorf("sqlite: list keys of %q: %w", projectName, err)
		}
		defer rows.Close()
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				return fmt.Errorf("sqlite: list keys of %q: %w", projectName, err)
			}
			keys = append(keys, k)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list keys of %q: %w", projectName, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// ReplaceKey replaces the key in k's project and slot; the other slot's
// key keeps working.
func (s *Store) ReplaceKey(ctx context.Context, k apikey.Key) error {
	if k.Slot != apikey.Key1 && k.Slot != apikey.Key2 {
		return invalid("keyName", "key slot %d is unknown: want key1 or key2", int(k.Slot))
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM projects WHERE name = ?`, k.Project)
		if err != nil {
			return err
		}
		if !found {
			return projectNotFound(k.Project)
		}
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET hash = ?, sealed = ?, created_at = ? WHERE project = ? AND slot = ?`,
			k.Hash[:], nonNil(k.Sealed), formatTime(k.CreatedAt), k.Project, int(k.Slot))
		if err != nil {
			return constraint(err, "replace key", func() error { return duplicateKey(k) }, nil)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: replace key: %w", err)
		}
		if n == 0 {
			return notFound("KeyNotFound", k.Slot.String(), "project %q has no %s", k.Project, k.Slot)
		}
		return nil
	})
}

// FindKey returns the key with hash h.
func (s *Store) FindKey(ctx context.Context, h apikey.Hash) (apikey.Key, error) {
	k, err := scanKey(s.reader.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, h[:]))
	if errors.Is(err, sql.ErrNoRows) {
		// The message names no part of the hash: it answers a guess.
		return apikey.Key{}, notFound("KeyNotFound", "", "no project has this key")
	}
	if err != nil {
		return apikey.Key{}, fmt.Errorf("sqlite: find key: %w", err)
	}
	return k, nil
}
