package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/web"
)

// fixture is two clients with a site each, their users, an admin, a node
// and an incident: enough for every route to have something to show.
type fixture struct {
	h             *harness
	a, b          *store.Client
	siteA, siteB  *store.Site
	node          *store.Node
	incA          *store.Incident
	admin, ua, ub *browser
	anon          *browser
	month         string
	pngLogo       []byte
	adminU, userA *store.User
	userB         *store.User
}

// tinyPNG is a 1x1 PNG.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func newFixture(t *testing.T) *fixture {
	h := newHarness(t)
	f := &fixture{h: h, month: h.now.Format("2006-01")}
	f.a = h.client(t, "alpha", store.StatusPage{Enabled: true, AccentColor: "#aa3300", Logo: tinyPNG})
	f.b = h.client(t, "beta", store.StatusPage{})
	f.siteA = h.site(t, f.a, "shop")
	f.siteB = h.site(t, f.b, "blog")
	h.update(t, func(tx store.Tx) error {
		f.a.StatusPage.SiteIDs = []string{f.siteA.ID}
		if err := tx.UpdateClient(f.a); err != nil {
			return err
		}
		f.node = &store.Node{ID: store.NewID("node", h.now), Name: "edge-1", State: store.NodeStateReady,
			MemoryMiB: 4096, CPUMillicores: 2000, LastHeartbeatTime: h.now, CreateTime: h.now}
		if err := tx.CreateNode(f.node); err != nil {
			return err
		}
		f.siteA.NodeID = f.node.ID
		f.siteA.Conditions = []store.Condition{{Type: "Scheduled", Status: "True", Reason: "Placed",
			Message: "placed on node " + f.node.ID, LastTransitionTime: h.now}}
		if err := tx.UpdateSite(f.siteA); err != nil {
			return err
		}
		f.incA = &store.Incident{ID: store.NewID("inc", h.now), SiteID: f.siteA.ID, ClientID: f.a.ID,
			Start: h.now.Add(-time.Hour), End: h.now.Add(-50 * time.Minute), ErrorClasses: []string{"timeout"},
			Vantages: []string{f.node.ID}, CreateTime: h.now, UpdateTime: h.now}
		return tx.CreateIncident(f.incA)
	})
	f.adminU = h.user(t, "admin@ops.test", store.RoleAdmin, "")
	f.userA = h.user(t, "a@alpha.test", store.RoleClient, f.a.ID)
	f.userB = h.user(t, "b@beta.test", store.RoleClient, f.b.ID)
	f.anon = h.browser(t)
	f.admin = h.browser(t).login("admin@ops.test")
	f.ua = h.browser(t).login("a@alpha.test")
	f.ub = h.browser(t).login("b@beta.test")
	return f
}

// Expected outcomes in the route matrix.
const (
	toLogin = -1 // 303 to /login
	ended   = 401
)

