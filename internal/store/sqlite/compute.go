package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cerulean-ai/cerulean/internal/hub"
)

// ListInstanceTypes returns hub hubName's instance types by position.
func (s *Store) ListInstanceTypes(ctx context.Context, hubName string) ([]hub.InstanceType, error) {
	var out []hub.InstanceType
	err := s.read(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, hubName)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(hubName)
		}
		rows, err := tx.QueryContext(ctx, `SELECT name, threads, memory_mb, price_per_hour FROM instance_types
			WHERE hub = ? ORDER BY pos, name`, hubName)
		if err != nil {
			return fmt.Errorf("sqlite: list instance types of hub %q: %w", hubName, err)
		}
		defer rows.Close()
		for rows.Next() {
			var it hub.InstanceType
			if err := rows.Scan(&it.Name, &it.Threads, &it.MemoryMB, &it.PricePerHour); err != nil {
				return fmt.Errorf("sqlite: list instance types of hub %q: %w", hubName, err)
			}
			out = append(out, it)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list instance types of hub %q: %w", hubName, err)
		}
		return nil
	})
	return out, err
}

// PutInstanceType adds it at the end of hub hubName's list or replaces the
// instance type of that name in place.
func (s *Store) PutInstanceType(ctx context.Context, hubName string, it hub.InstanceType) (bool, error) {
	if err := it.Validate(); err != nil {
		return false, err
	}
	var created bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, hubName)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(hubName)
		}
		created, err = exists(ctx, tx, `SELECT 1 FROM instance_types WHERE hub = ? AND name = ?`, hubName, it.Name)
		if err != nil {
			return err
		}
		created = !created
		if _, err := tx.ExecContext(ctx, `INSERT INTO instance_types (hub, name, threads, memory_mb, price_per_hour, pos)
			VALUES (?, ?, ?, ?, ?, (SELECT COALESCE(MAX(pos), -1) + 1 FROM instance_types WHERE hub = ?))
			ON CONFLICT (hub, name) DO UPDATE SET threads = excluded.threads, memory_mb = excluded.memory_mb,
				price_per_hour = excluded.price_per_hour`,
			hubName, it.Name, it.Threads, it.MemoryMB, it.PricePerHour, hubName); err != nil {
			return fmt.Errorf("sqlite: put instance type %q of hub %q: %w", it.Name, hubName, err)
		}
		return nil
	})
	return created, err
}
