package edge

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// BenchmarkEdgeHTTPS measures small GETs through the edge over keep-alive
// HTTPS connections, from GOMAXPROCS parallel clients: TLS, routing, the
// framer, metrics and the proxy hop. Compare with BenchmarkDirect, the same
// requests to the same kind of upstream without the edge.
func BenchmarkEdgeHTTPS(b *testing.B) {
	up := newUpstream(b, "A", nil)
	te := startEdge(b, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr, HSTS: true})
	for _, tc := range []struct {
		name string
		h2   bool
	}{{"http1.1", false}, {"h2", true}} {
		b.Run(tc.name, func(b *testing.B) {
			benchmarkGets(b, te.client(b, tc.h2), te.url(true, "a.test", "/"))
		})
	}
}

// BenchmarkDirect is the baseline: plain HTTP/1.1 keep-alive GETs straight
// to an upstream.
func BenchmarkDirect(b *testing.B) {
	up := newUpstream(b, "A", nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	benchmarkGets(b, &http.Client{Transport: tr}, up.URL+"/")
}

func benchmarkGets(b *testing.B, c *http.Client, url string) {
	get := func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			b.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil { // connect and handshake outside the timing
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := get(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}