// TestRouteMatrix requests every dashboard route as nobody, an admin, client
// A and client B, on client A's resources, and checks each outcome. A route
// added without a row here fails the test.
func TestRouteMatrix(t *testing.T) {
	f := newFixture(t)
	ids := strings.NewReplacer(
		"{id}", "", "{uid}", f.userA.ID, "{cid}", "ch_x", "{rid}", store.NewID("rel", f.h.now), "{slug}", f.a.Slug, "{month}", f.month)
	type row struct {
		path                string // with {id} filled in
		anon, admin, ca, cb int
	}
	site, client := f.siteA.ID, f.a.ID
	rows := map[string]row{
		"GET /{$}":                          {"/", toLogin, 303, 303, 303},
		"GET /login":                        {"/login", 200, 200, 200, 200},
		"GET /account":                      {"/account", toLogin, 200, 200, 200},
		"GET /ops":                          {"/ops", toLogin, 200, 404, 404},
		"GET /ops/clients":                  {"/ops/clients", toLogin, 200, 404, 404},
		"GET /ops/clients/new":              {"/ops/clients/new", toLogin, 200, 404, 404},
		"GET /ops/clients/{id}":             {"/ops/clients/" + client, toLogin, 200, 404, 404},
		"GET /ops/sites":                    {"/ops/sites", toLogin, 200, 404, 404},
		"GET /ops/sites/new":                {"/ops/sites/new", toLogin, 200, 404, 404},
		"GET /ops/nodes":                    {"/ops/nodes", toLogin, 200, 404, 404},
		"GET /ops/nodes/join":               {"/ops/nodes/join", toLogin, 200, 404, 404},
		"GET /ops/nodes/{id}":               {"/ops/nodes/" + f.node.ID, toLogin, 200, 404, 404},
		"GET /ops/maintenance":              {"/ops/maintenance", toLogin, 200, 404, 404},
		"GET /ops/audit":                    {"/ops/audit", toLogin, 200, 404, 404},
		"GET /sites/{id}":                   {"/sites/" + site, toLogin, 200, 200, 404},
		"GET /sites/{id}/progress.json":     {"/sites/" + site + "/progress.json", toLogin, 200, 200, 404},
		"GET /sites/{id}/logs":              {"/sites/" + site + "/logs", toLogin, 200, 200, 404},
		"GET /sites/{id}/delete":            {"/sites/" + site + "/delete", toLogin, 200, 404, 404},
		"GET /incidents/{id}":               {"/incidents/" + f.incA.ID, toLogin, 200, 200, 404},
		"GET /portal":                       {"/portal", toLogin, 303, 200, 200},
		"GET /clients/{id}/reports":         {"/clients/" + client + "/reports", toLogin, 200, 200, 404},
		"GET /clients/{id}/reports/{month}": {"/clients/" + client + "/reports/" + f.month, toLogin, 200, 200, 404},
		"GET /status/{slug}":                {"/status/alpha", 200, 200, 200, 200},
		"GET /status/{slug}/logo":           {"/status/alpha/logo", 200, 200, 200, 200},
		"GET /status/{slug}/theme.css":      {"/status/alpha/theme.css", 200, 200, 200, 200},

		"POST /logout":                                 {"/logout", ended, 0, 0, 0},
		"POST /account/password":                       {"/account/password", ended, 0, 0, 0},
		"POST /ops/clients":                            {"/ops/clients", ended, 0, 404, 404},
		"POST /ops/clients/{id}":                       {"/ops/clients/" + client, ended, 0, 404, 404},
		"POST /ops/clients/{id}/users":                 {"/ops/clients/" + client + "/users", ended, 0, 404, 404},
		"POST /ops/clients/{id}/users/{uid}/delete":    {"/ops/clients/" + client + "/users/{uid}/delete", ended, 0, 404, 404},
		"POST /ops/clients/{id}/channels":              {"/ops/clients/" + client + "/channels", ended, 0, 404, 404},
		"POST /ops/clients/{id}/channels/{cid}/delete": {"/ops/clients/" + client + "/channels/{cid}/delete", ended, 0, 404, 404},
		"POST /ops/clients/{id}/status-page":           {"/ops/clients/" + client + "/status-page", ended, 0, 404, 404},
		"POST /ops/clients/{id}/logo":                  {"/ops/clients/" + client + "/logo", ended, 0, 404, 404},
		"POST /ops/sites":                              {"/ops/sites", ended, 0, 404, 404},
		"POST /ops/nodes/join":                         {"/ops/nodes/join", ended, 0, 404, 404},
		"POST /ops/nodes/{id}/drain":                   {"/ops/nodes/" + f.node.ID + "/drain", ended, 0, 404, 404},
		"POST /ops/maintenance":                        {"/ops/maintenance", ended, 0, 404, 404},
		"POST /ops/maintenance/{id}/delete":            {"/ops/maintenance/mw_x/delete", ended, 0, 404, 404},
		"POST /sites/{id}/releases/{rid}/activate":     {"/sites/" + site + "/releases/{rid}/activate", ended, 0, 0, 404},
		"POST /sites/{id}/delete":                      {"/sites/" + site + "/delete", ended, 0, 404, 404},
		"POST /sites/{id}/releases":                    {"/sites/" + site + "/releases", ended, 0, 0, 404},
		"POST /login":                                  {"/login", 0, 0, 0, 0}, // TestLogin
	}
	who := []struct {
		name string
		b    *browser
		col  func(row) int
	}{
		{"anonymous", f.anon, func(r row) int { return r.anon }},
		{"admin", f.admin, func(r row) int { return r.admin }},
		{"client A", f.ua, func(r row) int { return r.ca }},
		{"client B", f.ub, func(r row) int { return r.cb }},
	}
	for _, rt := range f.h.web.Routes() {
		key := rt.Method + " " + rt.Pattern
		r, ok := rows[key]
		if !ok {
			t.Errorf("route %s has no row in the matrix", key)
			continue
		}
		path := ids.Replace(r.path)
		for _, w := range who {
			want := w.col(r)
			if want == 0 {
				continue // a successful form is tested on its own
			}
			t.Run(key+"/"+w.name, func(t *testing.T) {
				w.b.t = t
				var code int
				var hd http.Header
				var body string
				switch {
				case rt.Method == "GET":
					code, body, hd = w.b.get(path)
				case rt.Pattern == "/sites/{id}/releases":
					code, body, hd = w.b.upload(path, []byte("not a bundle"), true)
				default:
					code, body, hd = w.b.post(path, url.Values{}, true)
				}
				if want == toLogin {
					if code != http.StatusSeeOther || !strings.HasPrefix(hd.Get("Location"), "/login?next=") {
						t.Fatalf("%s %s = %d to %q, want a redirect to the login page", rt.Method, path, code, hd.Get("Location"))
					}
					return
				}
				if code != want {
					t.Fatalf("%s %s = %d, want %d; body:\n%.600s", rt.Method, path, code, want, body)
				}
				if want == 404 && strings.Contains(body, f.siteA.PrimaryDomain) {
					t.Errorf("the 404 page names client A's site")
				}
			})
		}
	}
}

