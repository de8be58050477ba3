// Package agents holds everything that runs on a node: the agent's
// composition root (agent), the reconciler, the Docker runtime, release
// unpacking, the static-site server, the edge (edge) and its certificates
// (certs). These packages share exactly one
// contract with the control plane, proto/berth/agent/v1/agent.proto
// (package agentv1), which imports nothing of the public API;
// TestNoControlPlaneImports and TestAgentLinksNoPublicAPI keep it that way.
package agents
