package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/pebbletest"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// freePortOn returns a port free on each of the loopback addresses.
func freePortOn(t testing.TB, ips ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		free := true
		for _, ip := range ips[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return port
		}
	}
	t.Fatal("no port free on every address")
	return 0
}

// servedSerial does a TLS handshake with the edge at addr for name,
// verifying against roots, and returns the served certificate's serial.
func servedSerial(addr, name string, roots *x509.CertPool) (*big.Int, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

// TestEdgeACME runs the certificate life of sites against a real ACME
// server (Pebble): issuance over HTTP-01 and over TLS-ALPN-01, no order for
// an unknown host, a site moved to another node keeps its certificate, a
// domain that cannot be validated shows the CA's error without hammering
// it, and with berthd down a node keeps serving and renews, syncing the new
// certificate to berthd afterwards.
func TestEdgeACME(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	// Each node has its own loopback address with the same ports: Pebble
	// validates at one port pair, on the address the domain resolves to.
	ipA, ipB, ipC := testIP(t, 2), testIP(t, 3), testIP(t, 4)
	httpPort, httpsPort := freePortOn(t, ipA, ipB, ipC), freePortOn(t, ipA, ipB, ipC)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: httpsPort})
	roots := writeRoots(t, p)
	acmeNode := func(ip, challenge string) []string {
		return []string{"--http-listen", net.JoinHostPort(ip, strconv.Itoa(httpPort)), "--https-listen", net.JoinHostPort(ip, strconv.Itoa(httpsPort)),
			"--acme-directory", p.DirectoryURL(), "--acme-roots", roots, "--acme-email", "ops@berth.test",
			"--internal-suffixes", "localhost", "--acme-challenges", challenge}
	}
	edge := func(ip string) string { return net.JoinHostPort(ip, strconv.Itoa(httpsPort)) }
	issuer := p.IssuerRoot()

	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	a := startAgent(t, b, "acme-a", acmeNode(ipA, "http-01")...)
	a.edgeAddrs()
	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Shop", "--slug", "shop", "--email", "ops@shop.test", "-o", "json"), "client")
	create := func(name, domain string) string {
		t.Helper()
		id := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", name, "--kind", "static",
			"--domain", domain, "--memory", "64", "--no-wait", "-o", "json"), "site")
		ids = append(ids, id)
		return id
	}
	// serves waits until the edge at addr serves name with a certificate
	// from Pebble, and returns its serial.
	serves := func(addr, name string) *big.Int {
		t.Helper()
		var serial *big.Int
		var err error
		deadline := time.Now().Add(90 * time.Second)
		for serial, err = servedSerial(addr, name, issuer); err != nil; serial, err = servedSerial(addr, name, issuer) {
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve %s with a Pebble certificate: %v", addr, name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return serial
	}

	// HTTP-01 on node A.
	p.SetA(t, "one.test", ipA)
	one := create("one", "one.test")
	b.waitSite(one, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && hasCertificate(s) })
	serialOne := serves(edge(ipA), "one.test")
	if got := p.Orders(); got != 1 {
		t.Errorf("orders after the first site = %d, want 1", got)
	}
	https := edgeClient(edge(ipA), issuer)
	// The site has no release yet: its container's own page says so.
	if code, body, _, err := fetch(https, fmt.Sprintf("https://one.test:%d/", httpsPort)); err != nil || !strings.Contains(body, "No release yet") {
		t.Errorf("GET https://one.test/ verified by Pebble's root: %d %v %.100q, want the site's own page", code, err, body)
	}
	// An unknown name gets no certificate and no order.
	if _, err := servedSerial(edge(ipA), "stranger.test", issuer); err == nil {
		t.Error("the edge completed a handshake for an unknown name")
	}
	if code, body, _, _ := fetch(edgeClient(net.JoinHostPort(ipA, strconv.Itoa(httpPort)), nil), "http://stranger.test/"); code != 404 || !strings.Contains(body, "not hosted here") {
		t.Errorf("unknown host over HTTP: %d %.100q, want the branded 404", code, body)
	}
	// The ACME challenge path is not redirected (an unknown token is the
	// challenge handler's 404, not a 308 to HTTPS).
	if code, _, _, _ := fetch(edgeClient(net.JoinHostPort(ipA, strconv.Itoa(httpPort)), nil), "http://one.test/.well-known/acme-challenge/nope"); code == 308 {
		t.Error("an ACME challenge request was redirected to HTTPS")
	}
	if got := p.Orders(); got != 1 {
		t.Errorf("orders after asking for an unknown name = %d, want 1", got)
	}

	// Move the site to node B (TLS-ALPN-01 only): no new order.
	nb := startAgent(t, b, "acme-b", acmeNode(ipB, "tls-alpn-01")...)
	nb.edgeAddrs()
	p.SetA(t, "one.test", ipB)
	b.ok(t, "", "node", "drain", b.nodeID("acme-a"))
	b.waitSite(one, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.NodeId != "" && s.NodeId != b.nodeID("acme-a") })
	if got := serves(edge(ipB), "one.test"); got.Cmp(serialOne) != 0 {
		t.Errorf("node B serves serial %v, want the certificate node A obtained (%v)", got, serialOne)
	}
	if got := p.Orders(); got != 1 {
		t.Errorf("orders after the move = %d, want 1 (no re-issue)", got)
	}

	// TLS-ALPN-01 on node B (A is draining).
	p.SetA(t, "two.test", ipB)
	two := create("two", "two.test")
	b.waitSite(two, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && hasCertificate(s) })
	serialTwo := serves(edge(ipB), "two.test")
	if got := p.Orders(); got != 2 {
		t.Errorf("orders after the second site = %d, want 2", got)
	}

	// A domain that cannot be validated: the CA's error shows, and the CA
	// is not hammered.
	p.SetA(t, "bad.test", testIP(t, 9)) // nothing listens there
	before := p.Orders()
	bad := create("bad", "bad.test")
	site := b.waitSite(bad, 2*time.Minute, func(s *berthv1.Site) bool {
		return len(s.Certificates) == 1 && s.Certificates[0].LastError != ""
	})
	lastErr := site.Certificates[0].LastError
	t.Logf("error shown for bad.test: %s", lastErr)
	// The CLI may wrap a long error; its first words must be there.
	if out := b.ok(t, "", "site", "get", bad); !strings.Contains(out, lastErr[:min(len(lastErr), 20)]) {
		t.Errorf("berth site get does not show the CA's error %q:\n%s", lastErr, out)
	}
	time.Sleep(5 * time.Second) // observe the retry pacing over a fixed window
	if n := p.Orders() - before; n > 2 {
		t.Errorf("%d orders for an unvalidatable domain within seconds, want at most 2", n)
	}
	// Deleting the site stops the retries (certmagic retries after a
	// minute), which keeps the order counts below about the other sites.
	b.ok(t, "", "site", "delete", bad)
	waitUntil(t, time.Minute, "the failing site is deleted", func() bool {
		_, _, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "get", bad)
		return code != 0
	})

	// berthd down: node B keeps serving and renews.
	b.stop()
	if got := serves(edge(ipB), "two.test"); got.Cmp(serialTwo) != 0 {
		t.Errorf("with berthd down node B serves serial %v, want %v", got, serialTwo)
	}
	ordersBefore := p.Orders()
	if err := nb.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var renewed *big.Int
	waitUntil(t, 90*time.Second, "node B serves a renewed certificate for two.test", func() bool {
		renewed, _ = servedSerial(edge(ipB), "two.test", issuer)
		return renewed != nil && renewed.Cmp(serialTwo) != 0
	})
	if p.Orders() <= ordersBefore {
		t.Errorf("the renewal during the outage made no order")
	}

	// berthd back: the renewed certificate is synced to it, so a third node
	// taking the site over serves it without a new order.
	restart := time.Now()
	b = startBerthdOn(t, b.dataDir, b.addr)
	waitUntil(t, 2*time.Minute, "node B syncs the renewed certificate to berthd", func() bool {
		resp, err := berthv1.NewAuditServiceClient(b.grpcConn()).ListAuditEvents(b.adminCtx(), &berthv1.ListAuditEventsRequest{
			Method: "PutCertData", StartTime: timestamppb.New(restart)})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Events {
			if strings.HasSuffix(e.ResourceId, "/two.test.crt") && e.Code == "OK" {
				return true
			}
		}
		return false
	})
	nc := startAgent(t, b, "acme-c", acmeNode(ipC, "tls-alpn-01")...)
	nc.edgeAddrs()
	p.SetA(t, "two.test", ipC)
	ordersBefore = p.Orders()
	b.ok(t, "", "node", "drain", b.nodeID("acme-b"))
	b.waitSite(two, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.NodeId == b.nodeID("acme-c") })
	if got := serves(edge(ipC), "two.test"); got.Cmp(renewed) != 0 {
		t.Errorf("node C serves serial %v, want the one renewed during the outage (%v)", got, renewed)
	}
	if got := p.Orders(); got != ordersBefore {
		t.Errorf("orders after moving the renewed site = %d, want %d", got, ordersBefore)
	}
}
