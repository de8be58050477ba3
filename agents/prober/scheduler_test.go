package prober

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/probe/probetest"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// fleet is an HTTPS edge on loopback serving a handful of domains, and a
// prober that trusts its CA.
type fleet struct {
	addr     string
	prober   *probe.Prober
	notAfter time.Time
}

var fleetDomains = func() []string {
	ds := []string{"a.test", "b.test"}
	for i := range 16 {
		ds = append(ds, fmt.Sprintf("s%d.test", i))
	}
	return ds
}()

func newFleet(t *testing.T) *fleet {
	t.Helper()
	ca := probetest.NewCA(t)
	notAfter := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	srv := probetest.NewServer(t, ca.Leaf(t, notAfter, fleetDomains...), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.Host)
	}))
	return &fleet{
		addr:     srv.Listener.Addr().String(),
		prober:   &probe.Prober{Roots: ca.Pool, Guard: probetest.LoopbackGuard()},
		notAfter: notAfter,
	}
}

// assignment probes domain on the fleet at the test's minimum interval.
func (f *fleet) assignment(site, domain string) *agentv1.ProbeAssignment {
	// The longest timeout: the tests share 2 cores with the race detector.
	return &agentv1.ProbeAssignment{SiteId: site, Domain: domain, Target: f.addr, TimeoutMs: 10_000}
}

type harness struct {
	s   *Scheduler
	reg *prometheus.Registry
}

