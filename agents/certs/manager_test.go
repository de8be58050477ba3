package certs_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/certs"
)

// obtainTimeout is generous: an order takes ~1.5 s against Pebble, more
// under -race on 2 busy cores.
const obtainTimeout = 60 * time.Second

func TestObtainOverACME(t *testing.T) {
	tests := []struct {
		name                        string
		disableHTTP, disableTLSALPN bool
	}{
		{"http-01", false, true},
		{"tls-alpn-01", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newACMEEnv(t)
			_, remote := newRemote()
			o := e.options(t, remote)
			o.DisableHTTPChallenge, o.DisableTLSALPNChallenge = tt.disableHTTP, tt.disableTLSALPN
			h := start(t, o)
			serve(t, h.Manager, e.httpLn, e.tlsLn)

			domain := tt.name + ".example.com"
			begin := time.Now()
			h.SetDomains(context.Background(), []string{domain})
			st := waitStatus(t, h, domain, obtainTimeout, hasCert)
			t.Logf("obtained over %s in %s", tt.name, time.Since(begin).Round(time.Millisecond))

			want := "acme:" + mustHost(t, e.pebble.DirectoryURL())
			if st.Issuer != want || st.LastError != "" || !st.Managed || st.LastAttempt.IsZero() {
				t.Errorf("status = %+v, want issuer %q, no error, managed, an attempt", st, want)
			}
			leaf, err := handshake(e.tlsLn.Addr().String(), domain, e.pebble.IssuerRoot())
			if err != nil {
				t.Fatalf("handshake for %s: %v", domain, err)
			}
			if !leaf.NotAfter.Equal(st.NotAfter) {
				t.Errorf("served certificate expires %s, status says %s", leaf.NotAfter, st.NotAfter)
			}
			if n := e.pebble.Orders(); n != 1 {
				t.Errorf("Pebble accepted %d orders, want 1", n)
			}
		})
	}
}

func TestNameNotSetGetsNothing(t *testing.T) {
	e := newACMEEnv(t)
	mem, remote := newRemote()
	h := start(t, e.options(t, remote))
	serve(t, h.Manager, e.httpLn, e.tlsLn)
	h.SetDomains(context.Background(), []string{"served.example.com"})
	waitStatus(t, h, "served.example.com", obtainTimeout, hasCert)
	orders, calls := e.pebble.Orders(), mem.Calls()

	// Before: a handshake for the managed name succeeds, even without
	// verification, so the failures below are the server's refusals.
	if _, err := handshake(e.tlsLn.Addr().String(), "served.example.com", nil); err != nil {
		t.Fatalf("handshake for the managed name: %v", err)
	}
	for _, protos := range [][]string{nil, {"acme-tls/1"}} {
		if _, err := handshake(e.tlsLn.Addr().String(), "stranger.example.com", nil, protos...); err == nil {
			t.Errorf("the server completed a handshake for a name never set (ALPN %v)", protos)
		}
	}
	// Nor does it answer acme-tls/1 for a managed name with no challenge
	// under way.
	if _, err := handshake(e.tlsLn.Addr().String(), "served.example.com", nil, "acme-tls/1"); err == nil {
		t.Errorf("the server answered acme-tls/1 with no challenge in progress")
	}
	// Challenge requests for challenges not under way go to the next
	// handler, whatever the host.
	for _, host := range []string{"stranger.example.com", "served.example.com"} {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://%s/.well-known/acme-challenge/abcdefgh", e.httpLn.Addr()), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("challenge request for %s: %s, want 404 from the next handler", host, resp.Status)
		}
	}
	// None of this reached the control plane (certmagic alone would look
	// challenges up in storage).
	if n := mem.Calls(); n != calls {
		t.Errorf("%d Remote calls for handshakes and challenge requests nobody started", n-calls)
	}

	// Handshakes never start an order; give any background work a moment
	// to show itself.
	time.Sleep(time.Second)
	if n := e.pebble.Orders(); n != orders {
		t.Errorf("Pebble accepted %d new orders after handshakes for an unmanaged name", n-orders)
	}
	if _, ok := statusOf(h.Manager, "stranger.example.com"); ok {
		t.Errorf("Status lists a name never set")
	}

	// A removed domain stops being served at once.
	h.SetDomains(context.Background(), nil)
	if _, err := handshake(e.tlsLn.Addr().String(), "served.example.com", nil); err == nil {
		t.Errorf("handshake for a removed domain succeeded")
	}
	if st := h.Status(); len(st) != 0 {
		t.Errorf("Status after SetDomains(nil) = %+v", st)
	}
}

