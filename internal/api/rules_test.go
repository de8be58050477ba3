package api

import (
	"testing"

	"github.com/fixaroo/berth/internal/rpc/rpctest"
	_ "github.com/fixaroo/berth/proto/berth/v1"
)

// TestEveryMethodHasARule fails when an RPC is added without an
// authorization rule (it would be denied to everyone), and when a rule names
// an RPC that no longer exists.
func TestEveryMethodHasARule(t *testing.T) {
	seen := map[string]bool{}
	for _, md := range rpctest.Methods(t, "berth.v1", 25) {
		name := rpctest.FullMethod(md)
		seen[name] = true
		if _, ok := rules[name]; !ok {
			t.Errorf("%s has no rule in authz.go", name)
		}
	}
	for name := range rules {
		if !seen[name] && len(name) > 10 && name[:10] == "/berth.v1." {
			t.Errorf("rule for %s, which is not an RPC", name)
		}
	}
}
