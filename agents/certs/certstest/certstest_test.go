package certstest_test

import (
	"testing"

	"github.com/fixaroo/berth/agents/certs/certstest"
)

// TestMemRemoteConformance runs the suite that the real storage runs too
// (internal/agentapi's TestCertStorageConformance).
func TestMemRemoteConformance(t *testing.T) {
	certstest.RunRemoteSuite(t, func(*testing.T) certstest.Nodes {
		r := certstest.NewMemRemote()
		return certstest.Nodes{A: r.Node("node_a"), B: r.Node("node_b"), Domain: "www.example.com",
			Down: func() { r.SetUnavailable(true) }}
	})
}
