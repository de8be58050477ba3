package client

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

var testFacts = &agentv1.NodeFacts{Hostname: "n1", CpuMillicores: 2000, MemoryMib: 1024, AgentVersion: "test"}

// runSession starts a session for id against its server and stops it when
// the test ends, checking that Run returns nil promptly.
func runSession(t *testing.T, opts SessionOptions) *Session {
	t.Helper()
	if opts.Facts == nil {
		opts.Facts = func(context.Context) (*agentv1.NodeFacts, error) { return testFacts, nil }
	}
	if opts.OnDesired == nil {
		opts.OnDesired = func(context.Context, *agentv1.DesiredState) {}
	}
	s := NewSession(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return s
}

func isHeartbeat(m *agentv1.ConnectRequest) bool { return m.GetHeartbeat() != nil }
func isStatus(m *agentv1.ConnectRequest) bool    { return m.GetStatus() != nil }
func anyMsg(*agentv1.ConnectRequest) bool        { return true }

func TestSession(t *testing.T) {
	ca := newTestCA(t)
	srv := startTestServer(t, ca)
	dataDir := t.TempDir()
	id, err := Join(context.Background(), JoinConfig{Server: srv.addr, JoinToken: testJoinToken(ca), DataDir: dataDir, NodeName: "n1"}, testFacts)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	desired := make(chan *agentv1.DesiredState, 10)
	s := runSession(t, SessionOptions{
		Identity: id, DataDir: dataDir, Revision: 7,
		OnDesired: func(_ context.Context, ds *agentv1.DesiredState) { desired <- ds },
		Usage: func(context.Context) *agentv1.AgentHeartbeat {
			return &agentv1.AgentHeartbeat{MemoryUsedMib: 300, ContainersRunning: 4}
		},
		Now: clock.Now, After: clock.After,
	})

	// The first message of a session is the hello, with facts and the
	// revision applied before the session.
	ss := srv.nextSession(t, clock)
	if ss.nodeID != "node_n1" {
		t.Errorf("session authenticated as %q, want node_n1", ss.nodeID)
	}
	first := ss.next(t, nil, "hello", anyMsg)
	if first.GetHello() == nil || first.GetHello().GetRevision() != 7 || !proto.Equal(first.GetHello().GetFacts(), testFacts) {
		t.Fatalf("first message = %v, want a hello with revision 7 and the facts", first)
	}

	// A desired state from berthd reaches OnDesired.
	ds := &agentv1.DesiredState{Revision: 100, Sites: []*agentv1.SiteAssignment{{SiteId: "site_1", Name: "blog"}}}
	if err := ss.stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_DesiredState{DesiredState: ds}}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-desired:
		if !proto.Equal(got, ds) {
			t.Errorf("OnDesired got %v, want %v", got, ds)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnDesired was not called")
	}

	// Heartbeats arrive as the clock runs, with the usage.
	hb := ss.next(t, clock, "a heartbeat", isHeartbeat)
	if hb.GetHeartbeat().GetContainersRunning() != 4 {
		t.Errorf("heartbeat = %v, want the usage", hb)
	}
	ss.next(t, clock, "a second heartbeat", isHeartbeat)

	// Reports reach berthd, the latest last.
	running := &agentv1.SiteStatus{SiteId: "site_1", ObservedGeneration: 1, State: agentv1.SiteState_SITE_STATE_RUNNING}
	s.Report(&agentv1.SiteStatus{SiteId: "site_1", State: agentv1.SiteState_SITE_STATE_PROVISIONING})
	s.Report(running)
	rep := ss.next(t, nil, "the latest status report", func(m *agentv1.ConnectRequest) bool {
		r := m.GetStatus()
		return r != nil && len(r.GetSites()) == 1 && r.GetSites()[0].GetState() == agentv1.SiteState_SITE_STATE_RUNNING
	}).GetStatus()
	if rep.GetFull() || !proto.Equal(rep.GetSites()[0], running) {
		t.Errorf("status report = %v, want the latest status of site_1, partial", rep)
	}

	// berthd fails the stream: the agent reconnects with a new hello that
	// carries the revision it applied, then resends what it reported.
	ss.end <- status.Error(codes.Unavailable, "test: stream dropped")
	ss2 := srv.nextSession(t, clock)
	hello := ss2.next(t, nil, "hello after reconnect", anyMsg)
	if hello.GetHello().GetRevision() != 100 {
		t.Fatalf("first message after reconnect = %v, want a hello with revision 100", hello)
	}
	rep = ss2.next(t, nil, "status after reconnect", isStatus).GetStatus()
	if rep.GetFull() || len(rep.GetSites()) != 1 || rep.GetSites()[0].GetSiteId() != "site_1" {
		t.Errorf("status after reconnect = %v, want site_1, partial (no ReportFull yet)", rep)
	}

	// ReportFull is sent at once, marked full.
	other := &agentv1.SiteStatus{SiteId: "site_2", State: agentv1.SiteState_SITE_STATE_RUNNING}
	s.ReportFull([]*agentv1.SiteStatus{running, other})
	rep = ss2.next(t, nil, "full report", isStatus).GetStatus()
	if !rep.GetFull() || len(rep.GetSites()) != 2 || rep.GetSites()[0].GetSiteId() != "site_1" || rep.GetSites()[1].GetSiteId() != "site_2" {
		t.Errorf("full report = %v, want site_1 and site_2, full", rep)
	}

	// After the next reconnect the full report is sent again, kept current
	// by the Reports since.
	s.Report(&agentv1.SiteStatus{SiteId: "site_2", Removed: true})
	ss2.next(t, nil, "removal report", isStatus)
	ss2.end <- status.Error(codes.Unavailable, "test: stream dropped again")
	ss3 := srv.nextSession(t, clock)
	ss3.next(t, nil, "hello", anyMsg)
	rep = ss3.next(t, nil, "full report after reconnect", isStatus).GetStatus()
	if !rep.GetFull() || len(rep.GetSites()) != 1 || rep.GetSites()[0].GetSiteId() != "site_1" {
		t.Errorf("full report after reconnect = %v, want site_1 only, full", rep)
	}
}

