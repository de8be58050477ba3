// Package blobs stores immutable byte streams (static-site release bundles)
// content-addressed by their SHA-256, as files in a directory:
//
//	<dir>/sha256/<64 lowercase hex digits>   one complete blob, never modified
//	<dir>/sha256/.tmp-*                      a Write in progress (or interrupted)
//
// A blob file appears only complete: Write streams into a temporary file
// while hashing, fsyncs it and renames it to its digest. Writing the same
// content twice stores it once.
//
// Whether a blob is still needed is the caller's knowledge (the store's
// release records), so Store does not count references. It does pin blobs
// between Write and Unpin, so that RemoveUnused cannot delete a blob that an
// upload has just written but not yet recorded.
package blobs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
)

// Errors returned by Store; compare with errors.Is.
var (
	// ErrNotFound: no blob has the digest.
	ErrNotFound = errors.New("blobs: not found")
	// ErrTooLarge: the stream is longer than Options.MaxBytes.
	ErrTooLarge = errors.New("blobs: too large")
	// ErrInvalidDigest: the digest is not 64 lowercase hex digits.
	ErrInvalidDigest = errors.New("blobs: invalid digest")
)

// DefaultMaxBytes is the default bound on one blob: 256 MiB.
const DefaultMaxBytes = 256 << 20

// Options configures a Store.
type Options struct {
	// Dir holds the blobs; it is created (mode 0700) if missing. Required.
	Dir string
	// MaxBytes bounds the size of one blob (default DefaultMaxBytes).
	MaxBytes int64
}

// Store is a directory of content-addressed blobs. It is safe for
// concurrent use, also by several Stores on the same directory, except that
// pins are known only to the Store that made them.
type Store struct {
	dir      string // <Options.Dir>/sha256
	maxBytes int64

	mu     sync.Mutex     // guards pinned, and orders pinning against RemoveUnused
	pinned map[string]int // digest → Writes not yet Unpinned
}

// New opens the store in o.Dir, creating it if needed, and removes
// temporary files that interrupted writes left behind.
func New(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("blobs: no directory given")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	dir := filepath.Join(o.Dir, "sha256")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if err != nil {
		return nil, fmt.Errorf("list blob directory: %w", err)
	}
	for _, f := range leftovers {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("remove interrupted blob write: %w", err)
		}
	}
	return &Store{dir: dir, maxBytes: o.MaxBytes, pinned: map[string]int{}}, nil
}

// MaxBytes is the largest blob the store accepts.
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// ValidDigest reports whether d is a digest as the store names blobs: 64
// lowercase hex digits.
func ValidDigest(d string) bool {
	if len(d) != 64 {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Store) path(digest string) (string, error) {
	if !ValidDigest(digest) {
		return "", fmt.Errorf("%w: %q", ErrInvalidDigest, truncate(digest))
	}
	return filepath.Join(s.dir, digest), nil
}

// Write stores everything read from r and returns its digest and size. It
// fails with ErrTooLarge, storing nothing, once r yields more than MaxBytes;
// on any error nothing is stored. Storing content that is already there
// succeeds and leaves the existing blob as it is.
//
// The blob is pinned: RemoveUnused leaves it alone until the caller calls
// Unpin(digest), once for every successful Write.
func (s *Store) Write(r io.Reader) (digest string, size int64, err error) {
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), io.LimitReader(r, s.maxBytes+1))
	if err != nil {
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	if size > s.maxBytes {
		return "", 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, s.maxBytes)
	}
	if err := f.Chmod(0o600); err != nil {
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("write blob: %w", err)
	}
	digest = hex.EncodeToString(h.Sum(nil))
	final := filepath.Join(s.dir, digest)

	// Pin and publish together, so that RemoveUnused either runs before
	// (and the rename recreates the blob) or sees the pin.
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, statErr := os.Stat(final); statErr == nil {
		os.Remove(tmp)
	} else {
		if err := os.Rename(tmp, final); err != nil {
			return "", 0, fmt.Errorf("write blob: %w", err)
		}
		if err := atomicfile.SyncDir(s.dir); err != nil {
			return "", 0, err
		}
	}
	s.pinned[digest]++
	return digest, size, nil
}

// Unpin ends the pin of one Write of digest.
func (s *Store) Unpin(digest string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pinned[digest] <= 1 {
		delete(s.pinned, digest)
		return
	}
	s.pinned[digest]--
}

// Open opens the blob with the given digest for reading; ErrNotFound if it
// is not stored.
func (s *Store) Open(digest string) (io.ReadCloser, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return f, nil
}

// Exists reports whether the blob with the given digest is stored.
func (s *Store) Exists(digest string) (bool, error) {
	p, err := s.path(digest)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Info describes a stored blob.
type Info struct {
	Digest string
	Size   int64
}

// List returns every stored blob, in no particular order. Writes in
// progress are not blobs yet and are not listed.
func (s *Store) List() ([]Info, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []Info
	for _, e := range entries {
		if !e.Type().IsRegular() || !ValidDigest(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir
		} else if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		out = append(out, Info{Digest: e.Name(), Size: fi.Size()})
	}
	return out, nil
}

// Remove deletes the blob with the given digest. Removing a blob that is
// not stored is not an error.
func (s *Store) Remove(digest string) error {
	p, err := s.path(digest)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove blob: %w", err)
	}
	return atomicfile.SyncDir(s.dir)
}

// RemoveUnused deletes the blob unless it is pinned or inUse reports that
// something still refers to it, and reports whether it was removed. inUse
// runs with the store's lock held, so no Write of the same content can pin
// the blob between the check and the removal; it must not call the Store.
func (s *Store) RemoveUnused(digest string, inUse func() (bool, error)) (bool, error) {
	if _, err := s.path(digest); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pinned[digest] > 0 {
		return false, nil
	}
	used, err := inUse()
	if err != nil || used {
		return false, err
	}
	return true, s.Remove(digest)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
