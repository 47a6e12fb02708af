package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cerulean-ai/cerulean/internal/store"
	"github.com/cerulean-ai/cerulean/internal/store/storetest"
)

// openTemp opens a store on a new file in t's temp folder.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "cerulean.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSuiteFile(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func TestSuiteMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatalf("Open(:memory:): %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// allVersions are the versions of the embedded migrations.
func allVersions(t *testing.T) []int {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs
}

func TestMigrationsApplyOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cerulean.db")
	want := allVersions(t)
	opens := []struct {
		name        string
		wantApplied []int
	}{
		{"empty file", want},
		{"up to date", nil},
		{"up to date again", nil},
	}
	for _, o := range opens {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("%s: Open: %v", o.name, err)
		}
		if d := cmp.Diff(o.wantApplied, s.applied); d != "" {
			t.Errorf("%s: applied migrations (-want +got):\n%s", o.name, d)
		}
		got, err := appliedVersions(ctx, s.writer)
		if err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: schema_migrations (-want +got):\n%s", o.name, d)
		}
		// Data survives reopening.
		if err := s.PutSetting(ctx, "opened."+o.name, "yes"); err != nil {
			t.Fatalf("%s: PutSetting: %v", o.name, err)
		}
		if _, err := s.GetSetting(ctx, "opened."+opens[0].name); err != nil {
			t.Errorf("%s: setting from the first open: %v", o.name, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("%s: Close: %v", o.name, err)
		}
	}
}

func TestFutureMigrationRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cerulean.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', '2099-01-01T00:00:00Z')`); err != nil {
		t.Fatalf("record a future migration: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database with a future migration succeeded, want an error")
	}
	for _, want := range []string{"9999", "newer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not mention %q", err, want)
		}
	}
}

func TestOpenSettings(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	tests := []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.writer, "journal_mode", "wal"},
		{s.writer, "foreign_keys", "1"},
		{s.writer, "busy_timeout", "10000"},
		{s.reader, "journal_mode", "wal"},
		{s.reader, "foreign_keys", "1"},
		{s.reader, "query_only", "1"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
		}
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?name#%.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer s.Close()
	if err := s.PutSetting(t.Context(), "k", "v"); err != nil {
		t.Fatalf("PutSetting: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(context.Background(), ""); err == nil {
		t.Error("Open(\"\") succeeded, want an error")
	}
}