func TestInternalIssuer(t *testing.T) {
	ca := newTestCA(t)
	tlsLn := listen(t)
	_, remote := newRemote()
	signer := &fakeSigner{ca: ca}
	h := start(t, certs.Options{
		DataDir: t.TempDir(),
		Remote:  remote,
		Signer:  signer,
		// No ACME server exists here: an ACME attempt would fail.
		ACMEDirectory: "https://127.0.0.1:9/dir",
	})
	serve(t, h.Manager, nil, tlsLn)

	h.SetDomains(context.Background(), []string{"App.Localhost", "shop.test", "10.0.0.1", "*.wild.test"})
	for _, domain := range []string{"app.localhost", "shop.test"} {
		st := waitStatus(t, h, domain, obtainTimeout, hasCert)
		if st.Issuer != "internal" || st.LastError != "" {
			t.Errorf("status = %+v, want issuer internal and no error", st)
		}
		leaf, err := handshake(tlsLn.Addr().String(), domain, ca.pool())
		if err != nil {
			t.Fatalf("handshake for %s: %v", domain, err)
		}
		if leaf.Issuer.CommonName != ca.cert.Subject.CommonName {
			t.Errorf("%s: served certificate issued by %q", domain, leaf.Issuer.CommonName)
		}
	}
	for _, domain := range []string{"10.0.0.1", "*.wild.test"} {
		st, ok := statusOf(h.Manager, domain)
		if !ok || st.Managed || st.LastError == "" {
			t.Errorf("status of %s = %+v (listed %v), want unmanaged with a reason", domain, st, ok)
		}
	}
	if n := signer.calls(); n != 2 {
		t.Errorf("signer called %d times, want 2", n)
	}

	// With the control plane down, the failure says so.
	signer.setErr(fmt.Errorf("dial berthd: %w", certs.ErrUnavailable))
	h.SetDomains(context.Background(), []string{"app.localhost", "shop.test", "late.internal"})
	st := waitStatus(t, h, "late.internal", obtainTimeout, func(s certs.DomainStatus) bool { return s.LastError != "" })
	if !strings.Contains(st.LastError, "control plane unavailable") || st.LastAttempt.IsZero() {
		t.Errorf("status = %+v, want the signer's error and an attempt", st)
	}
}

// TestStatusFollowsRenewal covers a renewal certmagic does on its own
// (here: on managing a stored certificate that is due), which it reports
// with no event once the new certificate is served.
func TestStatusFollowsRenewal(t *testing.T) {
	ca := newTestCA(t)
	tlsLn := listen(t)
	_, remote := newRemote()
	signer := &fakeSigner{ca: ca, due: true}
	h := start(t, certs.Options{DataDir: t.TempDir(), Remote: remote, Signer: signer})
	serve(t, h.Manager, nil, tlsLn)
	const domain = "renew.test"

	h.SetDomains(context.Background(), []string{domain})
	first := waitStatus(t, h, domain, obtainTimeout, hasCert)
	h.SetDomains(context.Background(), nil)
	signer.setDue(false)
	h.SetDomains(context.Background(), []string{domain})
	second := waitStatus(t, h, domain, obtainTimeout, func(s certs.DomainStatus) bool { return s.NotAfter.After(first.NotAfter) })
	leaf, err := handshake(tlsLn.Addr().String(), domain, ca.pool())
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(second.NotAfter) {
		t.Errorf("serving a certificate that expires %s; Status says %s", leaf.NotAfter, second.NotAfter)
	}
	if n := signer.calls(); n != 2 {
		t.Errorf("signer called %d times, want 2", n)
	}
}

