package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/pebbletest"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// edgeLoadConcurrency is how many keep-alive connections BenchmarkEdgeLoad
// drives at once.
const edgeLoadConcurrency = 16

// BenchmarkEdgeLoad measures a static site (a 2 KiB page) through the
// node's edge over HTTPS, and the same container reached directly over
// plain HTTP, with 16 keep-alive HTTP/1.1 connections at once; b.N requests
// in all. It reports requests per second and the latency percentiles.
// berthd, the agent (and so the edge) and the site's container share the 2
// cores with the load generator. Run it with -benchtime 20000x.
func BenchmarkEdgeLoad(b *testing.B) {
	n := startBenchNode(b, "berth/static:dev")
	const domain = "www.load.test"
	page := "<!doctype html><title>load</title><p>" + strings.Repeat("berth ", 330) + "</p>"
	resp, err := n.sites.CreateSite(n.d.adminCtx(), &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: n.clientID, Name: "load",
		Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: domain, Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 1000}}})
	if err != nil {
		b.Fatal(err)
	}
	id := resp.Site.Id
	n.ids = append(n.ids, id)
	if code, body := n.d.post("/v1/sites/"+id+"/releases", n.d.token, "application/gzip", tarGz(b, [2]string{"index.html", page})); code != 200 {
		b.Fatalf("upload: %d %s", code, body)
	}
	n.d.waitSite(id, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId != "" && hasCertificate(s) })
	_, httpsAddr := n.a.edgeAddrs()
	_, port, _ := net.SplitHostPort(httpsAddr)
	edgeURL := "https://" + domain + ":" + port + "/"
	roots := n.d.caPool()
	waitUntil(b, 30*time.Second, "the edge serves the site", func() bool {
		code, body, _, err := fetch(edgeClient(httpsAddr, roots), edgeURL)
		return err == nil && code == 200 && body == page
	})

	b.Run("edge-https", func(b *testing.B) {
		loadTest(b, page, func() *http.Client {
			return keepAliveClient(httpsAddr, &tls.Config{RootCAs: roots})
		}, edgeURL)
	})
	b.Run("direct-http", func(b *testing.B) {
		direct := siteAddr(b, n.rt, id, 8080)
		loadTest(b, page, func() *http.Client { return keepAliveClient(direct, nil) }, "http://"+domain+"/")
	})
}

// keepAliveClient is an HTTP/1.1 client with one kept-alive connection to
// addr, whatever the URL's host.
func keepAliveClient(addr string, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     tlsConfig,
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
	}}
}

// loadTest sends b.N GETs of url from edgeLoadConcurrency clients and
// reports req/s and p50/p99 latency; every answer must be want.
func loadTest(b *testing.B, want string, newClient func() *http.Client, url string) {
	var mu sync.Mutex
	var lat []time.Duration
	var failed error
	work := make(chan struct{})
	var wg sync.WaitGroup
	for range edgeLoadConcurrency {
		c := newClient()
		wg.Go(func() {
			var mine []time.Duration
			for range work {
				start := time.Now()
				resp, err := c.Get(url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(body) != want) {
						err = fmt.Errorf("answer %d with %d bytes", resp.StatusCode, len(body))
					}
				}
				mine = append(mine, time.Since(start))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
}

// BenchmarkCreateToHTTPS measures, against a real ACME server (Pebble),
// how long a new static site takes from CreateSite (with its release
// uploaded right after) to its first HTTPS 200 through the node's edge,
// verified against Pebble's root: placement, the container, the ACME
// order with its TLS-ALPN-01 or HTTP-01 challenge, and the route. Each
// iteration creates one site and, untimed, deletes it. Run it with
// -benchtime 10x; it reports the median and 90th percentile in seconds.
func BenchmarkCreateToHTTPS(b *testing.B) {
	httpPort, httpsPort := freePortOn(b, "127.0.0.1"), freePortOn(b, "127.0.0.1")
	p := pebbletest.Start(b, pebbletest.Options{HTTPPort: httpPort, TLSPort: httpsPort})
	roots := writeRoots(b, p)
	n := startBenchNodeWith(b, []string{"berth/static:dev"}, []string{
		"--http-listen", "127.0.0.1:" + strconv.Itoa(httpPort), "--https-listen", "127.0.0.1:" + strconv.Itoa(httpsPort),
		"--acme-directory", p.DirectoryURL(), "--acme-roots", roots, "--internal-suffixes", "localhost"})
	issuer := p.IssuerRoot()
	https := edgeClient("127.0.0.1:"+strconv.Itoa(httpsPort), issuer)
	bundle := tarGz(b, [2]string{"index.html", "<h1>hello</h1>"})
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		domain := fmt.Sprintf("s%d.acme-bench.test", i)
		start := time.Now()
		resp, err := n.sites.CreateSite(n.d.adminCtx(), &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: n.clientID, Name: fmt.Sprintf("s%d", i),
			Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: domain, Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 500}}})
		if err != nil {
			b.Fatal(err)
		}
		n.ids = append(n.ids, resp.Site.Id)
		if code, body := n.d.post("/v1/sites/"+resp.Site.Id+"/releases", n.d.token, "application/gzip", bundle); code != 200 {
			b.Fatalf("upload: %d %s", code, body)
		}
		url := fmt.Sprintf("https://%s:%d/", domain, httpsPort)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			code, _, _, err := fetch(https, url)
			if err == nil && code == 200 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: no verified 200 within 2 minutes: %d %v", url, code, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		n.deleteSites(b, resp.Site.Id)
		b.StartTimer()
	}
	if got := p.Orders(); got != b.N {
		b.Errorf("%d orders for %d sites", got, b.N)
	}
	reportSeconds(b, took)
}

// writeRoots writes Pebble's roots to a file for --acme-roots.
func writeRoots(tb testing.TB, p *pebbletest.Pebble) string {
	tb.Helper()
	path := tb.TempDir() + "/pebble-roots.pem"
	if err := os.WriteFile(path, p.RootsPEM(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}
