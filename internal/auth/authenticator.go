package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

// Errors from Authenticate. Their text is safe to show to the caller.
var (
	ErrNoCredential      = errors.New("auth: no credential")
	ErrInvalidCredential = errors.New("auth: invalid, expired or revoked token")
)

// Authenticator turns bearer token secrets into principals. Safe for
// concurrent use.
type Authenticator struct {
	store store.Store
	now   func() time.Time

	mu      sync.Mutex // guards touched
	touched map[string]time.Time
}

// touchEvery bounds how often a token's last-used time is written: a token
// used continuously costs one write a minute, not one per call.
const touchEvery = time.Minute

// NewAuthenticator returns an Authenticator reading tokens from s.
func NewAuthenticator(s store.Store, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{store: s, now: now, touched: map[string]time.Time{}}
}

// Authenticate returns the principal of a bearer token secret. It returns
// ErrNoCredential for an empty secret, and ErrInvalidCredential for one that
// is malformed, unknown, expired or revoked, or whose user or client is gone.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	if secret == "" {
		return nil, ErrNoCredential
	}
	if !LooksLikeToken(secret, TokenPrefix) {
		return nil, ErrInvalidCredential
	}
	now := a.now()
	var p *Principal
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		t, err := tx.GetTokenByHash(HashToken(secret))
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidCredential
		} else if err != nil {
			return err
		}
		if !t.RevokeTime.IsZero() || (!t.ExpireTime.IsZero() && !now.Before(t.ExpireTime)) {
			return ErrInvalidCredential
		}
		p = &Principal{Role: t.Role, ClientID: t.ClientID, UserID: t.UserID, TokenID: t.ID, TokenName: t.Name, TokenKind: t.Kind}
		if t.UserID != "" {
			u, err := tx.GetUser(t.UserID)
			if errors.Is(err, store.ErrNotFound) {
				return ErrInvalidCredential
			} else if err != nil {
				return err
			}
			p.Email = u.Email
		}
		if p.Role == store.RoleClient {
			if p.ClientID == "" {
				return ErrInvalidCredential
			}
			if _, err := tx.GetClient(p.ClientID); errors.Is(err, store.ErrNotFound) {
				return ErrInvalidCredential
			} else if err != nil {
				return err
			}
		} else if p.Role != store.RoleAdmin {
			return ErrInvalidCredential
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrInvalidCredential) {
			return nil, err
		}
		return nil, fmt.Errorf("look up token: %w", err)
	}
	a.touch(ctx, p.TokenID, now)
	return p, nil
}

// touch records the token's last use, at most once per touchEvery. A failed
// write is not the caller's problem: the next call tries again.
func (a *Authenticator) touch(ctx context.Context, tokenID string, now time.Time) {
	a.mu.Lock()
	last, ok := a.touched[tokenID]
	due := !ok || now.Sub(last) >= touchEvery
	if due {
		a.touched[tokenID] = now
	}
	if len(a.touched) > 100_000 {
		clear(a.touched)
	}
	a.mu.Unlock()
	if !due {
		return
	}
	err := a.store.Update(ctx, func(tx store.Tx) error { return tx.TouchToken(tokenID, now) })
	if err != nil {
		a.mu.Lock()
		delete(a.touched, tokenID)
		a.mu.Unlock()
	}
}

// NodeURIPrefix starts the URI SAN of node certificates: berth://node/<id>.
const NodeURIPrefix = "berth://node/"

// AuthenticateNode returns the principal of a node whose client certificate
// the TLS layer has verified against berthd's CA. The node must still exist:
// deleting a node revokes its certificate.
func (a *Authenticator) AuthenticateNode(ctx context.Context, leaf *x509.Certificate) (*Principal, error) {
	nodeID := leaf.Subject.CommonName
	var uriOK bool
	for _, u := range leaf.URIs {
		uriOK = uriOK || u.String() == NodeURIPrefix+nodeID
	}
	if !uriOK || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil, ErrInvalidCredential
	}
	err := a.store.View(ctx, func(tx store.ReadTx) error {
		_, err := tx.GetNode(nodeID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidCredential
	} else if err != nil {
		return nil, fmt.Errorf("look up node: %w", err)
	}
	return &Principal{Role: store.RoleNode, NodeID: nodeID}, nil
}