// upload posts a release bundle as the site page's form does.
func (b *browser) upload(path string, bundle []byte, csrf bool) (int, string, http.Header) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if csrf {
		mw.WriteField("csrf", b.csrf)
	}
	fw, _ := mw.CreateFormFile("bundle", "site.tar.gz")
	fw.Write(bundle)
	mw.Close()
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String(), resp.Header
}

// TestCSRF: every form post without the session's token is refused, and
// nothing changes.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	for _, rt := range f.h.web.Routes() {
		if rt.Method != "POST" || rt.Pattern == "/login" {
			continue
		}
		t.Run(rt.Pattern, func(t *testing.T) {
			f.admin.t = t
			path := strings.NewReplacer("{id}", f.siteA.ID, "{uid}", f.userA.ID, "{cid}", "x", "{rid}", "x").Replace(rt.Pattern)
			if strings.HasPrefix(rt.Pattern, "/ops/clients/{id}") {
				path = strings.Replace(rt.Pattern, "{id}", f.a.ID, 1)
				path = strings.NewReplacer("{uid}", f.userA.ID, "{cid}", "x").Replace(path)
			}
			if strings.HasPrefix(rt.Pattern, "/ops/nodes/{id}") {
				path = strings.Replace(rt.Pattern, "{id}", f.node.ID, 1)
			}
			var code int
			var body string
			if rt.Pattern == "/sites/{id}/releases" {
				code, body, _ = f.admin.upload(path, []byte("x"), false)
			} else {
				code, body, _ = f.admin.post(path, url.Values{"csrf": {"forged"}, "display_name": {"X"}, "confirm": {f.siteA.Name}}, false)
			}
			if code != http.StatusForbidden {
				t.Fatalf("POST %s without the CSRF token = %d, want 403:\n%.400s", path, code, body)
			}
		})
	}
	// The site and the user are still there.
	f.admin.t = t
	if code, _, _ := f.admin.get("/sites/" + f.siteA.ID); code != 200 {
		t.Errorf("site page after forged posts = %d", code)
	}
	if code, _, _ := f.ua.get("/portal"); code != 200 {
		t.Errorf("client A's portal after forged posts = %d", code)
	}
	// A cross-origin post is refused even with a valid token.
	f.admin.get("/ops/clients/new")
	req, _ := http.NewRequest("POST", f.h.srv.URL+"/ops/clients", strings.NewReader(url.Values{"csrf": {f.admin.csrf}, "display_name": {"Evil"}, "slug": {"evil"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := f.admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post = %d, want 403", resp.StatusCode)
	}
}

// TestSecurityHeaders checks the headers on every page the matrix visits,
// for each kind of viewer.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	paths := []string{"/", "/login", "/ops", "/sites/" + f.siteA.ID, "/status/alpha", "/status/alpha/logo",
		"/static/style.css", "/static/app.js", "/no/such/page", "/clients/" + f.a.ID + "/reports/" + f.month}
	for _, b := range []*browser{f.anon, f.admin, f.ua} {
		for _, p := range paths {
			b.t = t
			_, _, hd := b.get(p)
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s: CSP %q lacks %q", p, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("%s: CSP allows unsafe code: %q", p, csp)
			}
			for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"} {
				if got := hd.Get(h); got != want {
					t.Errorf("%s: %s = %q, want %q", p, h, got, want)
				}
			}
		}
	}
}

