package agents

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSingleImporters fails when a package other than the one that owns it
// imports the Docker client or certmagic. Which module packages a node
// package may import at all is checked in internal/shared.
func TestSingleImporters(t *testing.T) {
	// Only the runtime talks to Docker, and only package certs to certmagic.
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}: {{join .Imports " "}}`, "github.com/fixaroo/berth/...").CombinedOutput()
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

// TestAgentLinksNoPublicAPI fails when a node package links the public API
// (proto/berth/v1, package berthv1) or the REST gateway: a node speaks only
// the node contract, proto/berth/agent/v1, and berth-agent carries neither
// the gateway runtime nor the OpenAPI document embedded in berthv1.
func TestAgentLinksNoPublicAPI(t *testing.T) {
	const publicAPI = "github.com/fixaroo/berth/proto/berth/v1"
	var contract bool
	for _, pkg := range nodeDeps(t) {
		switch {
		case pkg == publicAPI || strings.HasPrefix(pkg, publicAPI+"/"):
			t.Errorf("a node package depends on the public API package %s; use the node contract, agentv1", pkg)
		case strings.HasPrefix(pkg, "github.com/grpc-ecosystem/grpc-gateway/"):
			t.Errorf("a node package depends on the REST gateway package %s", pkg)
		case pkg == "github.com/fixaroo/berth/proto/berth/agent/v1":
			contract = true
		}
	}
	if !contract {
		t.Error("the node packages do not depend on the node contract proto/berth/agent/v1: is the package list right?")
	}
}

// nodeDeps lists every package the node's packages and binaries depend on,
// themselves included.
func nodeDeps(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}",
		"github.com/fixaroo/berth/agents/...", "github.com/fixaroo/berth/cmd/berth-agent", "github.com/fixaroo/berth/cmd/berth-static").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}
