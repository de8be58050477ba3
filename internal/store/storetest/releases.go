package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func newRelease(siteID string, i int) *store.Release {
	return &store.Release{
		ID:            store.NewID("rel", at(time.Duration(i)*time.Millisecond)),
		SiteID:        siteID,
		Digest:        fmt.Sprintf("%064x", i+1),
		SizeBytes:     int64(1000 + i),
		Files:         10 + i,
		UnpackedBytes: int64(5000 + i),
		CreatedBy:     "user:ops@agency.example (admin)",
		CreateTime:    at(time.Duration(i) * time.Second),
	}
}

// releaseSite creates a client and a static site and returns the site.
func releaseSite(t *testing.T, s store.Store) *store.Site {
	t.Helper()
	c := newClient(1)
	site := newSite(c.ID, 1)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})
	return site
}

func testReleaseCRUD(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	rel := newRelease(site.ID, 1)
	update(t, s, func(tx store.Tx) error { return tx.CreateRelease(rel) })
	got := read(t, s, func(tx store.ReadTx) (*store.Release, error) { return tx.GetRelease(rel.ID) })
	if diff := cmp.Diff(rel, got); diff != "" {
		t.Errorf("GetRelease after create (-want +got):\n%s", diff)
	}
	list := read(t, s, func(tx store.ReadTx) ([]*store.Release, error) { return tx.ListReleases(site.ID, store.Page{}) })
	if diff := cmp.Diff([]*store.Release{rel}, list); diff != "" {
		t.Errorf("ListReleases (-want +got):\n%s", diff)
	}

	dup := *rel
	err := updateErr(t, s, func(tx store.Tx) error { return tx.CreateRelease(&dup) })
	wantErr(t, "CreateRelease with a taken id", err, store.ErrConflict)

	update(t, s, func(tx store.Tx) error { return tx.DeleteRelease(rel.ID) })
	_, err = read2(t, s, func(tx store.ReadTx) (*store.Release, error) { return tx.GetRelease(rel.ID) })
	wantErr(t, "GetRelease after delete", err, store.ErrNotFound)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.DeleteRelease(rel.ID) })
	wantErr(t, "DeleteRelease of a missing release", err, store.ErrNotFound)
}

func testReleaseMissingSite(t *testing.T, s store.Store) {
	missing := store.NewID("site", at(time.Hour))
	err := updateErr(t, s, func(tx store.Tx) error { return tx.CreateRelease(newRelease(missing, 1)) })
	wantErr(t, "CreateRelease for a missing site", err, store.ErrNotFound, missing)
	list := read(t, s, func(tx store.ReadTx) ([]*store.Release, error) { return tx.ListReleases(missing, store.Page{}) })
	if len(list) != 0 {
		t.Errorf("ListReleases of a missing site = %v, want none", list)
	}
}

func testPaginateReleases(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	other := newSite(site.ClientID, 2)
	var want []string
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSite(other); err != nil {
			return err
		}
		// Created out of id order: the list is ordered by id all the same.
		for _, i := range []int{3, 0, 6, 1, 5, 2, 4} {
			rel := newRelease(site.ID, i)
			want = append(want, rel.ID)
			if err := tx.CreateRelease(rel); err != nil {
				return err
			}
			if err := tx.CreateRelease(newRelease(other.ID, 100+i)); err != nil {
				return err
			}
		}
		return nil
	})
	for _, limit := range []int{1, 3, 7, 10} {
		got := pageAll(t, s, limit, func(r *store.Release) string { return r.ID },
			func(tx store.ReadTx, p store.Page) ([]*store.Release, error) { return tx.ListReleases(site.ID, p) })
		checkIDs(t, fmt.Sprintf("ListReleases newest first, limit %d", limit), got, sorted(want, true))
	}
}

