// Package agents holds everything that runs on a node: the agent's
// composition root (agent), its client of berthd (client), the reconciler,
// the Docker runtime (runtime/docker), installing releases (release), the
// static-site server, the edge (edge), its certificates (certs) and the
// prober. These packages share exactly one contract with the control
// plane, proto/berth/agent/v1/agent.proto (package agentv1), which imports
// nothing of the public API, and use internal/shared for the code both
// halves need. internal/shared/deps_test.go and TestAgentLinksNoPublicAPI
// keep it that way; see docs/architecture.md.
package agents
