package fleet

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/scheduler"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
)

func newStore(t *testing.T) store.Store {
	t.Helper()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func update(t *testing.T, st store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func getSite(t *testing.T, st store.Store, id string) *store.Site {
	t.Helper()
	var s *store.Site
	err := st.View(context.Background(), func(tx store.ReadTx) (err error) {
		s, err = tx.GetSite(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func condition(s *store.Site, typ string) store.Condition {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return store.Condition{}
}

// TestPass drives the fleet with an injected clock over a real store.
func TestPass(t *testing.T) {
	st := newStore(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	f := New(Options{Store: st, Now: func() time.Time { return clock }, HeartbeatGrace: 30 * time.Second})
	clientID := store.NewID("cl", now)
	nodeA, nodeB := store.NewID("node", now), store.NewID("node", now)
	var static, wp, huge string
	update(t, st, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: clientID, DisplayName: "C", Slug: "c", ContactEmail: "c@c.test", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for i, id := range []string{nodeA, nodeB} {
			if err := tx.CreateNode(&store.Node{ID: id, Name: fmt.Sprint("n", i), State: store.NodeStateReady, MemoryMiB: 2048, CPUMillicores: 2000, LastHeartbeatTime: now, CreateTime: now}); err != nil {
				return err
			}
		}
		mk := func(name string, kind store.SiteKind, mem int32) string {
			id := store.NewID("site", now)
			if err := tx.CreateSite(&store.Site{ID: id, ClientID: clientID, Name: name, Kind: kind, PrimaryDomain: name + ".c.test",
				MemoryMiB: mem, CPUMillicores: 100, State: store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		static, wp, huge = mk("www", store.SiteKindStatic, 256), mk("blog", store.SiteKindWordPress, 256), mk("huge", store.SiteKindStatic, 60000)
		return nil
	})

	if err := f.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{static, wp} {
		s := getSite(t, st, id)
		if s.NodeID == "" || s.State != store.SiteStateProvisioning || condition(s, "Scheduled").Status != "True" {
			t.Errorf("site %s after a pass: node %q state %s conditions %v; want placed and PROVISIONING", s.Name, s.NodeID, s.State, s.Conditions)
		}
	}
	if s := getSite(t, st, huge); s.NodeID != "" || condition(s, "Scheduled").Reason != "NoCapacity" {
		t.Errorf("oversized site: node %q conditions %v; want unplaced with NoCapacity", s.NodeID, s.Conditions)
	}

	// Drain the static site's node: the static site moves, a WordPress site there stays.
	from := getSite(t, st, static).NodeID
	update(t, st, func(tx store.Tx) error {
		n, err := tx.GetNode(from)
		if err != nil {
			return err
		}
		n.State = store.NodeStateDraining
		if err := tx.UpdateNode(n); err != nil {
			return err
		}
		w, err := tx.GetSite(wp)
		if err != nil {
			return err
		}
		w.NodeID = from
		return tx.UpdateSite(w)
	})
	if err := f.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := getSite(t, st, static); s.NodeID == from || s.NodeID == "" {
		t.Errorf("static site still on draining node %s (now %q)", from, s.NodeID)
	}
	if s := getSite(t, st, wp); s.NodeID != from || condition(s, "Scheduled").Reason != "CannotMove" {
		t.Errorf("WordPress site on draining node: node %q conditions %v; want kept with CannotMove", s.NodeID, s.Conditions)
	}

	// Silence: after the grace period, nodes are NOT_READY.
	clock = now.Add(31 * time.Second)
	if err := f.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	checked := 0
	err := st.View(context.Background(), func(tx store.ReadTx) error {
		for _, id := range []string{nodeA, nodeB} {
			n, err := tx.GetNode(id)
			if err != nil {
				return err
			}
			if n.State == store.NodeStateReady {
				t.Errorf("node %s still READY 31s after its last heartbeat", n.Name)
			}
			if n.State != store.NodeStateNotReady {
				continue // a draining node stays draining
			}
			sites, err := tx.ListSites(store.SiteFilter{NodeID: id}, store.Page{})
			if err != nil {
				return err
			}
			checked += len(sites)
			for _, s := range sites {
				if c := condition(s, "NodeReady"); c.Status != "False" {
					t.Errorf("site %s on silent node %s: NodeReady = %+v, want False", s.Name, n.Name, c)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Error("no site on a NOT_READY node was checked")
	}
}

// TestApplyPlanSkipsStaleSites checks that a plan made from an older
// snapshot leaves alone a site that was moved since, and that unplaced
// FAILED sites (lost with a deleted node) are never scheduled.
func TestApplyPlanSkipsStaleSites(t *testing.T) {
	st := newStore(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clientID := store.NewID("cl", now)
	src, dst, third := store.NewID("node", now), store.NewID("node", now), store.NewID("node", now)
	site, lost := store.NewID("site", now), store.NewID("site", now)
	update(t, st, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: clientID, DisplayName: "C", Slug: "c", ContactEmail: "c@c.test", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for i, n := range []struct {
			id    string
			state store.NodeState
		}{{src, store.NodeStateDraining}, {dst, store.NodeStateReady}, {third, store.NodeStateReady}} {
			if err := tx.CreateNode(&store.Node{ID: n.id, Name: fmt.Sprint("n", i), State: n.state, MemoryMiB: 2048, CPUMillicores: 2000, LastHeartbeatTime: now, CreateTime: now}); err != nil {
				return err
			}
		}
		if err := tx.CreateSite(&store.Site{ID: site, ClientID: clientID, Name: "www", Kind: store.SiteKindStatic, PrimaryDomain: "www.c.test",
			MemoryMiB: 128, CPUMillicores: 100, NodeID: src, State: store.SiteStateRunning, Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		return tx.CreateSite(&store.Site{ID: lost, ClientID: clientID, Name: "blog", Kind: store.SiteKindWordPress, PrimaryDomain: "blog.c.test",
			MemoryMiB: 128, CPUMillicores: 100, State: store.SiteStateFailed, Generation: 1, CreateTime: now, UpdateTime: now})
	})

	var nodes []scheduler.Node
	var sites []scheduler.Site
	err := st.View(context.Background(), func(tx store.ReadTx) (err error) {
		nodes, sites, err = SchedulerState(tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].ID != site {
		t.Fatalf("SchedulerState sites = %+v, want only the running site (not the unplaced FAILED one)", sites)
	}
	plan := scheduler.Drain(nodes, sites, src)
	if len(plan.Placements) != 1 {
		t.Fatalf("drain plan %+v, want one placement", plan)
	}
	// Meanwhile the site moves elsewhere: the stale plan must not move it again.
	moved := dst
	if plan.Placements[0].NodeID == dst {
		moved = third
	}
	update(t, st, func(tx store.Tx) error {
		s, err := tx.GetSite(site)
		if err != nil {
			return err
		}
		s.NodeID = moved
		return tx.UpdateSite(s)
	})
	update(t, st, func(tx store.Tx) error {
		placed, err := ApplyPlan(tx, plan, now, true)
		if len(placed) != 0 {
			t.Errorf("ApplyPlan of a stale plan placed %+v, want nothing", placed)
		}
		return err
	})
	if s := getSite(t, st, site); s.NodeID != moved {
		t.Errorf("site on %s after a stale plan, want still on %s", s.NodeID, moved)
	}
}