func TestRenewWithRemoteUnavailable(t *testing.T) {
	e := newACMEEnv(t)
	mem, remote := newRemote()
	o := e.options(t, remote)
	h := start(t, o)
	serve(t, h.Manager, e.httpLn, e.tlsLn)
	const domain = "offline.example.com"
	addr := e.tlsLn.Addr().String()

	h.SetDomains(context.Background(), []string{domain})
	waitStatus(t, h, domain, obtainTimeout, hasCert)
	first, err := handshake(addr, domain, e.pebble.IssuerRoot())
	if err != nil {
		t.Fatal(err)
	}
	key, local := storedCert(t, o.DataDir, domain)
	if remoteValue, _ := mem.Get(key); !bytes.Equal(remoteValue, local) {
		t.Fatalf("Remote does not hold the obtained certificate at %s", key)
	}

	// berthd goes down: the node still renews, and serves the new
	// certificate.
	mem.SetUnavailable(true)
	begin := time.Now()
	if err := h.RenewAll(context.Background()); err != nil {
		t.Fatalf("RenewAll with Remote unavailable: %v", err)
	}
	t.Logf("renewed with Remote unavailable in %s", time.Since(begin).Round(time.Millisecond))
	second, err := handshake(addr, domain, e.pebble.IssuerRoot())
	if err != nil {
		t.Fatal(err)
	}
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("still serving the old certificate after RenewAll")
	}
	_, local = storedCert(t, o.DataDir, domain)
	if !bytes.Equal(leafOf(t, local).Raw, second.Raw) {
		t.Errorf("served certificate is not the one stored locally")
	}
	if n := e.pebble.Orders(); n != 2 {
		t.Errorf("Pebble accepted %d orders, want 2", n)
	}

	// berthd comes back: Run pushes what was stored meanwhile.
	mem.SetUnavailable(false)
	waitFor(t, 30*time.Second, "Remote to hold the renewed certificate", func() bool {
		v, _ := mem.Get(key)
		return bytes.Equal(v, local)
	})
	waitFor(t, 10*time.Second, "the pending list to empty", func() bool {
		b, err := os.ReadFile(filepath.Join(o.DataDir, "certs", "pending.json"))
		return err == nil && string(b) == "[]"
	})

	// Down again, and the node restarts before berthd is back: the
	// pending list on disk still gets synced.
	mem.SetUnavailable(true)
	if err := h.RenewAll(context.Background()); err != nil {
		t.Fatalf("second RenewAll: %v", err)
	}
	_, local = storedCert(t, o.DataDir, domain)
	h.stop()
	mem.SetUnavailable(false)
	if v, _ := mem.Get(key); bytes.Equal(v, local) {
		t.Fatalf("Remote already holds the second renewal; the test proves nothing")
	}
	start(t, o) // same DataDir
	waitFor(t, 30*time.Second, "Remote to hold the certificate renewed before the restart", func() bool {
		v, _ := mem.Get(key)
		return bytes.Equal(v, local)
	})
}

func TestMovedSiteLoadsFromRemote(t *testing.T) {
	e := newACMEEnv(t)
	mem, remote := newRemote()
	const domain = "moved.example.com"

	a := start(t, e.options(t, remote))
	serve(t, a.Manager, e.httpLn, e.tlsLn)
	a.SetDomains(context.Background(), []string{domain})
	waitStatus(t, a, domain, obtainTimeout, hasCert)
	served, err := handshake(e.tlsLn.Addr().String(), domain, e.pebble.IssuerRoot())
	if err != nil {
		t.Fatal(err)
	}
	orders := e.pebble.Orders()

	// Node b, with its own data directory and edge, takes the site over.
	b := start(t, e.options(t, mem.Node("b")))
	bTLS := listen(t)
	serve(t, b.Manager, nil, bTLS)
	b.SetDomains(context.Background(), []string{domain})
	st := waitStatus(t, b, domain, obtainTimeout, hasCert)
	if st.LastAttempt != (time.Time{}) {
		t.Errorf("node b attempted an order: %+v", st)
	}
	got, err := handshake(bTLS.Addr().String(), domain, e.pebble.IssuerRoot())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(served) {
		t.Errorf("node b serves a different certificate than node a")
	}
	if n := e.pebble.Orders(); n != orders {
		t.Errorf("Pebble accepted %d new orders for the moved site, want 0", n-orders)
	}
}

