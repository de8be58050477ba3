package certs

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is wrapped by the errors of Remote and Signer when the
// control plane cannot be reached (no session, a timeout, the server
// unavailable). The Manager then falls back to its local copy and keeps
// serving and renewing; any other error is reported as it is.
var ErrUnavailable = errors.New("certs: control plane unavailable")

// Remote is the control plane's certificate storage, shared by every node so
// that a site moved to another node finds its certificate there instead of
// having it issued again. It has the semantics of certmagic's Storage: keys
// are '/'-separated paths without leading or trailing slashes; a key that
// prefixes stored keys is a "directory".
//
// Implementations are safe for concurrent use, honour ctx, and wrap
// ErrUnavailable in their errors when the control plane cannot be reached.
// Every method is idempotent.
type Remote interface {
	// Load returns the value stored at key, or an error wrapping
	// fs.ErrNotExist when there is none.
	Load(ctx context.Context, key string) ([]byte, error)
	// Store puts value at key, replacing any value there.
	Store(ctx context.Context, key string, value []byte) error
	// Delete deletes key and every key under key + "/". Deleting a key
	// that does not exist is not an error.
	Delete(ctx context.Context, key string) error
	// List returns, sorted, the keys under prefix ("" for all): with
	// recursive every stored key, without it the direct children of
	// prefix, a directory once as its path. It returns an error wrapping
	// fs.ErrNotExist when nothing is under prefix.
	List(ctx context.Context, prefix string, recursive bool) ([]string, error)
	// Stat describes a stored key or a directory, or returns an error
	// wrapping fs.ErrNotExist when key is neither.
	Stat(ctx context.Context, key string) (KeyInfo, error)
	// TryLock takes the named lock for this node and reports whether it
	// got it; false, with a nil error, means another node holds it. A lock
	// is a lease that lapses on its own after a few minutes (an ACME
	// order with its challenges can take one or two), so a node that dies
	// holding one does not block the others for long; TryLock on a lock
	// this node already holds succeeds and extends the lease.
	TryLock(ctx context.Context, name string) (bool, error)
	// Unlock releases the named lock if this node holds it; releasing a
	// lock it does not hold is a no-op.
	Unlock(ctx context.Context, name string) error
}

// KeyInfo describes a key of Remote storage. A terminal key holds a value;
// a non-terminal one is a directory, the prefix of stored keys.
type KeyInfo struct {
	Key string
	// Modified is when the value was stored; for a directory, the latest
	// Modified of the keys under it (zero if unknown).
	Modified time.Time
	// Size is the length of the value (0 for a directory).
	Size       int64
	IsTerminal bool
}

// Signer gets certificates for internal names (see
// Options.InternalSuffixes) from the control plane's CA. It is safe for
// concurrent use and honours ctx.
type Signer interface {
	// SignCertificate signs a PKCS#10 certificate request (DER) and
	// returns the certificate chain, leaf first, PEM-encoded. Errors wrap
	// ErrUnavailable when the control plane cannot be reached.
	SignCertificate(ctx context.Context, csrDER []byte) (chainPEM []byte, err error)
}
