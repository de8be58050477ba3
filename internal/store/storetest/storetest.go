// Package storetest is the conformance suite for store.Store: every backend
// runs Run against fresh, empty stores, so the backends behave the same.
package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fixaroo/berth/internal/store"
)

// base is the suite's clock. It has microsecond precision, the finest that
// every backend keeps (PostgreSQL's timestamptz).
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// equateEmpty lets a backend return nil for an empty map or slice.
var equateEmpty = cmpopts.EquateEmpty()

var errRollback = errors.New("storetest: roll back")

// Run runs the store conformance suite. newStore returns a fresh empty store;
// it is called once per subtest. The suite may Close the store; newStore's
// cleanup must tolerate a second Close.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ClientCRUD", testClientCRUD},
		{"ClientStatusPage", testClientStatusPage},
		{"SiteCRUD", testSiteCRUD},
		{"NodeCRUD", testNodeCRUD},
		{"UserCRUD", testUserCRUD},
		{"TokenCRUD", testTokenCRUD},
		{"NotFound", testNotFound},
		{"MissingParent", testMissingParent},
		{"Conflicts", testConflicts},
		{"DomainReleased", testDomainReleased},
		{"DeleteClient", testDeleteClient},
		{"DeleteUserDeletesItsTokens", testDeleteUserDeletesTokens},
		{"PaginateClients", testPaginateClients},
		{"PaginateNodes", testPaginateNodes},
		{"PaginateSites", testPaginateSites},
		{"PaginateUsers", testPaginateUsers},
		{"PaginateTokens", testPaginateTokens},
		{"DefaultPageLimit", testDefaultPageLimit},
		{"Rollback", testRollback},
		{"Tokens", testTokens},
		{"ListTokensFilter", testListTokensFilter},
		{"JoinTokens", testJoinTokens},
		{"AuditList", testAuditList},
		{"AuditFilter", testAuditFilter},
		{"AuditPrune", testAuditPrune},
		{"ReleaseCRUD", testReleaseCRUD},
		{"ReleaseMissingSite", testReleaseMissingSite},
		{"PaginateReleases", testPaginateReleases},
		{"ReleaseInUse", testReleaseInUse},
		{"SiteReleaseID", testSiteReleaseID},
		{"DeleteSiteDeletesReleases", testDeleteSiteDeletesReleases},
		{"ReleaseDigestInUse", testReleaseDigestInUse},
		{"SiteEdgeFields", testSiteEdgeFields},
		{"CertData", testCertData},
		{"CertDataStat", testCertDataStat},
		{"CertDataList", testCertDataList},
		{"CertDataDelete", testCertDataDelete},
		{"CertDataWildcards", testCertDataWildcards},
		{"CertLocks", testCertLocks},
		{"ProbeResults", testProbeResults},
		{"ProbeResultsIdempotent", testProbeResultsIdempotent},
		{"ProbeResultsPrune", testProbeResultsPrune},
		{"SiteMinutes", testSiteMinutes},
		{"UptimeState", testUptimeState},
		{"IncidentCRUD", testIncidentCRUD},
		{"ListIncidents", testListIncidents},
		{"MaintenanceWindowCRUD", testMaintenanceWindowCRUD},
		{"ListMaintenanceWindows", testListMaintenanceWindows},
		{"DeleteSiteDeletesUptime", testDeleteSiteDeletesUptime},
		{"AlertChannels", testAlertChannels},
		{"AlertDeliveries", testAlertDeliveries},
		{"DueAlertDeliveries", testDueAlertDeliveries},
		{"PaginateAlertDeliveries", testPaginateAlertDeliveries},
		{"DeleteClientDeletesAlertChannels", testDeleteClientDeletesAlertChannels},
		{"Meta", testMeta},
		{"SubscribeSites", testSubscribeSites},
		{"SubscribeSitesSlowReceiver", testSubscribeSlowReceiver},
		{"ViewSnapshot", testViewSnapshot},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// update runs fn in s.Update and fails the test on error.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in s.View and fails the test on error.
