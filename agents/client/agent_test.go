package client_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/agents/agent"
	"github.com/fixaroo/berth/agents/client"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// This test runs the whole agent (agent.RunWith) against the fake berthd
// of this package's tests, which is why it lives here: a fake engine
// stands in for Docker, recording desired states instead of running them.

// fakeEngine opens fakeSites, and keeps the session the agent wires them
// with.
type fakeEngine struct {
	applied chan *agentv1.DesiredState
	session chan *client.Session
}

func (e fakeEngine) open(context.Context, agent.Config, *slog.Logger) (agent.Engine, error) {
	return e, nil
}
func (e fakeEngine) Facts(context.Context) (*agentv1.NodeFacts, error) {
	return client.HostFacts(""), nil
}
func (e fakeEngine) Close() error { return nil }
func (e fakeEngine) Sites(w agent.Wiring) (agent.Sites, error) {
	e.session <- w.Session
	return fakeSites(e.applied), nil
}

// fakeSites passes every desired state to a channel.
type fakeSites chan *agentv1.DesiredState

func (s fakeSites) Apply(_ context.Context, ds *agentv1.DesiredState) { s <- ds }
func (s fakeSites) Logs(context.Context, string, bool, int) (io.ReadCloser, error) {
	return nil, io.ErrUnexpectedEOF
}
func (s fakeSites) EdgeAddress(context.Context) string          { return "" }
func (s fakeSites) Listening(context.Context) map[string]string { return nil }
func (s fakeSites) Run(ctx context.Context) error               { <-ctx.Done(); return nil }

func newFakeEngine() fakeEngine {
	return fakeEngine{applied: make(chan *agentv1.DesiredState, 10), session: make(chan *client.Session, 1)}
}

// startRun runs the agent until the test ends, checking that RunWith
// returns nil once cancelled.
func startRun(t *testing.T, cfg agent.Config, log *slog.Logger, eng fakeEngine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.RunWith(ctx, cfg, log, eng.open) }()
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
				t.Errorf("RunWith = %v, want nil after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("RunWith did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func receive(t *testing.T, applied chan *agentv1.DesiredState) *agentv1.DesiredState {
	t.Helper()
	select {
	case ds := <-applied:
		return ds
	case <-time.After(10 * time.Second):
		t.Fatal("no desired state was applied")
		return nil
	}
}

func TestRunJoinsAppliesAndServesFromDisk(t *testing.T) {
	srv := client.StartFakeBerthd(t)
	cfg := agent.DefaultConfig()
	cfg.Server, cfg.JoinToken, cfg.DataDir, cfg.NodeName = "https://"+srv.Addr(), srv.JoinToken(), t.TempDir(), "n1"
	cfg.Labels = map[string]string{"zone": "a"}
	var logs client.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// First start: join, connect, apply and save what berthd sends.
	eng := newFakeEngine()
	stop := startRun(t, cfg, log, eng)
	hello, send := srv.NextHello(t)
	if hello.GetFacts().GetLabels()["zone"] != "a" || hello.GetFacts().GetCpuMillicores() <= 0 || hello.GetRevision() != 0 {
		t.Errorf("hello = %v, want the host's facts with the configured labels, revision 0", hello)
	}
	select {
	case s := <-eng.session:
		if s == nil {
			t.Error("the sites were wired with no session")
		}
	default:
		t.Error("Engine.Sites was not called")
	}
	ds := &agentv1.DesiredState{Revision: 42, Sites: []*agentv1.SiteAssignment{{
		SiteId: "site_01jd3m5kq8x7w2c9v4r6t0yzab", ClientId: "client_01jd3m5kq8x7w2c9v4r6t0yzab", Name: "blog",
		Kind: agentv1.SiteKind_SITE_KIND_WORDPRESS, Generation: 3, Domains: []string{"blog.example.com"},
		Secrets: map[string]string{"db_password": "wp-db-password-3f9c1a7e"},
	}}}
	if err := send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_DesiredState{DesiredState: ds}}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, eng.applied); !proto.Equal(got, ds) {
		t.Errorf("applied %v, want %v", got, ds)
	}
	stop()
	if saved, err := agent.LoadDesired(cfg.DataDir); err != nil || !proto.Equal(saved, ds) {
		t.Fatalf("saved desired state = %v, %v; want what berthd sent", saved, err)
	}

	// Second start, berthd unreachable: the saved state is applied at once,
	// and the join token is ignored.
	cfg.Server = client.ClosedAddr(t)
	eng = newFakeEngine()
	startRun(t, cfg, log, eng)
	if got := receive(t, eng.applied); !proto.Equal(got, ds) {
		t.Errorf("applied %v from disk, want %v", got, ds)
	}
	client.WaitFor(t, "the log of the ignored join token", func() bool {
		return strings.Contains(logs.String(), "ignoring --join-token")
	})
}
