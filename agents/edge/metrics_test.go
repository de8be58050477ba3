package edge

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sample is one gathered series: its labels and its value (a counter's
// value, a histogram's sample count).
type sample struct {
	labels map[string]string
	value  float64
}

func gather(t testing.TB, g prometheus.Gatherer, name string) []sample {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.value = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				s.value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, s)
		}
	}
	return out
}

// metricValue returns the value of the series of name with the given label
// pairs, and whether it exists.
func metricValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
next:
	for _, s := range gather(t, g, name) {
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

func counterValue(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := metricValue(t, g, name, labels...)
	return v
}

func TestMetrics(t *testing.T) {
	a := newUpstream(t, "A", nil)
	b := newUpstream(t, "B", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken plugin", http.StatusInternalServerError)
	})
	// An upstream that hangs up on every connection. A closed listener's
	// port could be taken by another test's server before the request.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed := struct{ addr netip.AddrPort }{netip.MustParseAddrPort(ln.Addr().String())}
	routes := []Route{
		{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr},
		{SiteID: "b", Domains: []string{"b.test"}, Upstream: b.addr},
		{SiteID: "c", Domains: []string{"c.test"}, Upstream: closed.addr},
		{SiteID: "d", Domains: []string{"d.test"}},
	}
	te := startEdge(t, Options{MaxBodyBytes: 10}, routes...)
	c := te.client(t, false)

	var aBytes int
	for range 3 {
		_, body := get(t, c, te.url(true, "a.test", "/"))
		aBytes += len(body)
	}
	_, body := get(t, c, te.url(false, "a.test", "/")) // 308
	aBytes += len(body)
	resp, err := c.Post(te.url(true, "a.test", "/"), "text/plain", strings.NewReader("more than ten bytes"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	aBytes += int(resp.ContentLength)
	get(t, c, te.url(true, "b.test", "/"))
	get(t, c, te.url(true, "c.test", "/"))
	get(t, c, te.url(true, "d.test", "/"))
	get(t, c, te.url(true, "nothere.test", "/"))

	const (
		requests = "berth_edge_requests_total"
		duration = "berth_edge_request_duration_seconds"
		sent     = "berth_edge_response_bytes_total"
		upErrors = "berth_edge_upstream_errors_total"
	)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{requests, []string{"site", "a", "code", "2xx"}, 3},
		{requests, []string{"site", "a", "code", "3xx"}, 1},
		{requests, []string{"site", "a", "code", "4xx"}, 1},
		{requests, []string{"site", "a", "code", "5xx"}, 0},
		{requests, []string{"site", "b", "code", "5xx"}, 1},
		{requests, []string{"site", "c", "code", "5xx"}, 1},
		{requests, []string{"site", "d", "code", "5xx"}, 1},
		{requests, []string{"site", "", "code", "4xx"}, 1},
		{duration, []string{"site", "a"}, 5},
		{duration, []string{"site", ""}, 1},
		{sent, []string{"site", "a"}, float64(aBytes)},
		{upErrors, []string{"site", "a"}, 0},
		{upErrors, []string{"site", "b"}, 0}, // a 500 is the site's answer, not a failure to reach it
		{upErrors, []string{"site", "c"}, 1},
		{upErrors, []string{"site", "d"}, 0},
	}
	// A response larger than the write buffer (the branded error pages)
	// reaches the client before its handler has recorded it, so the
	// counts are read until they settle.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var wrong []string
		for _, tc := range tests {
			got, ok := metricValue(t, te.reg, tc.name, tc.labels...)
			if !ok || got != tc.want {
				wrong = append(wrong, fmt.Sprintf("%s%q = %v (exists: %v), want %v", tc.name, tc.labels, got, ok, tc.want))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(strings.Join(wrong, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Sites b, c and d go away, e arrives.
	te.SetRoutes([]Route{routes[0], {SiteID: "e", Domains: []string{"b.test"}, Upstream: b.addr}})
	for _, name := range []string{requests, duration, sent, upErrors} {
		for _, s := range gather(t, te.reg, name) {
			switch s.labels["site"] {
			case "b", "c", "d":
				t.Errorf("%s%v still exported after its route was removed", name, s.labels)
			}
		}
		for _, site := range []string{"a", "", "e"} {
			if _, ok := metricValue(t, te.reg, name, "site", site); !ok {
				t.Errorf("%s{site=%q} missing", name, site)
			}
		}
	}
	if got := counterValue(t, te.reg, requests, "site", "a", "code", "2xx"); got != 3 {
		t.Errorf("site a's count changed to %v by SetRoutes, want 3", got)
	}
}
