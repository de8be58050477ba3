package api_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// clock is a settable clock for api.Options.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }
func withClock(c *clock) func(*api.Options) {
	return func(o *api.Options) { o.Now = c.now }
}

// pageWorld is a client with a status page of two of its three sites, a
// second client, and the uptime data of them all. Everything that must not
// reach a public page carries a marker in leaks.
type pageWorld struct {
	s                          *server
	now                        time.Time
	admin, clientA             context.Context
	clientB                    context.Context
	clientID, slug             string
	shop, blog, intra          string // A's sites; intra is not on the page
	other                      string // B's site
	nodeID                     string
	leaks                      []string
	shopIncident, blogIncident string
}

func newPageWorld(t *testing.T) *pageWorld {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Minute).Add(30 * time.Second)
	clk := newClock(now)
	s := newServer(t, withClock(clk))
	w := &pageWorld{s: s, now: now, slug: "acme-status"}
	id := func(prefix string) string { return store.NewID(prefix, time.Now()) }
	w.clientID, w.shop, w.blog, w.intra, w.other, w.nodeID = id("cl"), id("site"), id("site"), id("site"), id("site"), id("node")
	otherClient := id("cl")
	shopInc, blogInc, intraInc, oldInc := id("inc"), id("inc"), id("inc"), id("inc")
	w.shopIncident, w.blogIncident = shopInc, blogInc
	mwShop, mwClient, mwIntra, mwOther := id("mw"), id("mw"), id("mw"), id("mw")
	w.leaks = []string{w.clientID, w.shop, w.blog, w.intra, w.other, w.nodeID, otherClient, shopInc, blogInc, intraInc, oldInc,
		mwShop, mwClient, mwIntra, mwOther, "node-leak-name", "ops@acme-leak.test", "intranet-leak",
		"leak_error_class", "leak-vantage", "leak maintenance reason"}
	s.update(t, func(tx store.Tx) error {
		for _, c := range []*store.Client{
			{ID: w.clientID, DisplayName: "Acme Inc.", Slug: w.slug, ContactEmail: "ops@acme-leak.test", CreateTime: now, UpdateTime: now},
			{ID: otherClient, DisplayName: "Other", Slug: "other-co", ContactEmail: "ops@other.test", CreateTime: now, UpdateTime: now},
		} {
			if err := tx.CreateClient(c); err != nil {
				return err
			}
		}
		if err := tx.CreateNode(&store.Node{ID: w.nodeID, Name: "node-leak-name", State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000, CreateTime: now}); err != nil {
			return err
		}
		for _, site := range []struct{ id, client, name, domain string }{
			{w.shop, w.clientID, "shop", "shop.acme.test"},
			{w.blog, w.clientID, "blog", "blog.acme.test"},
			{w.intra, w.clientID, "intranet-leak", "intranet.acme.test"},
			{w.other, otherClient, "web", "www.other.test"},
		} {
			if err := tx.CreateSite(&store.Site{ID: site.id, ClientID: site.client, Name: site.name, Kind: store.SiteKindStatic,
				PrimaryDomain: site.domain, MemoryMiB: 128, CPUMillicores: 100, NodeID: w.nodeID, State: store.SiteStateRunning,
				Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
				return err
			}
		}
		// Three days of minutes: the shop is up but for an hour two days
		// ago; the blog is down for its last ten minutes.
		minute := now.Truncate(time.Minute)
		var ms []store.SiteMinute
		for m := minute.Add(-72 * time.Hour); m.Before(minute); m = m.Add(time.Minute) {
			for _, site := range []string{w.shop, w.blog, w.intra, w.other} {
				sm := store.SiteMinute{SiteID: site, Minute: m, Status: int32(uptime.StatusUp), Up: 3, Total: 3, P50MS: 40, P95MS: 80, P99MS: 90}
				down := (site == w.shop && m.After(minute.Add(-49*time.Hour)) && m.Before(minute.Add(-48*time.Hour))) ||
					(site == w.blog && !m.Before(minute.Add(-10*time.Minute)))
				if down {
					sm.Status, sm.Up = int32(uptime.StatusDown), 0
					sm.ErrorClasses, sm.FailedVantages = []string{"leak_error_class"}, []string{"leak-vantage"}
				}
				ms = append(ms, sm)
			}
		}
		if err := tx.PutSiteMinutes(ms); err != nil {
			return err
		}
		for _, i := range []*store.Incident{
			{ID: shopInc, SiteID: w.shop, Start: minute.Add(-49 * time.Hour), End: minute.Add(-48 * time.Hour)},
			{ID: blogInc, SiteID: w.blog, Start: minute.Add(-10 * time.Minute)},
			{ID: intraInc, SiteID: w.intra, Start: minute.Add(-5 * time.Hour), End: minute.Add(-4 * time.Hour)},
			{ID: oldInc, SiteID: w.shop, Start: minute.AddDate(0, 0, -100), End: minute.AddDate(0, 0, -100).Add(time.Hour)},
		} {
			i.ClientID, i.ErrorClasses, i.Vantages, i.CreateTime, i.UpdateTime = w.clientID, []string{"leak_error_class"}, []string{"leak-vantage"}, now, now
			if err := tx.CreateIncident(i); err != nil {
				return err
			}
		}
		for _, mw := range []*store.MaintenanceWindow{
			{ID: mwShop, SiteID: w.shop, Start: minute.Add(24 * time.Hour), End: minute.Add(25 * time.Hour)},
			{ID: mwClient, ClientID: w.clientID, Start: minute.Add(7 * 24 * time.Hour), End: minute.Add(7*24*time.Hour + time.Hour)},
			{ID: mwIntra, SiteID: w.intra, Start: minute.Add(2 * time.Hour), End: minute.Add(3 * time.Hour)},
			{ID: mwOther, ClientID: otherClient, Start: minute.Add(2 * time.Hour), End: minute.Add(3 * time.Hour)},
		} {
			mw.Reason, mw.CreatedBy, mw.CreateTime = "leak maintenance reason", "test", now
			if err := tx.CreateMaintenanceWindow(mw); err != nil {
				return err
			}
		}
		return nil
	})
	w.admin = bearer(context.Background(), s.token(t, store.Token{Role: store.RoleAdmin}))
	w.clientA = bearer(context.Background(), s.token(t, store.Token{Role: store.RoleClient, ClientID: w.clientID}))
	w.clientB = bearer(context.Background(), s.token(t, store.Token{Role: store.RoleClient, ClientID: otherClient}))
	// The page: the blog first, then the shop; the intranet is left off.
	w.updatePage(t, &berthv1.StatusPage{Enabled: true, SiteIds: []string{w.blog, w.shop}, AccentColor: "#ABCDEF", Logo: pngLogo}, "status_page")
	return w
}

