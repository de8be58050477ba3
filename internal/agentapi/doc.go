// Package agentapi is berthd's node-facing server: it implements the node
// contract, berth.agent.v1.AgentService (proto/berth/agent/v1), on top of
// the store. It sits next to the public services (package api), not inside
// them; berthd serves both on one gRPC server behind one rpc.Gate.
//
//	node ── Join (join token) ─────────────▶ a node id and a client certificate
//	node ── RenewCertificate ──────────────▶ a fresh certificate
//	node ◀─ Connect ───────────────────────▶ desired state, probe work and log
//	                                         requests out; heartbeats, site
//	                                         status and probe results in
//	node ── FetchRelease ──────────────────▶ a release bundle of its own site
//	node ── SendLogs ──────────────────────▶ the lines a reader asked for
//	node ── *CertData, SignCertificate ────▶ certificate storage and the
//	                                         development CA
//
// Authorization: Rules is this package's table. Every method but Join is
// for node agents, which the Gate authenticates by the client certificate
// berthd's CA signed for them; people's credentials are refused. The
// handlers then scope a node to its own sites: another node's release,
// log request or certificate key is NotFound or PermissionDenied.
package agentapi
