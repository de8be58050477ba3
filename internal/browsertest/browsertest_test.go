package browsertest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// formPage is a sign-in form with a file input; posting it greets the
// name and tells the uploaded file's name and size.
func formPage() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cr3t", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark", Path: "/"})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!doctype html><title>Sign in</title>
<h1>Sign in</h1>
<form method="post" action="/hello" enctype="multipart/form-data">
<label>Name <input id="name" name="name" value="placeholder"></label>
<input id="file" type="file" name="file">
<button id="go" type="submit">Go</button>
</form>`)
	})
	mux.HandleFunc("POST /hello", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		upload := "no file"
		if f, h, err := r.FormFile("file"); err == nil {
			n, _ := io.Copy(io.Discard, f)
			upload = fmt.Sprintf("%s, %d bytes", h.Filename, n)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Hello</title><p id="greeting">Hello, %s</p><p id="upload">%s</p>`,
			html.EscapeString(r.FormValue("name")), html.EscapeString(upload))
	})
	return mux
}

func TestBrowser(t *testing.T) {
	ts := httptest.NewTLSServer(formPage())
	defer ts.Close()
	b := Start(t, Options{Hosts: map[string]string{"*.test": "127.0.0.1"}})
	ctx := b.NewTab(t)

	// By a name the host rules map to the loopback server.
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	site := "https://app.test:" + port
	Navigate(t, ctx, site+"/")
	if got := Text(t, ctx, "h1"); got != "Sign in" {
		t.Errorf("heading %q, want Sign in", got)
	}

	cookies := map[string]*network.Cookie{}
	for _, c := range Cookies(t, ctx) {
		cookies[c.Name] = c
	}
	sid, theme := cookies["sid"], cookies["theme"]
	if sid == nil || theme == nil {
		t.Fatalf("cookies %v: want sid and theme", cookies)
	}
	if !sid.HTTPOnly || !sid.Secure || sid.SameSite != network.CookieSameSiteLax || sid.Domain != "app.test" {
		t.Errorf("sid: HttpOnly=%v Secure=%v SameSite=%q Domain=%q, want true, true, Lax, app.test",
			sid.HTTPOnly, sid.Secure, sid.SameSite, sid.Domain)
	}
	if theme.HTTPOnly {
		t.Error("theme cookie is HttpOnly, want not")
	}

	file := filepath.Join(t.TempDir(), "site.zip")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 1234), 0o644); err != nil {
		t.Fatal(err)
	}
	Fill(t, ctx, "#name", `Ada <Lovelace>`)
	UploadFile(t, ctx, "#file", file)
	Click(t, ctx, "#go")
	WaitText(t, ctx, "#greeting", "Hello, Ada <Lovelace>")
	if got, want := Text(t, ctx, "#upload"), "site.zip, 1234 bytes"; got != want {
		t.Errorf("upload %q, want %q", got, want)
	}
	if got, want := Location(t, ctx), site+"/hello"; got != want {
		t.Errorf("location %q, want %q", got, want)
	}

	dir := t.TempDir()
	t.Setenv("BERTH_SCREENSHOTS", dir)
	Screenshot(t, ctx, "Greeting Page/After Sign-in!")
	png, err := os.ReadFile(filepath.Join(dir, "greeting-page-after-sign-in.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Errorf("screenshot is %d bytes, not a PNG of a page", len(png))
	}

	// Submit, on a phone-sized viewport, in a second tab of the same user.
	ctx2 := b.NewTab(t)
	if err := SetViewport(ctx2, 390, 844, true); err != nil {
		t.Fatal(err)
	}
	Navigate(t, ctx2, site+"/")
	Fill(t, ctx2, "#name", "Grace")
	Submit(t, ctx2, "#name")
	WaitText(t, ctx2, "#greeting", "Hello, Grace")
	if got := Text(t, ctx2, "#upload"); got != "no file" {
		t.Errorf("upload %q, want no file", got)
	}
}

func TestTrustedCA(t *testing.T) {
	ca, caPEM := newCert(t, nil, "Berth test CA")
	leaf, _ := newCert(t, &ca, "127.0.0.1")
	trusted := httptest.NewUnstartedServer(formPage())
	leaf.Certificate = append(leaf.Certificate, ca.Certificate[0])
	trusted.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	trusted.StartTLS()
	defer trusted.Close()
	other := httptest.NewUnstartedServer(formPage())   // httptest's own certificate
	other.Config.ErrorLog = log.New(io.Discard, "", 0) // the expected handshake failures
	other.StartTLS()
	defer other.Close()

	b := Start(t, Options{CACertPEM: caPEM})
	ctx := b.NewTab(t)
	Navigate(t, ctx, trusted.URL+"/")
	WaitText(t, ctx, "h1", "Sign in")

	// Navigate would fail the test, so this expected failure goes to
	// chromedp directly.
	c, cancel := context.WithTimeout(b.NewTab(t), DefaultTimeout)
	defer cancel()
	err := chromedp.Do(c, chromedp.Navigate(other.URL+"/"))
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT") {
		t.Errorf("navigate to a server with another certificate: %v, want a certificate error", err)
	}
}

// newCert makes an ECDSA certificate for name, signed by parent, or a
// self-signed CA when parent is nil. The returned chain holds only the new
// certificate.
func newCert(t *testing.T, parent *tls.Certificate, name string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	signer, signerKey := tmpl, any(key)
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.IPAddresses = []net.IP{net.ParseIP(name)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		signer, signerKey = parent.Leaf, parent.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"Dashboard, phone":     "dashboard-phone",
		"TestX/sub_case":       "testx-sub-case",
		"--a--b--":             "a-b",
		"élan 1":               "lan-1",
		"../../etc/passwd":     "etc-passwd",
		"":                     "screenshot",
		strings.Repeat("!", 3): "screenshot",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNavigateStatus: NavigateStatus reports the page's HTTP status after
// redirects, so that Navigate can refuse an error page that has a heading.
func TestNavigateStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/gone", http.StatusSeeOther)
		case "/gone":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, "<!doctype html><h1>Not found</h1>")
		default:
			io.WriteString(w, "<!doctype html><h1>Here</h1>")
		}
	}))
	defer srv.Close()
	b := Start(t, Options{})
	ctx := b.NewTab(t)
	for path, want := range map[string]int64{"/": 200, "/gone": 404, "/moved": 404} {
		if got := NavigateStatus(t, ctx, srv.URL+path); got != want {
			t.Errorf("NavigateStatus(%s) = %d, want %d", path, got, want)
		}
	}
}
