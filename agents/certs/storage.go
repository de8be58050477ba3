package certs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/fixaroo/berth/internal/shared/atomicfile"
)

// storage is the certmagic.Storage the Manager uses: Remote, the control
// plane's shared storage, in front of a local FileStorage that caches
// everything read or written and stands in for Remote while it is
// unavailable. Writes made while Remote is unavailable are remembered as
// pending (on disk, so a restart still syncs them) and pushed by sync.
type storage struct {
	local   *certmagic.FileStorage
	remote  Remote
	log     *slog.Logger
	timeout time.Duration // for each Remote call
	backoff backoff       // between TryLock polls of a lock held elsewhere

	pendingPath string
	keys        namedMutex // serializes operations on one key
	locks       namedMutex // holds a lock name within this process

	// pendingAdded and remoteUp wake sync's driver (Manager.Run): a key
	// went pending; Remote answered while keys are pending.
	pendingAdded, remoteUp chan struct{}

	mu      sync.Mutex        // guards the fields below
	pending map[string]uint64 // key → sequence number of its last local-only change
	seq     uint64
	held    map[string]bool // lock name → held through Remote (true) or the local FileStorage (false)
	active  int             // operations under way
	closed  bool            // no operation may start
}

// errStopped is returned by storage operations after the Manager stopped.
var errStopped = errors.New("certs: the certificate manager has stopped")

// enter starts an operation, unless the storage is closed; exit ends it.
func (s *storage) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errStopped
	}
	s.active++
	return nil
}

func (s *storage) exit() {
	s.mu.Lock()
	s.active--
	s.mu.Unlock()
}

// close waits, up to timeout, for the operations under way to end and the
// locks held to be released (certmagic's cancelled work releases them as it
// unwinds), then refuses new operations, so that nothing touches the data
// directory once the Manager has stopped.
func (s *storage) close(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		if (s.active == 0 && len(s.held) == 0) || time.Now().After(deadline) {
			s.closed = true
			busy := s.active
			s.mu.Unlock()
			if busy > 0 {
				s.log.Warn("stopping while certificate storage operations are under way", "operations", busy)
			}
			return
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// remoteTimeout bounds each Remote call; one that times out counts as
// Remote being unavailable.
const remoteTimeout = 15 * time.Second

func newStorage(dir string, remote Remote, log *slog.Logger) (*storage, error) {
	s := &storage{
		local:        &certmagic.FileStorage{Path: filepath.Join(dir, "store")},
		remote:       remote,
		log:          log,
		timeout:      remoteTimeout,
		backoff:      backoff{min: 250 * time.Millisecond, max: 5 * time.Second},
		pendingPath:  filepath.Join(dir, "pending.json"),
		pendingAdded: make(chan struct{}, 1),
		remoteUp:     make(chan struct{}, 1),
		pending:      make(map[string]uint64),
		held:         make(map[string]bool),
	}
	b, err := os.ReadFile(s.pendingPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read pending sync list: %w", err)
	default:
		var keys []string
		if err := json.Unmarshal(b, &keys); err != nil {
			return nil, fmt.Errorf("read pending sync list %s: %w", s.pendingPath, err)
		}
		for _, k := range keys {
			s.seq++
			s.pending[k] = s.seq
		}
		if len(keys) > 0 {
			s.pendingAdded <- struct{}{}
		}
	}
	return s, nil
}

// call runs one Remote call with its own timeout. An error caused by that
// timeout (not by ctx) is reported as ErrUnavailable. A call that Remote
// answered signals remoteUp if keys are waiting to be synced.
func (s *storage) call(ctx context.Context, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	err := f(cctx)
	if err != nil && ctx.Err() == nil && cctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !errors.Is(err, ErrUnavailable) && s.pendingCount() > 0 {
		signal(s.remoteUp)
	}
	return err
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *storage) isPending(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.pending[key]
	return ok
}

func (s *storage) pendingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// setPending records key as changed locally only (or, with done, as synced)
// and persists the list. The caller holds the key's lock.
func (s *storage) setPending(key string, done bool) error {
	s.mu.Lock()
	_, was := s.pending[key]
	if done {
		if !was {
			s.mu.Unlock()
			return nil
		}
		delete(s.pending, key)
	} else {
		s.seq++
		s.pending[key] = s.seq
	}
	err := s.savePendingLocked()
	s.mu.Unlock()
	if !done && !was {
		signal(s.pendingAdded)
	}
	return err
}

// savePendingLocked writes the pending keys, oldest change first. The
// caller holds s.mu.
func (s *storage) savePendingLocked() error {
	keys := s.pendingKeysLocked()
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.pendingPath, b, 0o600); err != nil {
		return fmt.Errorf("save pending sync list: %w", err)
	}
	return nil
}

func (s *storage) pendingKeysLocked() []string {
	keys := make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(s.pending[a], s.pending[b]) })
	return keys
}

