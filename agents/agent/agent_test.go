package agent

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// chanApplier passes every desired state to a channel.
type chanApplier chan *agentv1.DesiredState

func (a chanApplier) Apply(_ context.Context, ds *agentv1.DesiredState) { a <- ds }

// startRun runs the agent until the test ends, checking that Run returns
// nil once cancelled.
func startRun(t *testing.T, cfg Config, log *slog.Logger, opts Options) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, log, opts) }()
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
				t.Errorf("Run = %v, want nil after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}

func receive(t *testing.T, a chanApplier) *agentv1.DesiredState {
	t.Helper()
	select {
	case ds := <-a:
		return ds
	case <-time.After(10 * time.Second):
		t.Fatal("no desired state was applied")
		return nil
	}
}

func TestRunJoinsAppliesAndServesFromDisk(t *testing.T) {
	ca := newTestCA(t)
	srv := startTestServer(t, ca)
	cfg := DefaultConfig()
	cfg.Server, cfg.JoinToken, cfg.DataDir, cfg.NodeName = "https://"+srv.addr, testJoinToken(ca), t.TempDir(), "n1"
	cfg.Labels = map[string]string{"zone": "a"}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	// First start: join, connect, apply and save what berthd sends.
	applied := make(chanApplier, 10)
	var reporter Reporter
	stop := startRun(t, cfg, log, Options{Applier: applied, Session: func(r Reporter) { reporter = r }})
	ss := srv.nextSession(t, nil)
	hello := ss.next(t, nil, "hello", anyMsg).GetHello()
	if hello.GetFacts().GetLabels()["zone"] != "a" || hello.GetFacts().GetCpuMillicores() <= 0 || hello.GetRevision() != 0 {
		t.Errorf("hello = %v, want the host's facts with the configured labels, revision 0", hello)
	}
	if reporter == nil {
		t.Error("Options.Session was not called")
	}
	ds := testDesired()
	if err := ss.stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_DesiredState{DesiredState: ds}}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, applied); !proto.Equal(got, ds) {
		t.Errorf("applied %v, want %v", got, ds)
	}
	stop()
	if saved, err := LoadDesired(cfg.DataDir); err != nil || !proto.Equal(saved, ds) {
		t.Fatalf("saved desired state = %v, %v; want what berthd sent", saved, err)
	}

	// Second start, berthd unreachable: the saved state is applied at once,
	// and the join token is ignored.
	cfg.Server = closedAddr(t)
	applied = make(chanApplier, 10)
	startRun(t, cfg, log, Options{Applier: applied})
	if got := receive(t, applied); !proto.Equal(got, ds) {
		t.Errorf("applied %v from disk, want %v", got, ds)
	}
	waitFor(t, nil, "the log of the ignored join token", func() bool {
		return strings.Contains(logs.String(), "ignoring --join-token")
	})
}

// TestRunNotJoined runs the agent as a real node would (no Applier: sites
// on the local Docker engine) with no engine to reach: the missing join
// is found on disk and reported before Docker is dialled.
func TestRunNotJoined(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	cfg := DefaultConfig()
	cfg.DataDir, cfg.NodeName = t.TempDir(), "n1"
	err := Run(context.Background(), cfg, slog.New(slog.DiscardHandler), Options{})
	if err == nil || !strings.Contains(err.Error(), "--join-token") {
		t.Errorf("Run without identity or token = %v, want an error saying to join", err)
	}
}
