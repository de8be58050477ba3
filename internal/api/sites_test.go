package api_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func TestGetSiteCredentialsOnce(t *testing.T) {
	shownAt := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	s := newServer(t, func(o *api.Options) { o.Now = func() time.Time { return shownAt } })
	f := newFixture(t, s)
	admin := as(t, f.tokens[admin])
	sites := berthv1.NewSiteServiceClient(s.conn)

	resp, err := sites.GetSiteCredentials(admin, &berthv1.GetSiteCredentialsRequest{Id: f.a.wpSiteID})
	if err != nil {
		t.Fatal(err)
	}
	want := &berthv1.GetSiteCredentialsResponse{
		AdminUser:     "admin",
		AdminPassword: "fixtureAdminPassword" + f.seq,
		LoginUrl:      "https://" + f.a.wpDomain + "/wp-admin/",
	}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("first GetSiteCredentials (-want +got):\n%s", diff)
	}
	var site *store.Site
	s.update(t, func(tx store.Tx) (err error) {
		site, err = tx.GetSite(f.a.wpSiteID)
		return err
	})
	if got := site.Secrets["admin_password_shown_at"]; got != "2026-11-01T12:00:00Z" {
		t.Errorf("admin_password_shown_at = %q, want the time of the first call", got)
	}
	if site.Secrets["admin_password"] != want.AdminPassword {
		t.Error("the password was removed from the site's secrets; the node still needs it")
	}

	_, err = sites.GetSiteCredentials(admin, &berthv1.GetSiteCredentialsRequest{Id: f.a.wpSiteID})
	wantCode(t, "second GetSiteCredentials", err, codes.FailedPrecondition,
		"the admin password was shown on 2026-11-01T12:00:00Z", "Lost your password?", "delete and recreate the site")

	_, err = sites.GetSiteCredentials(admin, &berthv1.GetSiteCredentialsRequest{Id: f.a.siteID})
	wantCode(t, "GetSiteCredentials of a static site", err, codes.FailedPrecondition, "is a static site", "only WordPress sites")
	_, err = sites.GetSiteCredentials(admin, &berthv1.GetSiteCredentialsRequest{Id: store.NewID("site", shownAt)})
	wantCode(t, "GetSiteCredentials of a missing site", err, codes.NotFound)
	_, err = sites.GetSiteCredentials(admin, &berthv1.GetSiteCredentialsRequest{Id: "blog"})
	wantCode(t, "GetSiteCredentials with a malformed id", err, codes.InvalidArgument)
	_, err = sites.GetSiteCredentials(as(t, f.tokens[clientA]), &berthv1.GetSiteCredentialsRequest{Id: f.a.wpSiteID})
	wantCode(t, "GetSiteCredentials as the site's client", err, codes.PermissionDenied)

	// Both calls are in the audit log, filed under the site's client, and
	// the password is not.
	events, err := berthv1.NewAuditServiceClient(s.conn).ListAuditEvents(admin, &berthv1.ListAuditEventsRequest{
		Method: "GetSiteCredentials", ResourceId: f.a.wpSiteID})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events.GetEvents() {
		got = append(got, e.GetCode()+" "+e.GetClientId())
		if strings.Contains(e.String(), want.AdminPassword) {
			t.Errorf("audit event holds the password: %v", e)
		}
	}
	slices.Sort(got) // the injected clock stands still, so the order is not defined
	if diff := cmp.Diff([]string{"FailedPrecondition " + f.a.clientID, "OK " + f.a.clientID}, got); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}

func TestGetSiteCredentialsOfDeletingSite(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	s.update(t, func(tx store.Tx) error {
		site, err := tx.GetSite(f.a.wpSiteID)
		if err != nil {
			return err
		}
		site.NodeID, site.State = f.nodeID, store.SiteStateDeleting
		return tx.UpdateSite(site)
	})
	_, err := berthv1.NewSiteServiceClient(s.conn).GetSiteCredentials(as(t, f.tokens[admin]), &berthv1.GetSiteCredentialsRequest{Id: f.a.wpSiteID})
	wantCode(t, "GetSiteCredentials of a DELETING site", err, codes.FailedPrecondition, "is being deleted")
}
