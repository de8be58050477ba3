package edge

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testHosts are the names the test certificate covers.
var testHosts = []string{"a.test", "*.a.test", "b.test", "c.test", "d.test", "nothere.test"}

// testCert returns a certificate for testHosts signed by a fresh CA, and a
// pool that trusts the CA.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "edge test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: testHosts[0]},
		DNSNames:     testHosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, pool
}

// testEdge is an Edge running on loopback ports for one test.
type testEdge struct {
	*Edge
	pool      *x509.CertPool
	reg       *prometheus.Registry
	httpPort  string
	httpsPort string
	stop      func() error // ends Run and returns its error
}

// startEdge runs an Edge with o (listening on 127.0.0.1:0 and with a test
// certificate unless o says otherwise) and routes, and stops it at the end
// of the test.
func startEdge(t testing.TB, o Options, routes ...Route) *testEdge {
	t.Helper()
	cert, pool := testCert(t)
	if o.HTTPListen == "" {
		o.HTTPListen = "127.0.0.1:0"
	}
	if o.HTTPSListen == "" {
		o.HTTPSListen = "127.0.0.1:0"
	}
	if o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	reg := prometheus.NewRegistry()
	if o.Registerer == nil {
		o.Registerer = reg
	}
	e, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.SetRoutes(routes)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	select {
	case <-e.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	var stopped atomic.Bool
	stop := func() error {
		if !stopped.CompareAndSwap(false, true) {
			return nil
		}
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Run did not return 30 s after its context ended")
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	httpAddr, httpsAddr := e.Addrs()
	return &testEdge{
		Edge:      e,
		pool:      pool,
		reg:       reg,
		httpPort:  port(httpAddr),
		httpsPort: port(httpsAddr),
		stop:      stop,
	}
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// url returns the HTTPS URL of path on host, or the HTTP one.
func (te *testEdge) url(https bool, host, path string) string {
	if https {
		return "https://" + host + ":" + te.httpsPort + path
	}
	return "http://" + host + ":" + te.httpPort + path
}

// client returns an HTTP client that reaches any host name at the edge,
// trusts the test CA, does not follow redirects, and speaks HTTP/2 over
// TLS when h2 is set (HTTP/1.1 otherwise).
func (te *testEdge) client(t testing.TB, h2 bool) *http.Client {
	t.Helper()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(h2)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: te.pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, p, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
		},
		Protocols:           &protocols,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialRaw opens a connection to the edge's HTTP port, or a TLS connection
// (HTTP/1.1 by ALPN) to its HTTPS port for host.
func (te *testEdge) dialRaw(t testing.TB, https bool, host string) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if https {
		c, err = tls.Dial("tcp", "127.0.0.1:"+te.httpsPort, &tls.Config{RootCAs: te.pool, ServerName: host, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", "127.0.0.1:"+te.httpPort)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawRoundTrip writes raw bytes to a fresh connection and reads one
// response. With checkClose, it also waits to see whether the edge closes
// the connection after it (or sends more).
func (te *testEdge) rawRoundTrip(t testing.TB, https bool, raw string, checkClose bool) (resp *http.Response, body string, closed bool) {
	t.Helper()
	c := te.dialRaw(t, https, "a.test")
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	if !checkClose {
		return resp, string(b), false
	}
	// Anything after the response is either a second response (the
	// connection stayed open for more requests) or the end.
	_, err = br.ReadByte()
	return resp, string(b), errors.Is(err, io.EOF) || isReset(err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// upstream is a site's container: a real HTTP server on loopback.
type upstream struct {
	*httptest.Server
	addr netip.AddrPort
	hits atomic.Int64
}

// newUpstream starts an upstream that counts requests and answers them with
// h, or by default with "site NAME: METHOD URI".
func newUpstream(t testing.TB, name string, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "site %s: %s %s", name, r.Method, r.RequestURI)
		}
	}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	u.addr = netip.MustParseAddrPort(u.Listener.Addr().String())
	return u
}

// get sends a GET for url and returns the response with its body read.
func get(t testing.TB, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Add(header[i], header[i+1])
	}
	return do(t, c, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp, string(b)
}

// goErrorText are fragments of Go error messages that must never reach a
// visitor.
var goErrorText = []string{"dial tcp", "connection refused", "http: ", "net/http", "EOF", "context ", "127.0.0.1", "upstream", "proxy"}

func assertPage(t testing.TB, resp *http.Response, body string, status int, title, host string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d; body:\n%s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	for _, want := range []string{title, fmt.Sprintf("ERROR %d", status), host, "Served by Berth"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range append(goErrorText, "<script", "src=", "href=") {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q:\n%s", bad, body)
		}
	}
}

func TestNewValidates(t *testing.T) {
	cert, _ := testCert(t)
	withCert := &tls.Config{Certificates: []tls.Certificate{cert}}
	tests := []struct {
		name string
		o    Options
	}{
		{"no TLS config", Options{}},
		{"TLS config without certificate", Options{TLSConfig: &tls.Config{}}},
		{"negative body cap", Options{TLSConfig: withCert, MaxBodyBytes: -1}},
		{"negative timeout", Options{TLSConfig: withCert, SendTimeout: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.o); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}

	reg := prometheus.NewRegistry()
	if _, err := New(Options{TLSConfig: withCert, Registerer: reg}); err != nil {
		t.Fatalf("New: %v", err)
	}
	if _, err := New(Options{TLSConfig: withCert, Registerer: reg}); err == nil {
		t.Error("a second Edge on the same registry: New succeeded, want an error")
	}
}

func TestRunTwice(t *testing.T) {
	te := startEdge(t, Options{})
	if err := te.Run(t.Context()); err == nil {
		t.Error("second Run succeeded, want an error")
	}
}

func TestRunListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cert, _ := testCert(t)
	e, err := New(Options{HTTPListen: "127.0.0.1:0", HTTPSListen: ln.Addr().String(), TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(t.Context()); err == nil {
		t.Error("Run on a busy port succeeded, want an error")
	}
}

func TestTLSConfig(t *testing.T) {
	base := &tls.Config{NextProtos: []string{"acme-tls/1"}, MinVersion: tls.VersionTLS10}
	got := serverTLSConfig(base)
	if want := []string{"h2", "http/1.1", "acme-tls/1"}; strings.Join(got.NextProtos, ",") != strings.Join(want, ",") {
		t.Errorf("NextProtos = %q, want %q", got.NextProtos, want)
	}
	if got.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion = %x, want TLS 1.2", got.MinVersion)
	}
	if len(base.NextProtos) != 1 || base.MinVersion != tls.VersionTLS10 || base.CipherSuites != nil {
		t.Error("serverTLSConfig changed the caller's config")
	}
	for _, id := range got.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("cipher suite %s is not ECDHE with AEAD", name)
		}
	}

	perClient := serverTLSConfig(&tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{NextProtos: []string{"acme-tls/1"}}, nil
	}})
	got, err := perClient.GetConfigForClient(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got.MinVersion != tls.VersionTLS12 || len(got.CipherSuites) == 0 || len(got.NextProtos) != 3 {
		t.Errorf("GetConfigForClient's config not hardened: min %x, suites %v, protos %q", got.MinVersion, got.CipherSuites, got.NextProtos)
	}

	te := startEdge(t, Options{})
	addr := "127.0.0.1:" + te.httpsPort
	refused := []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.1", &tls.Config{RootCAs: te.pool, ServerName: "a.test", MaxVersion: tls.VersionTLS11}},
		{"RSA key exchange", &tls.Config{RootCAs: te.pool, ServerName: "a.test", MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", addr, tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("handshake succeeded, want it refused")
			}
		})
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: te.pool, ServerName: "a.test", MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 with defaults: %v", err)
	}
	c.Close()
}

func TestPlainHTTPOnHTTPSPort(t *testing.T) {
	te := startEdge(t, Options{})
	c, err := net.Dial("tcp", "127.0.0.1:"+te.httpsPort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", resp.StatusCode)
	}
}