func (w *pageWorld) updatePage(t *testing.T, sp *berthv1.StatusPage, paths ...string) *berthv1.Client {
	t.Helper()
	resp, err := berthv1.NewClientServiceClient(w.s.conn).UpdateClient(w.admin, &berthv1.UpdateClientRequest{
		Client: &berthv1.Client{Id: w.clientID, StatusPage: sp}, UpdateMask: mask(paths...)})
	if err != nil {
		t.Fatalf("UpdateClient %v: %v", paths, err)
	}
	return resp.GetClient()
}

func (w *pageWorld) auditCount(t *testing.T) int {
	t.Helper()
	resp, err := berthv1.NewAuditServiceClient(w.s.conn).ListAuditEvents(w.admin, &berthv1.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetEvents())
}

func TestStatusPage(t *testing.T) {
	w := newPageWorld(t)
	pages := berthv1.NewStatusPageServiceClient(w.s.conn)
	auditBefore := w.auditCount(t)

	resp, err := pages.GetStatusPage(context.Background(), &berthv1.GetStatusPageRequest{Slug: w.slug})
	if err != nil {
		t.Fatal(err)
	}
	page := resp.GetPage()
	if page.GetSlug() != w.slug || page.GetTitle() != "Acme Inc." || page.GetAccentColor() != "#abcdef" || !page.GetHasLogo() {
		t.Errorf("page header: slug %q, title %q, accent %q, has_logo %v", page.GetSlug(), page.GetTitle(), page.GetAccentColor(), page.GetHasLogo())
	}
	if !page.GetGenerateTime().AsTime().Equal(w.now) {
		t.Errorf("generate_time = %v, want %v", page.GetGenerateTime().AsTime(), w.now)
	}

	// Each site's numbers are GetSiteUptime's.
	uptimeSvc := berthv1.NewUptimeServiceClient(w.s.conn)
	var names []string
	for i, id := range []string{w.blog, w.shop} {
		names = append(names, page.GetSites()[i].GetName())
		u, err := uptimeSvc.GetSiteUptime(w.admin, &berthv1.GetSiteUptimeRequest{SiteId: id})
		if err != nil {
			t.Fatal(err)
		}
		ps := page.GetSites()[i]
		if ps.GetStatus() != u.GetStatus() {
			t.Errorf("site %d: status %v, GetSiteUptime says %v", i, ps.GetStatus(), u.GetStatus())
		}
		if ps.GetUptimeRatio_90D() != u.GetWindows()[3].GetUptimeRatio() || u.GetWindows()[3].GetName() != "90d" {
			t.Errorf("site %d: 90d ratio %v, GetSiteUptime says %v", i, ps.GetUptimeRatio_90D(), u.GetWindows()[3])
		}
		if diff := cmp.Diff(u.GetDaily(), ps.GetDaily(), protocmp.Transform()); diff != "" {
			t.Errorf("site %d: daily bars differ from GetSiteUptime's (-want +got):\n%s", i, diff)
		}
	}
	if diff := cmp.Diff([]string{"blog", "shop"}, names); diff != "" {
		t.Errorf("sites (-want +got):\n%s", diff)
	}
	if got := page.GetSites()[0].GetStatus(); got != berthv1.MinuteStatus_MINUTE_STATUS_DOWN {
		t.Errorf("blog status = %v, want down", got)
	}
	if got := page.GetSites()[1].GetPrimaryDomain(); got != "shop.acme.test" {
		t.Errorf("shop primary_domain = %q", got)
	}

	// Incidents of the page's sites in the last 90 days, newest first.
	type inc struct {
		Site string
		Open bool
		Dur  int64
	}
	var incs []inc
	for _, i := range page.GetIncidents() {
		incs = append(incs, inc{i.GetSiteName(), i.GetOpen(), i.GetDurationSeconds()})
	}
	if diff := cmp.Diff([]inc{{"blog", true, 630}, {"shop", false, 3600}}, incs); diff != "" {
		t.Errorf("incidents (-want +got):\n%s", diff)
	}
	if page.GetIncidents()[0].GetEndTime() != nil {
		t.Errorf("open incident has end_time %v", page.GetIncidents()[0].GetEndTime())
	}
	// Maintenance of the page's sites and of the whole client.
	var mws []string
	for _, m := range page.GetMaintenance() {
		mws = append(mws, m.GetSiteName()+"@"+m.GetStartTime().AsTime().Sub(w.now.Truncate(time.Minute)).String())
	}
	if diff := cmp.Diff([]string{"shop@24h0m0s", "@168h0m0s"}, mws); diff != "" {
		t.Errorf("maintenance (-want +got):\n%s", diff)
	}

	// Nothing internal on the wire, in either encoding.
	js, err := protojson.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range w.leaks {
		if bytes.Contains(js, []byte(leak)) || bytes.Contains(bin, []byte(leak)) {
			t.Errorf("the public page contains %q:\n%s", leak, js)
		}
	}

	logo, err := pages.GetStatusPageLogo(context.Background(), &berthv1.GetStatusPageLogoRequest{Slug: w.slug})
	if err != nil {
		t.Fatal(err)
	}
	if logo.GetContentType() != "image/png" || !bytes.Equal(logo.GetData(), pngLogo) {
		t.Errorf("logo: %q, %d bytes", logo.GetContentType(), len(logo.GetData()))
	}

	// Public reads, found or not, write no audit events.
	_, _ = pages.GetStatusPage(context.Background(), &berthv1.GetStatusPageRequest{Slug: "no-such-page"})
	if got := w.auditCount(t); got != auditBefore {
		t.Errorf("audit events: %d after public reads, %d before", got, auditBefore)
	}
}

