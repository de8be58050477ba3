package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// edgeAddrs waits for the agent's address file and returns its edge's
// HTTP and HTTPS addresses.
func (a *agent) edgeAddrs() (httpAddr, httpsAddr string) {
	a.tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, err := os.ReadFile(filepath.Join(a.dataDir, "agent.addr"))
		if err == nil {
			var addrs struct{ HTTP, HTTPS string }
			if err := json.Unmarshal(raw, &addrs); err != nil {
				a.tb.Fatalf("agent.addr: %v", err)
			}
			return addrs.HTTP, addrs.HTTPS
		}
		if time.Now().After(deadline) {
			a.tb.Fatalf("agent %s wrote no agent.addr within 60s", a.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// edgeClient returns a client that sends every request to addr, whatever
// the URL's host (which still sets SNI and Host), verifying the server's
// certificate against roots. It does not follow redirects.
func edgeClient(addr string, roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetch GETs url through c and returns the status, body and response.
func fetch(c *http.Client, url string) (int, string, *http.Response, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp, err
}

// caPool reads berthd's DATA/ca.pem.
func (b *berthd) caPool() *x509.CertPool {
	b.tb.Helper()
	pem, err := os.ReadFile(filepath.Join(b.dataDir, "ca.pem"))
	if err != nil {
		b.tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		b.tb.Fatal("ca.pem holds no certificate")
	}
	return pool
}

// hasCertificate says whether every domain of s has a certificate.
func hasCertificate(s *berthv1.Site) bool {
	if len(s.Certificates) != 1+len(s.AliasDomains) {
		return false
	}
	for _, c := range s.Certificates {
		if c.NotAfter == nil {
			return false
		}
	}
	return true
}

// TestEdgeInternalIssuer: a static site under .localhost is served by the
// node's edge over HTTPS with a certificate from berthd's CA, verified by
// DATA/ca.pem; plain HTTP redirects; an alias redirects to the primary
// domain; an unknown host gets the branded 404 and no certificate.
func TestEdgeInternalIssuer(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	// No periodic resync: a container removed by hand stays gone until
	// the desired state changes, so the 503 below is deterministic.
	a := startAgent(t, b, "edge-a", "--resync", "1h")
	httpAddr, httpsAddr := a.edgeAddrs()

	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Bistro", "--slug", "bistro", "--email", "ops@bistro.test", "-o", "json"), "client")
	siteID := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", "www", "--kind", "static",
		"--domain", "bistro.localhost", "--alias", "www.bistro.localhost", "--redirect-aliases", "--hsts",
		"--memory", "64", "--no-wait", "-o", "json"), "site")
	ids = append(ids, siteID)
	dir := t.TempDir()
	page := "<!doctype html><title>Bistro</title><h1>Welcome</h1>"
	writeFile(t, filepath.Join(dir, "index.html"), page)
	rel := strings.TrimSpace(b.ok(t, "", "site", "deploy", siteID, dir))
	site := b.waitSite(siteID, 2*time.Minute, func(s *berthv1.Site) bool {
		return isRunning(s) && s.ReleaseId == rel && hasCertificate(s)
	})
	for _, c := range site.Certificates {
		if c.Issuer != "internal" || c.LastError != "" {
			t.Errorf("certificate %v: want issuer internal and no error", c)
		}
	}

	https := edgeClient(httpsAddr, b.caPool())
	_, port, _ := net.SplitHostPort(httpsAddr)
	base := "https://bistro.localhost:" + port
	var code int
	var body string
	var resp *http.Response
	var err error
	// The edge learns the route once the site answers; RUNNING is reported
	// at the same moment, so allow it a short while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, body, resp, err = fetch(https, base+"/"); err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/ through the edge: %d %v %.200q", base, code, err, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if body != page {
		t.Errorf("GET %s/ = %q, want the release", base, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=") {
		t.Errorf("Strict-Transport-Security = %q, want one for a site with HSTS", hsts)
	}
	if cs := resp.TLS.PeerCertificates; len(cs) == 0 || cs[0].VerifyHostname("bistro.localhost") != nil {
		t.Errorf("served certificate is not for bistro.localhost")
	}

	// The alias redirects to the primary domain.
	code, _, resp, err = fetch(https, "https://www.bistro.localhost:"+port+"/menu?lang=fr")
	if err != nil || (code != 301 && code != 308) || resp.Header.Get("Location") != base+"/menu?lang=fr" {
		t.Errorf("alias: %d %v Location %q, want a permanent redirect to %s/menu?lang=fr", code, err, resp.Header.Get("Location"), base)
	}

	// Plain HTTP redirects to HTTPS.
	plain := edgeClient(httpAddr, nil)
	code, _, resp, err = fetch(plain, "http://bistro.localhost/menu")
	if err != nil || code != 308 || resp.Header.Get("Location") != base+"/menu" {
		t.Errorf("HTTP: %d %v Location %q, want 308 to %s/menu", code, err, resp.Header.Get("Location"), base)
	}

	// An unknown host: the branded 404 over HTTP, and no certificate over
	// HTTPS (the handshake fails: nothing is obtained for a stranger's name).
	code, body, _, err = fetch(plain, "http://unknown.localhost/")
	if err != nil || code != 404 || !strings.Contains(body, "not hosted here") {
		t.Errorf("unknown host over HTTP: %d %v %.200q, want the branded 404", code, err, body)
	}
	if _, _, _, err := fetch(https, "https://unknown.localhost:"+port+"/"); err == nil {
		t.Error("unknown host over HTTPS: the handshake succeeded, want no certificate")
	}

	// berth site get shows the certificates.
	out := b.ok(t, "", "site", "get", siteID)
	for _, want := range []string{"Certificates:", "bistro.localhost", "internal"} {
		if !strings.Contains(out, want) {
			t.Errorf("berth site get lacks %q:\n%s", want, out)
		}
	}

	// A container that is gone gets the branded 503, not a Go error.
	if err := rt.RemoveContainer(t.Context(), "berth-"+siteID); err != nil {
		t.Fatal(err)
	}
	code, body, resp, err = fetch(https, base+"/")
	if err != nil {
		t.Fatalf("GET with the container gone: %v", err)
	}
	if code != 503 || !strings.Contains(body, "temporarily unavailable") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("GET with the container gone: %d Retry-After %q %.200q, want the branded 503", code, resp.Header.Get("Retry-After"), body)
	}
}
