package web_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
	"github.com/fixaroo/berth/internal/web"
)

// harness is the dashboard on a real API and SQLite store, wired the way
// berthd wires it: the API on an in-process gRPC connection, the dashboard
// on a TLS listener on 127.0.0.1.
type harness struct {
	store store.Store
	web   *web.Server
	srv   *httptest.Server
	conn  *grpc.ClientConn
	now   time.Time
}

const testPassword = "correct horse battery staple"

func newHarness(t testing.TB) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, _, err := pki.LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bl, err := blobs.New(blobs.Options{Dir: filepath.Join(dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Options{Store: st, CA: ca, Blobs: bl, ScratchDir: t.TempDir(),
		LoginLimiter: auth.NewLoginLimiter(auth.LimiterOptions{})})
	gs := grpc.NewServer(a.ServerOptions()...)
	a.Register(gs)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///berthd-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); a.Close(); gs.Stop() })
	w, err := web.New(web.Options{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(w.Handler())
	t.Cleanup(srv.Close)
	return &harness{store: st, web: w, srv: srv, conn: conn, now: time.Now().UTC()}
}

func (h *harness) update(t testing.TB, fn func(tx store.Tx) error) {
	t.Helper()
	if err := h.store.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

var passwordHash string

func (h *harness) user(t testing.TB, email string, role store.Role, clientID string) *store.User {
	t.Helper()
	if passwordHash == "" {
		var err error
		if passwordHash, err = auth.HashPassword(testPassword); err != nil {
			t.Fatal(err)
		}
	}
	u := &store.User{ID: store.NewID("usr", h.now), Email: email, Role: role, ClientID: clientID,
		PasswordHash: passwordHash, CreateTime: h.now, UpdateTime: h.now}
	h.update(t, func(tx store.Tx) error { return tx.CreateUser(u) })
	return u
}

func (h *harness) client(t testing.TB, slug string, page store.StatusPage) *store.Client {
	t.Helper()
	c := &store.Client{ID: store.NewID("cl", h.now), DisplayName: "Client " + strings.ToUpper(slug), Slug: slug,
		ContactEmail: "ops@" + slug + ".test", CreateTime: h.now.AddDate(0, -2, 0), UpdateTime: h.now, StatusPage: page}
	h.update(t, func(tx store.Tx) error { return tx.CreateClient(c) })
	return c
}

func (h *harness) site(t testing.TB, c *store.Client, name string) *store.Site {
	t.Helper()
	s := &store.Site{ID: store.NewID("site", h.now), ClientID: c.ID, Name: name, Kind: store.SiteKindStatic,
		PrimaryDomain: name + "." + c.Slug + ".test", MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStateRunning,
		Generation: 1, ObservedGeneration: 1, CreateTime: h.now, UpdateTime: h.now}
	h.update(t, func(tx store.Tx) error { return tx.CreateSite(s) })
	return s
}

// browser is a real HTTP client with its own cookie jar, like one person's
// browser.
type browser struct {
	t    testing.TB
	h    *harness
	c    *http.Client
	csrf string
}

func (h *harness) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Transport:     h.srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &browser{t: t, h: h, c: c}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and returns the status and body.
func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.h.srv.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body), resp.Header
}

// post submits a form; with csrf it adds the token of the last page read.
func (b *browser) post(path string, form url.Values, csrf bool) (int, string, http.Header) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if csrf {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// login logs in through the login form and fails the test if it does not
// land on a page.
func (b *browser) login(email string) *browser {
	b.t.Helper()
	if code, body, _ := b.get("/login"); code != 200 {
		b.t.Fatalf("GET /login = %d: %s", code, body)
	}
	code, body, hd := b.post("/login", url.Values{"email": {email}, "password": {testPassword}}, true)
	if code != http.StatusSeeOther {
		b.t.Fatalf("login %s = %d, want 303: %s", email, code, body)
	}
	if loc := hd.Get("Location"); loc != "/" {
		b.t.Fatalf("login went to %q", loc)
	}
	b.get("/account") // picks up the session's CSRF token
	return b
}

func (h *harness) String() string { return fmt.Sprintf("harness at %s", h.srv.URL) }
