package client

import (
	"testing"

	"github.com/fixaroo/berth/agents/client/clienttest"
)

// TestFakeBerthdConformance runs clienttest's berthd suite, which
// internal/agentapi's real server runs too, against this package's fake
// berthd (server_test.go).
func TestFakeBerthdConformance(t *testing.T) {
	clienttest.RunBerthdSuite(t, func(t *testing.T) clienttest.Berthd {
		ca := newTestCA(t)
		s := startTestServer(t, ca)
		done := make(chan struct{})
		t.Cleanup(func() { close(done) })
		go func() { // the fake hands each session to the test; this one ignores them
			for {
				select {
				case <-s.sessions:
				case <-done:
					return
				}
			}
		}()
		return clienttest.Berthd{Addr: s.addr, RootCAs: ca.pool, TakenName: "taken",
			JoinToken: func(*testing.T) string { return s.secret }}
	})
}
