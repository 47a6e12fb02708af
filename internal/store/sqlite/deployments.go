package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cerulean-ai/cerulean/internal/deployment"
	"github.com/cerulean-ai/cerulean/internal/hub"
	"github.com/cerulean-ai/cerulean/internal/quota"
)

// CreateDeployment stores a new deployment after checking, in the same
// write transaction, that its capacity fits in its hub's quota for its
// model and SKU. A quota shortfall is quota.Check's error, unchanged.
func (s *Store) CreateDeployment(ctx context.Context, d deployment.Deployment) error {
	if d.Capacity < 0 {
		return invalid("sku.capacity", "capacity must be 0 or more, got %d", d.Capacity)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		hubName, err := projectHub(ctx, tx, d.Project)
		if err != nil {
			return err
		}
		if err := modelExists(ctx, tx, d.Model); err != nil {
			return err
		}
		found, err := exists(ctx, tx, `SELECT 1 FROM deployments WHERE project = ? AND name = ?`, d.Project, d.Name)
		if err != nil {
			return err
		}
		if found {
			return alreadyExists(d.Name, "deployment %q already exists in project %q", d.Name, d.Project)
		}
		if err := checkQuota(ctx, tx, hubName, d); err != nil {
			return err
		}
		created := formatTime(d.CreatedAt)
		updated := created
		if !d.UpdatedAt.IsZero() {
			updated = formatTime(d.UpdatedAt)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deployments (project, name, model, version, sku, capacity,
			version_upgrade_option, rai_policy, state, reason, created_at, updated_at, instance_type, scale_to_zero)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Project, d.Name, d.Model, d.Version, d.SKU, d.Capacity,
			d.VersionUpgradeOption, d.RAIPolicy, d.State, d.Reason, created, updated, d.InstanceType, d.ScaleToZero); err != nil {
			return constraint(err, "create deployment",
				func() error {
					return alreadyExists(d.Name, "deployment %q already exists in project %q", d.Name, d.Project)
				},
				func() error {
					return fmt.Errorf("sqlite: create deployment %q: project or model vanished: %w", d.Name, err)
				})
		}
		return nil
	})
}

// projectHub returns the hub of project name.
func projectHub(ctx context.Context, q querier, name string) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hub FROM projects WHERE name = ?`, name).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", projectNotFound(name)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: get project %q: %w", name, err)
	}
	return h, nil
}

// modelExists returns a ModelNotFound error unless model name exists.
func modelExists(ctx context.Context, q querier, name string) error {
	found, err := exists(ctx, q, `SELECT 1 FROM models WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if !found {
		return modelNotFound(name)
	}
	return nil
}

// checkQuota checks that d's capacity fits in hub hubName's limit for d's
// model and SKU beside the capacity of the hub's other deployments of
// that model and SKU (in every state: a Deleting deployment holds its
// quota until its row is gone).
func checkQuota(ctx context.Context, tx *sql.Tx, hubName string, d deployment.Deployment) error {
	quotas, err := readQuotas(ctx, tx, hubName)
	if err != nil {
		return err
	}
	h := hub.Hub{Name: hubName, Quotas: quotas[hubName]}
	used, err := usage(ctx, tx, hubName, d.Model, d.SKU, d.Project, d.Name)
	if err != nil {
		return err
	}
	return quota.Check(d.Model, d.SKU, h.Limit(d.Model, d.SKU), used, d.Capacity)
}

