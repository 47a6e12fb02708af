// Package sqlite is the embedded store: store.Store on one SQLite database
// file through modernc.org/sqlite (pure Go, no cgo).
//
// The database runs in WAL mode with foreign keys on. Writes go through one
// connection that opens every transaction with BEGIN IMMEDIATE, so a write
// transaction holds the database's write lock from its first statement:
// quota checks read and write under that lock and concurrent creations
// cannot overdraw a hub's quota. Reads go through a pool of read-only
// connections and never wait for writers. An in-memory database (":memory:")
// uses the single writer connection for everything, since each SQLite
// connection to ":memory:" would see a database of its own.
//
// Times are stored as UTC RFC 3339 text with nanoseconds and read back in
// UTC. A zero CreatedAt or UpdatedAt given to a create or update is filled
// with the current time.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/cerulean-ai/cerulean/internal/fault"
	"github.com/cerulean-ai/cerulean/internal/store"
)

// busyTimeout is how long a connection waits for a lock another process
// holds before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Store is a store.Store on SQLite. Its methods are safe for concurrent use.
type Store struct {
	writer *sql.DB // one connection; BEGIN IMMEDIATE
	reader *sql.DB // read-only connections; the writer itself when in memory

	applied []int // the migrations Open applied, for tests
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies the
// migrations it lacks. path is a file path, a "file:" URI, or ":memory:"
// for a database that lives as long as the Store. Open refuses a database
// whose schema is newer than this binary knows.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty database path")
	}
	memory := isMemory(path)
	writer, err := sql.Open("sqlite", dsn(path, true, memory))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{writer: writer, reader: writer}
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if s.applied, err = migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if memory {
		return s, nil
	}
	reader, err := sql.Open("sqlite", dsn(path, false, false))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	s.reader = reader
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	var err error
	if s.reader != s.writer {
		err = s.reader.Close()
	}
	return errors.Join(err, s.writer.Close())
}

// isMemory reports whether path names an in-memory database.
func isMemory(path string) bool {
	return path == ":memory:" || strings.HasPrefix(path, "file::memory:") || strings.Contains(path, "mode=memory")
}

// dsn is the driver's data source name for path: a file: URI (so that any
// '?' or '#' in a file name is escaped) with the connection settings.
func dsn(path string, write, memory bool) string {
	q := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
	}
	if write {
		q = append(q, "_txlock=immediate")
		if !memory {
			q = append(q, "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)")
		}
	} else {
		q = append(q, "_pragma=query_only(1)")
	}
	query := strings.Join(q, "&")
	switch {
	case path == ":memory:":
		return path + "?" + query
	case strings.HasPrefix(path, "file:"):
		if strings.Contains(path, "?") {
			return path + "&" + query
		}
		return path + "?" + query
	}
	return "file:" + escapePath(path) + "?" + query
}

// escapePath escapes the characters an SQLite URI gives a meaning to.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(p)
}

// write runs fn in a write transaction (BEGIN IMMEDIATE on the one writer
// connection) and commits when fn returns nil. fn must not use s.writer.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// read runs fn in a read transaction, so that several queries see one
// snapshot.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// exists reports whether query (a SELECT of one row) finds a row.
func exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: %w", err)
	}
	return true, nil
}

// count runs a SELECT count(*) query.
func count(ctx context.Context, q querier, query string, args ...any) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}

// Errors.

// Each is a *fault.Error wrapping a store sentinel; its Param is the name
// of the resource it concerns (the API shows it as the error's target).

func notFound(code, name, format string, args ...any) error {
	return &fault.Error{Kind: fault.NotFound, Code: code, Param: name, Message: fmt.Sprintf(format, args...), Err: store.ErrNotFound}
}

func alreadyExists(name, format string, args ...any) error {
	return &fault.Error{Kind: fault.Conflict, Code: "itemDoesAlreadyExist", Param: name, Message: fmt.Sprintf(format, args...), Err: store.ErrExists}
}

func inUse(name, format string, args ...any) error {
	return &fault.Error{Kind: fault.Conflict, Code: "conflict", Param: name, Message: fmt.Sprintf(format, args...), Err: store.ErrInUse}
}

func invalid(param, format string, args ...any) error {
	return fault.Param(param, "invalidPayload", format, args...)
}

func hubNotFound(name string) error {
	return notFound("HubNotFound", name, "hub %q does not exist", name)
}

func projectNotFound(name string) error {
	return notFound("ProjectNotFound", name, "project %q does not exist", name)
}

func modelNotFound(name string) error {
	return notFound("ModelNotFound", name, "model %q does not exist in the catalog", name)
}

func deploymentNotFound(projectName, name string) error {
	return notFound("DeploymentNotFound", name, "deployment %q does not exist in project %q", name, projectName)
}

// plural writes n and a noun, adding "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// them is "it" or "them" for n things.
func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// constraint maps an SQLite constraint violation to a store error (via
// onUnique or onForeignKey, which may be nil), and wraps anything else with
// what was being done. The stores check what they can before writing, so
// this is the fallback for a case those checks missed.
func constraint(err error, doing string, onUnique, onForeignKey func() error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			if onUnique != nil {
				return onUnique()
			}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			if onForeignKey != nil {
				return onForeignKey()
			}
		}
	}
	return fmt.Errorf("sqlite: %s: %w", doing, err)
}

// Times.

// formatTime is t in UTC as RFC 3339 with nanoseconds; now when t is zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// parseTime reads a time written by formatTime.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: bad stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}
