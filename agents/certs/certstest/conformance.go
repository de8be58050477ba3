package certstest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/certs"
)

// Nodes is one certificate storage as two nodes of a fleet see it, for
// RunRemoteSuite.
type Nodes struct {
	A, B certs.Remote
	// Domain is a domain whose certificates A may keep: the real storage
	// lets a node use the ACME accounts and the certificates of its own
	// sites' domains only.
	Domain string
	// Down makes A's storage unreachable, as when berthd is down or the
	// session is not running.
	Down func()
}

// RunRemoteSuite checks that a certs.Remote has the semantics package certs
// relies on. It runs against MemRemote (certstest_test.go) and against the
// agent's CertStorage talking to berthd's AgentService in process
// (internal/agentapi), so the fake cannot drift from the real storage.
// open returns fresh, empty storage for each subtest.
func RunRemoteSuite(t *testing.T, open func(t *testing.T) Nodes) {
	t.Run("Missing", func(t *testing.T) { testMissing(t, open(t)) })
	t.Run("StoreLoad", func(t *testing.T) { testStoreLoad(t, open(t)) })
	t.Run("Stat", func(t *testing.T) { testStat(t, open(t)) })
	t.Run("List", func(t *testing.T) { testList(t, open(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, open(t)) })
	t.Run("Unavailable", func(t *testing.T) { testUnavailable(t, open(t)) })
}

func suiteContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Keys laid out as certmagic lays them out.
const (
	users    = "acme/ca.example/users"
	accountA = users + "/a@example.com"
	accountC = users + "/a@example.com-2" // shares accountA's text as a prefix, not as a directory
)

func domainDir(n Nodes) string { return "certificates/ca.example/" + n.Domain }

// seed stores the suite's keys through A and returns them, sorted.
func seed(t *testing.T, ctx context.Context, n Nodes) []string {
	t.Helper()
	keys := []string{
		accountA + "/a.json", accountA + "/a.key", accountC + "/c.json",
		domainDir(n) + "/" + n.Domain + ".crt", domainDir(n) + "/" + n.Domain + ".key",
	}
	for _, k := range keys {
		if err := n.A.Store(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatalf("Store %s: %v", k, err)
		}
	}
	slices.Sort(keys)
	return keys
}

func wantNotExist(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %v, want an error wrapping fs.ErrNotExist", what, err)
	}
}

