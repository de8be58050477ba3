package agentapi_test

import (
	"context"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/certs/certstest"
	"github.com/fixaroo/berth/agents/client"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestCertStorageConformance runs certstest's Remote suite, which
// certstest.MemRemote runs too, against the real pair: the agent's
// client.CertStorage over a running client.Session, and this package's
// AgentService with a SQLite store behind it. Two fixtures give two nodes.
func TestCertStorageConformance(t *testing.T) {
	certstest.RunRemoteSuite(t, func(t *testing.T) certstest.Nodes {
		s := newServer(t)
		a, b := newFixture(t, s), newFixture(t, s)
		sa, downA := s.session(t, a)
		sb, _ := s.session(t, b)
		return certstest.Nodes{A: sa.CertStorage(), B: sb.CertStorage(), Domain: a.domain, Down: downA}
	})
}

// session runs the agent's session to the server as f's node until the
// test ends or stop is called, and returns once its client is up.
func (s *server) session(t *testing.T, f *fixture) (_ *client.Session, stop func()) {
	t.Helper()
	cert := f.nodeCert
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	cert.Leaf = leaf
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	sess := client.NewSession(client.SessionOptions{
		Identity: client.Identity{NodeID: f.nodeID, NodeName: "node-" + f.seq, Server: net.JoinHostPort("localhost", port),
			Cert: cert, CAPool: s.ca.Pool()},
		DataDir:   t.TempDir(),
		Facts:     func(context.Context) (*agentv1.NodeFacts, error) { return testFacts(), nil },
		Usage:     func(context.Context) *agentv1.AgentHeartbeat { return &agentv1.AgentHeartbeat{} },
		OnDesired: func(context.Context, *agentv1.DesiredState) {},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sess.Run(ctx) }()
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("session: %v", err)
		}
		done <- nil // for the next stop
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(10 * time.Second); sess.Client() == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session never started")
		}
	}
	return sess, stop
}
