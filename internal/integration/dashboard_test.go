package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fixaroo/berth/internal/browsertest"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

const dashPassword = "dashboard test passphrase"

// TestDashboard drives the dashboard in headless Chromium against a real
// berthd and agent on the local Docker engine: an admin creates a client, its
// user and a static site from the UI, watches it reach RUNNING, deploys a
// release and sees the site's uptime bars and certificate; the client's user
// sees only their own site; and anyone sees the client's public status page.
// Each page is screenshotted ($BERTH_SCREENSHOTS, or the test's artifacts).
func TestDashboard(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	a := startAgent(t, b, "dash-a")
	a.edgeAddrs()
	nodeID := b.nodeID("dash-a")
	b.ok(t, dashPassword+"\n", "user", "create", "--email", "ops@agency.test", "--role", "admin", "--password-stdin")
	// Another client's site, which the new client's user must never see.
	otherID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Other Co", "--slug", "otherco", "--email", "ops@otherco.test", "-o", "json"), "client")
	otherSite := decodeID(t, b.ok(t, "", "site", "create", "--client", otherID, "--name", "secret", "--kind", "static",
		"--domain", "secret.otherco.localhost", "--memory", "64", "--no-wait", "-o", "json"), "site")
	ids = append(ids, otherSite)

	caPEM, err := os.ReadFile(filepath.Join(b.dataDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	opts := browsertest.Options{CACertPEM: caPEM, Width: 1280, Height: 900}
	admin := browsertest.Start(t, opts)
	ctx := admin.NewTab(t)

	// Log in.
	browsertest.Navigate(t, ctx, b.url("/"))
	browsertest.WaitText(t, ctx, "h1", "Log in")
	browsertest.Screenshot(t, ctx, "login")
	browsertest.Fill(t, ctx, "#email", "ops@agency.test")
	browsertest.Fill(t, ctx, "#password", dashPassword)
	browsertest.Click(t, ctx, `form[action="/login"] button[type=submit]`)
	browsertest.WaitText(t, ctx, "h1", "Fleet overview")
	browsertest.WaitText(t, ctx, "main", "dash-a")
	browsertest.Screenshot(t, ctx, "dashboard-overview")
	for _, c := range browsertest.Cookies(t, ctx) {
		if c.Name == "__Host-berth_session" && (!c.HTTPOnly || !c.Secure || c.SameSite != "Lax") {
			t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax", c)
		}
	}

	// Create a client and its user.
	browsertest.Navigate(t, ctx, b.url("/ops/clients/new"))
	browsertest.Fill(t, ctx, "#display_name", "Bakery Brown")
	browsertest.Fill(t, ctx, "#slug", "bakery")
	browsertest.Fill(t, ctx, "#contact_email", "owner@bakery.test")
	browsertest.Click(t, ctx, `form[action="/ops/clients"] button[type=submit]`)
	browsertest.WaitText(t, ctx, ".flash", "Client Bakery Brown created")
	clientURL := browsertest.Location(t, ctx)
	clientID := clientURL[strings.LastIndex(clientURL, "/")+1:]
	browsertest.Fill(t, ctx, "#user_email", "owner@bakery.test")
	browsertest.Fill(t, ctx, "#user_password", dashPassword)
	browsertest.Click(t, ctx, `form[action$="/users"] button[type=submit]`)
	browsertest.WaitText(t, ctx, ".flash", "owner@bakery.test can now log in")

	// Create a static site and watch it reach RUNNING.
	browsertest.Navigate(t, ctx, b.url("/ops/sites/new?client="+clientID))
	browsertest.Fill(t, ctx, "#name", "shop")
	browsertest.Fill(t, ctx, "#primary_domain", "shop.bakery.localhost")
	browsertest.Fill(t, ctx, "#memory_mib", "64")
	browsertest.Screenshot(t, ctx, "dashboard-site-new")
	browsertest.Click(t, ctx, `form[action="/ops/sites"] button[type=submit]`)
	browsertest.WaitText(t, ctx, ".flash", "Site shop created")
	siteURL := browsertest.Location(t, ctx)
	siteID := siteURL[strings.LastIndex(siteURL, "/")+1:]
	ids = append(ids, siteID)
	browsertest.Screenshot(t, ctx, "dashboard-site-progress")
	// The page polls the site's progress and reloads itself when it runs.
	browsertest.WaitText(t, ctx, "#site-state-badge", "RUNNING")

	// Deploy a release from the UI.
	bundle := filepath.Join(t.TempDir(), "site.tar.gz")
	writeBundle(t, bundle, map[string]string{"index.html": "<!doctype html><title>Bakery</title><h1>Fresh bread</h1>"})
	browsertest.UploadFile(t, ctx, "#bundle", bundle)
	browsertest.Click(t, ctx, `form[action$="/releases"] button[type=submit]`)
	browsertest.WaitText(t, ctx, ".flash", "deployed")
	browsertest.WaitText(t, ctx, "#releases", "Live")

	// The site's page shows its uptime bars and, once the node reports
	// it, the certificate from berthd's CA.
	b.waitSite(siteID, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && hasCertificate(s) })
	browsertest.Navigate(t, ctx, siteURL)
	browsertest.WaitText(t, ctx, "main", "Domains and certificates")
	certs := browsertest.Text(t, ctx, "main")
	if !strings.Contains(certs, "shop.bakery.localhost") || !strings.Contains(certs, "Valid") || !strings.Contains(certs, "internal") {
		t.Errorf("site page shows no valid internal certificate for shop.bakery.localhost:\n%.2000s", certs)
	}
	up, err := berthv1.NewUptimeServiceClient(b.grpcConn()).GetSiteUptime(b.adminCtx(), &berthv1.GetSiteUptimeRequest{SiteId: siteID})
	if err != nil {
		t.Fatal(err)
	}
	days := len(up.GetDaily()) // 90 whole days and today
	if bars := countNodes(t, ctx, "main svg.uptime-bars rect"); bars != days || days < 90 {
		t.Errorf("site page shows %d uptime bars, the API %d days", bars, days)
	}
	browsertest.Screenshot(t, ctx, "dashboard-site")
	assertFitsPhone(t, ctx, "dashboard-site-phone")
	browsertest.SetViewport(ctx, 1280, 900, false)

	// Publish the client's status page with the site.
	browsertest.Navigate(t, ctx, b.url("/ops/clients/"+clientID))
	browsertest.Click(t, ctx, `#status-page input[name=enabled]`)
	browsertest.Click(t, ctx, `#status-page input[name=site_ids][value="`+siteID+`"]`)
	browsertest.Click(t, ctx, `form[action$="/status-page"] button[type=submit]`)
	browsertest.WaitText(t, ctx, ".flash", "Status page saved")
	browsertest.Screenshot(t, ctx, "dashboard-client")
	for _, page := range []struct{ path, h1 string }{
		{"/ops", "Fleet overview"}, {"/ops/sites", "Sites"}, {"/ops/clients", "Clients"}, {"/ops/clients/" + clientID, "Bakery Brown"},
		{"/ops/nodes", "Nodes"}, {"/ops/nodes/" + nodeID, "dash-a"}, {"/ops/nodes/join", "Add a node"}, {"/ops/audit", "Audit log"},
		{"/ops/maintenance", "Maintenance windows"}, {"/ops/sites/new", "New site"}, {"/account", "Your account"},
	} {
		p := page.path
		browsertest.Navigate(t, ctx, b.url(p))
		browsertest.WaitText(t, ctx, "h1", page.h1)
		name := "dashboard" + strings.ReplaceAll(strings.ReplaceAll(p, "/", "-"), clientID, "client")
		name = strings.ReplaceAll(name, nodeID, "node")
		browsertest.Screenshot(t, ctx, name)
		assertFitsPhone(t, ctx, name+"-phone")
		browsertest.SetViewport(ctx, 1280, 900, false)
	}

	// The client's user sees their site and nothing of the other client.
	client := browsertest.Start(t, opts)
	cctx := client.NewTab(t)
	browsertest.Navigate(t, cctx, b.url("/login"))
	browsertest.Fill(t, cctx, "#email", "owner@bakery.test")
	browsertest.Fill(t, cctx, "#password", dashPassword)
	browsertest.Click(t, cctx, `form[action="/login"] button[type=submit]`)
	browsertest.WaitText(t, cctx, "h1", "Bakery Brown")
	portal := browsertest.Text(t, cctx, "body")
	if !strings.Contains(portal, "shop.bakery.localhost") {
		t.Errorf("portal does not list the client's site:\n%.1500s", portal)
	}
	for _, leak := range []string{"secret.otherco", "Other Co", "dash-a", nodeID} {
		if strings.Contains(portal, leak) {
			t.Errorf("client portal shows %q", leak)
		}
	}
	browsertest.Screenshot(t, cctx, "portal")
	assertFitsPhone(t, cctx, "portal-phone")
	browsertest.SetViewport(cctx, 1280, 900, false)
	for _, p := range []string{"/sites/" + otherSite, "/ops"} {
		if status := browsertest.NavigateStatus(t, cctx, b.url(p)); status != 404 {
			t.Errorf("the client's user gets %s with HTTP status %d, want 404", p, status)
		}
		browsertest.WaitText(t, cctx, "h1", "Not found")
	}
	browsertest.Navigate(t, cctx, b.url("/sites/"+siteID))
	browsertest.WaitText(t, cctx, "main", "Domains and certificates")
	if text := browsertest.Text(t, cctx, "main"); strings.Contains(text, nodeID) {
		t.Errorf("the client's site page names the node %s", nodeID)
	}
	browsertest.Screenshot(t, cctx, "portal-site")
	month := time.Now().UTC().Format("2006-01")
	browsertest.Navigate(t, cctx, b.url("/clients/"+clientID+"/reports/"+month))
	browsertest.WaitText(t, cctx, "h1", "SLA report")
	browsertest.WaitText(t, cctx, "#sla", "shop.bakery.localhost")
	browsertest.Screenshot(t, cctx, "portal-report")
	assertFitsPhone(t, cctx, "portal-report-phone")

	// Anyone sees the public status page, without internal details.
	public := browsertest.Start(t, opts)
	pctx := public.NewTab(t)
	browsertest.Navigate(t, pctx, b.url("/status/bakery"))
	browsertest.WaitText(t, pctx, "h1", "Bakery Brown status")
	page := browsertest.Text(t, pctx, "body")
	if !strings.Contains(page, "shop.bakery.localhost") {
		t.Errorf("status page does not show the site:\n%.1500s", page)
	}
	for _, leak := range []string{siteID, clientID, nodeID, "dash-a", "secret.otherco"} {
		if strings.Contains(page, leak) {
			t.Errorf("status page shows %q", leak)
		}
	}
	if n := countNodes(t, pctx, "svg.uptime-bars rect"); n != days {
		t.Errorf("status page shows %d uptime bars, want %d", n, days)
	}
	browsertest.Screenshot(t, pctx, "status-page")
	assertFitsPhone(t, pctx, "status-page-phone")
}

// countNodes counts the elements matching sel.
func countNodes(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// assertFitsPhone renders the page at phone width and checks that nothing
// makes the page scroll sideways (wide tables scroll inside their wrapper).
func assertFitsPhone(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := browsertest.SetViewport(ctx, 390, 844, true); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow > 0 {
		t.Errorf("%s: the page is %d px wider than a 390 px phone screen", name, overflow)
	}
	browsertest.Screenshot(t, ctx, name)
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// writeBundle writes a release bundle (tar.gz) of files.
func writeBundle(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityHeadersEverywhere checks that every kind of response on
// berthd's port, not only the dashboard's, carries the security headers.
func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/v1/sites", "/v1/status/nobody", "/login", "/status/nobody", "/static/app.js", "/nothing/here"} {
		resp, err := b.http.Get(b.url(p))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
}
