package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fixaroo/berth/internal/store"
)

// siteCols selects a site and, as a JSON array in position order, its alias
// domains; the primary domain is a column of sites.
const siteCols = `s.id, s.client_id, s.name, s.kind, s.primary_domain, s.memory_mib, s.cpu_millicores,
	s.wp_title, s.wp_admin_email, s.secrets, s.node_id, s.state, s.conditions,
	s.generation, s.observed_generation, s.create_time, s.update_time, s.release_id,
	s.hsts, s.redirect_aliases, s.certificates,
	s.check_interval_seconds, s.check_expected_status, s.check_keyword,
	(SELECT json_group_array(d.domain ORDER BY d.position) FROM site_domains d
	 WHERE d.site_id = s.id AND d.is_primary = 0)`

// scanSite scans a row of siteCols and opens the site's secrets.
func (r *readTx) scanSite(sc scanner) (*store.Site, error) {
	s := new(store.Site)
	var secrets []byte
	var aliases string
	err := sc.Scan(&s.ID, &s.ClientID, &s.Name, &s.Kind, &s.PrimaryDomain, &s.MemoryMiB, &s.CPUMillicores,
		&s.WPTitle, &s.WPAdminEmail, &secrets, strCol{&s.NodeID}, &s.State, jsonCol{&s.Conditions},
		&s.Generation, &s.ObservedGeneration, timeCol{&s.CreateTime}, timeCol{&s.UpdateTime}, strCol{&s.ReleaseID},
		&s.HSTS, &s.RedirectAliases, jsonCol{&s.Certificates},
		&s.CheckIntervalSeconds, &s.CheckExpectedStatus, strCol{&s.CheckKeyword},
		&aliases)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(aliases), &s.AliasDomains); err != nil {
		return nil, fmt.Errorf("site %s domains: %w", s.ID, err)
	}
	if len(s.AliasDomains) == 0 {
		s.AliasDomains = nil
	}
	if secrets != nil {
		plain, err := r.box.Open(secrets, []byte(s.ID))
		if err != nil {
			return nil, fmt.Errorf("site %s secrets: %w", s.ID, err)
		}
		if err := json.Unmarshal(plain, &s.Secrets); err != nil {
			return nil, fmt.Errorf("site %s secrets: %w", s.ID, err)
		}
	}
	return s, nil
}

