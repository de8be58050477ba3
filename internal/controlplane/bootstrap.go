package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

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
