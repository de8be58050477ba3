package agentapi

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestEveryMethodHasARule fails when an RPC is added to the node contract
// without an authorization rule (it would be denied to everyone), and when
// a rule names an RPC that no longer exists.
func TestEveryMethodHasARule(t *testing.T) {
	rules := Rules()
	seen := map[string]bool{}
	protoregistry.GlobalFiles.RangeFilesByPackage("berth.agent.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				name := "/" + string(sd.FullName()) + "/" + string(sd.Methods().Get(j).Name())
				seen[name] = true
				if _, ok := rules[name]; !ok {
					t.Errorf("%s has no rule in authz.go", name)
				}
			}
		}
		return true
	})
	if len(seen) < 10 {
		t.Fatalf("found only %d berth.agent.v1 methods; is the generated code linked?", len(seen))
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