func TestReportQueue(t *testing.T) {
	s := NewSession(SessionOptions{}) // not running: the test takes the reports
	ids := func(r *agentv1.SiteStatusReport) string {
		var b strings.Builder
		for _, st := range r.GetSites() {
			fmt.Fprintf(&b, "%s:%s ", st.GetSiteId(), st.GetState())
		}
		return fmt.Sprintf("full=%v %s", r.GetFull(), strings.TrimSpace(b.String()))
	}
	st := func(id string, state agentv1.SiteState) *agentv1.SiteStatus {
		return &agentv1.SiteStatus{SiteId: id, State: state}
	}
	const (
		prov    = agentv1.SiteState_SITE_STATE_PROVISIONING
		running = agentv1.SiteState_SITE_STATE_RUNNING
		failed  = agentv1.SiteState_SITE_STATE_FAILED
	)
	if r := s.takeReport(); r != nil {
		t.Errorf("empty queue: %s", ids(r))
	}
	// Reports for one site coalesce to the latest; reports are sorted by site.
	s.Report(st("b", prov))
	s.Report(st("a", prov))
	s.Report(st("b", running))
	if got, want := ids(s.takeReport()), "full=false a:SITE_STATE_PROVISIONING b:SITE_STATE_RUNNING"; got != want {
		t.Errorf("coalesced report = %q, want %q", got, want)
	}
	if r := s.takeReport(); r != nil {
		t.Errorf("after taking: %s", ids(r))
	}
	// A lost report is put back unless something newer is waiting.
	s.Report(st("a", running))
	lost := s.takeReport()
	s.Report(st("a", failed))
	s.requeue(lost)
	if got, want := ids(s.takeReport()), "full=false a:SITE_STATE_FAILED"; got != want {
		t.Errorf("after requeue = %q, want %q", got, want)
	}
	// ReportFull replaces everything; later Reports keep it current and a
	// reconnect (sendAll) resends it, with a removal still pending.
	s.ReportFull([]*agentv1.SiteStatus{st("c", running), st("a", running)})
	if got, want := ids(s.takeReport()), "full=true a:SITE_STATE_RUNNING c:SITE_STATE_RUNNING"; got != want {
		t.Errorf("full report = %q, want %q", got, want)
	}
	s.Report(st("c", failed))
	s.Report(&agentv1.SiteStatus{SiteId: "a", Removed: true})
	s.sendAll = true
	if got, want := ids(s.takeReport()), "full=true a:SITE_STATE_UNSPECIFIED c:SITE_STATE_FAILED"; got != want {
		t.Errorf("resent full report = %q, want %q", got, want)
	}
	s.sendAll = true
	if got, want := ids(s.takeReport()), "full=true c:SITE_STATE_FAILED"; got != want {
		t.Errorf("full report once the removal was sent = %q, want %q", got, want)
	}
}