func testReleaseInUse(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	cur, old := newRelease(site.ID, 2), newRelease(site.ID, 1)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateRelease(old); err != nil {
			return err
		}
		if err := tx.CreateRelease(cur); err != nil {
			return err
		}
		site.ReleaseID = cur.ID
		return tx.UpdateSite(site)
	})
	err := updateErr(t, s, func(tx store.Tx) error { return tx.DeleteRelease(cur.ID) })
	wantErr(t, "DeleteRelease of the site's current release", err, store.ErrInUse, cur.ID)
	if _, err := read2(t, s, func(tx store.ReadTx) (*store.Release, error) { return tx.GetRelease(cur.ID) }); err != nil {
		t.Errorf("current release after a refused delete: %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteRelease(old.ID) })
}

func testSiteReleaseID(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	rel := newRelease(site.ID, 1)
	update(t, s, func(tx store.Tx) error { return tx.CreateRelease(rel) })
	got := read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	if got.ReleaseID != "" {
		t.Errorf("ReleaseID of a new site = %q, want empty", got.ReleaseID)
	}
	site.ReleaseID = rel.ID
	site.Generation++
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(site) })
	got = read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	if diff := cmp.Diff(site, got, equateEmpty); diff != "" {
		t.Errorf("GetSite after setting ReleaseID (-want +got):\n%s", diff)
	}
	list := read(t, s, func(tx store.ReadTx) ([]*store.Site, error) { return tx.ListSites(store.SiteFilter{}, store.Page{}) })
	if len(list) != 1 || list[0].ReleaseID != rel.ID {
		t.Errorf("ListSites after setting ReleaseID = %v", list)
	}

	// CreateSite stores ReleaseID too (a moved or restored site has one).
	withRel := newSite(site.ClientID, 2)
	withRel.ReleaseID = rel.ID
	update(t, s, func(tx store.Tx) error { return tx.CreateSite(withRel) })
	got = read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(withRel.ID) })
	if got.ReleaseID != withRel.ReleaseID {
		t.Errorf("ReleaseID after CreateSite = %q, want %q", got.ReleaseID, withRel.ReleaseID)
	}

	site.ReleaseID = ""
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(site) })
	got = read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	if got.ReleaseID != "" {
		t.Errorf("ReleaseID after clearing = %q", got.ReleaseID)
	}
}

func testDeleteSiteDeletesReleases(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	keep := newSite(site.ClientID, 2)
	rels := []*store.Release{newRelease(site.ID, 1), newRelease(site.ID, 2)}
	kept := newRelease(keep.ID, 3)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSite(keep); err != nil {
			return err
		}
		for _, r := range append(rels, kept) {
			if err := tx.CreateRelease(r); err != nil {
				return err
			}
		}
		site.ReleaseID = rels[1].ID
		return tx.UpdateSite(site)
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(site.ID) })
	for _, r := range rels {
		_, err := read2(t, s, func(tx store.ReadTx) (*store.Release, error) { return tx.GetRelease(r.ID) })
		wantErr(t, "GetRelease after its site was deleted", err, store.ErrNotFound)
	}
	if list := read(t, s, func(tx store.ReadTx) ([]*store.Release, error) { return tx.ListReleases(site.ID, store.Page{}) }); len(list) != 0 {
		t.Errorf("ListReleases of a deleted site = %v", list)
	}
	if _, err := read2(t, s, func(tx store.ReadTx) (*store.Release, error) { return tx.GetRelease(kept.ID) }); err != nil {
		t.Errorf("another site's release after a site was deleted: %v", err)
	}
}

func testReleaseDigestInUse(t *testing.T, s store.Store) {
	site := releaseSite(t, s)
	other := newSite(site.ClientID, 2)
	a, b := newRelease(site.ID, 1), newRelease(other.ID, 2)
	b.Digest = a.Digest // the same bundle deployed to two sites
	c := newRelease(site.ID, 3)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSite(other); err != nil {
			return err
		}
		for _, r := range []*store.Release{a, b, c} {
			if err := tx.CreateRelease(r); err != nil {
				return err
			}
		}
		return nil
	})
	inUse := func(digest string) bool {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) (bool, error) { return tx.ReleaseDigestInUse(digest) })
	}
	if !inUse(a.Digest) || !inUse(c.Digest) {
		t.Errorf("ReleaseDigestInUse of stored digests = %v, %v; want true, true", inUse(a.Digest), inUse(c.Digest))
	}
	if inUse(fmt.Sprintf("%064x", 999)) {
		t.Error("ReleaseDigestInUse of a digest no release has = true")
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(site.ID) })
	if !inUse(a.Digest) {
		t.Error("ReleaseDigestInUse = false for a digest another site's release still has")
	}
	if inUse(c.Digest) {
		t.Error("ReleaseDigestInUse = true for the digest of a deleted site's release")
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteRelease(b.ID) })
	if inUse(a.Digest) {
		t.Error("ReleaseDigestInUse = true after the last release with the digest was deleted")
	}
}
