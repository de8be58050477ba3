// Package certs gets, serves and renews the HTTPS certificates of the sites
// a node serves. It is the only package that imports certmagic; everything
// else sees a Manager, the Remote and Signer it needs from the control
// plane, and DomainStatus.
//
// # Flow
//
//	desired state ──SetDomains──▶ gate (the set of managed names)
//	                                 │ new name: load from storage, else obtain
//	                                 ▼
//	         certmagic Cache + two Configs ── ACME issuer (public names)
//	                 │  (maintenance:            └ internal issuer → Signer → berthd's CA
//	                 │   renew when due)                  (names under InternalSuffixes)
//	                 ▼
//	   edge :443 ── TLSConfig().GetCertificate     edge :80 ── HTTPChallengeHandler
//
// The composition root builds a Manager, gives TLSConfig and
// HTTPChallengeHandler to the edge, starts the edge's listeners, then calls
// SetDomains with the domains of the sites placed on the node whenever the
// desired state changes, and runs Run in its errgroup.
//
// # The gate
//
// SetDomains is the only way certificate work starts. A TLS handshake or an
// HTTP request never makes the node load or order a certificate: a name that
// is not managed gets a failed handshake, and a challenge request is
// answered only for a challenge this process started for a managed name
// (certmagic keeps those in memory), so arbitrary SNI or Host values cost
// neither an ACME order nor a storage lookup. Names dropped from the set are
// removed from certmagic's cache at once, which stops serving and
// maintaining them and cancels their work in progress; their stored
// certificates are kept, for the node the site moved to.
//
// # Storage
//
// certmagic's storage is layered: Remote (berthd's database, shared by all
// nodes) in front of a local certmagic.FileStorage in DataDir/certs/store.
//   - Store and Delete write locally first, then to Remote.
//   - Load reads Remote, the shared truth, and refreshes the local copy.
//   - Locks are Remote leases, polled with backoff while another node holds
//     one, so two nodes never order one certificate at once.
//
// A site moved to another node therefore finds its certificate (and the
// ACME account) in Remote and is served without a new order.
//
// # Offline behaviour
//
// With berthd unreachable (Remote errors wrap ErrUnavailable, or a call
// times out), sites keep being served from memory and certificates keep
// being renewed: reads and locks fall back to the local copy, and writes
// succeed locally and are listed as pending in DataDir/certs/pending.json.
// Run pushes the pending items to Remote, oldest first, as soon as it
// answers again (retrying with backoff from 1 s to a minute), also after a
// restart. Two nodes cut off at once could both renew the same name; that
// costs an order, nothing else.
//
// # Pacing
//
// Renewal and retries are certmagic's: a certificate is renewed when a third
// of its lifetime is left (or when the CA's ARI says so); a failed obtain or
// renewal is retried after 1, 2, 2, 5, 10 … minutes, up to 6 hours apart,
// for 30 days; certmagic's process-wide rate limiter (RateLimitEvents,
// 10 orders per RateLimitEventsWindow, 10 s, per CA and account) spreads
// bursts, such as a node starting with hundreds of sites. A failing domain
// therefore costs its CA at most one order per challenge type per attempt.
// OCSP stapling is off: Let's Encrypt has shut its OCSP service down, and
// Pebble and the internal CA run none.
//
// # Status
//
// Status reports per domain the issuer, the expiry of the certificate being
// served, the last attempt and its error in the CA's words, from
// certmagic's events (cert_obtaining, cert_obtained, cert_failed,
// cached_managed_cert) and its cache. OnChange tells the agent to report
// it to the control plane.
package certs
