package integration

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

const (
	benchSites       = 10_000 // sites in the store before the first call is timed
	benchSeedWorkers = 16
	benchWorkers     = 8 // concurrent callers in every timed sub-benchmark
)

// BenchmarkAPI measures berthd end to end, as a separate process on
// loopback: gRPC and REST (grpc-gateway over HTTP/2), reads and writes,
// against a store holding 10,000 sites. Each sub-benchmark makes b.N calls
// from 8 concurrent callers and reports latency percentiles and throughput;
// the last one reports berthd's resident memory.
func BenchmarkAPI(b *testing.B) {
	if testing.Short() {
		b.Skip("whole-process benchmark: skipped with -short")
	}
	d := startBerthd(b, "")
	resp, err := d.http.Get(d.url("/readyz"))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
		b.Fatalf("/readyz: %s over %s, want 200 over HTTP/2", resp.Status, resp.Proto)
	}
	conn := d.grpcConn()
	ctx := d.adminCtx()
	sites := berthv1.NewSiteServiceClient(conn)

	cl, err := berthv1.NewClientServiceClient(conn).CreateClient(ctx, &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Bench Ltd", Slug: "bench", ContactEmail: "ops@bench.test"}})
	if err != nil {
		b.Fatal(err)
	}
	clientID := cl.Client.Id
	// seq numbers every site this benchmark creates, so names and domains
	// stay unique across seeding and the CreateSite sub-benchmarks.
	var seq atomic.Int64
	newSite := func() *berthv1.Site {
		n := seq.Add(1)
		return &berthv1.Site{ClientId: clientID, Name: fmt.Sprintf("s-%d", n), Kind: berthv1.SiteKind_SITE_KIND_STATIC,
			PrimaryDomain: fmt.Sprintf("s-%d.bench.test", n)}
	}

	start := time.Now()
	ids := make([]string, benchSites)
	var g errgroup.Group
	var next atomic.Int64
	for range benchSeedWorkers {
		g.Go(func() error {
			for i := next.Add(1) - 1; i < benchSites; i = next.Add(1) - 1 {
				resp, err := sites.CreateSite(ctx, &berthv1.CreateSiteRequest{Site: newSite()})
				if err != nil {
					return fmt.Errorf("seed site %d: %w", i, err)
				}
				ids[i] = resp.Site.Id
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d sites over gRPC with %d workers in %v", benchSites, benchSeedWorkers, time.Since(start).Round(time.Millisecond))

	b.Run("GRPC", func(b *testing.B) {
		b.Run("GetSite", func(b *testing.B) {
			runCalls(b, func() error {
				_, err := sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: ids[rand.IntN(len(ids))]})
				return err
			})
		})
		b.Run("CreateSite", func(b *testing.B) {
			runCalls(b, func() error {
				_, err := sites.CreateSite(ctx, &berthv1.CreateSiteRequest{Site: newSite()})
				return err
			})
		})
	})

	b.Run("REST", func(b *testing.B) {
		b.Run("GetSite", func(b *testing.B) {
			runCalls(b, func() error {
				return d.call(http.MethodGet, "/v1/sites/"+ids[rand.IntN(len(ids))], nil)
			})
		})
		b.Run("CreateSite", func(b *testing.B) {
			runCalls(b, func() error {
				s := newSite()
				return d.call(http.MethodPost, "/v1/sites", map[string]string{
					"client_id": s.ClientId, "name": s.Name, "kind": "SITE_KIND_STATIC", "primary_domain": s.PrimaryDomain})
			})
		})
	})

	b.Run("RSS", func(b *testing.B) {
		rss, err := rssMiB(d.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(0, "ns/op") // no calls are timed here
		b.ReportMetric(rss, "rss-MiB")
		b.ReportMetric(float64(seq.Load()), "sites")
	})
}

// runCalls makes b.N calls of call from benchWorkers goroutines and reports
// the median and 99th-percentile latency and the throughput.
func runCalls(b *testing.B, call func() error) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, benchWorkers)
	var g errgroup.Group
	b.ResetTimer()
	for w := range benchWorkers {
		g.Go(func() error {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := call(); err != nil {
					return err
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
			return nil
		})
	}
	err := g.Wait()
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	all := slices.Sorted(slices.Values(slices.Concat(lat...)))
	b.ReportMetric(percentile(all, 0.50).Seconds()*1e3, "p50-ms")
	b.ReportMetric(percentile(all, 0.99).Seconds()*1e3, "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
