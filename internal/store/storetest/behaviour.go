package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/store"
)

func testRollback(t *testing.T, s store.Store) {
	c := newClient(1)
	site := newSite(c.ID, 1)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateSite(site); err != nil {
			return err
		}
		if err := tx.SetMeta("k", "v"); err != nil {
			return err
		}
		// The transaction sees its own writes.
		if _, err := tx.GetClient(c.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return fmt.Errorf("give up: %w", errRollback)
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v, want the fn's error", err)
	}
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.GetClient(c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient after rollback: %v, want ErrNotFound", err)
		}
		if _, err := tx.GetSite(site.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSite after rollback: %v, want ErrNotFound", err)
		}
		if _, err := tx.GetMeta("k"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetMeta after rollback: %v, want ErrNotFound", err)
		}
		return nil
	})
	// The domain is free again.
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})

	// An error inside the transaction that fn handles does not poison it.
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("CreateClient twice: %v, want ErrConflict", err)
		}
		c2 := newClient(2)
		return tx.CreateClient(c2)
	})
	if n := len(read(t, s, func(tx store.ReadTx) ([]*store.Client, error) { return tx.ListClients(store.Page{}) })); n != 2 {
		t.Errorf("%d clients after recovering from a conflict, want 2", n)
	}
}

func testMeta(t *testing.T, s store.Store) {
	_, err := read2(t, s, func(tx store.ReadTx) (string, error) { return tx.GetMeta("cluster_id") })
	wantErr(t, "GetMeta unset", err, store.ErrNotFound)
	for _, v := range []string{"one", "two", ""} {
		update(t, s, func(tx store.Tx) error { return tx.SetMeta("cluster_id", v) })
		if got := read(t, s, func(tx store.ReadTx) (string, error) { return tx.GetMeta("cluster_id") }); got != v {
			t.Errorf("GetMeta = %q after SetMeta(%q)", got, v)
		}
	}
	update(t, s, func(tx store.Tx) error { return tx.SetMeta("other", "x") })
	if got := read(t, s, func(tx store.ReadTx) (string, error) { return tx.GetMeta("cluster_id") }); got != "" {
		t.Errorf("GetMeta = %q after setting another key", got)
	}
}

func testSubscribeSites(t *testing.T, s store.Store) {
	ids, cancel := s.SubscribeSites()
	defer cancel()
	other, cancelOther := s.SubscribeSites()
	defer cancelOther()

	c := newClient(1)
	one, two, three := newSite(c.ID, 1), newSite(c.ID, 2), newSite(c.ID, 3)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		return tx.CreateSite(one)
	})
	if got := recv(t, ids); got != one.ID {
		t.Errorf("after CreateSite: received %s, want %s", got, one.ID)
	}
	if got := recv(t, other); got != one.ID {
		t.Errorf("second subscriber: received %s, want %s", got, one.ID)
	}

	// A rolled-back transaction announces nothing, nor does one that changes
	// no site: the next id received is from the next committed site change.
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.CreateSite(two); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.CreateClient(newClient(2)) })
	one.State = store.SiteStateRunning
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(one) })
	if got := recv(t, ids); got != one.ID {
		t.Errorf("after a rollback and UpdateSite: received %s, want %s", got, one.ID)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(one.ID) })
	if got := recv(t, ids); got != one.ID {
		t.Errorf("after DeleteSite: received %s, want %s", got, one.ID)
	}

	// One transaction touching two sites announces both.
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSite(two); err != nil {
			return err
		}
		return tx.CreateSite(three)
	})
	got := map[string]bool{recv(t, ids): true, recv(t, ids): true}
	if !got[two.ID] || !got[three.ID] {
		t.Errorf("after creating two sites: received %v, want %s and %s", got, two.ID, three.ID)
	}

	cancel()
	cancel() // a second cancel is harmless
	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(two.ID) })
	for {
		id := recv(t, other)
		if id == two.ID {
			break
		}
	}
}

// testSubscribeSlowReceiver: a subscriber that never reads does not block
// writers.
func testSubscribeSlowReceiver(t *testing.T, s store.Store) {
	_, cancel := s.SubscribeSites()
	defer cancel()
	c := newClient(1)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		for i := range 300 {
			if err := tx.CreateSite(newSite(c.ID, i)); err != nil {
				return err
			}
		}
		return nil
	})
	for i := range 50 {
		update(t, s, func(tx store.Tx) error { return tx.CreateSite(newSite(c.ID, 1000+i)) })
	}
}

// testViewSnapshot: a View reads one snapshot, even while an Update commits.
func testViewSnapshot(t *testing.T, s store.Store) {
	createClients(t, s, 3)
	done := make(chan error, 1)
	view(t, s, func(tx store.ReadTx) error {
		before, err := tx.ListClients(store.Page{})
		if err != nil {
			return err
		}
		go func() {
			done <- s.Update(t.Context(), func(tx store.Tx) error { return tx.CreateClient(newClient(10)) })
		}()
		// A backend may make the writer wait for this reader; give it a
		// bounded chance to commit either way.
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
			done <- nil
		case <-time.After(2 * time.Second):
		}
		after, err := tx.ListClients(store.Page{})
		if err != nil {
			return err
		}
		if len(after) != len(before) {
			t.Errorf("View saw %d clients, then %d: not a snapshot", len(before), len(after))
		}
		return nil
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(read(t, s, func(tx store.ReadTx) ([]*store.Client, error) { return tx.ListClients(store.Page{}) })); n != 4 {
		t.Errorf("%d clients after the View, want 4", n)
	}
}

// testConcurrentUpdates: 50 writers, each in its own Update, beside readers.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	const writers = 50
	want := make([]string, writers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := s.View(t.Context(), func(tx store.ReadTx) error {
					_, err := tx.ListClients(store.Page{})
					return err
				})
				if err != nil {
					t.Errorf("concurrent View: %v", err)
					return
				}
			}
		})
	}
	for i := range writers {
		c := newClient(i)
		want[i] = c.ID
		wg.Go(func() {
			err := s.Update(t.Context(), func(tx store.Tx) error {
				if err := tx.CreateClient(c); err != nil {
					return err
				}
				return tx.AppendAuditEvent(&store.AuditEvent{
					ID: store.NewID("aud", base), Time: base, Method: "CreateClient", ResourceID: c.ID, Code: "OK",
				})
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	got := pageAll(t, s, 100, func(c *store.Client) string { return c.ID },
		func(tx store.ReadTx, p store.Page) ([]*store.Client, error) { return tx.ListClients(p) })
	checkIDs(t, "ListClients", got, sorted(want, false))
}

func testClose(t *testing.T, s store.Store) {
	ids, cancel := s.SubscribeSites()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.View(t.Context(), func(store.ReadTx) error { return nil }); err == nil {
		t.Error("View after Close succeeded")
	}
	if err := s.Update(t.Context(), func(store.Tx) error { return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
	cancel() // harmless after Close
	_ = ids
}
