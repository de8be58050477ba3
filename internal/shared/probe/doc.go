// Package probe makes one uptime probe of a site: an HTTPS GET over a fresh
// connection to the edge of the node that serves it, timed phase by phase
// and classified when it fails. The node agents' prober (agents/prober) and
// berthd's own vantage point (internal/monitor) both probe through it, so a
// result means the same thing from every vantage point; it depends on the
// standard library only.
//
//	Probe(ctx, Target) ──▶ Guard.DialContext(Target.Address)   resolve, check every address,
//	                         │                                 connect (Control re-checks)
//	                         ▼
//	                       TLS: SNI = Domain, chain verified against Roots and Domain
//	                         ▼
//	                       GET https://Domain/ HTTP/1.1, Host = Domain, User-Agent Berth-Uptime/1
//	                         ▼
//	                       status == ExpectedStatus?  Keyword in the first 1 MiB?
//	                         ▼
//	                       Result: OK, status, Total/Connect/TLS/FirstByte (httptrace),
//	                               CertNotAfter, ErrorClass, Error
//
// # Error classes
//
//	timeout          the probe's timeout passed (connecting, handshaking, waiting or reading)
//	refused          the edge's port refused the connection
//	tls              handshake failure: unknown authority, name mismatch, expired, not TLS
//	http_5xx         a 5xx status that was not the expected one
//	http_status      any other unexpected status, redirects included (never followed)
//	keyword_missing  the keyword is not in the first 1 MiB of the body
//	dns              the edge's host name did not resolve
//	other            anything else: reset, unreachable, an address the guard refuses
//
// # SSRF
//
// Probe targets and alert webhooks come from data that users influence, so
// every outbound connection made for them goes through a Guard: only the
// address given is dialed (no proxy, no redirect), cloud-metadata and other
// never-legitimate addresses are always refused, and private and loopback
// ranges only when the operator allows them (the fleet's own nodes).
// CheckURL vets a webhook URL when it is configured; Guard.DialContext (or
// Guard.Control on a net.Dialer) vets it again at connect time, which
// defeats DNS rebinding.
package probe