// Store writes locally, then to Remote. If Remote is unavailable the key is
// left pending and Store succeeds: the node keeps working with the control
// plane down.
func (s *storage) Store(ctx context.Context, key string, value []byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.keys.lock(key)()
	if err := s.local.Store(ctx, key, value); err != nil {
		return fmt.Errorf("store %s locally: %w", key, err)
	}
	err := s.call(ctx, func(ctx context.Context) error { return s.remote.Store(ctx, key, value) })
	switch {
	case err == nil:
		return s.setPending(key, true)
	case errors.Is(err, ErrUnavailable):
		s.log.Debug("stored locally only; will sync", "key", key, "err", err)
		return s.setPending(key, false)
	default:
		return fmt.Errorf("store %s: %w", key, err)
	}
}

// Load reads Remote, the shared truth, and refreshes the local copy with
// what it got. A key not yet synced, or any key while Remote is
// unavailable, is read locally.
func (s *storage) Load(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	defer s.keys.lock(key)()
	if s.isPending(key) {
		return s.local.Load(ctx, key)
	}
	var value []byte
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		value, err = s.remote.Load(ctx, key)
		return err
	})
	switch {
	case err == nil:
		if err := s.local.Store(ctx, key, value); err != nil {
			s.log.Warn("cannot cache a certificate storage item locally", "key", key, "err", err)
		}
		return value, nil
	case errors.Is(err, ErrUnavailable):
		return s.local.Load(ctx, key)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("load %s: %w", key, fs.ErrNotExist)
	default:
		return nil, fmt.Errorf("load %s: %w", key, err)
	}
}

// Delete deletes locally, then in Remote; like Store, it leaves the key
// pending if Remote is unavailable.
func (s *storage) Delete(ctx context.Context, key string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.keys.lock(key)()
	if err := s.local.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s locally: %w", key, err)
	}
	err := s.call(ctx, func(ctx context.Context) error { return s.remote.Delete(ctx, key) })
	switch {
	case err == nil:
		return s.setPending(key, true)
	case errors.Is(err, ErrUnavailable):
		return s.setPending(key, false)
	default:
		return fmt.Errorf("delete %s: %w", key, err)
	}
}

// Exists reports whether key is a stored item or a directory.
func (s *storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key from Remote, or locally for a key pending sync or
// while Remote is unavailable.
func (s *storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	if err := s.enter(); err != nil {
		return certmagic.KeyInfo{}, err
	}
	defer s.exit()
	if s.isPending(key) {
		return s.local.Stat(ctx, key)
	}
	var info KeyInfo
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		info, err = s.remote.Stat(ctx, key)
		return err
	})
	switch {
	case err == nil:
		return certmagic.KeyInfo(info), nil
	case errors.Is(err, ErrUnavailable):
		return s.local.Stat(ctx, key)
	case errors.Is(err, fs.ErrNotExist):
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	default:
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
}

// List lists Remote, adding the keys under prefix that exist only locally
// because they are pending sync; while Remote is unavailable it lists the
// local copy.
func (s *storage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	var keys []string
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		keys, err = s.remote.List(ctx, prefix, recursive)
		return err
	})
	switch {
	case err == nil, errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, ErrUnavailable):
		return s.local.List(ctx, prefix, recursive)
	default:
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	s.mu.Lock()
	pending := s.pendingKeysLocked()
	s.mu.Unlock()
	for _, k := range pending {
		if !s.local.Exists(ctx, k) {
			continue
		}
		rel, ok := strings.CutPrefix(k, prefix+"/")
		if prefix == "" {
			rel, ok = k, true
		}
		if !ok {
			continue
		}
		if recursive {
			keys = append(keys, k)
		} else {
			first, _, _ := strings.Cut(rel, "/")
			keys = append(keys, path.Join(prefix, first))
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("list %s: %w", prefix, fs.ErrNotExist)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// Lock takes the named lock: first within this process (Remote would let
// this node take a lock it already holds), then in Remote, polling with
// backoff while another node holds it. While Remote is unavailable the lock
// is taken on the local FileStorage instead, so the node can still renew;
// two nodes cut off from the control plane may then both work on one name,
// which costs an extra order but breaks nothing.
func (s *storage) Lock(ctx context.Context, name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	if err := s.locks.lockCtx(ctx, name); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var ok bool
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			ok, err = s.remote.TryLock(ctx, name)
			return err
		})
		switch {
		case err == nil && ok:
			s.setHeld(name, true)
			return nil
		case errors.Is(err, ErrUnavailable):
			if err := s.local.Lock(ctx, name); err != nil {
				s.locks.unlock(name)
				return fmt.Errorf("lock %s locally: %w", name, err)
			}
			s.setHeld(name, false)
			return nil
		case err != nil:
			s.locks.unlock(name)
			return fmt.Errorf("lock %s: %w", name, err)
		}
		t := time.NewTimer(s.backoff.delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			s.locks.unlock(name)
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *storage) setHeld(name string, remote bool) {
	s.mu.Lock()
	s.held[name] = remote
	s.mu.Unlock()
}

// Unlock releases a lock taken by Lock. A Remote lock that cannot be
// released because Remote is unavailable lapses on its own.
func (s *storage) Unlock(ctx context.Context, name string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	s.mu.Lock()
	remote, ok := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("unlock %s: not locked", name)
	}
	defer s.locks.unlock(name)
	if !remote {
		return s.local.Unlock(ctx, name)
	}
	err := s.call(ctx, func(ctx context.Context) error { return s.remote.Unlock(ctx, name) })
	if errors.Is(err, ErrUnavailable) {
		s.log.Debug("cannot release a lock in the control plane; it will lapse", "lock", name, "err", err)
		return nil
	}
	return err
}

