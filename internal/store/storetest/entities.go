package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

func testClientCRUD(t *testing.T, s store.Store) {
	c := newClient(1)
	update(t, s, func(tx store.Tx) error { return tx.CreateClient(c) })
	got := read(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClient(c.ID) })
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("GetClient after create (-want +got):\n%s", diff)
	}

	c2 := *c
	c2.DisplayName, c2.Slug, c2.ContactEmail = "Renamed", "renamed", "new@client.example"
	c2.UpdateTime = at(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateClient(&c2) })
	got = read(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClient(c.ID) })
	if diff := cmp.Diff(&c2, got); diff != "" {
		t.Errorf("GetClient after update (-want +got):\n%s", diff)
	}
	list := read(t, s, func(tx store.ReadTx) ([]*store.Client, error) { return tx.ListClients(store.Page{}) })
	if diff := cmp.Diff([]*store.Client{&c2}, list); diff != "" {
		t.Errorf("ListClients (-want +got):\n%s", diff)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteClient(c.ID) })
	_, err := read2(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClient(c.ID) })
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
}

// testClientStatusPage: the status page settings round-trip; ListClients
// leaves out the logo but tells that there is one; GetClientBySlug finds the
// client.
func testClientStatusPage(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	a.StatusPage = store.StatusPage{Enabled: true, SiteIDs: []string{"site_b", "site_a"}, AccentColor: "#12ab9f",
		Logo: []byte("\x89PNG\r\n\x1a\nlogo")}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(a); err != nil {
			return err
		}
		return tx.CreateClient(b)
	})
	wantA := *a
	wantA.StatusPage.HasLogo = true
	got := read(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClient(a.ID) })
	if diff := cmp.Diff(&wantA, got); diff != "" {
		t.Errorf("GetClient (-want +got):\n%s", diff)
	}
	got = read(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClientBySlug(a.Slug) })
	if diff := cmp.Diff(&wantA, got); diff != "" {
		t.Errorf("GetClientBySlug (-want +got):\n%s", diff)
	}
	_, err := read2(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClientBySlug("nobody") })
	wantErr(t, "GetClientBySlug of an unknown slug", err, store.ErrNotFound)

	listedA := wantA
	listedA.StatusPage.Logo = nil
	list := read(t, s, func(tx store.ReadTx) ([]*store.Client, error) { return tx.ListClients(store.Page{}) })
	if diff := cmp.Diff([]*store.Client{&listedA, b}, list, equateEmpty); diff != "" {
		t.Errorf("ListClients (-want +got):\n%s", diff)
	}

	// Clearing the page clears every field, the logo too.
	a.StatusPage = store.StatusPage{}
	update(t, s, func(tx store.Tx) error { return tx.UpdateClient(a) })
	got = read(t, s, func(tx store.ReadTx) (*store.Client, error) { return tx.GetClient(a.ID) })
	if diff := cmp.Diff(a, got, equateEmpty); diff != "" {
		t.Errorf("GetClient after clearing the page (-want +got):\n%s", diff)
	}
}

