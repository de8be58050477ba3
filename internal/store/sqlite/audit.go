package sqlite

import (
	"database/sql"
	"errors"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

const auditCols = `id, time, actor, method, resource_id, client_id, code, message, peer`

func scanAuditEvent(sc scanner) (*store.AuditEvent, error) {
	e := new(store.AuditEvent)
	err := sc.Scan(&e.ID, timeCol{&e.Time}, &e.Actor, &e.Method, &e.ResourceID, &e.ClientID, &e.Code, &e.Message, &e.Peer)
	return e, err
}

// ListAuditEvents lists events newest (highest id) first. f.Method matches
// the whole method or its last element after '/' or '.', so "CreateSite"
// matches "/berth.v1.SiteService/CreateSite". Start is inclusive and End
// exclusive; zero means unbounded. FailedOnly keeps events whose code is
// not "OK".
func (r *readTx) ListAuditEvents(f store.AuditFilter, p store.Page) ([]*store.AuditEvent, error) {
	q := `SELECT ` + auditCols + ` FROM audit_events WHERE 1`
	var args []any
	if p.After != "" {
		q += ` AND id < ?`
		args = append(args, p.After)
	}
	if f.Method != "" {
		q += ` AND (method = ? OR substr(method, -length(?) - 1) IN ('/' || ?, '.' || ?))`
		args = append(args, f.Method, f.Method, f.Method, f.Method)
	}
	if f.ResourceID != "" {
		q += ` AND resource_id = ?`
		args = append(args, f.ResourceID)
	}
	if f.ClientID != "" {
		q += ` AND client_id = ?`
		args = append(args, f.ClientID)
	}
	if f.FailedOnly {
		q += ` AND code != 'OK'`
	}
	if !f.Start.IsZero() {
		q += ` AND time >= ?`
		args = append(args, timeArg(f.Start))
	}
	if !f.End.IsZero() {
		q += ` AND time < ?`
		args = append(args, timeArg(f.End))
	}
	q += ` ORDER BY id DESC LIMIT ?`
	es, err := list(r, scanAuditEvent, q, append(args, pageLimit(p))...)
	return es, wrap("list audit events", err)
}

func (w *writeTx) AppendAuditEvent(e *store.AuditEvent) error {
	_, err := w.exec(`INSERT INTO audit_events (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, timeArg(e.Time), e.Actor, e.Method, e.ResourceID, e.ClientID, e.Code, e.Message, e.Peer)
	if cols, _ := uniqueViolation(err); cols == "audit_events.id" {
		return conflict("audit event %q already exists", e.ID)
	}
	return wrap("append audit event", err)
}

func (w *writeTx) PruneAuditEvents(before time.Time) (int, error) {
	res, err := w.exec(`DELETE FROM audit_events WHERE time < ?`, timeArg(before))
	if err != nil {
		return 0, wrap("prune audit events", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrap("prune audit events", err)
}

// Meta

func (r *readTx) GetMeta(key string) (string, error) {
	var v string
	err := r.tx.QueryRowContext(r.ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting %q", key)
	}
	return v, wrap("get setting "+key, err)
}

func (w *writeTx) SetMeta(key, value string) error {
	_, err := w.exec(`INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return wrap("set setting "+key, err)
}