// TestLogin covers the session cookie, login failures and their limit,
// logout, and a password change ending the other sessions.
func TestLogin(t *testing.T) {
	f := newFixture(t)
	b := f.h.browser(t)
	b.get("/login")
	// A wrong password: the form again, with a message and the email kept.
	code, body, _ := b.post("/login", url.Values{"email": {"a@alpha.test"}, "password": {"wrong password!"}}, true)
	if code != http.StatusUnauthorized || !strings.Contains(body, "email or password is wrong") || !strings.Contains(body, `value="a@alpha.test"`) {
		t.Fatalf("wrong password = %d:\n%.600s", code, body)
	}
	// Without the login form's token: refused.
	code, _, _ = b.post("/login", url.Values{"email": {"a@alpha.test"}, "password": {testPassword}, "csrf": {"x"}}, false)
	if code != http.StatusForbidden {
		t.Fatalf("login without the form token = %d, want 403", code)
	}
	// The session cookie's flags.
	b.get("/login")
	req, _ := http.NewRequest("POST", f.h.srv.URL+"/login", strings.NewReader(url.Values{
		"email": {"a@alpha.test"}, "password": {testPassword}, "csrf": {b.csrf}, "next": {"//evil.example/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
		t.Fatalf("login with next=//evil.example/ = %d to %q, want 303 to /", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sessionCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-berth_session" {
			sessionCookie = c
		}
	}
	if sessionCookie == nil || !sessionCookie.HttpOnly || !sessionCookie.Secure || sessionCookie.SameSite != http.SameSiteLaxMode ||
		sessionCookie.Path != "/" || sessionCookie.Domain != "" || sessionCookie.Expires.IsZero() {
		t.Fatalf("session cookie = %+v, want HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, an expiry", sessionCookie)
	}
	// Logging in again rotates the session: the old cookie no longer works.
	b2 := f.h.browser(t).login("a@alpha.test")
	old := b2.c.Jar.Cookies(mustURL(f.h.srv.URL))
	b2.login("a@alpha.test")
	stale := f.h.browser(t)
	stale.c.Jar.SetCookies(mustURL(f.h.srv.URL), old)
	if code, _, hd := stale.get("/portal"); code != 303 || !strings.HasPrefix(hd.Get("Location"), "/login") {
		t.Errorf("the session before a new login still works: %d", code)
	}
	// Password change ends the other sessions but keeps this one.
	other := f.h.browser(t).login("a@alpha.test")
	f.ua.get("/account")
	code, body, _ = f.ua.post("/account/password", url.Values{"current_password": {testPassword},
		"new_password": {"a much better passphrase"}, "confirm_password": {"a much better passphrase"}}, true)
	if code != 303 {
		t.Fatalf("password change = %d:\n%.600s", code, body)
	}
	if code, _, _ := f.ua.get("/portal"); code != 200 {
		t.Errorf("this session after a password change: %d", code)
	}
	if code, _, _ := other.get("/portal"); code != 303 {
		t.Errorf("another session after a password change: %d, want a redirect to the login", code)
	}
	// Logout ends the session.
	f.ub.get("/portal")
	if code, _, _ := f.ub.post("/logout", nil, true); code != 303 {
		t.Fatalf("logout = %d", code)
	}
	if code, _, _ := f.ub.get("/portal"); code != 303 {
		t.Errorf("portal after logout = %d, want a redirect to the login", code)
	}
	// Failures are limited: after a few, even the right password waits.
	lim := f.h.browser(t)
	var last int
	for range 8 {
		lim.get("/login")
		last, body, _ = lim.post("/login", url.Values{"email": {"b@beta.test"}, "password": {"wrong password!"}}, true)
	}
	if last != http.StatusTooManyRequests || !strings.Contains(body, "too many failed logins") {
		t.Errorf("8th failed login = %d:\n%.400s", last, body)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestStatusPage: ops upload a logo from the client page; anyone gets the
// published page, its logo and colour, cacheable and without internal ids;
// an unpublished or unknown page is a 404.
func TestStatusPage(t *testing.T) {
	f := newFixture(t)
	f.admin.get("/ops/clients/" + f.a.ID)
	png := append([]byte{}, tinyPNG...)
	png = append(png, 0) // a different image than the seeded one
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", f.admin.csrf)
	fw, _ := mw.CreateFormFile("logo", "logo.png")
	fw.Write(png)
	mw.Close()
	req, _ := http.NewRequest("POST", f.h.srv.URL+"/ops/clients/"+f.a.ID+"/logo", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := f.admin.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logo upload = %d", resp.StatusCode)
	}
	code, body, hd := f.anon.get("/status/alpha")
	if code != 200 || !strings.Contains(body, "Client ALPHA status") || !strings.Contains(body, f.siteA.PrimaryDomain) {
		t.Fatalf("status page = %d:\n%.800s", code, body)
	}
	if cc := hd.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("status page Cache-Control = %q, want public", cc)
	}
	for _, leak := range []string{f.siteA.ID, f.a.ID, f.node.ID, "timeout", f.siteB.PrimaryDomain} {
		if strings.Contains(body, leak) {
			t.Errorf("status page shows %q", leak)
		}
	}
	code, logo, hd := f.anon.get("/status/alpha/logo")
	if code != 200 || logo != string(png) || hd.Get("Content-Type") != "image/png" {
		t.Errorf("logo = %d %q, %d bytes, want the uploaded PNG", code, hd.Get("Content-Type"), len(logo))
	}
	if code, css, _ := f.anon.get("/status/alpha/theme.css"); code != 200 || !strings.Contains(css, "#aa3300") {
		t.Errorf("theme = %d %q", code, css)
	}
	for _, p := range []string{"/status/beta", "/status/nobody", "/status/Bad..Slug", "/status/beta/logo"} {
		if code, body, _ := f.anon.get(p); code != 404 || strings.Contains(body, "Client BETA") {
			t.Errorf("GET %s = %d, want 404 naming nobody", p, code)
		}
	}
}

// TestSiteSearch: the ops site list filters by a name or domain fragment,
// in any case, and an over-long query is refused with a message.
func TestSiteSearch(t *testing.T) {
	f := newFixture(t)
	code, body, _ := f.admin.get("/ops/sites?q=SHOP.alpha")
	if code != 200 || !strings.Contains(body, f.siteA.PrimaryDomain) || strings.Contains(body, f.siteB.PrimaryDomain) {
		t.Fatalf("search for SHOP.alpha = %d:\n%.1500s", code, body)
	}
	code, body, _ = f.admin.get("/ops/sites?q=nothing-like-this")
	if code != 200 || !strings.Contains(body, "No sites match") {
		t.Fatalf("search without a match = %d:\n%.1500s", code, body)
	}
	code, body, _ = f.admin.get("/ops/sites?q=" + strings.Repeat("x", 101))
	if code != 400 || !strings.Contains(body, "query") {
		t.Fatalf("over-long search = %d:\n%.1500s", code, body)
	}
}

// TestClientSeesNoNodes: a client user's view of their site names no node,
// not even in a condition's message, while ops see it.
func TestClientSeesNoNodes(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/sites/" + f.siteA.ID, "/sites/" + f.siteA.ID + "/progress.json", "/incidents/" + f.incA.ID, "/portal"} {
		code, body, _ := f.ua.get(p)
		if code != 200 || strings.Contains(body, f.node.ID) || strings.Contains(body, f.node.Name) {
			t.Errorf("client's %s = %d, names the node:\n%.1500s", p, code, body)
		}
	}
	if _, body, _ := f.admin.get("/sites/" + f.siteA.ID); !strings.Contains(body, f.node.ID) {
		t.Errorf("ops' site page does not name the node")
	}
}

// TestStatusPageStaleWhileRebuilt: past its TTL, a status page is served
// at once from memory while a rebuild runs, and the rebuilt page follows.
func TestStatusPageStaleWhileRebuilt(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w, err := web.New(web.Options{Conn: f.h.conn, Now: clock, StatusCacheTTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(w.Handler())
	defer srv.Close()
	get := func() string {
		resp, err := srv.Client().Get(srv.URL + "/status/alpha")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status page = %d", resp.StatusCode)
		}
		return string(b)
	}
	if !strings.Contains(get(), "Client ALPHA status") {
		t.Fatal("first build lacks the client's name")
	}
	f.h.update(t, func(tx store.Tx) error {
		f.a.DisplayName, f.a.UpdateTime = "Alpha Renamed", f.a.UpdateTime.Add(time.Second)
		return tx.UpdateClient(f.a)
	})
	if !strings.Contains(get(), "Client ALPHA status") {
		t.Fatal("within its TTL the page was rebuilt")
	}
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	if !strings.Contains(get(), "Client ALPHA status") {
		t.Fatal("past its TTL the page was not served from memory while rebuilt")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(get(), "Alpha Renamed status") {
		if time.Now().After(deadline) {
			t.Fatal("the rebuilt page never replaced the stale one")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStatusPageGzip: the status page is sent compressed to those who take
// gzip, and plain to the others, with the same content.
func TestStatusPageGzip(t *testing.T) {
	f := newFixture(t)
	fetch := func(ae string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", f.h.srv.URL+"/status/alpha", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		tr := f.h.srv.Client().Transport.(*http.Transport).Clone()
		tr.DisableCompression = true
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	plainResp, plain := fetch("")
	if plainResp.Header.Get("Content-Encoding") != "" || !strings.Contains(string(plain), "Client ALPHA status") {
		t.Fatalf("plain: %q, %.200s", plainResp.Header.Get("Content-Encoding"), plain)
	}
	for ae, want := range map[string]bool{"gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "identity": false} {
		resp, body := fetch(ae)
		if got := resp.Header.Get("Content-Encoding") == "gzip"; got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", ae, got, want)
			continue
		}
		if resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: Vary %q", ae, resp.Header.Get("Vary"))
		}
		if want {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, plain) {
			t.Errorf("Accept-Encoding %q: the page differs from the plain one", ae)
		}
	}
}
