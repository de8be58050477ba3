package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Uptime: raw probe results, per-minute rollups and the incident tracker's
// state. Probe results arrive by the thousand per second, so they are
// written with multi-row statements.

// maxVariables is SQLite's limit on the parameters of one statement
// (SQLITE_MAX_VARIABLE_NUMBER, 32766 as modernc.org/sqlite builds it).
const maxVariables = 32766

// valueRows returns "(?, ?), (?, ?)" for rows rows of cols values each.
func valueRows(rows, cols int) string {
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	var b strings.Builder
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertRows writes n rows of cols values each with multi-row statements and
// returns how many rows they changed. query(k) is the statement for k rows;
// add appends the values of row i to args. The rows go in chunks as large as
// the variable limit allows, and the statement for a full chunk is prepared
// once for all of them.
func (w *writeTx) insertRows(n, cols int, query func(rows int) string, add func(args []any, i int) []any) (int, error) {
	per := maxVariables / cols
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, min(n, per)*cols)
	var total int64
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = add(args, i)
		}
		var (
			res sql.Result
			err error
		)
		if end-start == per {
			if full == nil {
				if full, err = w.tx.PrepareContext(w.ctx, query(per)); err != nil {
					return 0, err
				}
			}
			res, err = full.ExecContext(w.ctx, args...)
		} else {
			res, err = w.exec(query(end-start), args...)
		}
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += k
	}
	return int(total), nil
}

// inRange appends to q the conditions from <= col < to, leaving out a zero
// bound.
func inRange(q string, args []any, col string, from, to time.Time) (string, []any) {
	if !from.IsZero() {
		q += ` AND ` + col + ` >= ?`
		args = append(args, timeArg(from))
	}
	if !to.IsZero() {
		q += ` AND ` + col + ` < ?`
		args = append(args, timeArg(to))
	}
	return q, args
}

// siteExists returns a not-found error naming the site if it does not exist.
func (r *readTx) siteExists(id string) error {
	ok, err := r.exists(`SELECT 1 FROM sites WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("look up site %s: %w", id, err)
	}
	if !ok {
		return notFound("site %q", id)
	}
	return nil
}

// Probe results

const probeResultCols = `node_id, seq, site_id, time, ok, status_code, total_ms, connect_ms, tls_ms, first_byte_ms,
	cert_not_after, error_class, error`

const probeResultNumCols = 13

func scanProbeResult(sc scanner) (store.ProbeResult, error) {
	var (
		p   store.ProbeResult
		seq int64
	)
	err := sc.Scan(&p.NodeID, &seq, &p.SiteID, timeCol{&p.Time}, &p.OK, &p.StatusCode,
		&p.TotalMS, &p.ConnectMS, &p.TLSMS, &p.FirstByteMS,
		timeCol{&p.CertNotAfter}, strCol{&p.ErrorClass}, strCol{&p.Error})
	p.Seq = uint64(seq)
	return p, err
}

func (r *readTx) ListProbeResults(siteID string, from, to time.Time) ([]store.ProbeResult, error) {
	q, args := inRange(`SELECT `+probeResultCols+` FROM probe_results WHERE site_id = ?`, []any{siteID}, "time", from, to)
	// The index on (site_id, time) ends with the primary key: no sort.
	rs, err := list(r, scanProbeResult, q+` ORDER BY time, node_id, seq`, args...)
	return rs, wrap("list probe results of site "+siteID, err)
}

// SitesWithProbeResults looks each site up in the index on (site_id, time)
// rather than scanning a week of results by time. Every result has its
// site: the foreign key sees to it.
func (r *readTx) SitesWithProbeResults(from, to time.Time) ([]string, error) {
	cond, args := inRange(`p.site_id = s.id`, nil, "p.time", from, to)
	ids, err := list(r, func(sc scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT s.id FROM sites s WHERE EXISTS (SELECT 1 FROM probe_results p WHERE `+cond+`) ORDER BY s.id`, args...)
	return ids, wrap("list sites with probe results", err)
}

