package auth

import (
	"context"
	"fmt"

	"github.com/fixaroo/berth/internal/store"
)

// Principal is who a call acts as: an admin or a client-bound identity,
// proven by a bearer token (an API token or a login session).
type Principal struct {
	Role store.Role
	// ClientID binds client-role principals to one client.
	ClientID string
	// UserID and Email are set when the token acts for a user.
	UserID string
	Email  string
	// TokenID, TokenName and TokenKind describe the credential used.
	TokenID   string
	TokenName string
	TokenKind store.TokenKind
	// NodeID is set for node agents (role node).
	NodeID string
}

// IsAdmin reports whether p is agency ops.
func (p *Principal) IsAdmin() bool { return p != nil && p.Role == store.RoleAdmin }

// MayAccessClient reports whether p may see resources of the given client.
func (p *Principal) MayAccessClient(clientID string) bool {
	if p == nil {
		return false
	}
	return p.Role == store.RoleAdmin || (p.Role == store.RoleClient && p.ClientID != "" && p.ClientID == clientID)
}

// Actor describes p for the audit log.
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.Role == store.RoleNode:
		return "node:" + p.NodeID
	case p.Email != "":
		return fmt.Sprintf("user:%s (%s)", p.Email, p.Role)
	default:
		return fmt.Sprintf("token:%s %q (%s)", p.TokenID, p.TokenName, p.Role)
	}
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal of the call, or nil for anonymous calls.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