// usage sums the capacity of hub hubName's deployments of model and sku,
// leaving out deployment exceptName of project exceptProject.
func usage(ctx context.Context, q querier, hubName, model, sku, exceptProject, exceptName string) (int, error) {
	var used int
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(d.capacity), 0)
		FROM deployments d JOIN projects p ON p.name = d.project
		WHERE p.hub = ? AND d.model = ? AND d.sku = ? AND NOT (d.project = ? AND d.name = ?)`,
		hubName, model, sku, exceptProject, exceptName).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("sqlite: quota usage of hub %q: %w", hubName, err)
	}
	return used, nil
}

const deploymentColumns = `project, name, model, version, sku, capacity, version_upgrade_option, rai_policy,
	state, reason, created_at, updated_at, instance_type, scale_to_zero`

// scanDeployment reads a row of deploymentColumns.
func scanDeployment(row interface{ Scan(...any) error }) (deployment.Deployment, error) {
	var d deployment.Deployment
	var created, updated string
	if err := row.Scan(&d.Project, &d.Name, &d.Model, &d.Version, &d.SKU, &d.Capacity, &d.VersionUpgradeOption,
		&d.RAIPolicy, &d.State, &d.Reason, &created, &updated, &d.InstanceType, &d.ScaleToZero); err != nil {
		return deployment.Deployment{}, err
	}
	var err error
	if d.CreatedAt, err = parseTime(created); err != nil {
		return deployment.Deployment{}, err
	}
	if d.UpdatedAt, err = parseTime(updated); err != nil {
		return deployment.Deployment{}, err
	}
	return d, nil
}

// GetDeployment returns deployment name of project projectName.
func (s *Store) GetDeployment(ctx context.Context, projectName, name string) (deployment.Deployment, error) {
	var d deployment.Deployment
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		d, err = getDeployment(ctx, tx, projectName, name)
		return err
	})
	return d, err
}

// getDeployment reads one deployment; a missing project is reported as
// such rather than as a missing deployment.
func getDeployment(ctx context.Context, q querier, projectName, name string) (deployment.Deployment, error) {
	d, err := scanDeployment(q.QueryRowContext(ctx, `SELECT `+deploymentColumns+` FROM deployments WHERE project = ? AND name = ?`,
		projectName, name))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := projectHub(ctx, q, projectName); err != nil {
			return deployment.Deployment{}, err
		}
		return deployment.Deployment{}, deploymentNotFound(projectName, name)
	}
	if err != nil {
		return deployment.Deployment{}, fmt.Errorf("sqlite: get deployment %q: %w", name, err)
	}
	return d, nil
}

// ListDeployments returns the deployments of project projectName, or of
// every project when projectName is "", by project and name. A project that
// does not exist is an error.
func (s *Store) ListDeployments(ctx context.Context, projectName string) ([]deployment.Deployment, error) {
	var ds []deployment.Deployment
	err := s.read(ctx, func(tx *sql.Tx) error {
		if projectName != "" {
			if _, err := projectHub(ctx, tx, projectName); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+deploymentColumns+` FROM deployments
			WHERE ? = '' OR project = ? ORDER BY project, name`, projectName, projectName)
		if err != nil {
			return fmt.Errorf("sqlite: list deployments: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDeployment(rows)
			if err != nil {
				return fmt.Errorf("sqlite: list deployments: %w", err)
			}
			ds = append(ds, d)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: list deployments: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// UpdateDeployment replaces the deployment's model, version, SKU, capacity,
// version upgrade option, content filter policy, instance type and
// scale-to-zero flag, and sets UpdatedAt (now
// when zero). State, reason and CreatedAt are kept. When capacity grows or
// the model or SKU changes, the new capacity is checked against the hub's
// quota in the same transaction.
func (s *Store) UpdateDeployment(ctx context.Context, d deployment.Deployment) error {
	if d.Capacity < 0 {
		return invalid("sku.capacity", "capacity must be 0 or more, got %d", d.Capacity)
	}
	if d.Model == "" || d.SKU == "" {
		return invalid("model", "deployment %q: an update needs the model and sku; read the deployment, change it and write it back", d.Name)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		hubName, err := projectHub(ctx, tx, d.Project)
		if err != nil {
			return err
		}
		old, err := getDeployment(ctx, tx, d.Project, d.Name)
		if err != nil {
			return err
		}
		moved := d.Model != old.Model || d.SKU != old.SKU
		if d.Model != old.Model {
			if err := modelExists(ctx, tx, d.Model); err != nil {
				return err
			}
		}
		if moved || d.Capacity > old.Capacity {
			if err := checkQuota(ctx, tx, hubName, d); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE deployments SET model = ?, version = ?, sku = ?, capacity = ?,
			version_upgrade_option = ?, rai_policy = ?, updated_at = ?, instance_type = ?, scale_to_zero = ?
			WHERE project = ? AND name = ?`,
			d.Model, d.Version, d.SKU, d.Capacity, d.VersionUpgradeOption, d.RAIPolicy, formatTime(d.UpdatedAt),
			d.InstanceType, d.ScaleToZero, d.Project, d.Name); err != nil {
			return constraint(err, "update deployment", nil, func() error { return modelNotFound(d.Model) })
		}
		return nil
	})
}

// SetDeploymentState records the deployment's observed state and reason
// and sets its UpdatedAt to now.
func (s *Store) SetDeploymentState(ctx context.Context, projectName, name, state, reason string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deployments SET state = ?, reason = ?, updated_at = ? WHERE project = ? AND name = ?`,
			state, reason, formatTime(time.Now()), projectName, name)
		if err != nil {
			return fmt.Errorf("sqlite: set state of deployment %q: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: set state of deployment %q: %w", name, err)
		}
		if n == 0 {
			if _, err := projectHub(ctx, tx, projectName); err != nil {
				return err
			}
			return deploymentNotFound(projectName, name)
		}
		return nil
	})
}

// TransitionDeployment sets the state only if the row still has d's state
// and UpdatedAt.
func (s *Store) TransitionDeployment(ctx context.Context, d deployment.Deployment, state, reason string) (bool, error) {
	var changed bool
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE deployments SET state = ?, reason = ?, updated_at = ?
			WHERE project = ? AND name = ? AND state = ? AND updated_at = ?`,
			state, reason, formatTime(time.Now()), d.Project, d.Name, d.State, formatTime(d.UpdatedAt))
		if err != nil {
			return fmt.Errorf("sqlite: set state of deployment %q: %w", d.Name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: set state of deployment %q: %w", d.Name, err)
		}
		changed = n == 1
		return nil
	})
	return changed, err
}

// DeleteDeployment deletes a deployment, which releases its quota.
func (s *Store) DeleteDeployment(ctx context.Context, projectName, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM deployments WHERE project = ? AND name = ?`, projectName, name)
		if err != nil {
			return fmt.Errorf("sqlite: delete deployment %q: %w", name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: delete deployment %q: %w", name, err)
		}
		if n == 0 {
			if _, err := projectHub(ctx, tx, projectName); err != nil {
				return err
			}
			return deploymentNotFound(projectName, name)
		}
		return nil
	})
}

// QuotaUsage is the capacity held by hub hubName's deployments of model
// and sku, in every state.
func (s *Store) QuotaUsage(ctx context.Context, hubName, model, sku string) (int, error) {
	var used int
	err := s.read(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM hubs WHERE name = ?`, hubName)
		if err != nil {
			return err
		}
		if !found {
			return hubNotFound(hubName)
		}
		used, err = usage(ctx, tx, hubName, model, sku, "", "")
		return err
	})
	return used, err
}

// GetSetting returns the value of setting key.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("SettingNotFound", key, "setting %q is not set", key)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: get setting %q: %w", key, err)
	}
	return v, nil
}

// PutSetting sets setting key to value.
func (s *Store) PutSetting(ctx context.Context, key, value string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
			return fmt.Errorf("sqlite: put setting %q: %w", key, err)
		}
		return nil
	})
}