func TestSessionBacksOffWhenBerthdIsDown(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	id, _, _ := ca.identity(t, "node_01", closedAddr(t), now.Add(-time.Minute), now.Add(24*time.Hour))
	clock := newFakeClock()
	var logs syncBuffer
	runSession(t, SessionOptions{
		Identity: id, DataDir: t.TempDir(), Now: clock.Now, After: clock.After,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})

	// Each failed attempt waits on the clock; the waits grow to a minute.
	var delays []time.Duration
	for len(delays) < 9 {
		var d time.Duration
		waitFor(t, nil, "a reconnect delay", func() bool {
			var ds []time.Duration
			for _, a := range clock.afters() {
				if a < 30*time.Minute { // not the certificate renewal's wait
					ds = append(ds, a)
				}
			}
			if len(ds) > len(delays) {
				d = ds[len(delays)]
				return true
			}
			return false
		})
		delays = append(delays, d)
		clock.Advance(d)
	}
	for i, d := range delays {
		base := min(time.Second<<i, time.Minute) // doubling, capped
		lo, hi := max(time.Second, base*8/10), min(time.Minute, base*12/10)
		if d < lo || d > hi {
			t.Errorf("delay %d = %v, want within [%v, %v]", i, d, lo, hi)
		}
	}
	// Nine failures for the same reason are logged once.
	if n := strings.Count(logs.String(), "cannot connect to berthd"); n != 1 {
		t.Errorf("logged %d failures, want 1:\n%s", n, logs.String())
	}
}

func TestSessionRenewsCertificate(t *testing.T) {
	ca := newTestCA(t)
	srv := startTestServer(t, ca)
	dataDir := t.TempDir()
	now := time.Now()
	// Less than a third of its lifetime is left: renew at once.
	id, keyPEM, certPEM := ca.identity(t, "node_01", srv.addr, now.Add(-2*time.Hour), now.Add(50*time.Minute))
	if err := saveIdentity(dataDir, id, keyPEM, certPEM); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	s := runSession(t, SessionOptions{Identity: id, DataDir: dataDir, Now: clock.Now, After: clock.After})

	// The session swaps the certificate in memory after saving it.
	waitFor(t, nil, "the renewed certificate in use", func() bool {
		return !bytes.Equal(s.certs.get().Certificate[0], id.Cert.Certificate[0])
	})
	saved, err := LoadIdentity(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(saved.Cert.Certificate[0], s.certs.get().Certificate[0]) {
		t.Error("the certificate on disk is not the one in use")
	}
	if saved.Cert.Leaf.Subject.CommonName != "node_01" || saved.Cert.Leaf.NotAfter.Before(now.Add(23*time.Hour)) {
		t.Errorf("renewed certificate: %s until %v", saved.Cert.Leaf.Subject.CommonName, saved.Cert.Leaf.NotAfter)
	}
	// The next renewal waits until a third of the new lifetime is left,
	// in waits of at most maxRenewSleep (so a jumping clock costs little).
	// Each wait is seen pending on the clock before the clock moves: the
	// loop went round without renewing. Longer than any heartbeat,
	// reconnect or probe wait, it can only be the renewal's.
	leaf := s.certs.get().Leaf
	due := leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore) / 3)
	isRenewWait := func(d time.Duration) bool { return d > 2*time.Minute }
	for {
		now := clock.Now()
		at := clock.waitTimer(t, "the wait for the next renewal", isRenewWait)
		if want := now.Add(min(due.Sub(now), maxRenewSleep)); !at.Equal(want) {
			t.Fatalf("at %v the renewal waits until %v, want %v (renewal due %v)", now, at, want, due)
		}
		if n := srv.renewals.Load(); n != 1 {
			t.Fatalf("%d renewals at %v, want 1 until %v", n, now, due)
		}
		clock.Advance(at.Sub(now))
		if !at.Before(due) {
			break
		}
	}
	waitFor(t, nil, "the renewal once due", func() bool { return srv.renewals.Load() >= 2 })
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
