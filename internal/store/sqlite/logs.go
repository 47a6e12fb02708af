package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cerulean-ai/cerulean/internal/store"
)

// pruneBatch is how many request logs one delete statement removes, so that
// pruning a large backlog never holds the write lock for long.
const pruneBatch = 5000

// PutLogCapture creates or replaces a deployment's capture setting.
func (s *Store) PutLogCapture(ctx context.Context, c store.LogCapture) error {
	if c.RetentionDays < 1 || c.RetentionDays > store.MaxRetentionDays {
		return invalid("retentionDays", "retention must be 1 to %d days, got %d", store.MaxRetentionDays, c.RetentionDays)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := deploymentExists(ctx, tx, c.Project, c.Deployment); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO log_capture (project, deployment, enabled, retention_days, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (project, deployment) DO UPDATE SET enabled = excluded.enabled,
				retention_days = excluded.retention_days, updated_at = excluded.updated_at`,
			c.Project, c.Deployment, boolInt(c.Enabled), c.RetentionDays, formatTime(c.UpdatedAt)); err != nil {
			return constraint(err, "put log capture", nil, func() error { return deploymentNotFound(c.Project, c.Deployment) })
		}
		return nil
	})
}

// GetLogCapture returns a deployment's capture setting.
func (s *Store) GetLogCapture(ctx context.Context, projectName, deploymentName string) (store.LogCapture, error) {
	c := store.LogCapture{Project: projectName, Deployment: deploymentName}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := deploymentExists(ctx, tx, projectName, deploymentName); err != nil {
			return err
		}
		var enabled int
		var updated string
		err := tx.QueryRowContext(ctx, `SELECT enabled, retention_days, updated_at FROM log_capture
			WHERE project = ? AND deployment = ?`, projectName, deploymentName).Scan(&enabled, &c.RetentionDays, &updated)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlite: get log capture of %q: %w", deploymentName, err)
		}
		c.Enabled = enabled == 1
		c.UpdatedAt, err = parseTime(updated)
		return err
	})
	if err != nil {
		return store.LogCapture{}, err
	}
	return c, nil
}

// ListLogCaptures returns every stored capture setting, by project and
// deployment.
func (s *Store) ListLogCaptures(ctx context.Context) ([]store.LogCapture, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT project, deployment, enabled, retention_days, updated_at
		FROM log_capture ORDER BY project, deployment`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list log captures: %w", err)
	}
	defer rows.Close()
	var out []store.LogCapture
	for rows.Next() {
		var c store.LogCapture
		var enabled int
		var updated string
		if err := rows.Scan(&c.Project, &c.Deployment, &enabled, &c.RetentionDays, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list log captures: %w", err)
		}
		c.Enabled = enabled == 1
		if c.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list log captures: %w", err)
	}
	return out, nil
}

// AddRequestLogs stores logs in one transaction.
func (s *Store) AddRequestLogs(ctx context.Context, logs []store.RequestLog) error {
	if len(logs) == 0 {
		return nil
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO request_logs (request_id, time, project, deployment, model,
			operation, stream, status, error_code, prompt_tokens, completion_tokens, latency_ns, request_body, response_body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: add request logs: %w", err)
		}
		defer stmt.Close()
		for _, l := range logs {
			if _, err := stmt.ExecContext(ctx, l.RequestID, unixNano(l.Time), l.Project, l.Deployment, l.Model,
				l.Operation, boolInt(l.Stream), l.Status, l.ErrorCode, l.PromptTokens, l.CompletionTokens,
				int64(l.Latency), l.Request, l.Response); err != nil {
				return fmt.Errorf("sqlite: add request log %q: %w", l.RequestID, err)
			}
		}
		return nil
	})
}

// ListRequestLogs returns the logs q selects, smallest ID first.
func (s *Store) ListRequestLogs(ctx context.Context, q store.LogQuery) ([]store.RequestLog, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = store.DefaultLogLimit
	case limit > store.MaxLogLimit:
		limit = store.MaxLogLimit
	}
	var b strings.Builder
	b.WriteString(`SELECT id, request_id, time, project, deployment, model, operation, stream, status, error_code,
		prompt_tokens, completion_tokens, latency_ns, request_body, response_body
		FROM request_logs WHERE project = ? AND id > ?`)
	args := []any{q.Project, q.After}
	if q.Deployment != "" {
		b.WriteString(` AND deployment = ?`)
		args = append(args, q.Deployment)
	}
	if !q.Since.IsZero() {
		b.WriteString(` AND time >= ?`)
		args = append(args, unixNano(q.Since))
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, limit)
	rows, err := s.reader.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list request logs: %w", err)
	}
	defer rows.Close()
	var out []store.RequestLog
	for rows.Next() {
		var l store.RequestLog
		var at, latency int64
		var stream int
		if err := rows.Scan(&l.ID, &l.RequestID, &at, &l.Project, &l.Deployment, &l.Model, &l.Operation, &stream,
			&l.Status, &l.ErrorCode, &l.PromptTokens, &l.CompletionTokens, &latency, &l.Request, &l.Response); err != nil {
			return nil, fmt.Errorf("sqlite: list request logs: %w", err)
		}
		l.Time = time.Unix(0, at).UTC()
		l.Stream = stream == 1
		l.Latency = time.Duration(latency)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list request logs: %w", err)
	}
	return out, nil
}

// PruneRequestLogs deletes logs past their retention, a batch per write
// transaction.
func (s *Store) PruneRequestLogs(ctx context.Context, now time.Time, fallback time.Duration) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM request_logs WHERE id IN (
				SELECT r.id FROM request_logs r
				LEFT JOIN log_capture c ON c.project = r.project AND c.deployment = r.deployment
				WHERE r.time < ? - COALESCE(c.retention_days * ?, ?)
				LIMIT ?)`, unixNano(now), int64(24*time.Hour), int64(fallback), pruneBatch)
			if err != nil {
				return fmt.Errorf("sqlite: prune request logs: %w", err)
			}
			if n, err = res.RowsAffected(); err != nil {
				return fmt.Errorf("sqlite: prune request logs: %w", err)
			}
			return nil
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// deploymentExists returns ProjectNotFound or DeploymentNotFound unless the
// deployment exists.
func deploymentExists(ctx context.Context, q querier, projectName, name string) error {
	found, err := exists(ctx, q, `SELECT 1 FROM deployments WHERE project = ? AND name = ?`, projectName, name)
	if err != nil || found {
		return err
	}
	if _, err := projectHub(ctx, q, projectName); err != nil {
		return err
	}
	return deploymentNotFound(projectName, name)
}

// unixNano is t in Unix nanoseconds, clamped to what an int64 holds.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
