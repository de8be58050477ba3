package certs_test

import (
	"context"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/certs/certstest"
)

func newStorage(t *testing.T, dir string, r certs.Remote) *certs.Storage {
	t.Helper()
	s, err := certs.NewStorage(dir, r, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStorageOfflineWritesSyncLater(t *testing.T) {
	ctx := context.Background()
	mem := certstest.NewMemRemote()
	dir := t.TempDir()
	s := newStorage(t, dir, mem.Node("a"))
	if err := s.Store(ctx, "certificates/ca/old.example/old.example.crt", []byte("old")); err != nil {
		t.Fatal(err)
	}

	mem.SetUnavailable(true)
	if err := s.Store(ctx, "certificates/ca/new.example/new.example.crt", []byte("new")); err != nil {
		t.Fatalf("Store with Remote unavailable: %v", err)
	}
	if err := s.Delete(ctx, "certificates/ca/old.example/old.example.crt"); err != nil {
		t.Fatalf("Delete with Remote unavailable: %v", err)
	}
	if got, err := s.Load(ctx, "certificates/ca/new.example/new.example.crt"); err != nil || string(got) != "new" {
		t.Errorf("Load offline = %q, %v", got, err)
	}
	if n, err := s.Sync(ctx); !errors.Is(err, certs.ErrUnavailable) || n != 2 {
		t.Errorf("Sync while unavailable = %d, %v; want 2 pending and ErrUnavailable", n, err)
	}

	// Remote is back but nothing synced yet: a pending key is still read
	// locally and listed with Remote's keys.
	mem.SetUnavailable(false)
	if got, err := s.Load(ctx, "certificates/ca/new.example/new.example.crt"); err != nil || string(got) != "new" {
		t.Errorf("Load of a pending key = %q, %v", got, err)
	}
	keys, err := s.List(ctx, "certificates/ca", false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"certificates/ca/new.example", "certificates/ca/old.example"}, keys); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	// A restart keeps the pending list.
	s = newStorage(t, dir, mem.Node("a"))
	if n, err := s.Sync(ctx); err != nil || n != 0 {
		t.Fatalf("Sync = %d, %v", n, err)
	}
	if diff := cmp.Diff([]string{"certificates/ca/new.example/new.example.crt"}, mem.Keys()); diff != "" {
		t.Errorf("Remote keys after sync (-want +got):\n%s", diff)
	}
}

func TestStorageLoadCachesLocally(t *testing.T) {
	ctx := context.Background()
	mem := certstest.NewMemRemote()
	a := newStorage(t, t.TempDir(), mem.Node("a"))
	b := newStorage(t, t.TempDir(), mem.Node("b"))
	const key = "acme/ca/users/ops/ops.json"
	if err := a.Store(ctx, key, []byte("account")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Load(ctx, key); err != nil || string(got) != "account" {
		t.Fatalf("b.Load = %q, %v", got, err)
	}
	mem.SetUnavailable(true)
	if got, err := b.Load(ctx, key); err != nil || string(got) != "account" {
		t.Errorf("b.Load offline = %q, %v; want the copy cached by the first Load", got, err)
	}
	if !b.Exists(ctx, key) {
		t.Errorf("b.Exists offline = false")
	}
	if _, err := b.Load(ctx, "acme/ca/users/nobody/nobody.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing key offline: %v, want fs.ErrNotExist", err)
	}
	mem.SetUnavailable(false)
	if _, err := b.Stat(ctx, "acme/ca/users/nobody"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a missing key: %v, want fs.ErrNotExist", err)
	}
}

// hangingRemote never answers, like a control plane behind a dead network.
type hangingRemote struct{ certs.Remote }

func (hangingRemote) Load(ctx context.Context, key string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestStorageTimeoutIsUnavailable(t *testing.T) {
	ctx := context.Background()
	mem := certstest.NewMemRemote()
	dir := t.TempDir()
	s := newStorage(t, dir, mem.Node("a"))
	if err := s.Store(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	hung, err := certs.NewStorage(dir, hangingRemote{mem.Node("a")}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hung.Load(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("Load from a hanging Remote = %q, %v; want the local copy", got, err)
	}
}

// watchedRemote reports the outcome of each TryLock on tries, dropping
// reports nobody has room for.
type watchedRemote struct {
	certs.Remote
	tries chan bool // true: the lock was taken
}

func (w watchedRemote) TryLock(ctx context.Context, name string) (bool, error) {
	ok, err := w.Remote.TryLock(ctx, name)
	if err == nil {
		select {
		case w.tries <- ok:
		default:
		}
	}
	return ok, err
}

// waitRefused waits until b's Lock, whose result comes on got, has been
// refused twice by Remote: it polled again after the first refusal instead
// of returning.
func waitRefused(t *testing.T, tries <-chan bool, got <-chan error) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for refused := 0; refused < 2; {
		select {
		case ok := <-tries:
			if ok {
				t.Fatal("b took the lock in Remote while a holds it")
			}
			refused++
		case err := <-got:
			t.Fatalf("b.Lock returned %v while a holds the lock", err)
		case <-timeout:
			t.Fatalf("b.Lock was refused %d times in 10 s, want it to poll", refused)
		}
	}
}

func TestStorageLocks(t *testing.T) {
	ctx := context.Background()
	mem := certstest.NewMemRemote()
	a := newStorage(t, t.TempDir(), mem.Node("a"))
	bRemote := watchedRemote{Remote: mem.Node("b"), tries: make(chan bool, 16)}
	b := newStorage(t, t.TempDir(), bRemote)
	const name = "issue_cert_x.example"

	if err := a.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	// Another node waits, polling, until its context ends...
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- b.Lock(bctx, name) }()
	waitRefused(t, bRemote.tries, got)
	cancel()
	select {
	case err := <-got:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("b.Lock while a holds it, cancelled: %v, want context canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b.Lock still waiting after its context ended")
	}
	// ...and so does another goroutine of the same node, which Remote
	// alone would let in.
	short, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	if err := a.Lock(short, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second a.Lock: %v, want deadline exceeded", err)
	}
	// A node waiting when the lock is released takes it.
	for len(bRemote.tries) > 0 {
		<-bRemote.tries
	}
	go func() { got <- b.Lock(ctx, name) }()
	waitRefused(t, bRemote.tries, got)
	if err := a.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("b.Lock after a.Unlock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("b.Lock still waiting after a.Unlock")
	}
	if err := b.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}

	// With Remote down, the lock is taken locally.
	mem.SetUnavailable(true)
	if err := a.Lock(ctx, name); err != nil {
		t.Fatalf("Lock with Remote unavailable: %v", err)
	}
	if err := a.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock of a local lock: %v", err)
	}
}

func TestCertmagicRateLimitIsOn(t *testing.T) {
	// Package doc promises certmagic's global order pacing.
	if certmagic.RateLimitEvents <= 0 || certmagic.RateLimitEventsWindow <= 0 {
		t.Errorf("certmagic's rate limit is off: %d per %s", certmagic.RateLimitEvents, certmagic.RateLimitEventsWindow)
	}
}