// InsertProbeResults writes the batch with INSERT OR IGNORE: the primary key
// (node_id, seq) skips retransmitted results, and the EXISTS skips results
// of deleted sites, which would otherwise fail the foreign key and with it
// the whole batch. OR IGNORE would also skip NOT NULL violations silently,
// so required fields are checked first.
func (w *writeTx) InsertProbeResults(rs []store.ProbeResult) (int, error) {
	for i := range rs {
		if rs[i].NodeID == "" || rs[i].SiteID == "" || rs[i].Time.IsZero() {
			return 0, fmt.Errorf("insert probe results: result %d (node %q, seq %d): the node, the site and the time are required",
				i, rs[i].NodeID, rs[i].Seq)
		}
	}
	n, err := w.insertRows(len(rs), probeResultNumCols, func(rows int) string {
		return `INSERT OR IGNORE INTO probe_results (` + probeResultCols + `)
			SELECT * FROM (VALUES ` + valueRows(rows, probeResultNumCols) + `) AS v
			WHERE EXISTS (SELECT 1 FROM sites WHERE id = v.column3)`
	}, func(args []any, i int) []any {
		p := &rs[i]
		// int64(Seq) keeps every uint64, which database/sql would refuse
		// from 1<<63 on; scanProbeResult converts back.
		return append(args, p.NodeID, int64(p.Seq), p.SiteID, timeArg(p.Time), p.OK, p.StatusCode,
			p.TotalMS, p.ConnectMS, p.TLSMS, p.FirstByteMS,
			timeArg(p.CertNotAfter), strArg(p.ErrorClass), strArg(p.Error))
	})
	return n, wrap("insert probe results", err)
}

// PruneProbeResults deletes site by site through the index on (site_id,
// time), so results need no second index on time alone, which every insert
// would pay for.
func (w *writeTx) PruneProbeResults(before time.Time) (int, error) {
	return w.prune("probe results",
		`DELETE FROM probe_results WHERE site_id IN (SELECT id FROM sites) AND time < ?`, before)
}

// prune runs a DELETE whose one parameter is a time and returns the count.
func (w *writeTx) prune(what, query string, before time.Time) (int, error) {
	res, err := w.exec(query, timeArg(before))
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune %s: %w", what, err)
	}
	return int(n), nil
}

// Site minutes

const siteMinuteCols = `site_id, minute, status, up, total, p50_ms, p95_ms, p99_ms, error_classes, failed_vantages`

const siteMinuteNumCols = 10

func scanSiteMinute(sc scanner) (store.SiteMinute, error) {
	var m store.SiteMinute
	err := sc.Scan(&m.SiteID, timeCol{&m.Minute}, &m.Status, &m.Up, &m.Total, &m.P50MS, &m.P95MS, &m.P99MS,
		jsonCol{&m.ErrorClasses}, jsonCol{&m.FailedVantages})
	return m, err
}

func (r *readTx) ListSiteMinutes(siteID string, from, to time.Time) ([]store.SiteMinute, error) {
	q, args := inRange(`SELECT `+siteMinuteCols+` FROM site_minutes WHERE site_id = ?`, []any{siteID}, "minute", from, to)
	size := 0 // at most one row a minute
	if !from.IsZero() && to.After(from) {
		size = int(min(to.Sub(from)/time.Minute, 1<<20))
	}
	ms, err := listSized(r, size, scanSiteMinute, q+` ORDER BY minute`, args...)
	return ms, wrap("list minutes of site "+siteID, err)
}

// CountSiteMinutes adds up the days of CountSiteMinutesByDay: the database
// does the same work either way, and a span has few days.
func (r *readTx) CountSiteMinutes(siteID string, from, to time.Time) (store.MinuteCounts, error) {
	days, err := r.CountSiteMinutesByDay(siteID, from, to)
	if err != nil {
		return store.MinuteCounts{}, err
	}
	c := store.MinuteCounts{ByStatus: map[int32]int64{}}
	for _, d := range days {
		for st, n := range d.ByStatus {
			c.ByStatus[st] += n
		}
		c.Last, c.LastStatus = d.Last, d.LastStatus // days come oldest first
	}
	return c, nil
}