func TestConcurrentNodesShareOneOrder(t *testing.T) {
	e := newACMEEnv(t)
	mem, _ := newRemote()
	const domain = "both.example.com"
	a := start(t, e.options(t, mem.Node("a")))
	b := start(t, e.options(t, mem.Node("b")))
	// a's edge answers Pebble; the challenge state of either node is in
	// this process's memory, so a's handlers can serve b's challenge too.
	serve(t, a.Manager, e.httpLn, e.tlsLn)

	a.SetDomains(context.Background(), []string{domain})
	b.SetDomains(context.Background(), []string{domain})
	waitStatus(t, a, domain, obtainTimeout, hasCert)
	waitStatus(t, b, domain, obtainTimeout, hasCert)
	if n := e.pebble.Orders(); n != 1 {
		t.Errorf("Pebble accepted %d orders for one name obtained by two nodes at once, want 1", n)
	}
}

func TestUnvalidatableDomainFailsWithoutHammering(t *testing.T) {
	e := newACMEEnv(t)
	_, remote := newRemote()
	h := start(t, e.options(t, remote))
	serve(t, h.Manager, e.httpLn, e.tlsLn)
	const domain = "unreachable.example.com"
	// Nothing listens on 127.0.0.2: both challenges fail to connect.
	e.pebble.SetA(t, domain, "127.0.0.2")

	begin := time.Now()
	h.SetDomains(context.Background(), []string{domain})
	st := waitStatus(t, h, domain, obtainTimeout, func(s certs.DomainStatus) bool { return s.LastError != "" })
	t.Logf("first failure reported in %s: %s", time.Since(begin).Round(time.Millisecond), st.LastError)
	// Pebble's words, by the challenge type tried last: "connection: ...
	// dial tcp 127.0.0.2:PORT: connect: connection refused" (http-01) or
	// "unauthorized: Failed to connect to 127.0.0.2:PORT for the
	// tls-alpn-01 challenge".
	if !strings.Contains(st.LastError, "127.0.0.2") || !strings.Contains(st.LastError, "onnect") {
		t.Errorf("LastError = %q, want Pebble's connection problem naming 127.0.0.2", st.LastError)
	}
	if st.LastAttempt.IsZero() || !st.NotAfter.IsZero() || !st.Managed {
		t.Errorf("status = %+v", st)
	}

	time.Sleep(3 * time.Second)
	t.Logf("%d orders in the 3 s after the failure was reported", e.pebble.Orders())
	if n := e.pebble.Orders(); n < 1 || n > 2 {
		t.Errorf("Pebble accepted %d orders within seconds of a failure, want 1 or 2 (one per challenge type)", n)
	}
	if again, _ := statusOf(h.Manager, domain); !again.LastAttempt.Equal(st.LastAttempt) {
		t.Errorf("another attempt %s after the failure at %s; certmagic waits a minute first",
			again.LastAttempt.Sub(st.LastAttempt), st.LastAttempt)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustHost(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

func leafOf(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(chainPEM)
	if block == nil {
		t.Fatalf("no PEM in %q", chainPEM)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCA stands in for berthd's CA.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test berthd CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// fakeSigner signs CSRs with a testCA, as berthd's internal issuer would.
type fakeSigner struct {
	ca *testCA

	mu  sync.Mutex // guards the fields below
	n   int
	err error
	due bool // issue certificates already due for renewal
}

func (s *fakeSigner) SignCertificate(ctx context.Context, csrDER []byte) ([]byte, error) {
	s.mu.Lock()
	s.n++
	err, due := s.err, s.due
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	notBefore, notAfter := time.Now().Add(-time.Minute), time.Now().Add(12*time.Hour)
	if due {
		notBefore, notAfter = time.Now().Add(-11*time.Hour), time.Now().Add(time.Hour) // 1/12 of its lifetime left
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     csr.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca.cert, csr.PublicKey, s.ca.key)
	if err != nil {
		return nil, err
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ca.cert.Raw})...), nil
}

func (s *fakeSigner) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *fakeSigner) setDue(due bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.due = due
}

func (s *fakeSigner) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}
