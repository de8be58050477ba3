package web_test

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
)

// The dashboard's benchmarks run on the harness (the real API on SQLite over
// an in-process gRPC connection, the dashboard on TLS on 127.0.0.1) with a
// store seeded directly:
//
//   - BenchmarkDashboard: 10,000 sites of 100 clients, one of which has
//     1,000 sites, each of those with the last 24 hours of per-minute
//     rollups (1.44 M minutes). Its sub-benchmarks time the ops site list
//     (first page and a search) as an admin and the client portal as the big
//     client's user, one request at a time through a real TLS client, and
//     report p50 and p99 of the server's time (handler entry to return) and
//     of the round trip.
//   - BenchmarkStatusPage: a public status page of 10 sites with 90 days of
//     minutes, served from the dashboard's cache, in requests per second.
//   - BenchmarkWrk: the same page under wrk, for the Makefile's bench
//     target (deploy/bench/status-load.sh).

const (
	benchClients    = 100
	benchSites      = 10_000
	benchBigSites   = 1_000 // sites of the one big client, each with 24 h of minutes
	benchStatusDays = 90
)

// BenchmarkDashboard seeds once and runs its sub-benchmarks on the same
// store: SiteList, SiteSearch and ClientPortal.
func BenchmarkDashboard(b *testing.B) {
	h := newHarness(b)
	tm := timeServer(b, h)
	t0 := time.Now()
	big := seedTenThousand(b, h)
	fmt.Printf("BenchmarkDashboard: seeded %d sites of %d clients and %d minutes in %s\n",
		benchSites, benchClients, benchBigSites*24*60, time.Since(t0).Round(time.Second))
	h.user(b, "admin@ops.test", store.RoleAdmin, "")
	h.user(b, "owner@big.test", store.RoleClient, big.ID)
	admin := h.browser(b).login("admin@ops.test")
	owner := h.browser(b).login("owner@big.test")

	for _, bm := range []struct {
		name string
		b    *browser
		path string
		want string // on the page
		list bool   // a page of 50 sites with their uptime
	}{
		{"SiteList", admin, "/ops/sites", "Client 000", true},
		{"SiteSearch", admin, "/ops/sites?q=site-005", "site-005", true},
		{"ClientPortal", owner, "/portal", "site-0", true},
		{"FleetOverview", admin, "/ops", "10000", false},
	} {
		b.Run(bm.name, func(b *testing.B) {
			bm.b.t = b
			code, body, _ := bm.b.get(bm.path) // warm, and check the page
			if code != http.StatusOK || !strings.Contains(body, bm.want) || (bm.list && !strings.Contains(body, " %</td>")) {
				b.Fatalf("GET %s = %d, want 200 showing %s:\n%.600s", bm.path, code, bm.want, body)
			}
			if n := countRows(body); bm.list && n != 50 {
				b.Fatalf("GET %s lists %d sites, want a full page of 50", bm.path, n)
			}
			runSequential(b, tm, func() error { return fetch(bm.b, bm.path) })
		})
	}
}