func (r *readTx) GetSite(id string) (*store.Site, error) {
	s, err := get(r, r.scanSite, `SELECT `+siteCols+` FROM sites s WHERE s.id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("site %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get site %s: %w", id, err)
	}
	return s, nil
}

// likeEscaper makes a search term match literally in LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// siteWhere returns the WHERE clause (from fixed fragments) and arguments
// for f.
func siteWhere(f store.SiteFilter) (string, []any) {
	conds := []string{"1"}
	var args []any
	if f.ClientID != "" {
		conds = append(conds, "s.client_id = ?")
		args = append(args, f.ClientID)
	}
	if f.NodeID != "" {
		conds = append(conds, "s.node_id = ?")
		args = append(args, f.NodeID)
	}
	if f.State != "" {
		conds = append(conds, "s.state = ?")
		args = append(args, string(f.State))
	}
	if f.Query != "" {
		pat := "%" + likeEscaper.Replace(f.Query) + "%"
		conds = append(conds, `(s.name LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM site_domains d WHERE d.site_id = s.id AND d.domain LIKE ? ESCAPE '\'))`)
		args = append(args, pat, pat)
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (r *readTx) ListSites(f store.SiteFilter, p store.Page) ([]*store.Site, error) {
	where, args := siteWhere(f)
	ss, err := list(r, r.scanSite,
		`SELECT `+siteCols+` FROM sites s`+where+` AND s.id > ? ORDER BY s.id LIMIT ?`,
		append(args, p.After, pageLimit(p))...)
	if err != nil {
		return nil, fmt.Errorf("list sites: %w", err)
	}
	return ss, nil
}

func (r *readTx) CountSites(f store.SiteFilter) (int, error) {
	where, args := siteWhere(f)
	var n int
	if err := r.tx.QueryRowContext(r.ctx, `SELECT count(*) FROM sites s`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count sites: %w", err)
	}
	return n, nil
}

// siteMutableCols are the columns UpdateSite replaces.
const siteMutableCols = `client_id, name, kind, primary_domain, memory_mib, cpu_millicores,
	wp_title, wp_admin_email, secrets, node_id, state, conditions,
	generation, observed_generation, update_time, release_id,
	hsts, redirect_aliases, certificates,
	check_interval_seconds, check_expected_status, check_keyword`

// siteMutablePlaceholders has one "?" per column of siteMutableCols.
var siteMutablePlaceholders = strings.Repeat("?, ", strings.Count(siteMutableCols, ",")) + "?"

// siteArgs returns the values of siteMutableCols for s, its secrets sealed.
func (w *writeTx) siteArgs(s *store.Site) ([]any, error) {
	var secrets []byte
	if len(s.Secrets) > 0 {
		plain, err := json.Marshal(s.Secrets)
		if err != nil {
			return nil, fmt.Errorf("encode secrets: %w", err)
		}
		secrets = w.box.Seal(plain, []byte(s.ID))
	}
	return []any{s.ClientID, s.Name, string(s.Kind), s.PrimaryDomain, s.MemoryMiB, s.CPUMillicores,
		s.WPTitle, s.WPAdminEmail, secrets, strArg(s.NodeID), string(s.State), jsonArg{s.Conditions},
		s.Generation, s.ObservedGeneration, timeArg(s.UpdateTime), strArg(s.ReleaseID),
		s.HSTS, s.RedirectAliases, jsonArg{s.Certificates},
		s.CheckIntervalSeconds, s.CheckExpectedStatus, strArg(s.CheckKeyword)}, nil
}

// checkDomains rejects a site that lists one domain twice: the second
// insert would otherwise be reported as taken by another site.
func checkDomains(s *store.Site) error {
	seen := make(map[string]bool)
	for _, d := range s.Domains() {
		k := strings.ToLower(d) // site_domains.domain is COLLATE NOCASE (ASCII)
		if seen[k] {
			return conflict("domain %q is listed more than once for this site", d)
		}
		seen[k] = true
	}
	return nil
}

func siteConflict(s *store.Site, err error) error {
	switch cols, _ := uniqueViolation(err); cols {
	case "sites.client_id, sites.name":
		return conflict("a site named %q already exists for this client", s.Name)
	case "sites.id":
		return conflict("site %q already exists", s.ID)
	}
	return err
}

// insertDomains adds every domain of s to site_domains; the primary key on
// domain rejects one that another site holds.
func (w *writeTx) insertDomains(s *store.Site) error {
	for i, d := range s.Domains() {
		if d == "" {
			continue // a site without a domain (yet) reserves nothing
		}
		_, err := w.exec(`INSERT INTO site_domains (domain, site_id, is_primary, position) VALUES (?, ?, ?, ?)`,
			d, s.ID, i == 0, i)
		if cols, ok := uniqueViolation(err); ok && cols == "site_domains.domain" {
			return conflict("domain %q is already used by another site", d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *writeTx) CreateSite(s *store.Site) error {
	if err := w.clientExists(s.ClientID); err != nil {
		return err
	}
	if err := checkDomains(s); err != nil {
		return err
	}
	args, err := w.siteArgs(s)
	if err != nil {
		return fmt.Errorf("create site: %w", err)
	}
	_, err = w.exec(`INSERT INTO sites (id, create_time, `+siteMutableCols+`)
		VALUES (?, ?, `+siteMutablePlaceholders+`)`,
		append([]any{s.ID, timeArg(s.CreateTime)}, args...)...)
	if err != nil {
		return wrap("create site", siteConflict(s, err))
	}
	if err := w.insertDomains(s); err != nil {
		return wrap("create site", err)
	}
	w.touch(s.ID)
	return nil
}

func (w *writeTx) UpdateSite(s *store.Site) error {
	var clientID string
	err := w.tx.QueryRowContext(w.ctx, `SELECT client_id FROM sites WHERE id = ?`, s.ID).Scan(&clientID)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("site %q", s.ID)
	}
	if err != nil {
		return fmt.Errorf("update site %s: %w", s.ID, err)
	}
	if s.ClientID != clientID {
		if err := w.clientExists(s.ClientID); err != nil {
			return err
		}
	}
	if err := checkDomains(s); err != nil {
		return err
	}
	args, err := w.siteArgs(s)
	if err != nil {
		return fmt.Errorf("update site: %w", err)
	}
	_, err = w.exec(`UPDATE sites SET (`+siteMutableCols+`)
		= (`+siteMutablePlaceholders+`) WHERE id = ?`,
		append(args, s.ID)...)
	if err != nil {
		return wrap("update site", siteConflict(s, err))
	}
	if _, err := w.exec(`DELETE FROM site_domains WHERE site_id = ?`, s.ID); err != nil {
		return fmt.Errorf("update site %s: %w", s.ID, err)
	}
	if err := w.insertDomains(s); err != nil {
		return wrap("update site", err)
	}
	w.touch(s.ID)
	return nil
}

func (w *writeTx) DeleteSite(id string) error {
	// Its domains go with it (ON DELETE CASCADE).
	err := w.execOne(`DELETE FROM sites WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("site %q", id)
	}
	if err != nil {
		return fmt.Errorf("delete site %s: %w", id, err)
	}
	w.touch(id)
	return nil
}
