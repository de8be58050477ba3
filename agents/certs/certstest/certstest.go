// Package certstest provides an in-memory certs.Remote for tests of the
// packages that build a certs.Manager (the edge, the agent), and
// RunRemoteSuite, the conformance suite that MemRemote and the real storage
// (the agent's client.CertStorage against berthd's AgentService) both run.
package certstest

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fixaroo/berth/agents/certs"
)

// LockLease is how long a MemRemote lock lasts without being taken again.
const LockLease = 2 * time.Minute

// MemRemote is certificate storage shared by the nodes of a test. Node
// returns each node's view of it. Its zero value is not usable; call
// NewMemRemote.
type MemRemote struct {
	mu          sync.Mutex // guards the fields below
	items       map[string]item
	locks       map[string]lock
	unavailable bool
	calls       int
}

type item struct {
	value    []byte
	modified time.Time
}

type lock struct {
	owner   string
	expires time.Time
}

// NewMemRemote returns empty storage.
func NewMemRemote() *MemRemote {
	return &MemRemote{items: make(map[string]item), locks: make(map[string]lock)}
}

// Node returns the storage as the node named owner sees it: its locks are
// owner's.
func (r *MemRemote) Node(owner string) certs.Remote {
	return node{r: r, owner: owner}
}

// SetUnavailable makes every call fail with certs.ErrUnavailable (true)
// or work again (false), as when berthd is down.
func (r *MemRemote) SetUnavailable(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unavailable = down
}

// Get returns the value stored at key, bypassing availability.
func (r *MemRemote) Get(key string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	it, ok := r.items[key]
	return slices.Clone(it.value), ok
}

// Keys returns every stored key, sorted.
func (r *MemRemote) Keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.items))
	for k := range r.items {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Calls returns how many calls reached the storage while it was available.
func (r *MemRemote) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

type node struct {
	r     *MemRemote
	owner string
}

// begin locks the storage for one call, or fails as the real client would.
func (n node) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.r.mu.Lock()
	if n.r.unavailable {
		n.r.mu.Unlock()
		return fmt.Errorf("memremote: %w", certs.ErrUnavailable)
	}
	n.r.calls++
	return nil
}

func (n node) end() { n.r.mu.Unlock() }

func under(key, prefix string) bool {
	return prefix == "" || strings.HasPrefix(key, prefix+"/")
}

func (n node) Load(ctx context.Context, key string) ([]byte, error) {
	if err := n.begin(ctx); err != nil {
		return nil, err
	}
	defer n.end()
	it, ok := n.r.items[key]
	if !ok {
		return nil, fmt.Errorf("memremote: load %s: %w", key, fs.ErrNotExist)
	}
	return slices.Clone(it.value), nil
}

func (n node) Store(ctx context.Context, key string, value []byte) error {
	if err := n.begin(ctx); err != nil {
		return err
	}
	defer n.end()
	n.r.items[key] = item{value: slices.Clone(value), modified: time.Now()}
	return nil
}

func (n node) Delete(ctx context.Context, key string) error {
	if err := n.begin(ctx); err != nil {
		return err
	}
	defer n.end()
	for k := range n.r.items {
		if k == key || under(k, key) {
			delete(n.r.items, k)
		}
	}
	return nil
}

func (n node) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	if err := n.begin(ctx); err != nil {
		return nil, err
	}
	defer n.end()
	var keys []string
	for k := range n.r.items {
		if !under(k, prefix) {
			continue
		}
		if recursive {
			keys = append(keys, k)
			continue
		}
		rel := strings.TrimPrefix(k, prefix+"/")
		if prefix == "" {
			rel = k
		}
		first, _, _ := strings.Cut(rel, "/")
		if prefix != "" {
			first = prefix + "/" + first
		}
		keys = append(keys, first)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("memremote: list %s: %w", prefix, fs.ErrNotExist)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

func (n node) Stat(ctx context.Context, key string) (certs.KeyInfo, error) {
	if err := n.begin(ctx); err != nil {
		return certs.KeyInfo{}, err
	}
	defer n.end()
	if it, ok := n.r.items[key]; ok {
		return certs.KeyInfo{Key: key, Modified: it.modified, Size: int64(len(it.value)), IsTerminal: true}, nil
	}
	info := certs.KeyInfo{Key: key}
	found := false
	for k, it := range n.r.items {
		if under(k, key) {
			found = true
			if it.modified.After(info.Modified) {
				info.Modified = it.modified
			}
		}
	}
	if !found {
		return certs.KeyInfo{}, fmt.Errorf("memremote: stat %s: %w", key, fs.ErrNotExist)
	}
	return info, nil
}

func (n node) TryLock(ctx context.Context, name string) (bool, error) {
	if err := n.begin(ctx); err != nil {
		return false, err
	}
	defer n.end()
	now := time.Now()
	if l, ok := n.r.locks[name]; ok && l.owner != n.owner && now.Before(l.expires) {
		return false, nil
	}
	n.r.locks[name] = lock{owner: n.owner, expires: now.Add(LockLease)}
	return true, nil
}

func (n node) Unlock(ctx context.Context, name string) error {
	if err := n.begin(ctx); err != nil {
		return err
	}
	defer n.end()
	if l, ok := n.r.locks[name]; ok && l.owner == n.owner {
		delete(n.r.locks, name)
	}
	return nil
}