// read2 is read that returns the error instead of failing.
func read2[T any](t *testing.T, s store.Store, fn func(tx store.ReadTx) (T, error)) (T, error) {
	t.Helper()
	var v T
	err := s.View(t.Context(), func(tx store.ReadTx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

func testSiteCRUD(t *testing.T, s store.Store) {
	c := newClient(1)
	n := newNode(1)
	site := newSite(c.ID, 1, "blog.example", "www.blog.example", "old.blog.example")
	site.Kind = store.SiteKindWordPress
	site.WPTitle, site.WPAdminEmail = "Blog", "admin@blog.example"
	site.Secrets = map[string]string{"db_password": "correct horse battery staple", "admin_password": "hunter2"}
	site.NodeID = n.ID
	site.Conditions = []store.Condition{{
		Type: "Ready", Status: "False", Reason: "Provisioning", Message: "creating container",
		LastTransitionTime: at(time.Minute),
	}}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateNode(n); err != nil {
			return err
		}
		return tx.CreateSite(site)
	})
	get := func() *store.Site {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	}
	if diff := cmp.Diff(site, get(), equateEmpty); diff != "" {
		t.Errorf("GetSite after create (-want +got):\n%s", diff)
	}

	// Update replaces every mutable field, domains and secrets included.
	s2 := *site
	s2.Name = "renamed"
	s2.PrimaryDomain = "www.blog.example"
	s2.AliasDomains = []string{"new.blog.example", "blog.example"}
	s2.MemoryMiB, s2.CPUMillicores = 512, 1000
	s2.WPTitle = "Renamed blog"
	s2.Secrets = map[string]string{"db_password": "rotated"}
	s2.NodeID = ""
	s2.State = store.SiteStateRunning
	s2.Conditions = append(s2.Conditions, store.Condition{Type: "Certificate", Status: "True", LastTransitionTime: at(2 * time.Minute)})
	s2.Generation, s2.ObservedGeneration = 2, 2
	s2.UpdateTime = at(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(&s2) })
	if diff := cmp.Diff(&s2, get(), equateEmpty); diff != "" {
		t.Errorf("GetSite after update (-want +got):\n%s", diff)
	}

	// Clearing secrets, aliases and conditions.
	s3 := s2
	s3.Secrets, s3.AliasDomains, s3.Conditions = nil, nil, nil
	update(t, s, func(tx store.Tx) error { return tx.UpdateSite(&s3) })
	got := get()
	if diff := cmp.Diff(&s3, got, equateEmpty); diff != "" {
		t.Errorf("GetSite after clearing (-want +got):\n%s", diff)
	}
	if len(got.Secrets) != 0 {
		t.Errorf("Secrets = %v after clearing, want none", got.Secrets)
	}

	list := read(t, s, func(tx store.ReadTx) ([]*store.Site, error) {
		return tx.ListSites(store.SiteFilter{}, store.Page{})
	})
	if diff := cmp.Diff([]*store.Site{&s3}, list, equateEmpty); diff != "" {
		t.Errorf("ListSites (-want +got):\n%s", diff)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(site.ID) })
	_, err := read2(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	wantErr(t, "GetSite after delete", err, store.ErrNotFound)
}

func testNodeCRUD(t *testing.T, s store.Store) {
	n := newNode(1)
	n.Labels = map[string]string{"region": "eu-west", "disk": "ssd"}
	n.AgentVersion, n.DockerVersion = "0.1.0", "28.0.1"
	n.LastHeartbeatTime = at(time.Minute)
	update(t, s, func(tx store.Tx) error { return tx.CreateNode(n) })
	get := func() *store.Node {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) (*store.Node, error) { return tx.GetNode(n.ID) })
	}
	if diff := cmp.Diff(n, get(), equateEmpty); diff != "" {
		t.Errorf("GetNode after create (-want +got):\n%s", diff)
	}

	n2 := *n
	n2.Name = "node-renamed"
	n2.State = store.NodeStateDraining
	n2.MemoryMiB, n2.CPUMillicores, n2.DiskMiB = 32768, 16000, 1<<20
	n2.Labels = map[string]string{"region": "eu-central"}
	n2.AgentVersion = "0.2.0"
	n2.LastHeartbeatTime = at(2 * time.Minute)
	n2.EdgeAddress = "10.0.0.7:443"
	update(t, s, func(tx store.Tx) error { return tx.UpdateNode(&n2) })
	if diff := cmp.Diff(&n2, get(), equateEmpty); diff != "" {
		t.Errorf("GetNode after update (-want +got):\n%s", diff)
	}
	list := read(t, s, func(tx store.ReadTx) ([]*store.Node, error) { return tx.ListNodes(store.Page{}) })
	if diff := cmp.Diff([]*store.Node{&n2}, list, equateEmpty); diff != "" {
		t.Errorf("ListNodes (-want +got):\n%s", diff)
	}

	// A site keeps naming a deleted node: the scheduler re-places it.
	c := newClient(1)
	site := newSite(c.ID, 1)
	site.NodeID = n.ID
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateSite(site); err != nil {
			return err
		}
		return tx.DeleteNode(n.ID)
	})
	_, err := read2(t, s, func(tx store.ReadTx) (*store.Node, error) { return tx.GetNode(n.ID) })
	wantErr(t, "GetNode after delete", err, store.ErrNotFound)
	got := read(t, s, func(tx store.ReadTx) (*store.Site, error) { return tx.GetSite(site.ID) })
	if got.NodeID != n.ID {
		t.Errorf("site NodeID = %q after its node was deleted, want %q", got.NodeID, n.ID)
	}
}

