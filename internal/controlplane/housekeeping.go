package controlplane

import (
	"context"
	"log/slog"
	"time"

	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/store"
)

// housekeepEvery is how often berthd does its chores after the first time.
const housekeepEvery = time.Hour

// housekeeping is berthd's hourly chores: deleting audit events older than
// retention and removing the release bundles that no release uses any more
// (those of deleted sites and deleted releases).
type housekeeping struct {
	store     store.Store
	blobs     blobs.Collector
	retention time.Duration
	log       *slog.Logger
	// now and newTicker are the clock (nil: time.Now and time.NewTicker's).
	now       func() time.Time
	newTicker func(time.Duration) (<-chan time.Time, func())
}

// run does the chores at start and then every housekeepEvery until ctx
// ends.
func (h housekeeping) run(ctx context.Context) error {
	if h.now == nil {
		h.now = time.Now
	}
	if h.newTicker == nil {
		h.newTicker = func(d time.Duration) (<-chan time.Time, func()) { t := time.NewTicker(d); return t.C, t.Stop }
	}
	tick, stop := h.newTicker(housekeepEvery)
	defer stop()
	for {
		h.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
	}
}

func (h housekeeping) pass(ctx context.Context) {
	err := h.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.PruneAuditEvents(h.now().Add(-h.retention))
		if n > 0 {
			h.log.Info("pruned audit events", "count", n, "older_than", h.retention)
		}
		return err
	})
	if err != nil && ctx.Err() == nil {
		h.log.Error("prune audit events", "err", err)
	}
	n, freed, err := h.blobs.Sweep(ctx)
	if n > 0 {
		h.log.Info("removed release bundles no release uses", "count", n, "bytes", freed)
	}
	if err != nil && ctx.Err() == nil {
		h.log.Error("remove unused release bundles", "err", err)
	}
}
