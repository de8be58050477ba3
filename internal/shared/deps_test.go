package shared

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/fixaroo/berth/"

// deps returns the module packages that the packages matching patterns
// depend on, themselves included, without test files.
func deps(t *testing.T, patterns ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, patterns...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var ours []string
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) {
			ours = append(ours, strings.TrimPrefix(pkg, module))
		}
	}
	return ours
}

func under(pkg string, prefixes ...string) bool {
	for _, p := range prefixes {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// TestNodeImportsOnlyTheContractAndShared: a node package depends, in this
// module, only on node packages, the node contract and this folder, so the
// node keeps working with berthd down and shares nothing else with it.
func TestNodeImportsOnlyTheContractAndShared(t *testing.T) {
	found := false
	for _, pkg := range deps(t, module+"agents/...", module+"cmd/berth-agent", module+"cmd/berth-static") {
		found = true
		if !under(pkg, "agents", "cmd/berth-agent", "cmd/berth-static", "proto/berth/agent/v1", "internal/shared") {
			t.Errorf("a node package depends on %s; a node may use only agents/..., proto/berth/agent/v1 and internal/shared/...", pkg)
		}
	}
	if !found {
		t.Fatal("go list found no node package")
	}
}

// TestControlPlaneImportsNoNodePackage: berthd and the CLI depend on no
// node package; what both need lives here.
func TestControlPlaneImportsNoNodePackage(t *testing.T) {
	found := false
	for _, pkg := range deps(t, module+"internal/...", module+"cmd/berthd", module+"cmd/berth") {
		found = true
		if under(pkg, "agents", "cmd/berth-agent", "cmd/berth-static") {
			t.Errorf("a control-plane package depends on node package %s; move what both need to internal/shared", pkg)
		}
	}
	if !found {
		t.Fatal("go list found no control-plane package")
	}
}

// TestSharedIsSelfContained: packages here import nothing else from this
// module.
func TestSharedIsSelfContained(t *testing.T) {
	for _, pkg := range deps(t, module+"internal/shared/...") {
		if !under(pkg, "internal/shared") {
			t.Errorf("a shared package depends on %s; shared code imports only the standard library, third-party libraries and internal/shared/...", pkg)
		}
	}
}
