// Package client is the node's client of the control plane: it gives the
// node an identity in the fleet (Join, LoadIdentity), keeps the session
// with berthd (Session: hello, heartbeats, status reports, desired states,
// log requests, certificate renewal), and reaches berthd's certificate
// storage (CertStorage) and release bundles (Session.FetchRelease).
//
//	            berthd (one TLS port)
//	               ▲            │
//	  Join (once,  │            │ DesiredState (at once, then on change)
//	  pinned TLS)  │ mTLS       ▼
//	┌──────────────┴────────────────────────────────────────────┐
//	│ agents/agent wires it                                     │
//	│  Identity ── LoadIdentity / Join ── DATA/node-key.pem,    │
//	│                                     node.pem, ca.pem,     │
//	│                                     node.json             │
//	│  Session ─┬─ Connect: hello, heartbeats (5s ±20%),        │
//	│           │  status reports (Report / ReportFull)         │
//	│           ├─ reconnect with backoff (1s … 60s, jitter)    │
//	│           └─ renew the certificate at 2/3 of its life     │
//	│  OnDesired ── the agent saves and applies each state      │
//	│  CertStorage, FetchRelease ── over the session's client   │
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
package client
