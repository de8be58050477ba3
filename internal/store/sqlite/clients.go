package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/fixaroo/berth/internal/store"
)

const clientCols = `id, display_name, slug, contact_email, create_time, update_time,
	status_page_enabled, status_page_site_ids, status_page_accent_color`

// clientSelect reads every column; clientListSelect reads, instead of the
// logo, only whether there is one, so that lists stay small.
const (
	clientSelect     = `SELECT ` + clientCols + `, status_page_logo IS NOT NULL, status_page_logo FROM clients`
	clientListSelect = `SELECT ` + clientCols + `, status_page_logo IS NOT NULL, NULL FROM clients`
)

func scanClient(sc scanner) (*store.Client, error) {
	c := new(store.Client)
	sp := &c.StatusPage
	err := sc.Scan(&c.ID, &c.DisplayName, &c.Slug, &c.ContactEmail, timeCol{&c.CreateTime}, timeCol{&c.UpdateTime},
		&sp.Enabled, jsonCol{&sp.SiteIDs}, strCol{&sp.AccentColor}, &sp.HasLogo, &sp.Logo)
	return c, err
}

func (r *readTx) GetClient(id string) (*store.Client, error) {
	c, err := get(r, scanClient, clientSelect+` WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("client %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get client %s: %w", id, err)
	}
	return c, nil
}

func (r *readTx) GetClientBySlug(slug string) (*store.Client, error) {
	c, err := get(r, scanClient, clientSelect+` WHERE slug = ?`, slug)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("client with slug %q", slug)
	}
	if err != nil {
		return nil, fmt.Errorf("get client by slug %q: %w", slug, err)
	}
	return c, nil
}

func (r *readTx) ListClients(p store.Page) ([]*store.Client, error) {
	cs, err := list(r, scanClient,
		clientListSelect+` WHERE id > ? ORDER BY id LIMIT ?`, p.After, pageLimit(p))
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return cs, nil
}

// logoArg stores an empty logo as NULL.
func logoArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// clientExists returns a not-found error naming the client if it does not exist.
func (r *readTx) clientExists(id string) error {
	ok, err := r.exists(`SELECT 1 FROM clients WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("look up client %s: %w", id, err)
	}
	if !ok {
		return notFound("client %q", id)
	}
	return nil
}

func clientConflict(c *store.Client, err error) error {
	switch cols, _ := uniqueViolation(err); cols {
	case "clients.slug":
		return conflict("a client with slug %q already exists", c.Slug)
	case "clients.id":
		return conflict("client %q already exists", c.ID)
	}
	return err
}

func (w *writeTx) CreateClient(c *store.Client) error {
	sp := c.StatusPage
	_, err := w.exec(`INSERT INTO clients (`+clientCols+`, status_page_logo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.DisplayName, c.Slug, c.ContactEmail, timeArg(c.CreateTime), timeArg(c.UpdateTime),
		sp.Enabled, jsonArg{sp.SiteIDs}, strArg(sp.AccentColor), logoArg(sp.Logo))
	if err != nil {
		return wrap("create client", clientConflict(c, err))
	}
	return nil
}

func (w *writeTx) UpdateClient(c *store.Client) error {
	sp := c.StatusPage
	err := w.execOne(`UPDATE clients SET display_name = ?, slug = ?, contact_email = ?, update_time = ?,
		status_page_enabled = ?, status_page_site_ids = ?, status_page_accent_color = ?, status_page_logo = ? WHERE id = ?`,
		c.DisplayName, c.Slug, c.ContactEmail, timeArg(c.UpdateTime),
		sp.Enabled, jsonArg{sp.SiteIDs}, strArg(sp.AccentColor), logoArg(sp.Logo), c.ID)
	if errors.Is(err, errNoRow) {
		return notFound("client %q", c.ID)
	}
	if err != nil {
		return wrap("update client", clientConflict(c, err))
	}
	return nil
}

func (w *writeTx) DeleteClient(id string) error {
	var n int
	if err := w.tx.QueryRowContext(w.ctx, `SELECT count(*) FROM sites WHERE client_id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	switch {
	case n == 1:
		return inUse("client has 1 site; delete it first")
	case n > 1:
		return inUse("client has %d sites; delete them first", n)
	}
	// Users and tokens go with the client (ON DELETE CASCADE).
	err := w.execOne(`DELETE FROM clients WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("client %q", id)
	}
	if err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}
