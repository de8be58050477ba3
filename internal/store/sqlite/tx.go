package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/fixaroo/berth/internal/shared/seal"
)

// readTx implements store.ReadTx on one database/sql transaction. The
// interface methods take no context, so the context given to View or Update
// is kept here and used for every statement.
type readTx struct {
	ctx context.Context
	tx  *sql.Tx
	box *seal.Box
}

// writeTx implements store.Tx. It remembers the sites it changed so that
// Update can announce them after the commit.
type writeTx struct {
	readTx
	touched []string // site ids, each once, in first-touched order
}

func (w *writeTx) touch(siteID string) {
	if !slices.Contains(w.touched, siteID) {
		w.touched = append(w.touched, siteID)
	}
}

type scanner interface {
	Scan(dest ...any) error
}

func (r *readTx) exec(query string, args ...any) (sql.Result, error) {
	return r.tx.ExecContext(r.ctx, query, args...)
}

// execOne runs a statement that must change a row; it returns errNoRow if
// it changed none.
func (r *readTx) execOne(query string, args ...any) error {
	res, err := r.exec(query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return errNoRow
	}
	return nil
}

var errNoRow = errors.New("no row changed")

// exists reports whether query (a SELECT 1 ...) returns a row.
func (r *readTx) exists(query string, args ...any) (bool, error) {
	var one int
	err := r.tx.QueryRowContext(r.ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// get scans the single row of query with scan; sql.ErrNoRows when none.
func get[T any](r *readTx, scan func(scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(r.tx.QueryRowContext(r.ctx, query, args...))
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// list scans every row of query with scan.
func list[T any](r *readTx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return listSized(r, 0, scan, query, args...)
}

// listSized is list with room for size rows made up front, for long lists
// whose length is known roughly: growing a slice of 100,000 rows by
// doubling copies it many times over.
func listSized[T any](r *readTx, size int, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := r.tx.QueryContext(r.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]T, 0, size)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