func testUserCRUD(t *testing.T, s store.Store) {
	c := newClient(1)
	admin := newUser("", 1)
	u := newUser(c.ID, 2)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateUser(admin); err != nil {
			return err
		}
		return tx.CreateUser(u)
	})
	for _, want := range []*store.User{admin, u} {
		got := read(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUser(want.ID) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetUser(%s) (-want +got):\n%s", want.ID, diff)
		}
		got = read(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUserByEmail(want.Email) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetUserByEmail(%s) (-want +got):\n%s", want.Email, diff)
		}
	}

	u2 := *u
	u2.Email = "changed@example.com"
	u2.PasswordHash = "$argon2id$v=19$m=65536,t=3,p=4$new$hash"
	u2.UpdateTime = at(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateUser(&u2) })
	got := read(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUserByEmail(u2.Email) })
	if diff := cmp.Diff(&u2, got); diff != "" {
		t.Errorf("GetUserByEmail after update (-want +got):\n%s", diff)
	}
	_, err := read2(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUserByEmail(u.Email) })
	wantErr(t, "GetUserByEmail(old email)", err, store.ErrNotFound)

	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(u.ID) })
	_, err = read2(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUser(u.ID) })
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
}

func testTokenCRUD(t *testing.T, s store.Store) {
	c := newClient(1)
	u := newUser(c.ID, 1)
	api := newToken(c.ID, "", store.TokenKindAPI, 1)
	api.ExpireTime = at(24 * time.Hour)
	session := newToken(c.ID, u.ID, store.TokenKindSession, 2)
	admin := newToken("", "", store.TokenKindAPI, 3)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		for _, tok := range []*store.Token{api, session, admin} {
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
		}
		return nil
	})
	for _, want := range []*store.Token{api, session, admin} {
		got := read(t, s, func(tx store.ReadTx) (*store.Token, error) { return tx.GetToken(want.ID) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetToken(%s) (-want +got):\n%s", want.ID, diff)
		}
		got = read(t, s, func(tx store.ReadTx) (*store.Token, error) { return tx.GetTokenByHash(want.Hash) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetTokenByHash(%s) (-want +got):\n%s", want.ID, diff)
		}
	}
}

func testNotFound(t *testing.T, s store.Store) {
	missing := func(prefix string) string { return store.NewID(prefix, base) }
	c := newClient(1)
	update(t, s, func(tx store.Tx) error { return tx.CreateClient(c) })
	reads := []struct {
		name string
		fn   func(tx store.ReadTx) error
	}{
		{"GetClient", func(tx store.ReadTx) error { _, err := tx.GetClient(missing("cli")); return err }},
		{"GetSite", func(tx store.ReadTx) error { _, err := tx.GetSite(missing("site")); return err }},
		{"GetNode", func(tx store.ReadTx) error { _, err := tx.GetNode(missing("node")); return err }},
		{"GetUser", func(tx store.ReadTx) error { _, err := tx.GetUser(missing("user")); return err }},
		{"GetUserByEmail", func(tx store.ReadTx) error { _, err := tx.GetUserByEmail("nobody@example.com"); return err }},
		{"GetToken", func(tx store.ReadTx) error { _, err := tx.GetToken(missing("tok")); return err }},
		{"GetTokenByHash", func(tx store.ReadTx) error { _, err := tx.GetTokenByHash(hash("nope")); return err }},
		{"GetMeta", func(tx store.ReadTx) error { _, err := tx.GetMeta("unset"); return err }},
	}
	for _, tt := range reads {
		wantErr(t, tt.name, s.View(t.Context(), tt.fn), store.ErrNotFound)
	}
	writes := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"UpdateClient", func(tx store.Tx) error { c := newClient(2); c.ID = missing("cli"); return tx.UpdateClient(c) }},
		{"DeleteClient", func(tx store.Tx) error { return tx.DeleteClient(missing("cli")) }},
		{"UpdateSite", func(tx store.Tx) error { site := newSite(c.ID, 1); return tx.UpdateSite(site) }},
		{"DeleteSite", func(tx store.Tx) error { return tx.DeleteSite(missing("site")) }},
		{"UpdateNode", func(tx store.Tx) error { return tx.UpdateNode(newNode(1)) }},
		{"DeleteNode", func(tx store.Tx) error { return tx.DeleteNode(missing("node")) }},
		{"UpdateUser", func(tx store.Tx) error { return tx.UpdateUser(newUser("", 1)) }},
		{"DeleteUser", func(tx store.Tx) error { return tx.DeleteUser(missing("user")) }},
		{"RevokeToken", func(tx store.Tx) error { return tx.RevokeToken(missing("tok"), base) }},
		{"TouchToken", func(tx store.Tx) error { return tx.TouchToken(missing("tok"), base) }},
	}
	for _, tt := range writes {
		wantErr(t, tt.name, updateErr(t, s, tt.fn), store.ErrNotFound)
	}
}