func newHarness(t *testing.T, f *fleet, dir string, o Options) *harness {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	o.DataDir, o.Prober, o.Registerer = dir, f.prober, reg
	if o.MinInterval == 0 {
		o.MinInterval = 100 * time.Millisecond
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{s: s, reg: reg}
}

// run runs the scheduler until the returned stop is called (or the test
// ends); stop waits for Run to return.
func (h *harness) run(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metric returns the value of the series of name with the labels, and
// whether it is exported.
func (h *harness) metric(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func seqs(rs []*agentv1.ProbeResult) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.GetSeq()
	}
	return out
}

func checkIncreasing(t *testing.T, rs []*agentv1.ProbeResult) {
	t.Helper()
	for i := 1; i < len(rs); i++ {
		if rs[i].GetSeq() <= rs[i-1].GetSeq() {
			t.Fatalf("seqs not strictly increasing: %v", seqs(rs))
		}
	}
}

func TestSchedulerProbesAndBuffers(t *testing.T) {
	f := newFleet(t)
	h := newHarness(t, f, t.TempDir(), Options{})
	h.s.SetAssignments([]*agentv1.ProbeAssignment{f.assignment("site_a", "a.test")})
	h.run(t)

	select {
	case <-h.s.Ready():
	case <-time.After(15 * time.Second):
		t.Fatal("Ready did not fire")
	}
	var got []*agentv1.ProbeResult
	waitFor(t, "4 results", func() bool { got = h.s.Pending(100); return len(got) >= 4 })
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, seqs(got[:4])); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
	for i, r := range got {
		if r.GetSiteId() != "site_a" || !r.GetOk() || r.GetStatusCode() != 200 || r.GetErrorClass() != "" {
			t.Errorf("result %d = %v, want an OK probe of site_a", i, r)
		}
		if !r.GetCertNotAfter().AsTime().Equal(f.notAfter) {
			t.Errorf("result %d: cert_not_after %v, want %v", i, r.GetCertNotAfter().AsTime(), f.notAfter)
		}
		if r.GetTotalMs() <= 0 || r.GetConnectMs() <= 0 || r.GetTlsMs() <= 0 || r.GetFirstByteMs() <= 0 {
			t.Errorf("result %d: phases %v/%v/%v/%v ms, want all > 0", i, r.GetTotalMs(), r.GetConnectMs(), r.GetTlsMs(), r.GetFirstByteMs())
		}
	}
	// A late probe may be followed closely by the next, but the probes never
	// run ahead of the interval's schedule.
	if span := got[len(got)-1].GetTime().AsTime().Sub(got[0].GetTime().AsTime()); span < time.Duration(len(got)-1)*90*time.Millisecond {
		t.Errorf("%d probes within %v; the interval is 100ms", len(got), span)
	}
	if got := h.s.Pending(2); len(got) != 2 || got[0].GetSeq() != 1 {
		t.Errorf("Pending(2) = seqs %v, want the 2 oldest", seqs(got))
	}

	if v, _ := h.metric(t, "berth_agent_probe_results_total", "outcome", "ok"); v < 4 {
		t.Errorf("results_total{outcome=ok} = %v, want >= 4", v)
	}
	if v, ok := h.metric(t, "berth_agent_probe_results_total", "outcome", "timeout"); !ok || v != 0 {
		t.Errorf("results_total{outcome=timeout} = %v (exported %v), want 0 and exported", v, ok)
	}
	if v, _ := h.metric(t, "berth_agent_probe_duration_seconds"); v < 4 {
		t.Errorf("duration_seconds count = %v, want >= 4", v)
	}
	if v, _ := h.metric(t, "berth_agent_probe_buffer_results"); v < 4 {
		t.Errorf("buffer_results = %v, want >= 4", v)
	}
	if v, _ := h.metric(t, "berth_agent_certificate_not_after_seconds", "domain", "a.test"); v != float64(f.notAfter.Unix()) {
		t.Errorf("certificate_not_after_seconds{domain=a.test} = %v, want %d", v, f.notAfter.Unix())
	}
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestAckAndRestart(t *testing.T) {
	f := newFleet(t)
	dir := t.TempDir()
	as := []*agentv1.ProbeAssignment{f.assignment("site_a", "a.test")}

	h1 := newHarness(t, f, dir, Options{})
	h1.s.SetAssignments(as)
	stop := h1.run(t)
	var got []*agentv1.ProbeResult
	waitFor(t, "4 results", func() bool { got = h1.s.Pending(100); return len(got) >= 4 })
	h1.s.Ack(got[1].GetSeq())
	after := h1.s.Pending(100)
	if len(after) == 0 || after[0].GetSeq() != got[2].GetSeq() {
		t.Fatalf("after Ack(%d), Pending starts at seqs %v", got[1].GetSeq(), seqs(after))
	}
	h1.s.Ack(got[0].GetSeq()) // older than the last ack: no effect
	if again := h1.s.Pending(1); again[0].GetSeq() != got[2].GetSeq() {
		t.Errorf("an older Ack brought back seq %d", again[0].GetSeq())
	}
	stop()
	want := h1.s.Pending(1 << 20)
	checkIncreasing(t, want)
	if v, _ := h1.metric(t, "berth_agent_probe_buffer_results"); int(v) != len(want) {
		t.Errorf("buffer_results = %v, want %d", v, len(want))
	}

	// A new agent on the same data directory has exactly the unacknowledged
	// results, and tells the session at once.
	h2 := newHarness(t, f, dir, Options{})
	select {
	case <-h2.s.Ready():
	default:
		t.Error("Ready is empty after a restart with results waiting")
	}
	if diff := cmp.Diff(want, h2.s.Pending(1<<20), protocmp.Transform()); diff != "" {
		t.Fatalf("results after a restart (-before +after):\n%s", diff)
	}
	lastBefore := want[len(want)-1].GetSeq()
	h2.s.SetAssignments(as)
	stop = h2.run(t)
	waitFor(t, "a new result", func() bool {
		rs := h2.s.Pending(1 << 20)
		return rs[len(rs)-1].GetSeq() > lastBefore
	})
	all := h2.s.Pending(1 << 20)
	checkIncreasing(t, all)
	if all[len(want)].GetSeq() != lastBefore+1 {
		t.Errorf("first seq after the restart = %d, want %d", all[len(want)].GetSeq(), lastBefore+1)
	}

	// Everything acknowledged: the next run still continues the seqs.
	h2.s.Ack(all[len(all)-1].GetSeq())
	stop()
	lastAcked := all[len(all)-1].GetSeq()
	h3 := newHarness(t, f, dir, Options{})
	if rs := h3.s.Pending(100); len(rs) > 0 {
		// Results that finished after the Ack and before the stop.
		if rs[0].GetSeq() <= lastAcked {
			t.Errorf("acknowledged seq %d came back", rs[0].GetSeq())
		}
		lastAcked = rs[len(rs)-1].GetSeq()
		h3.s.Ack(lastAcked)
	}
	h3.s.SetAssignments(as)
	h3.run(t)
	waitFor(t, "a result after the restart", func() bool { return len(h3.s.Pending(1)) > 0 })
	if seq := h3.s.Pending(1)[0].GetSeq(); seq != lastAcked+1 {
		t.Errorf("first seq after everything was acknowledged = %d, want %d", seq, lastAcked+1)
	}
}

func TestBufferBoundDropsOldest(t *testing.T) {
	f := newFleet(t)
	dir := t.TempDir()
	h := newHarness(t, f, dir, Options{MaxBuffered: 3})
	h.s.SetAssignments([]*agentv1.ProbeAssignment{f.assignment("site_a", "a.test"), f.assignment("site_b", "b.test")})
	stop := h.run(t)
	waitFor(t, "5 dropped results", func() bool {
		v, _ := h.metric(t, "berth_agent_probe_buffer_dropped_total")
		return v >= 5
	})
	stop()
	got := h.s.Pending(100)
	dropped, _ := h.metric(t, "berth_agent_probe_buffer_dropped_total")
	if diff := cmp.Diff([]uint64{uint64(dropped) + 1, uint64(dropped) + 2, uint64(dropped) + 3}, seqs(got)); diff != "" {
		t.Errorf("after %v dropped, the buffer holds seqs (-want +got):\n%s", dropped, diff)
	}
	if v, _ := h.metric(t, "berth_agent_probe_buffer_results"); v != 3 {
		t.Errorf("buffer_results = %v, want 3", v)
	}

	h2 := newHarness(t, f, dir, Options{MaxBuffered: 3})
	if diff := cmp.Diff(got, h2.s.Pending(100), protocmp.Transform()); diff != "" {
		t.Errorf("after a restart (-before +after):\n%s", diff)
	}
	if v, _ := h2.metric(t, "berth_agent_probe_buffer_dropped_total"); v != 0 {
		t.Errorf("a restart within the bound dropped %v results", v)
	}
	// A smaller bound at start drops the oldest at once.
	h3 := newHarness(t, f, dir, Options{MaxBuffered: 2})
	if diff := cmp.Diff(got[1:], h3.s.Pending(100), protocmp.Transform()); diff != "" {
		t.Errorf("with a smaller bound (-want +got):\n%s", diff)
	}
	if v, _ := h3.metric(t, "berth_agent_probe_buffer_dropped_total"); v != 1 {
		t.Errorf("dropped_total = %v, want 1", v)
	}
}

func TestSetAssignmentsRemovesAndChanges(t *testing.T) {
	f := newFleet(t)
	h := newHarness(t, f, t.TempDir(), Options{})
	a, b := f.assignment("site_a", "a.test"), f.assignment("site_b", "b.test")
	h.s.SetAssignments([]*agentv1.ProbeAssignment{a, b})
	h.run(t)
	count := func(site string, since time.Time) int {
		n := 0
		for _, r := range h.s.Pending(1 << 20) {
			if r.GetSiteId() == site && !r.GetTime().AsTime().Before(since) {
				n++
			}
		}
		return n
	}
	waitFor(t, "results of both sites", func() bool { return count("site_a", time.Time{}) > 0 && count("site_b", time.Time{}) > 0 })
	if n, _ := testutil.GatherAndCount(h.reg, "berth_agent_certificate_not_after_seconds"); n != 2 {
		t.Errorf("%d certificate series, want 2", n)
	}

	removed := time.Now()
	h.s.SetAssignments([]*agentv1.ProbeAssignment{a})
	waitFor(t, "3 more results of site_a", func() bool { return count("site_a", removed) >= 3 })
	if n := count("site_b", removed); n > 0 {
		t.Errorf("%d probes of site_b started after it was removed", n)
	}
	if _, ok := h.metric(t, "berth_agent_certificate_not_after_seconds", "domain", "b.test"); ok {
		t.Error("the certificate series of b.test outlived its assignment")
	}
	if _, ok := h.metric(t, "berth_agent_certificate_not_after_seconds", "domain", "a.test"); !ok {
		t.Error("the certificate series of a.test is gone")
	}

	// A changed target applies at once: site_a now points at a closed port.
	changed := &agentv1.ProbeAssignment{SiteId: "site_a", Domain: "a.test", Target: probetest.Closed(t), TimeoutMs: 10_000}
	h.s.SetAssignments([]*agentv1.ProbeAssignment{changed})
	waitFor(t, "a refused probe of site_a", func() bool {
		for _, r := range h.s.Pending(1 << 20) {
			if r.GetSiteId() == "site_a" && r.GetErrorClass() == probe.ClassRefused {
				return true
			}
		}
		return false
	})
	if v, _ := h.metric(t, "berth_agent_probe_results_total", "outcome", "refused"); v < 1 {
		t.Errorf("results_total{outcome=refused} = %v, want >= 1", v)
	}

	// Removing everything stops all probing.
	emptied := time.Now()
	h.s.SetAssignments(nil)
	last := len(h.s.Pending(1 << 20))
	// Watch for a while (several intervals and batch windows): nothing
	// new may start.
	deadline := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, r := range h.s.Pending(1 << 20)[last:] {
			if !r.GetTime().AsTime().Before(emptied) {
				t.Fatalf("probe of %s started after every assignment was removed", r.GetSiteId())
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSchedulerSpreadsProbes(t *testing.T) {
	f := newFleet(t)
	h := newHarness(t, f, t.TempDir(), Options{MinInterval: time.Second})
	var as []*agentv1.ProbeAssignment
	for i := range 16 {
		as = append(as, f.assignment(fmt.Sprintf("site_%d", i), fmt.Sprintf("s%d.test", i)))
	}
	h.s.SetAssignments(as)
	start := time.Now()
	h.run(t)
	first := map[string]time.Time{}
	waitFor(t, "a result of every site", func() bool {
		for _, r := range h.s.Pending(1 << 20) {
			if _, ok := first[r.GetSiteId()]; !ok {
				first[r.GetSiteId()] = r.GetTime().AsTime()
			}
		}
		return len(first) == len(as)
	})
	var times []time.Time
	for site, t0 := range first {
		if off := t0.Sub(start); off < 0 || off > 3*time.Second {
			t.Errorf("first probe of %s %v after Run, want within the 1s interval", site, off)
		}
		times = append(times, t0)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// With 16 uniform offsets in 1s, a spread under 250ms has a
	// probability of about 1e-8; without jitter they would all start at once.
	if spread := times[len(times)-1].Sub(times[0]); spread < 250*time.Millisecond {
		t.Errorf("first probes spread over %v only, want them across the interval", spread)
	}
}

func TestAssignmentTimeout(t *testing.T) {
	f := newFleet(t)
	stamp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	h := newHarness(t, f, t.TempDir(), Options{MinInterval: time.Second, Now: func() time.Time { return stamp }})
	h.s.SetAssignments([]*agentv1.ProbeAssignment{{SiteId: "slow", Domain: "a.test", Target: probetest.Silent(t), TimeoutMs: 200}})
	h.run(t)
	var r *agentv1.ProbeResult
	waitFor(t, "a result", func() bool {
		rs := h.s.Pending(1)
		if len(rs) > 0 {
			r = rs[0]
		}
		return r != nil
	})
	if r.GetErrorClass() != probe.ClassTimeout || r.GetTotalMs() < 200 || r.GetTotalMs() > 5000 {
		t.Errorf("result %v, want a timeout after about 200ms", r)
	}
	if !r.GetTime().AsTime().Equal(stamp) {
		t.Errorf("result time %v, want Options.Now's %v", r.GetTime().AsTime(), stamp)
	}
	if f.prober.Now != nil {
		t.Error("New changed the caller's Prober")
	}

	for _, tt := range []struct {
		a        *agentv1.ProbeAssignment
		interval time.Duration
		want     time.Duration
	}{
		{&agentv1.ProbeAssignment{TimeoutMs: 300}, time.Minute, 300 * time.Millisecond},
		{&agentv1.ProbeAssignment{}, 5 * time.Second, 4 * time.Second},
		{&agentv1.ProbeAssignment{}, time.Minute, 10 * time.Second},
	} {
		if got := timeout(tt.a, tt.interval); got != tt.want {
			t.Errorf("timeout(%v, %v) = %v, want %v", tt.a, tt.interval, got, tt.want)
		}
	}
	s := &Scheduler{o: Options{MinInterval: 10 * time.Second}}
	for _, tt := range []struct {
		seconds int32
		want    time.Duration
	}{{0, 10 * time.Second}, {5, 10 * time.Second}, {60, time.Minute}} {
		if got := s.interval(&agentv1.ProbeAssignment{IntervalSeconds: tt.seconds}); got != tt.want {
			t.Errorf("interval of %ds = %v, want %v", tt.seconds, got, tt.want)
		}
	}
}

func TestNewOptions(t *testing.T) {
	f := newFleet(t)
	if _, err := New(Options{Prober: f.prober}); err == nil {
		t.Error("New without DataDir succeeded")
	}
	if _, err := New(Options{DataDir: t.TempDir()}); err == nil {
		t.Error("New without Prober succeeded")
	}
	reg := prometheus.NewPedanticRegistry()
	dir := t.TempDir()
	if _, err := New(Options{DataDir: dir, Prober: f.prober, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DataDir: dir, Prober: f.prober, Registerer: reg}); err == nil {
		t.Error("registering the metrics twice on one registry succeeded")
	}
}
