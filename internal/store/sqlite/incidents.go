package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Incidents and maintenance windows.

const incidentCols = `id, site_id, client_id, start_time, end_time, error_classes, vantages, create_time, update_time`

func scanIncident(sc scanner) (*store.Incident, error) {
	i := new(store.Incident)
	err := sc.Scan(&i.ID, &i.SiteID, strCol{&i.ClientID}, timeCol{&i.Start}, timeCol{&i.End},
		jsonCol{&i.ErrorClasses}, jsonCol{&i.Vantages}, timeCol{&i.CreateTime}, timeCol{&i.UpdateTime})
	return i, err
}

func (r *readTx) GetIncident(id string) (*store.Incident, error) {
	i, err := get(r, scanIncident, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("incident %q", id)
	}
	return i, wrap("get incident "+id, err)
}

// overlapping appends to q the conditions under which [startCol, endCol)
// overlaps [from, to); a NULL end is open-ended, a zero bound unbounded.
func overlapping(q string, args []any, startCol, endCol string, from, to time.Time) (string, []any) {
	if !from.IsZero() {
		q += ` AND (` + endCol + ` IS NULL OR ` + endCol + ` > ?)`
		args = append(args, timeArg(from))
	}
	if !to.IsZero() {
		q += ` AND ` + startCol + ` < ?`
		args = append(args, timeArg(to))
	}
	return q, args
}

// incidentWhere returns the WHERE clause (from fixed fragments) and
// arguments for f.
func incidentWhere(f store.IncidentFilter) (string, []any) {
	conds := []string{"1"}
	var args []any
	if f.ClientID != "" {
		conds = append(conds, "client_id = ?")
		args = append(args, f.ClientID)
	}
	if f.SiteID != "" {
		conds = append(conds, "site_id = ?")
		args = append(args, f.SiteID)
	}
	if f.OpenOnly {
		conds = append(conds, "end_time IS NULL")
	}
	return overlapping(" WHERE "+strings.Join(conds, " AND "), args, "start_time", "end_time", f.From, f.To)
}

// ListIncidents pages by (start_time, id), the order of the list: After
// names an incident, whose start is looked up first.
func (r *readTx) ListIncidents(f store.IncidentFilter, p store.Page) ([]*store.Incident, error) {
	where, args := incidentWhere(f)
	if p.After != "" {
		var start int64
		err := r.tx.QueryRowContext(r.ctx, `SELECT start_time FROM incidents WHERE id = ?`, p.After).Scan(&start)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("incident %q to list after", p.After)
		}
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		where += ` AND (start_time, id) < (?, ?)`
		args = append(args, start, p.After)
	}
	is, err := list(r, scanIncident,
		`SELECT `+incidentCols+` FROM incidents`+where+` ORDER BY start_time DESC, id DESC LIMIT ?`,
		append(args, pageLimit(p))...)
	return is, wrap("list incidents", err)
}

func (r *readTx) CountIncidents(f store.IncidentFilter) (int, error) {
	where, args := incidentWhere(f)
	var n int
	if err := r.tx.QueryRowContext(r.ctx, `SELECT count(*) FROM incidents`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count incidents: %w", err)
	}
	return n, nil
}

func (w *writeTx) CreateIncident(i *store.Incident) error {
	if err := w.siteExists(i.SiteID); err != nil {
		return err
	}
	_, err := w.exec(`INSERT INTO incidents (`+incidentCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.SiteID, strArg(i.ClientID), timeArg(i.Start), timeArg(i.End),
		jsonArg{i.ErrorClasses}, jsonArg{i.Vantages}, timeArg(i.CreateTime), timeArg(i.UpdateTime))
	if cols, _ := uniqueViolation(err); cols == "incidents.id" {
		return conflict("incident %q already exists", i.ID)
	}
	return wrap("create incident", err)
}

func (w *writeTx) UpdateIncident(i *store.Incident) error {
	if err := w.siteExists(i.SiteID); err != nil {
		return err
	}
	err := w.execOne(`UPDATE incidents SET (site_id, client_id, start_time, end_time, error_classes, vantages, update_time)
		= (?, ?, ?, ?, ?, ?, ?) WHERE id = ?`,
		i.SiteID, strArg(i.ClientID), timeArg(i.Start), timeArg(i.End),
		jsonArg{i.ErrorClasses}, jsonArg{i.Vantages}, timeArg(i.UpdateTime), i.ID)
	if errors.Is(err, errNoRow) {
		return notFound("incident %q", i.ID)
	}
	return wrap("update incident "+i.ID, err)
}

// Maintenance windows

const maintenanceWindowCols = `id, site_id, client_id, start_time, end_time, reason, created_by, create_time`

func scanMaintenanceWindow(sc scanner) (*store.MaintenanceWindow, error) {
	mw := new(store.MaintenanceWindow)
	err := sc.Scan(&mw.ID, strCol{&mw.SiteID}, strCol{&mw.ClientID}, timeCol{&mw.Start}, timeCol{&mw.End},
		&mw.Reason, &mw.CreatedBy, timeCol{&mw.CreateTime})
	return mw, err
}

func (r *readTx) GetMaintenanceWindow(id string) (*store.MaintenanceWindow, error) {
	mw, err := get(r, scanMaintenanceWindow, `SELECT `+maintenanceWindowCols+` FROM maintenance_windows WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("maintenance window %q", id)
	}
	return mw, wrap("get maintenance window "+id, err)
}

func (r *readTx) ListMaintenanceWindows(clientID, siteID string, from, to time.Time) ([]*store.MaintenanceWindow, error) {
	q := `SELECT ` + maintenanceWindowCols + ` FROM maintenance_windows WHERE 1`
	var args []any
	switch {
	case clientID != "" && siteID != "":
		q += ` AND (site_id = ? OR client_id = ?)`
		args = append(args, siteID, clientID)
	case siteID != "":
		q += ` AND site_id = ?`
		args = append(args, siteID)
	case clientID != "":
		q += ` AND client_id = ?`
		args = append(args, clientID)
	}
	q, args = overlapping(q, args, "start_time", "end_time", from, to)
	mws, err := list(r, scanMaintenanceWindow, q+` ORDER BY start_time, id`, args...)
	return mws, wrap("list maintenance windows", err)
}

func (w *writeTx) CreateMaintenanceWindow(mw *store.MaintenanceWindow) error {
	if (mw.SiteID == "") == (mw.ClientID == "") {
		return fmt.Errorf("create maintenance window: set either the site or the client, not both or neither")
	}
	if mw.Start.IsZero() || !mw.End.After(mw.Start) {
		return fmt.Errorf("create maintenance window: the start is required and the end must be after it")
	}
	var err error
	if mw.SiteID != "" {
		err = w.siteExists(mw.SiteID)
	} else {
		err = w.clientExists(mw.ClientID)
	}
	if err != nil {
		return err
	}
	_, err = w.exec(`INSERT INTO maintenance_windows (`+maintenanceWindowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		mw.ID, strArg(mw.SiteID), strArg(mw.ClientID), timeArg(mw.Start), timeArg(mw.End),
		mw.Reason, mw.CreatedBy, timeArg(mw.CreateTime))
	if cols, _ := uniqueViolation(err); cols == "maintenance_windows.id" {
		return conflict("maintenance window %q already exists", mw.ID)
	}
	return wrap("create maintenance window", err)
}

func (w *writeTx) DeleteMaintenanceWindow(id string) error {
	err := w.execOne(`DELETE FROM maintenance_windows WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("maintenance window %q", id)
	}
	return wrap("delete maintenance window "+id, err)
}
