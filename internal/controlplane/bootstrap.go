package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/shared/atomicfile"
	"github.com/fixaroo/berth/internal/store"
)

// metaBootstrap is set once the bootstrap admin token exists, so that a
// deleted admin.token file is not silently replaced by a new admin credential.
const metaBootstrap = "bootstrap_admin_token"

// bootstrapAdmin creates the first admin API token on first start. The file
// is written before the token is committed: a crash in between leaves a file
// whose token does not work yet, and the next start replaces both.
func bootstrapAdmin(ctx context.Context, st store.Store, dataDir string, stderr io.Writer) error {
	err := st.View(ctx, func(tx store.ReadTx) error {
		_, err := tx.GetMeta(metaBootstrap)
		return err
	})
	if err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read bootstrap state: %w", err)
	}
	secret, hash := auth.NewToken(auth.TokenPrefix)
	now := time.Now().UTC()
	t := &store.Token{ID: store.NewID("tok", now), Name: "bootstrap", Kind: store.TokenKindAPI, Role: store.RoleAdmin, Hash: hash, CreateTime: now}
	path := filepath.Join(dataDir, AdminTokenFile)
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateToken(t); err != nil {
			return err
		}
		if err := tx.AppendAuditEvent(&store.AuditEvent{ID: store.NewID("evt", now), Time: now, Actor: "berthd",
			Method: "bootstrap", ResourceID: t.ID, Code: "OK"}); err != nil {
			return err
		}
		return tx.SetMeta(metaBootstrap, t.ID)
	})
	if err != nil {
		return fmt.Errorf("create bootstrap admin token: %w", err)
	}
	fmt.Fprintf(stderr, "berthd: created the bootstrap admin API token in %s (mode 0600).\n"+
		"berthd: use it with `berth --token \"$(cat %s)\"`, create named tokens and users, then revoke it.\n", path, path)
	return nil
}

// housekeepEvery is how often berthd does its chores after the first time.
const housekeepEvery = time.Hour

// housekeeping is berthd's hourly chores: deleting audit events older than
// retention and removing the release bundles that no release uses any more
// (those of deleted sites and deleted releases).
type housekeeping struct {
	store     store.Store
	api       *api.API
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
	n, freed, err := h.api.SweepBlobs(ctx)
	if n > 0 {
		h.log.Info("removed release bundles no release uses", "count", n, "bytes", freed)
	}
	if err != nil && ctx.Err() == nil {
		h.log.Error("remove unused release bundles", "err", err)
	}
}
