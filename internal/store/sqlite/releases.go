package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/fixaroo/berth/internal/store"
)

const releaseCols = `id, site_id, digest, size_bytes, files, unpacked_bytes, created_by, create_time`

func scanRelease(sc scanner) (*store.Release, error) {
	r := new(store.Release)
	err := sc.Scan(&r.ID, &r.SiteID, &r.Digest, &r.SizeBytes, &r.Files, &r.UnpackedBytes, &r.CreatedBy, timeCol{&r.CreateTime})
	return r, err
}

func (r *readTx) GetRelease(id string) (*store.Release, error) {
	rel, err := get(r, scanRelease, `SELECT `+releaseCols+` FROM releases WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("release %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get release %s: %w", id, err)
	}
	return rel, nil
}

// ListReleases lists a site's releases newest (highest id) first.
func (r *readTx) ListReleases(siteID string, p store.Page) ([]*store.Release, error) {
	q := `SELECT ` + releaseCols + ` FROM releases WHERE site_id = ?`
	args := []any{siteID}
	if p.After != "" {
		q += ` AND id < ?`
		args = append(args, p.After)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	rels, err := list(r, scanRelease, q, append(args, pageLimit(p))...)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return rels, nil
}

func (r *readTx) ReleaseDigestInUse(digest string) (bool, error) {
	ok, err := r.exists(`SELECT 1 FROM releases WHERE digest = ? LIMIT 1`, digest)
	if err != nil {
		return false, fmt.Errorf("look up release digest: %w", err)
	}
	return ok, nil
}

func (w *writeTx) CreateRelease(rel *store.Release) error {
	ok, err := w.exists(`SELECT 1 FROM sites WHERE id = ?`, rel.SiteID)
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	if !ok {
		return notFound("site %q", rel.SiteID)
	}
	_, err = w.exec(`INSERT INTO releases (`+releaseCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		rel.ID, rel.SiteID, rel.Digest, rel.SizeBytes, rel.Files, rel.UnpackedBytes, rel.CreatedBy, timeArg(rel.CreateTime))
	if _, dup := uniqueViolation(err); dup {
		return conflict("release %q already exists", rel.ID)
	}
	if err != nil {
		return fmt.Errorf("create release: %w", err)
	}
	return nil
}

func (w *writeTx) DeleteRelease(id string) error {
	served, err := w.exists(`SELECT 1 FROM sites WHERE release_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete release: %w", err)
	}
	if served {
		return inUse("release %q is the one its site serves", id)
	}
	err = w.execOne(`DELETE FROM releases WHERE id = ?`, id)
	if errors.Is(err, errNoRow) {
		return notFound("release %q", id)
	}
	if err != nil {
		return fmt.Errorf("delete release %s: %w", id, err)
	}
	return nil
}
