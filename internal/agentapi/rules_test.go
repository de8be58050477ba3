package agentapi

import (
	"strings"
	"testing"

	"github.com/fixaroo/berth/internal/rpc/rpctest"
	_ "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestEveryMethodHasARule fails when an RPC is added to the node contract
// without an authorization rule (it would be denied to everyone), and when
// a rule names an RPC that no longer exists.
func TestEveryMethodHasARule(t *testing.T) {
	rules := Rules()
	seen := map[string]bool{}
	for _, md := range rpctest.Methods(t, "berth.agent.v1", 10) {
		name := rpctest.FullMethod(md)
		seen[name] = true
		if _, ok := rules[name]; !ok {
			t.Errorf("%s has no rule in authz.go", name)
		}
	}
	for name := range rules {
		if !seen[name] {
			t.Errorf("rule for %s, which is not an RPC of berth.agent.v1", name)
		}
		if !strings.HasPrefix(name, "/berth.agent.v1.") {
			t.Errorf("rule for %s, which is not the node contract's", name)
		}
	}
}