// TestStatusPageNotFound: an unpublished page and an unknown slug get the
// same answer, whoever asks.
func TestStatusPageNotFound(t *testing.T) {
	w := newPageWorld(t)
	pages := berthv1.NewStatusPageServiceClient(w.s.conn)
	w.updatePage(t, &berthv1.StatusPage{Enabled: false}, "status_page.enabled")
	for _, ctx := range []context.Context{context.Background(), w.admin, w.clientA} {
		_, errOff := pages.GetStatusPage(ctx, &berthv1.GetStatusPageRequest{Slug: w.slug})
		_, errUnknown := pages.GetStatusPage(ctx, &berthv1.GetStatusPageRequest{Slug: "no-such-page"})
		_, errLogo := pages.GetStatusPageLogo(ctx, &berthv1.GetStatusPageLogoRequest{Slug: w.slug})
		for _, err := range []error{errOff, errUnknown, errLogo} {
			if status.Code(err) != codes.NotFound {
				t.Fatalf("got %v, want NotFound", err)
			}
		}
		off, unknown := status.Convert(errOff).Message(), status.Convert(errUnknown).Message()
		if off != strings.ReplaceAll(unknown, "no-such-page", w.slug) || off != status.Convert(errLogo).Message() {
			t.Errorf("messages differ: unpublished %q, unknown %q, logo %q", off, unknown, status.Convert(errLogo).Message())
		}
	}
	// Published again, without a logo: the logo alone is not found.
	w.updatePage(t, &berthv1.StatusPage{Enabled: true}, "status_page.enabled", "status_page.logo")
	if _, err := pages.GetStatusPageLogo(context.Background(), &berthv1.GetStatusPageLogoRequest{Slug: w.slug}); status.Code(err) != codes.NotFound {
		t.Errorf("logo of a page without one: %v, want NotFound", err)
	}
	if _, err := pages.GetStatusPage(context.Background(), &berthv1.GetStatusPageRequest{Slug: w.slug}); err != nil {
		t.Errorf("published page: %v", err)
	}
}