// testMissingParent: records that name a missing client or user are refused
// with ErrNotFound rather than stored dangling.
func testMissingParent(t *testing.T, s store.Store) {
	ghost := store.NewID("cli", base)
	tests := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"CreateSite", func(tx store.Tx) error { return tx.CreateSite(newSite(ghost, 1)) }},
		{"CreateUser", func(tx store.Tx) error { return tx.CreateUser(newUser(ghost, 1)) }},
		{"CreateToken client", func(tx store.Tx) error {
			return tx.CreateToken(newToken(ghost, "", store.TokenKindAPI, 1))
		}},
		{"CreateToken user", func(tx store.Tx) error {
			return tx.CreateToken(newToken("", store.NewID("user", base), store.TokenKindSession, 1))
		}},
	}
	for _, tt := range tests {
		wantErr(t, tt.name, updateErr(t, s, tt.fn), store.ErrNotFound)
	}
}

func testConflicts(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	siteA := newSite(a.ID, 1, "a.example", "www.a.example")
	siteA.Name = "blog"
	siteB := newSite(b.ID, 2, "b.example")
	node := newNode(1)
	userA, userB := newUser(a.ID, 1), newUser(b.ID, 2)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateSite(siteA) },
			func() error { return tx.CreateSite(siteB) },
			func() error { return tx.CreateNode(node) },
			func() error { return tx.CreateUser(userA) },
			func() error { return tx.CreateUser(userB) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})

	// modified returns a copy of siteB changed by f.
	modified := func(f func(*store.Site)) *store.Site {
		s := *siteB
		f(&s)
		return &s
	}
	conflicts := []struct {
		name    string
		fn      func(tx store.Tx) error
		mention []string
	}{
		{"client slug", func(tx store.Tx) error {
			c := newClient(3)
			c.Slug = a.Slug
			return tx.CreateClient(c)
		}, []string{`"` + a.Slug + `"`}},
		{"client slug on update", func(tx store.Tx) error {
			c := *b
			c.Slug = a.Slug
			return tx.UpdateClient(&c)
		}, []string{`"` + a.Slug + `"`}},
		{"user email", func(tx store.Tx) error {
			u := newUser(b.ID, 3)
			u.Email = userA.Email
			return tx.CreateUser(u)
		}, []string{`"` + userA.Email + `"`}},
		{"user email on update", func(tx store.Tx) error {
			u := *userB
			u.Email = userA.Email
			return tx.UpdateUser(&u)
		}, []string{`"` + userA.Email + `"`}},
		{"node name", func(tx store.Tx) error {
			n := newNode(2)
			n.Name = node.Name
			return tx.CreateNode(n)
		}, []string{`"` + node.Name + `"`}},
		{"node name on update", func(tx store.Tx) error {
			n := newNode(2)
			if err := tx.CreateNode(n); err != nil {
				return err
			}
			n.Name = node.Name
			return tx.UpdateNode(n)
		}, []string{`"` + node.Name + `"`}},
		{"primary domain of another client's site", func(tx store.Tx) error {
			return tx.CreateSite(newSite(b.ID, 3, "a.example"))
		}, []string{`"a.example"`, "domain"}},
		{"alias domain of another client's site", func(tx store.Tx) error {
			return tx.CreateSite(newSite(b.ID, 3, "new.example", "www.a.example"))
		}, []string{`"www.a.example"`, "domain"}},
		{"new alias that is another site's primary", func(tx store.Tx) error {
			return tx.CreateSite(newSite(b.ID, 3, "new.example", "a.example"))
		}, []string{`"a.example"`, "domain"}},
		{"domain added on update", func(tx store.Tx) error {
			return tx.UpdateSite(modified(func(s *store.Site) { s.AliasDomains = []string{"www.a.example"} }))
		}, []string{`"www.a.example"`, "domain"}},
		{"primary domain changed on update", func(tx store.Tx) error {
			return tx.UpdateSite(modified(func(s *store.Site) { s.PrimaryDomain = "a.example" }))
		}, []string{`"a.example"`, "domain"}},
		{"domain listed twice", func(tx store.Tx) error {
			return tx.CreateSite(newSite(b.ID, 3, "twice.example", "twice.example"))
		}, []string{`"twice.example"`}},
		{"site name within client", func(tx store.Tx) error {
			site := newSite(a.ID, 3, "other.example")
			site.Name = siteA.Name
			return tx.CreateSite(site)
		}, []string{`"` + siteA.Name + `"`, "site named"}},
		{"site name on update", func(tx store.Tx) error {
			site := newSite(a.ID, 3, "other.example")
			if err := tx.CreateSite(site); err != nil {
				return err
			}
			site.Name = siteA.Name
			return tx.UpdateSite(site)
		}, []string{`"` + siteA.Name + `"`, "site named"}},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, updateErr(t, s, tt.fn), store.ErrConflict, tt.mention...)
		})
	}

	// Not conflicts: a name used by another client, and an update that keeps
	// (and reorders) the site's own domains.
	update(t, s, func(tx store.Tx) error {
		site := newSite(b.ID, 4, "other.example")
		site.Name = siteA.Name
		if err := tx.CreateSite(site); err != nil {
			return fmt.Errorf("same site name in another client: %w", err)
		}
		own := *siteA
		own.PrimaryDomain, own.AliasDomains = "www.a.example", []string{"a.example"}
		if err := tx.UpdateSite(&own); err != nil {
			return fmt.Errorf("update keeping own domains: %w", err)
		}
		return nil
	})
}

