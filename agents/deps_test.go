package agents

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are control-plane packages that nothing on a node may import.
var forbidden = []string{
	"github.com/fixaroo/berth/internal/store",
	"github.com/fixaroo/berth/internal/api",
	"github.com/fixaroo/berth/internal/scheduler",
	"github.com/fixaroo/berth/internal/fleet",
	"github.com/fixaroo/berth/internal/controlplane",
	"github.com/fixaroo/berth/internal/blobs",
	"github.com/fixaroo/berth/internal/cli",
	"github.com/fixaroo/berth/internal/auth",
}

// TestNoControlPlaneImports fails when a node package depends on the
// control plane: the agent must keep working with berthd down, and the two
// sides share only the agent API.
func TestNoControlPlaneImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		"github.com/fixaroo/berth/agents/...", "github.com/fixaroo/berth/cmd/berth-agent", "github.com/fixaroo/berth/cmd/berth-static").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("a node package depends on control-plane package %s", pkg)
			}
		}
	}
	// Only the runtime talks to Docker, and only package certs to certmagic.
	out, err = exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/fixaroo/berth/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ": ")
		if strings.Contains(imports, "github.com/moby/moby/client") && pkg != "github.com/fixaroo/berth/agents/runtime/docker" {
			t.Errorf("%s imports the Docker client; only agents/runtime/docker may", pkg)
		}
		if strings.Contains(imports, "github.com/caddyserver/certmagic") && pkg != "github.com/fixaroo/berth/agents/certs" {
			t.Errorf("%s imports certmagic; only agents/certs may", pkg)
		}
	}
}