// TestStatusPageDeletedSite: a deleted site leaves the page, and the
// page's settings still update.
func TestStatusPageDeletedSite(t *testing.T) {
	w := newPageWorld(t)
	w.s.update(t, func(tx store.Tx) error { return tx.DeleteSite(w.blog) })
	// A settings change builds the page anew (without it, within the minute).
	c := w.updatePage(t, &berthv1.StatusPage{AccentColor: "#000000"}, "status_page.accent_color")
	if diff := cmp.Diff([]string{w.shop}, c.GetStatusPage().GetSiteIds()); diff != "" {
		t.Errorf("site_ids after the blog was deleted (-want +got):\n%s", diff)
	}
	resp, err := berthv1.NewStatusPageServiceClient(w.s.conn).GetStatusPage(context.Background(), &berthv1.GetStatusPageRequest{Slug: w.slug})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetPage().GetSites()); n != 1 || resp.GetPage().GetSites()[0].GetName() != "shop" {
		t.Errorf("sites: %v", resp.GetPage().GetSites())
	}
	for _, i := range resp.GetPage().GetIncidents() {
		if i.GetSiteName() == "blog" {
			t.Errorf("incident of the deleted blog: %v", i)
		}
	}
}

func TestUpdateClientStatusPage(t *testing.T) {
	w := newPageWorld(t)
	clients := berthv1.NewClientServiceClient(w.s.conn)
	gif := []byte("GIF89a\x01\x00\x01\x00")
	big := append(append([]byte{}, pngLogo...), make([]byte, 64<<10)...)
	unknownSite := store.NewID("site", time.Now())
	many := make([]string, 101)
	for i := range many {
		many[i] = w.shop
	}
	for _, tt := range []struct {
		name     string
		sp       *berthv1.StatusPage
		path     string
		code     codes.Code
		contains string
	}{
		{"colour", &berthv1.StatusPage{AccentColor: "red"}, "status_page.accent_color", codes.InvalidArgument, "client.status_page.accent_color"},
		{"short colour", &berthv1.StatusPage{AccentColor: "#fff"}, "status_page", codes.InvalidArgument, "six hex digits"},
		{"GIF logo", &berthv1.StatusPage{Logo: gif}, "status_page.logo", codes.InvalidArgument, "PNG or JPEG"},
		{"big logo", &berthv1.StatusPage{Logo: big}, "status_page.logo", codes.InvalidArgument, "64 KiB"},
		{"duplicate site", &berthv1.StatusPage{SiteIds: []string{w.shop, w.shop}}, "status_page.site_ids", codes.InvalidArgument, w.shop},
		{"another client's site", &berthv1.StatusPage{SiteIds: []string{w.other}}, "status_page.site_ids", codes.InvalidArgument, w.other},
		{"unknown site", &berthv1.StatusPage{SiteIds: []string{unknownSite}}, "status_page", codes.NotFound, unknownSite},
		{"bad site id", &berthv1.StatusPage{SiteIds: []string{"x"}}, "status_page.site_ids", codes.InvalidArgument, "site_ids"},
		{"too many sites", &berthv1.StatusPage{SiteIds: many}, "status_page.site_ids", codes.InvalidArgument, "at most 100"},
		{"unknown path", &berthv1.StatusPage{}, "status_page.title", codes.InvalidArgument, "status_page.accent_color"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := clients.UpdateClient(w.admin, &berthv1.UpdateClientRequest{
				Client: &berthv1.Client{Id: w.clientID, StatusPage: tt.sp}, UpdateMask: mask(tt.path)})
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.contains) {
				t.Errorf("got %v, want %v containing %q", err, tt.code, tt.contains)
			}
		})
	}

	// Sub-paths keep the rest, the logo included; the whole message replaces it.
	c := w.updatePage(t, &berthv1.StatusPage{Enabled: false, SiteIds: []string{w.shop}}, "status_page.enabled", "status_page.site_ids")
	want := &berthv1.StatusPage{Enabled: false, SiteIds: []string{w.shop}, AccentColor: "#abcdef", Logo: pngLogo, HasLogo: true}
	if diff := cmp.Diff(want, c.GetStatusPage(), protocmp.Transform()); diff != "" {
		t.Errorf("after sub-path update (-want +got):\n%s", diff)
	}
	got, err := clients.GetClient(w.clientA, &berthv1.GetClientRequest{Id: w.clientID})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.GetClient().GetStatusPage(), protocmp.Transform()); diff != "" {
		t.Errorf("GetClient (-want +got):\n%s", diff)
	}
	list, err := clients.ListClients(w.admin, &berthv1.ListClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lc := range list.GetClients() {
		if lc.GetId() == w.clientID && (len(lc.GetStatusPage().GetLogo()) != 0 || !lc.GetStatusPage().GetHasLogo()) {
			t.Errorf("ListClients: logo %d bytes, has_logo %v; want no bytes, has_logo", len(lc.GetStatusPage().GetLogo()), lc.GetStatusPage().GetHasLogo())
		}
	}
	c = w.updatePage(t, &berthv1.StatusPage{Enabled: true}, "status_page")
	if diff := cmp.Diff(&berthv1.StatusPage{Enabled: true}, c.GetStatusPage(), protocmp.Transform()); diff != "" {
		t.Errorf("after replacing the whole page (-want +got):\n%s", diff)
	}

	// Clients cannot change their page; CreateClient takes one.
	if _, err := clients.UpdateClient(w.clientA, &berthv1.UpdateClientRequest{
		Client: &berthv1.Client{Id: w.clientID, StatusPage: &berthv1.StatusPage{}}, UpdateMask: mask("status_page")}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("UpdateClient as the client: %v, want PermissionDenied", err)
	}
	created, err := clients.CreateClient(w.admin, &berthv1.CreateClientRequest{Client: &berthv1.Client{DisplayName: "New", Slug: "new-co",
		ContactEmail: "ops@new.test", StatusPage: &berthv1.StatusPage{Enabled: true, AccentColor: "#00FF00", Logo: pngLogo}}})
	if err != nil {
		t.Fatal(err)
	}
	if sp := created.GetClient().GetStatusPage(); !sp.GetEnabled() || sp.GetAccentColor() != "#00ff00" || !sp.GetHasLogo() {
		t.Errorf("created status page: %v", sp)
	}
	if _, err := clients.CreateClient(w.admin, &berthv1.CreateClientRequest{Client: &berthv1.Client{DisplayName: "New", Slug: "new-co-2",
		ContactEmail: "ops@new.test", StatusPage: &berthv1.StatusPage{SiteIds: []string{w.shop}}}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateClient with another client's site: %v, want InvalidArgument", err)
	}
}

func TestBatchGetSiteStatus(t *testing.T) {
	w := newPageWorld(t)
	svc := berthv1.NewUptimeServiceClient(w.s.conn)
	resp, err := svc.BatchGetSiteStatus(w.clientA, &berthv1.BatchGetSiteStatusRequest{SiteIds: []string{w.blog, w.shop, w.blog}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsGetSiteUptime := func(resp *berthv1.BatchGetSiteStatusResponse) {
		t.Helper()
		var want []*berthv1.SiteStatusSummary
		for _, id := range []string{w.blog, w.shop, w.blog} {
			u, err := svc.GetSiteUptime(w.clientA, &berthv1.GetSiteUptimeRequest{SiteId: id})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, &berthv1.SiteStatusSummary{SiteId: id, Status: u.GetStatus(), UptimeRatio_24H: u.GetWindows()[0].GetUptimeRatio(),
				HasOpenIncident: id == w.blog})
		}
		if diff := cmp.Diff(want, resp.GetStatuses(), protocmp.Transform()); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	}
	sameAsGetSiteUptime(resp)
	if r := resp.GetStatuses()[0].GetUptimeRatio_24H(); r >= 1 || r <= 0.9 {
		t.Errorf("blog's 24h ratio = %v, want just under 1", r)
	}
	// A maintenance window over the blog's last minutes: they no longer
	// count, and the blog is in maintenance now.
	err = w.s.store.Update(context.Background(), func(tx store.Tx) error {
		return tx.CreateMaintenanceWindow(&store.MaintenanceWindow{ID: store.NewID("mw", w.now), SiteID: w.blog,
			Start: w.now.Add(-5 * time.Minute), End: w.now.Add(time.Hour), Reason: "test", CreatedBy: "test", CreateTime: w.now})
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = svc.BatchGetSiteStatus(w.clientA, &berthv1.BatchGetSiteStatusRequest{SiteIds: []string{w.blog, w.shop, w.blog}})
	if err != nil {
		t.Fatal(err)
	}
	sameAsGetSiteUptime(resp)
	if st := resp.GetStatuses()[0].GetStatus(); st != berthv1.MinuteStatus_MINUTE_STATUS_MAINTENANCE {
		t.Errorf("blog in maintenance: status %v", st)
	}

	for _, tt := range []struct {
		name string
		ctx  context.Context
		ids  []string
		code codes.Code
		in   string
	}{
		{"another client's site", w.clientB, []string{w.other, w.shop}, codes.NotFound, w.shop},
		{"own and another's", w.clientA, []string{w.shop, w.other}, codes.NotFound, w.other},
		{"unknown", w.admin, []string{store.NewID("site", time.Now())}, codes.NotFound, "site"},
		{"none", w.admin, nil, codes.InvalidArgument, "1 to 100"},
		{"too many", w.admin, make([]string, 101), codes.InvalidArgument, "1 to 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.BatchGetSiteStatus(tt.ctx, &berthv1.BatchGetSiteStatusRequest{SiteIds: tt.ids})
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.in) {
				t.Errorf("got %v, want %v naming %q", err, tt.code, tt.in)
			}
		})
	}
}