// BenchmarkStatusPage times GET /status/<slug> once the page is cached: 8
// concurrent callers through the TLS client, and the handler alone with no
// network. It logs the time of the first request, which builds the page.
func BenchmarkStatusPage(b *testing.B) {
	h := newHarness(b)
	slug := seedStatusPage(b, h, benchStatusDays)
	path := "/status/" + slug
	anon := h.browser(b)
	t0 := time.Now()
	if code, body, _ := anon.get(path); code != http.StatusOK || !strings.Contains(body, "status-site-09") {
		b.Fatalf("GET %s = %d:\n%.600s", path, code, body)
	}
	// Printed, not logged: a parent benchmark's log only shows with -v.
	fmt.Printf("BenchmarkStatusPage: the first request, which builds the page, took %s\n", time.Since(t0).Round(time.Millisecond))

	b.Run("TLS", func(b *testing.B) {
		var next atomic.Int64
		var g errgroup.Group
		b.ResetTimer()
		for range 8 {
			g.Go(func() error {
				for next.Add(1) <= int64(b.N) {
					if err := fetch(anon, path); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("Handler", func(b *testing.B) {
		hd := h.web.Handler()
		size := 0
		b.ResetTimer()
		for range b.N {
			rec := httptest.NewRecorder()
			hd.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("GET %s = %d", path, rec.Code)
			}
			size = rec.Body.Len()
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		b.ReportMetric(float64(size)/1024, "page-KiB")
	})
}

// BenchmarkWrk loads BenchmarkStatusPage's page with wrk (Debian's wrk, or
// $WRK), plain and gzipped as browsers ask for it, and reports each run's
// requests/s and p99. Each iteration is two wrk runs of $WRK_DURATION
// (default 10s) with $WRK_THREADS threads (2) and $WRK_CONNECTIONS
// connections (64): run it alone, with -benchtime 1x
// (deploy/bench/status-load.sh does).
func BenchmarkWrk(b *testing.B) {
	wrk, err := exec.LookPath(cmp.Or(os.Getenv("WRK"), "wrk"))
	if err != nil {
		b.Fatalf("wrk is not installed: run `sudo apt-get install wrk` (make system-deps installs it as root): %v", err)
	}
	h := newHarness(b)
	t0 := time.Now()
	slug := seedStatusPage(b, h, benchStatusDays)
	seeded := time.Since(t0)
	url := h.srv.URL + "/status/" + slug
	t1 := time.Now()
	if code, body, _ := h.browser(b).get("/status/" + slug); code != http.StatusOK {
		b.Fatalf("GET %s = %d:\n%.600s", url, code, body)
	}
	fmt.Printf("BenchmarkWrk: seeded in %s, first page built in %s\n", seeded.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	base := []string{"-t" + cmp.Or(os.Getenv("WRK_THREADS"), "2"), "-c" + cmp.Or(os.Getenv("WRK_CONNECTIONS"), "64"),
		"-d" + cmp.Or(os.Getenv("WRK_DURATION"), "10s"), "--latency"}
	for b.Loop() {
		for _, run := range []struct {
			name string
			args []string
		}{{"plain", nil}, {"gzip", []string{"-H", "Accept-Encoding: gzip"}}} {
			args := append(append(slices.Clone(base), run.args...), url)
			out, err := exec.Command(wrk, args...).CombinedOutput()
			fmt.Printf("== wrk %s\n%s", strings.Join(args, " "), out)
			if err != nil {
				b.Fatalf("wrk: %v", err)
			}
			if bytes.Contains(out, []byte("Non-2xx or 3xx responses")) {
				b.Fatal("some requests failed")
			}
			rps, p99, err := wrkResult(out)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rps, run.name+"-req/s")
			b.ReportMetric(p99, run.name+"-p99-ms")
		}
	}
}

var (
	wrkRate = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkP99  = regexp.MustCompile(`99%\s+([0-9.]+)(us|ms|s)\b`)
)

// wrkResult reads the requests/s and the p99 latency in milliseconds from
// wrk --latency's output.
func wrkResult(out []byte) (rps, p99ms float64, err error) {
	r, p := wrkRate.FindSubmatch(out), wrkP99.FindSubmatch(out)
	if r == nil || p == nil {
		return 0, 0, fmt.Errorf("no requests/s or p99 in wrk's output")
	}
	rps, _ = strconv.ParseFloat(string(r[1]), 64)
	p99ms, _ = strconv.ParseFloat(string(p[1]), 64)
	switch string(p[2]) {
	case "us":
		p99ms /= 1000
	case "s":
		p99ms *= 1000
	}
	return rps, p99ms, nil
}

// seedTenThousand creates benchClients clients and benchSites sites, the
// first benchBigSites of them the big client's, which get the last 24 hours
// of minutes and a few incidents. The big client's sites have the oldest
// ids, so they fill the first page of the ops site list. Sites are named
// site-00000 to site-09999.
func seedTenThousand(tb testing.TB, h *harness) *store.Client {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	clients := make([]*store.Client, benchClients)
	var bigSites []*store.Site
	h.update(tb, func(tx store.Tx) error {
		for i := range clients {
			c := &store.Client{ID: store.NewID("cl", h.now), DisplayName: fmt.Sprintf("Client %03d", i), Slug: fmt.Sprintf("client-%03d", i),
				ContactEmail: fmt.Sprintf("ops@client-%03d.test", i), CreateTime: h.now.AddDate(0, -2, 0), UpdateTime: h.now}
			if err := tx.CreateClient(c); err != nil {
				return err
			}
			clients[i] = c
		}
		for i := range benchSites {
			c := clients[0]
			idTime := h.now.Add(-time.Hour) // the big client's sites sort first
			if i >= benchBigSites {
				c, idTime = clients[1+(i-benchBigSites)%(benchClients-1)], h.now
			}
			name := fmt.Sprintf("site-%05d", i)
			s := &store.Site{ID: store.NewID("site", idTime), ClientID: c.ID, Name: name, Kind: store.SiteKindStatic,
				PrimaryDomain: name + "." + c.Slug + ".test", MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStateRunning,
				Generation: 1, ObservedGeneration: 1, CreateTime: h.now, UpdateTime: h.now}
			if err := tx.CreateSite(s); err != nil {
				return err
			}
			if c == clients[0] {
				bigSites = append(bigSites, s)
			}
		}
		return nil
	})
	end := h.now.Truncate(time.Minute)
	for chunk := range slices.Chunk(bigSites, 50) {
		h.update(tb, func(tx store.Tx) error {
			for _, s := range chunk {
				if err := tx.PutSiteMinutes(siteMinutes(rng, s.ID, end.Add(-24*time.Hour), end)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	h.update(tb, func(tx store.Tx) error {
		for i := range 30 {
			s := bigSites[rng.IntN(len(bigSites))]
			start := end.Add(-time.Duration(rng.IntN(24*60)) * time.Minute)
			inc := &store.Incident{ID: store.NewID("inc", h.now), SiteID: s.ID, ClientID: s.ClientID, Start: start,
				ErrorClasses: []string{"timeout"}, Vantages: []string{"node_a"}, CreateTime: h.now, UpdateTime: h.now}
			if i%3 != 0 {
				inc.End = start.Add(time.Duration(2+rng.IntN(30)) * time.Minute)
			}
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
		}
		return nil
	})
	return clients[0]
}

// seedStatusPage creates a client with a published status page of 10
// sites, each with days of minutes up to now, and returns its slug.
func seedStatusPage(tb testing.TB, h *harness, days int) string {
	tb.Helper()
	c := h.client(tb, "status-load", store.StatusPage{Enabled: true, AccentColor: "#0a6cff"})
	rng := rand.New(rand.NewPCG(9, 9))
	end := h.now.Truncate(time.Minute)
	for i := range 10 {
		s := h.site(tb, c, fmt.Sprintf("status-site-%02d", i))
		c.StatusPage.SiteIDs = append(c.StatusPage.SiteIDs, s.ID)
		for from := end.AddDate(0, 0, -days); from.Before(end); from = from.AddDate(0, 0, 10) {
			to := from.AddDate(0, 0, 10)
			if to.After(end) {
				to = end
			}
			h.update(tb, func(tx store.Tx) error { return tx.PutSiteMinutes(siteMinutes(rng, s.ID, from, to)) })
		}
	}
	h.update(tb, func(tx store.Tx) error { return tx.UpdateClient(c) })
	return c.Slug
}

// siteMinutes is a site's minutes over [from, to): mostly up, about 1 %
// degraded, 0.1 % down and 0.5 % missing, with latencies around 40 ms.
func siteMinutes(rng *rand.Rand, siteID string, from, to time.Time) []store.SiteMinute {
	ms := make([]store.SiteMinute, 0, int(to.Sub(from)/time.Minute))
	for t := from; t.Before(to); t = t.Add(time.Minute) {
		m := store.SiteMinute{SiteID: siteID, Minute: t, Status: int32(uptime.StatusUp), Up: 3, Total: 3,
			P50MS: 30 + 20*rng.Float64(), P95MS: 80 + 40*rng.Float64(), P99MS: 150 + 100*rng.Float64()}
		switch r := rng.IntN(1000); {
		case r < 5:
			continue // no data
		case r < 6:
			m.Status, m.Up, m.ErrorClasses, m.FailedVantages = int32(uptime.StatusDown), 0, []string{"timeout"}, []string{"node_a", "node_b", "node_c"}
		case r < 16:
			m.Status, m.Up, m.ErrorClasses, m.FailedVantages = int32(uptime.StatusDegraded), 2, []string{"tls"}, []string{"node_b"}
		}
		ms = append(ms, m)
	}
	return ms
}

// serverTimes records how long the dashboard's handler takes per request.
type serverTimes struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *serverTimes) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

// timeServer puts the harness's dashboard behind a new TLS listener that
// records the handler's time of every request.
func timeServer(tb testing.TB, h *harness) *serverTimes {
	tm := &serverTimes{}
	hd := h.web.Handler()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		hd.ServeHTTP(w, r)
		d := time.Since(t0)
		tm.mu.Lock()
		tm.d = append(tm.d, d)
		tm.mu.Unlock()
	}))
	tb.Cleanup(srv.Close)
	h.srv = srv
	return tm
}

// runSequential makes b.N calls one after another (so the server's time is
// not queueing) and reports p50 and p99 of the server's time and of the
// round trip, in milliseconds.
func runSequential(b *testing.B, tm *serverTimes, call func() error) {
	b.Helper()
	rtt := make([]time.Duration, 0, b.N)
	tm.take()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		rtt = append(rtt, time.Since(t0))
	}
	b.StopTimer()
	srv := tm.take()
	if len(srv) != b.N {
		b.Fatalf("the server timed %d requests, want %d", len(srv), b.N)
	}
	slices.Sort(rtt)
	slices.Sort(srv)
	b.ReportMetric(ms(percentile(srv, 0.50)), "server-p50-ms")
	b.ReportMetric(ms(percentile(srv, 0.99)), "server-p99-ms")
	b.ReportMetric(ms(percentile(rtt, 0.50)), "rtt-p50-ms")
	b.ReportMetric(ms(percentile(rtt, 0.99)), "rtt-p99-ms")
}

// fetch GETs path and reads the whole body; anything but 200 is an error.
func fetch(br *browser, path string) error {
	resp, err := br.c.Get(br.h.srv.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %s", path, resp.Status)
	}
	return nil
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }

// countRows counts the site rows of a site list page.
func countRows(body string) int { return len(siteRowRE.FindAllStringIndex(body, -1)) }

var siteRowRE = regexp.MustCompile(`<td><a href="/sites/site_`)