func testDomainReleased(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	deleted := newSite(a.ID, 1, "gone.example", "www.gone.example")
	trimmed := newSite(a.ID, 2, "keep.example", "drop.example")
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateSite(deleted) },
			func() error { return tx.CreateSite(trimmed) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteSite(deleted.ID); err != nil {
			return err
		}
		trimmed.AliasDomains = nil
		return tx.UpdateSite(trimmed)
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateSite(newSite(b.ID, 3, "gone.example", "www.gone.example")); err != nil {
			return fmt.Errorf("domains of a deleted site: %w", err)
		}
		if err := tx.CreateSite(newSite(b.ID, 4, "drop.example")); err != nil {
			return fmt.Errorf("domain removed from a site: %w", err)
		}
		return nil
	})
}

func testDeleteClient(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	site := newSite(a.ID, 1)
	userA, userB := newUser(a.ID, 1), newUser(b.ID, 2)
	apiA := newToken(a.ID, "", store.TokenKindAPI, 1)
	sessionA := newToken(a.ID, userA.ID, store.TokenKindSession, 2)
	apiB := newToken(b.ID, "", store.TokenKindAPI, 3)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateSite(site) },
			func() error { return tx.CreateUser(userA) },
			func() error { return tx.CreateUser(userB) },
			func() error { return tx.CreateToken(apiA) },
			func() error { return tx.CreateToken(sessionA) },
			func() error { return tx.CreateToken(apiB) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})

	err := updateErr(t, s, func(tx store.Tx) error { return tx.DeleteClient(a.ID) })
	wantErr(t, "DeleteClient with a site", err, store.ErrInUse, "site")
	if _, err := read2(t, s, func(tx store.ReadTx) (*store.User, error) { return tx.GetUser(userA.ID) }); err != nil {
		t.Errorf("refused DeleteClient removed its user: %v", err)
	}

	update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteSite(site.ID); err != nil {
			return err
		}
		return tx.DeleteClient(a.ID)
	})
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.GetClient(a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient after delete: %v, want ErrNotFound", err)
		}
		if _, err := tx.GetUser(userA.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("user of deleted client: %v, want ErrNotFound", err)
		}
		for _, tok := range []*store.Token{apiA, sessionA} {
			if _, err := tx.GetToken(tok.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("token %s of deleted client: %v, want ErrNotFound", tok.Name, err)
			}
		}
		if _, err := tx.GetUser(userB.ID); err != nil {
			t.Errorf("user of another client: %v", err)
		}
		if _, err := tx.GetToken(apiB.ID); err != nil {
			t.Errorf("token of another client: %v", err)
		}
		return nil
	})
}

func testDeleteUserDeletesTokens(t *testing.T, s store.Store) {
	c := newClient(1)
	u, other := newUser(c.ID, 1), newUser(c.ID, 2)
	mine := newToken(c.ID, u.ID, store.TokenKindSession, 1)
	theirs := newToken(c.ID, other.ID, store.TokenKindSession, 2)
	clientToken := newToken(c.ID, "", store.TokenKindAPI, 3)
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(c) },
			func() error { return tx.CreateUser(u) },
			func() error { return tx.CreateUser(other) },
			func() error { return tx.CreateToken(mine) },
			func() error { return tx.CreateToken(theirs) },
			func() error { return tx.CreateToken(clientToken) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteUser(u.ID) })
	view(t, s, func(tx store.ReadTx) error {
		if _, err := tx.GetToken(mine.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token of deleted user: %v, want ErrNotFound", err)
		}
		for _, tok := range []*store.Token{theirs, clientToken} {
			if _, err := tx.GetToken(tok.ID); err != nil {
				t.Errorf("token %s: %v", tok.Name, err)
			}
		}
		return nil
	})
}