// RenewLockLease implements certmagic.LockLeaseRenewer: certmagic calls it
// before each attempt of a long-running obtain or renewal, which may come
// hours after the lock was taken.
func (s *storage) RenewLockLease(ctx context.Context, name string, _ time.Duration) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	s.mu.Lock()
	remote, ok := s.held[name]
	s.mu.Unlock()
	if !ok || !remote {
		return nil
	}
	var got bool
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		got, err = s.remote.TryLock(ctx, name)
		return err
	})
	switch {
	case errors.Is(err, ErrUnavailable):
		return nil // not lost, just not renewed; the work goes on locally
	case err != nil:
		return fmt.Errorf("renew lock %s: %w", name, err)
	case !got:
		return fmt.Errorf("renew lock %s: another node took it", name)
	}
	return nil
}

// sync pushes every pending key to Remote, oldest change first: the local
// value, or a delete where the local copy is gone. It stops when Remote is
// unavailable; a key Remote refuses stays pending without holding up the
// others. It returns how many keys are still pending and the first error.
func (s *storage) sync(ctx context.Context) (int, error) {
	s.mu.Lock()
	keys := s.pendingKeysLocked()
	s.mu.Unlock()
	var first error
	for _, key := range keys {
		err := s.syncKey(ctx, key)
		if err != nil && first == nil {
			first = err
		}
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil || errors.Is(err, errStopped) {
			break
		}
	}
	return s.pendingCount(), first
}

func (s *storage) syncKey(ctx context.Context, key string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.keys.lock(key)()
	if !s.isPending(key) {
		return nil // a later Store reached Remote itself
	}
	info, err := s.local.Stat(ctx, key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = s.call(ctx, func(ctx context.Context) error { return s.remote.Delete(ctx, key) })
	case err != nil:
		return fmt.Errorf("sync %s: %w", key, err)
	case !info.IsTerminal:
		// A directory deleted while offline and written into since: the
		// keys written have their own entries.
	default:
		var value []byte
		value, err = s.local.Load(ctx, key)
		if err != nil {
			return fmt.Errorf("sync %s: %w", key, err)
		}
		err = s.call(ctx, func(ctx context.Context) error { return s.remote.Store(ctx, key, value) })
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", key, err)
	}
	return s.setPending(key, true)
}

// namedMutex is a set of mutexes by name whose lock can be abandoned when a
// context ends. The zero value is ready to use.
type namedMutex struct {
	mu   sync.Mutex               // guards held
	held map[string]chan struct{} // closed when the holder unlocks
}

// lock waits for name and returns its unlock function.
func (n *namedMutex) lock(name string) func() {
	n.lockCtx(context.Background(), name)
	return func() { n.unlock(name) }
}

func (n *namedMutex) lockCtx(ctx context.Context, name string) error {
	for {
		n.mu.Lock()
		if n.held == nil {
			n.held = make(map[string]chan struct{})
		}
		wait, busy := n.held[name]
		if !busy {
			n.held[name] = make(chan struct{})
			n.mu.Unlock()
			return nil
		}
		n.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (n *namedMutex) unlock(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if c, ok := n.held[name]; ok {
		close(c)
		delete(n.held, name)
	}
}

var (
	_ certmagic.Storage          = (*storage)(nil)
	_ certmagic.LockLeaseRenewer = (*storage)(nil)
)
