// Package agent is berth-agent's composition root: it gives the node an
// identity in the fleet, keeps the session with berthd, and hands every
// desired state to the Applier (the reconciler).
//
//	            berthd (one TLS port)
//	               ▲            │
//	  Join (once,  │            │ DesiredState (at once, then on change)
//	  pinned TLS)  │ mTLS       ▼
//	┌──────────────┴────────────────────────────────────────────┐
//	│ Run                                                       │
//	│  Identity ── LoadIdentity / Join ── DATA/node-key.pem,    │
//	│                                     node.pem, ca.pem,     │
//	│                                     node.json             │
//	│  Session ─┬─ Connect: hello, heartbeats (5s ±20%),        │
//	│           │  status reports (Report / ReportFull)         │
//	│           ├─ reconnect with backoff (1s … 60s, jitter)    │
//	│           └─ renew the certificate at 2/3 of its life     │
//	│  OnDesired ── SaveDesired (DATA/desired.state, sealed) ── │
//	│               Applier.Apply                               │
//	└───────────────────────────────────────────────────────────┘
//
// # Joining
//
// A join token is "berthjoin_<secret>.<sha256 of berthd's CA certificate>".
// The node sends only the secret, over a TLS connection it accepts only if
// berthd presents that CA and a certificate chaining to it, so a node that
// has nothing but the token cannot be talked into joining an impostor. From
// then on it verifies berthd against the CA it saved, and proves itself with
// its client certificate (common name = node id).
//
// # Static stability
//
// The last desired state is kept on disk, encrypted (it holds site
// secrets), and applied at start before berthd is reached: with the control
// plane down, the node keeps serving what it was last told to.
package agent