// nsPerDay buckets the minute column (Unix nanoseconds) by UTC day.
const nsPerDay = int64(24 * time.Hour)

func (r *readTx) CountSiteMinutesByDay(siteID string, from, to time.Time) ([]store.DayMinuteCounts, error) {
	q, args := inRange(`SELECT minute / ?, status, count(*), max(minute) FROM site_minutes WHERE site_id = ?`,
		[]any{nsPerDay, siteID}, "minute", from, to)
	rows, err := r.tx.QueryContext(r.ctx, q+` GROUP BY 1, 2 ORDER BY 1`, args...)
	if err != nil {
		return nil, wrap("count minutes of site "+siteID+" by day", err)
	}
	defer rows.Close()
	var out []store.DayMinuteCounts
	for rows.Next() {
		var day int64
		var status int32
		var n int64
		var last time.Time
		if err := rows.Scan(&day, &status, &n, timeCol{&last}); err != nil {
			return nil, wrap("count minutes of site "+siteID+" by day", err)
		}
		t := time.Unix(0, day*nsPerDay).UTC()
		if len(out) == 0 || !out[len(out)-1].Day.Equal(t) {
			out = append(out, store.DayMinuteCounts{Day: t, MinuteCounts: store.MinuteCounts{ByStatus: map[int32]int64{}}})
		}
		d := &out[len(out)-1]
		d.ByStatus[status] = n
		if last.After(d.Last) {
			d.Last, d.LastStatus = last, status
		}
	}
	return out, wrap("count minutes of site "+siteID+" by day", rows.Err())
}

// PutSiteMinutes skips minutes of deleted sites as InsertProbeResults does
// results: the roll-up reads results in one transaction and writes minutes
// in another, and a site may be deleted in between.
func (w *writeTx) PutSiteMinutes(ms []store.SiteMinute) error {
	for i := range ms {
		m := &ms[i]
		if m.SiteID == "" || m.Minute.IsZero() {
			return fmt.Errorf("put site minutes: minute %d: the site and the minute are required", i)
		}
		if !m.Minute.Truncate(time.Minute).Equal(m.Minute) {
			return fmt.Errorf("put site minutes: %s of site %s is not a whole minute", m.Minute.UTC().Format(time.RFC3339Nano), m.SiteID)
		}
	}
	_, err := w.insertRows(len(ms), siteMinuteNumCols, func(rows int) string {
		return `INSERT OR REPLACE INTO site_minutes (` + siteMinuteCols + `)
			SELECT * FROM (VALUES ` + valueRows(rows, siteMinuteNumCols) + `) AS v
			WHERE EXISTS (SELECT 1 FROM sites WHERE id = v.column1)`
	}, func(args []any, i int) []any {
		m := &ms[i]
		return append(args, m.SiteID, timeArg(m.Minute), m.Status, m.Up, m.Total, m.P50MS, m.P95MS, m.P99MS,
			jsonArg{m.ErrorClasses}, jsonArg{m.FailedVantages})
	})
	return wrap("put site minutes", err)
}

// PruneSiteMinutes deletes site by site through the primary key.
func (w *writeTx) PruneSiteMinutes(before time.Time) (int, error) {
	return w.prune("site minutes",
		`DELETE FROM site_minutes WHERE site_id IN (SELECT id FROM sites) AND minute < ?`, before)
}

// Incident tracker state

func (r *readTx) GetUptimeState(siteID string) ([]byte, error) {
	var state []byte
	err := r.tx.QueryRowContext(r.ctx, `SELECT state FROM uptime_state WHERE site_id = ?`, siteID).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("uptime state of site %q", siteID)
	}
	if err != nil {
		return nil, fmt.Errorf("get uptime state of site %s: %w", siteID, err)
	}
	return state, nil
}

func (w *writeTx) PutUptimeState(siteID string, state []byte) error {
	if err := w.siteExists(siteID); err != nil {
		return err
	}
	_, err := w.exec(`INSERT INTO uptime_state (site_id, state) VALUES (?, ?)
		ON CONFLICT (site_id) DO UPDATE SET state = excluded.state`, siteID, string(state))
	return wrap("put uptime state of site "+siteID, err)
}
