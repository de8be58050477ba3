package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string // file name, for the log and schema_migrations
	sql     string
}

// migrations returns the embedded migrations in version order. Files are
// named NNNN_description.sql and numbered 1, 2, 3... without gaps.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: migration %s: name must start with a positive version number and '_'", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migration %s: want version %d (versions start at 1 without gaps)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations this database lacks, each in its own write
// transaction, and refuses a database from a newer binary.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	known := len(ms)
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		apply_time INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	for {
		done, err := s.applyNext(ctx, ms, known)
		if err != nil || done {
			return err
		}
	}
}

// applyNext applies the first missing migration. It reads the current
// version inside the same BEGIN IMMEDIATE transaction, so two processes
// opening one file cannot both apply a migration.
func (s *Store) applyNext(ctx context.Context, ms []migration, known int) (done bool, err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: begin migration: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	var current int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return false, fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if current > known {
		return false, fmt.Errorf("sqlite: database schema version %d is newer than this berthd (%d); upgrade berthd", current, known)
	}
	if current == known {
		return true, nil
	}
	m := ms[current]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("sqlite: apply migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, apply_time) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("sqlite: record migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: commit migration %s: %w", m.name, err)
	}
	s.log.Info("applied schema migration", "version", m.version, "name", m.name)
	return false, nil
}
