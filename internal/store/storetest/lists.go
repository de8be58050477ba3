package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fixaroo/berth/internal/store"
)

const (
	listed   = 25 // records created for a pagination test
	pageSize = 10 // pages of 10, 10, 5
)

func testPaginateClients(t *testing.T, s store.Store) {
	var want []string
	for _, c := range createClients(t, s, listed) {
		want = append(want, c.ID)
	}
	got := pageAll(t, s, pageSize, func(c *store.Client) string { return c.ID },
		func(tx store.ReadTx, p store.Page) ([]*store.Client, error) { return tx.ListClients(p) })
	checkIDs(t, "ListClients", got, sorted(want, false))
}

func testPaginateNodes(t *testing.T, s store.Store) {
	var want []string
	update(t, s, func(tx store.Tx) error {
		for i := range listed {
			n := newNode(i)
			want = append(want, n.ID)
			if err := tx.CreateNode(n); err != nil {
				return err
			}
		}
		return nil
	})
	got := pageAll(t, s, pageSize, func(n *store.Node) string { return n.ID },
		func(tx store.ReadTx, p store.Page) ([]*store.Node, error) { return tx.ListNodes(p) })
	checkIDs(t, "ListNodes", got, sorted(want, false))
}

func testPaginateSites(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	n1, n2 := newNode(1), newNode(2)
	var sites []*store.Site
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateNode(n1) },
			func() error { return tx.CreateNode(n2) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		for i := range listed {
			site := newSite(a.ID, i)
			if i%2 == 1 {
				site.ClientID = b.ID
			}
			switch i % 3 {
			case 0:
				site.NodeID = n1.ID
			case 1:
				site.NodeID = n2.ID
			}
			if i%4 == 0 {
				site.State = store.SiteStateRunning
			}
			if i%5 == 0 {
				site.AliasDomains = []string{fmt.Sprintf("shop%d.example", i)}
			}
			sites = append(sites, site)
			if err := tx.CreateSite(site); err != nil {
				return err
			}
		}
		return nil
	})

	filters := []struct {
		name string
		f    store.SiteFilter
	}{
		{"all", store.SiteFilter{}},
		{"client a", store.SiteFilter{ClientID: a.ID}},
		{"client b", store.SiteFilter{ClientID: b.ID}},
		{"node", store.SiteFilter{NodeID: n1.ID}},
		{"state", store.SiteFilter{State: store.SiteStateRunning}},
		{"state and node", store.SiteFilter{State: store.SiteStatePending, NodeID: n2.ID}},
		{"client, node and state", store.SiteFilter{ClientID: a.ID, NodeID: n1.ID, State: store.SiteStateRunning}},
		{"unknown client", store.SiteFilter{ClientID: store.NewID("cli", base)}},
		{"query in name", store.SiteFilter{Query: "site-1"}},
		{"query in alias, any case", store.SiteFilter{Query: "SHOP"}},
		{"query and client", store.SiteFilter{Query: "shop", ClientID: a.ID}},
		{"query with LIKE wildcards", store.SiteFilter{Query: "%"}},
		{"query with LIKE single wildcard", store.SiteFilter{Query: "site_1"}},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			var want []string
			for _, site := range sites {
				if (f.ClientID == "" || site.ClientID == f.ClientID) &&
					(f.NodeID == "" || site.NodeID == f.NodeID) &&
					(f.State == "" || site.State == f.State) &&
					(f.Query == "" || matchesQuery(site, f.Query)) {
					want = append(want, site.ID)
				}
			}
			got := pageAll(t, s, pageSize, func(s *store.Site) string { return s.ID },
				func(tx store.ReadTx, p store.Page) ([]*store.Site, error) { return tx.ListSites(f, p) })
			checkIDs(t, "ListSites", got, sorted(want, false))
			n := read(t, s, func(tx store.ReadTx) (int, error) { return tx.CountSites(f) })
			if n != len(want) {
				t.Errorf("CountSites = %d, want %d", n, len(want))
			}
		})
	}
}

func testPaginateUsers(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	var ofA, all []string
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(a); err != nil {
			return err
		}
		if err := tx.CreateClient(b); err != nil {
			return err
		}
		for i := range listed + 5 {
			var u *store.User
			switch {
			case i < listed:
				u = newUser(a.ID, i)
				ofA = append(ofA, u.ID)
			case i < listed+3:
				u = newUser("", i) // admins
			default:
				u = newUser(b.ID, i)
			}
			all = append(all, u.ID)
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tt := range []struct {
		clientID string
		want     []string
	}{{a.ID, ofA}, {"", all}} {
		got := pageAll(t, s, pageSize, func(u *store.User) string { return u.ID },
			func(tx store.ReadTx, p store.Page) ([]*store.User, error) { return tx.ListUsers(tt.clientID, p) })
		checkIDs(t, fmt.Sprintf("ListUsers(%q)", tt.clientID), got, sorted(tt.want, false))
	}
}

func testPaginateTokens(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	var ofA, all []string
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(a); err != nil {
			return err
		}
		if err := tx.CreateClient(b); err != nil {
			return err
		}
		for i := range listed + 5 {
			clientID := a.ID
			if i >= listed {
				clientID = b.ID
			}
			tok := newToken(clientID, "", store.TokenKindAPI, i)
			if clientID == a.ID {
				ofA = append(ofA, tok.ID)
			}
			all = append(all, tok.ID)
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tt := range []struct {
		f    store.TokenFilter
		want []string
	}{
		{store.TokenFilter{ClientID: a.ID, Now: base}, ofA},
		{store.TokenFilter{Now: base}, all},
	} {
		got := pageAll(t, s, pageSize, func(tok *store.Token) string { return tok.ID },
			func(tx store.ReadTx, p store.Page) ([]*store.Token, error) { return tx.ListTokens(tt.f, p) })
		checkIDs(t, fmt.Sprintf("ListTokens(%+v)", tt.f), got, sorted(tt.want, false))
	}
}

// testDefaultPageLimit: Limit <= 0 means a page of 100.
func testDefaultPageLimit(t *testing.T, s store.Store) {
	createClients(t, s, 101)
	for _, limit := range []int{0, -1} {
		got := read(t, s, func(tx store.ReadTx) ([]*store.Client, error) {
			return tx.ListClients(store.Page{Limit: limit})
		})
		if len(got) != 100 {
			t.Errorf("ListClients(Limit: %d) returned %d clients, want 100", limit, len(got))
		}
	}
}

// matchesQuery is SiteFilter.Query's rule: the name or a domain contains
// the query, ignoring ASCII case.
func matchesQuery(s *store.Site, q string) bool {
	q = strings.ToLower(q)
	for _, v := range append([]string{s.Name}, s.Domains()...) {
		if strings.Contains(strings.ToLower(v), q) {
			return true
		}
	}
	return false
}