func testMissing(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	_, err := n.A.Load(ctx, accountA+"/a.json")
	wantNotExist(t, "Load of a missing key", err)
	_, err = n.A.Stat(ctx, accountA+"/a.json")
	wantNotExist(t, "Stat of a missing key", err)
	_, err = n.A.List(ctx, users, true)
	wantNotExist(t, "List of an empty prefix", err)
	if err := n.A.Delete(ctx, accountA+"/a.json"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
}

func testStoreLoad(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	key := accountA + "/a.json"
	value := []byte("first")
	if err := n.A.Store(ctx, key, value); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // the storage keeps its own copy
	if got, err := n.A.Load(ctx, key); err != nil || string(got) != "first" {
		t.Errorf("Load = %q, %v; want %q", got, err, "first")
	}
	if err := n.A.Store(ctx, key, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got, err := n.B.Load(ctx, key); err != nil || string(got) != "second" {
		t.Errorf("Load by another node after a replace = %q, %v; want %q (the fleet shares accounts)", got, err, "second")
	}
	crt := domainDir(n) + "/" + n.Domain + ".crt"
	big := bytes.Repeat([]byte{0, 1, 0xff}, 100_000) // binary, 300 kB
	if err := n.A.Store(ctx, crt, big); err != nil {
		t.Fatal(err)
	}
	if got, err := n.A.Load(ctx, crt); err != nil || !bytes.Equal(got, big) {
		t.Errorf("Load of a binary value: %d bytes, %v; want the %d stored", len(got), err, len(big))
	}
}

func testStat(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	before := time.Now().Add(-time.Second)
	seed(t, ctx, n)
	after := time.Now().Add(time.Second)
	key := accountA + "/a.key"
	info, err := n.A.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != key || !info.IsTerminal || info.Size != int64(len("value of "+key)) {
		t.Errorf("Stat of a key = %+v, want Key %q, IsTerminal, Size %d", info, key, len("value of "+key))
	}
	if info.Modified.Before(before) || info.Modified.After(after) {
		t.Errorf("Stat of a key: Modified %v, want between %v and %v", info.Modified, before, after)
	}
	newest := info.Modified
	for _, k := range []string{accountA + "/a.json"} {
		i, err := n.A.Stat(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if i.Modified.After(newest) {
			newest = i.Modified
		}
	}
	dir, err := n.A.Stat(ctx, accountA)
	if err != nil {
		t.Fatal(err)
	}
	if dir.Key != accountA || dir.IsTerminal || dir.Size != 0 || !dir.Modified.Equal(newest) {
		t.Errorf("Stat of a directory = %+v, want Key %q, not terminal, Size 0, Modified %v (its newest key's)", dir, accountA, newest)
	}
	_, err = n.A.Stat(ctx, accountA+"/a")
	wantNotExist(t, "Stat of a prefix of a key's name that is no directory", err)
}

func testList(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	keys := seed(t, ctx, n)
	a := []string{accountA + "/a.json", accountA + "/a.key"}
	c := accountC + "/c.json" // sorts before a's keys: '-' < '/'
	for _, tc := range []struct {
		prefix    string
		recursive bool
		want      []string
	}{
		{users, false, []string{accountA, accountC}},
		{users, true, append([]string{c}, a...)},
		{accountA, true, a},
		{accountA, false, a},
		{"", false, []string{"acme", "certificates"}},
		{"", true, keys},
		{"certificates/ca.example", false, []string{domainDir(n)}},
	} {
		got, err := n.A.List(ctx, tc.prefix, tc.recursive)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, recursive %v) = %q, %v; want %q", tc.prefix, tc.recursive, got, err, tc.want)
		}
	}
	_, err := n.A.List(ctx, accountA+"/a.json/x", true)
	wantNotExist(t, "List under a key", err)
}

func testDelete(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	seed(t, ctx, n)
	if err := n.A.Delete(ctx, accountA); err != nil { // a directory: everything under it
		t.Fatal(err)
	}
	got, err := n.A.List(ctx, "", true)
	if want := []string{accountC + "/c.json", domainDir(n) + "/" + n.Domain + ".crt", domainDir(n) + "/" + n.Domain + ".key"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("after deleting %s: List = %q, %v; want %q", accountA, got, err, want)
	}
	crt := domainDir(n) + "/" + n.Domain + ".crt"
	if err := n.A.Delete(ctx, crt); err != nil {
		t.Fatal(err)
	}
	_, err = n.A.Load(ctx, crt)
	wantNotExist(t, "Load of a deleted key", err)
	if err := n.A.Delete(ctx, crt); err != nil {
		t.Errorf("Delete of a deleted key: %v, want nil", err)
	}
}

func testLocks(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	const name, other = "issue_cert_www.example.com", "issue_cert_other.example.com"
	try := func(who string, r certs.Remote, lock string, want bool) {
		t.Helper()
		if got, err := r.TryLock(ctx, lock); err != nil || got != want {
			t.Errorf("TryLock(%s) by %s = %v, %v; want %v", lock, who, got, err, want)
		}
	}
	unlock := func(r certs.Remote, lock string) {
		t.Helper()
		if err := r.Unlock(ctx, lock); err != nil {
			t.Errorf("Unlock(%s): %v", lock, err)
		}
	}
	try("A", n.A, name, true)
	try("B", n.B, name, false)
	try("A again", n.A, name, true) // the holder extends its lease
	try("B", n.B, other, true)      // locks are independent
	unlock(n.B, name)               // not B's: a no-op
	try("B after its no-op Unlock", n.B, name, false)
	unlock(n.A, name)
	try("B after A's Unlock", n.B, name, true)
	try("A", n.A, name, false)
	unlock(n.A, "issue_cert_never_taken") // a no-op too
}

func testUnavailable(t *testing.T, n Nodes) {
	ctx := suiteContext(t)
	if err := n.A.Store(ctx, accountA+"/a.json", []byte("v")); err != nil {
		t.Fatal(err)
	}
	n.Down()
	calls := map[string]func() error{
		"Load":  func() error { _, err := n.A.Load(ctx, accountA+"/a.json"); return err },
		"Store": func() error { return n.A.Store(ctx, accountA+"/a.json", []byte("w")) },
		// Not "nothing to delete": the caller must not believe it deleted.
		"Delete":  func() error { return n.A.Delete(ctx, accountA+"/a.json") },
		"List":    func() error { _, err := n.A.List(ctx, users, true); return err },
		"Stat":    func() error { _, err := n.A.Stat(ctx, accountA); return err },
		"TryLock": func() error { _, err := n.A.TryLock(ctx, "issue_cert_x"); return err },
		"Unlock":  func() error { return n.A.Unlock(ctx, "issue_cert_x") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, certs.ErrUnavailable) {
			t.Errorf("%s while down: %v, want an error wrapping certs.ErrUnavailable", name, err)
		}
	}
}
