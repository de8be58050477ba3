package blobs

import (
	"context"
	"fmt"

	"github.com/fixaroo/berth/internal/store"
)

// Collector removes the release bundles that no release refers to, asking
// the store which digests its releases use. A Collector with nil Blobs
// collects nothing. It is safe for concurrent use.
type Collector struct {
	Blobs *Store
	Store store.Store
}

// InUse reports whether any release refers to digest.
func (c Collector) InUse(ctx context.Context, digest string) (used bool, err error) {
	err = c.Store.View(ctx, func(tx store.ReadTx) error {
		used, err = tx.ReleaseDigestInUse(digest)
		return err
	})
	return used, err
}

// RemoveIfUnused removes the bundle digest unless a release refers to it or
// an upload has pinned it, and reports whether it was removed.
func (c Collector) RemoveIfUnused(ctx context.Context, digest string) (bool, error) {
	if c.Blobs == nil {
		return false, nil
	}
	return c.Blobs.RemoveUnused(digest, func() (bool, error) { return c.InUse(ctx, digest) })
}

// Sweep removes every stored release bundle that no release refers to and
// no upload has pinned: those of deleted sites and releases, and any a crash
// left between storing a bundle and recording its release. It returns how
// many bundles it removed and the bytes they held.
func (c Collector) Sweep(ctx context.Context) (removed int, freed int64, err error) {
	if c.Blobs == nil {
		return 0, 0, nil
	}
	stored, err := c.Blobs.List()
	if err != nil {
		return 0, 0, err
	}
	for _, b := range stored {
		if err := ctx.Err(); err != nil {
			return removed, freed, err
		}
		ok, err := c.RemoveIfUnused(ctx, b.Digest)
		if err != nil {
			return removed, freed, fmt.Errorf("sweep release bundle %s: %w", b.Digest, err)
		}
		if ok {
			removed++
			freed += b.Size
		}
	}
	return removed, freed, nil
}