func view(t *testing.T, s store.Store, fn func(tx store.ReadTx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// read returns the result of one read in its own View.
func read[T any](t *testing.T, s store.Store, fn func(tx store.ReadTx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(tx store.ReadTx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v
}

// updateErr runs fn in s.Update and returns its error.
func updateErr(t *testing.T, s store.Store, fn func(tx store.Tx) error) error {
	t.Helper()
	return s.Update(t.Context(), fn)
}

// wantErr fails unless err wraps target and its message contains every
// string in mention.
func wantErr(t *testing.T, what string, err, target error, mention ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want %v", what, err, target)
		return
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: error %q does not mention %s", what, err, m)
		}
	}
}

func at(d time.Duration) time.Time { return base.Add(d) }

// Fixtures. Ids come from store.NewID at increasing times, so creation
// order is id order.

func newClient(i int) *store.Client {
	return &store.Client{
		ID:           store.NewID("cli", at(time.Duration(i)*time.Millisecond)),
		DisplayName:  fmt.Sprintf("Client %d", i),
		Slug:         fmt.Sprintf("client-%d", i),
		ContactEmail: fmt.Sprintf("ops%d@client.example", i),
		CreateTime:   at(time.Duration(i) * time.Second),
		UpdateTime:   at(time.Duration(i) * time.Second),
	}
}

func newSite(clientID string, i int, domains ...string) *store.Site {
	if len(domains) == 0 {
		domains = []string{fmt.Sprintf("site-%d.example", i)}
	}
	return &store.Site{
		ID:            store.NewID("site", at(time.Duration(i)*time.Millisecond)),
		ClientID:      clientID,
		Name:          fmt.Sprintf("site-%d", i),
		Kind:          store.SiteKindStatic,
		PrimaryDomain: domains[0],
		AliasDomains:  domains[1:],
		MemoryMiB:     128,
		CPUMillicores: 250,
		State:         store.SiteStatePending,
		Generation:    1,
		CreateTime:    at(time.Duration(i) * time.Second),
		UpdateTime:    at(time.Duration(i) * time.Second),
	}
}

func newNode(i int) *store.Node {
	return &store.Node{
		ID:            store.NewID("node", at(time.Duration(i)*time.Millisecond)),
		Name:          fmt.Sprintf("node-%d", i),
		State:         store.NodeStateReady,
		MemoryMiB:     16384,
		CPUMillicores: 8000,
		DiskMiB:       512000,
		CreateTime:    at(time.Duration(i) * time.Second),
	}
}

func newUser(clientID string, i int) *store.User {
	role := store.RoleClient
	if clientID == "" {
		role = store.RoleAdmin
	}
	return &store.User{
		ID:           store.NewID("user", at(time.Duration(i)*time.Millisecond)),
		Email:        fmt.Sprintf("user%d@example.com", i),
		Role:         role,
		ClientID:     clientID,
		PasswordHash: fmt.Sprintf("$argon2id$v=19$m=65536,t=3,p=4$salt%d$hash", i),
		CreateTime:   at(time.Duration(i) * time.Second),
		UpdateTime:   at(time.Duration(i) * time.Second),
	}
}

func newToken(clientID, userID string, kind store.TokenKind, i int) *store.Token {
	role := store.RoleClient
	if clientID == "" {
		role = store.RoleAdmin
	}
	return &store.Token{
		ID:         store.NewID("tok", at(time.Duration(i)*time.Millisecond)),
		Name:       fmt.Sprintf("token %d", i),
		Kind:       kind,
		Role:       role,
		ClientID:   clientID,
		UserID:     userID,
		Hash:       hash(fmt.Sprintf("token-%d-%s-%s", i, clientID, userID)),
		CreateTime: at(time.Duration(i) * time.Second),
	}
}

// hash is what the API layer stores for a token secret.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func createClients(t *testing.T, s store.Store, n int) []*store.Client {
	t.Helper()
	cs := make([]*store.Client, n)
	update(t, s, func(tx store.Tx) error {
		for i := range cs {
			cs[i] = newClient(i)
			if err := tx.CreateClient(cs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return cs
}

// pageAll lists every record through pages of limit, each page in its own
// View, and checks page sizes, duplicates and termination.
func pageAll[T any](t *testing.T, s store.Store, limit int, idOf func(T) string,
	list func(tx store.ReadTx, p store.Page) ([]T, error)) []string {
	t.Helper()
	var ids []string
	seen := make(map[string]bool)
	p := store.Page{Limit: limit}
	for range 1000 {
		page := read(t, s, func(tx store.ReadTx) ([]T, error) { return list(tx, p) })
		if len(page) > limit {
			t.Fatalf("page after %q has %d records, limit %d", p.After, len(page), limit)
		}
		for _, v := range page {
			id := idOf(v)
			if seen[id] {
				t.Fatalf("id %s listed twice", id)
			}
			seen[id] = true
			ids = append(ids, id)
		}
		if len(page) < limit {
			return ids
		}
		p.After = ids[len(ids)-1]
	}
	t.Fatal("pagination does not end")
	return nil
}

// sorted returns ids in ascending order; desc reverses it.
func sorted(ids []string, desc bool) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	if desc {
		slices.Reverse(out)
	}
	return out
}

// checkIDs compares listed ids with the expected ones, order included.
func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("%s ids (-want +got):\n%s", what, diff)
	}
}

// recv waits for one id on ch.
func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case id, ok := <-ch:
		if !ok {
			t.Fatal("subscription channel closed")
		}
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no site id received within 10s")
		return ""
	}
}
