// Package edge is the node's HTTP and HTTPS front door: it listens on :80 and
// :443, routes each request by its Host to the container of the site that
// claims the name, and answers itself, with a small branded page, when it
// cannot (unknown host, site down, request refused).
//
// The agent's composition root builds one Edge with New, handing it the TLS
// configuration of the certificate package (whose GetCertificate also
// answers ACME TLS-ALPN-01) and that package's HTTP-01 handler wrapper, runs
// it with Run, and calls SetRoutes whenever the node's sites change.
//
// # The request path
//
//	client ──TCP──▶ listener ──▶ conn: a framer follows the HTTP/1 framing of the bytes read
//	                  │ :443: tlsConn below it does the TLS handshake on the first read
//	                  ▼
//	           http.Server  ReadHeaderTimeout, IdleTimeout, MaxHeaderBytes; HTTP/2 on :443
//	                  ▼
//	           serve   host → site in the current route table (one atomic load);
//	                   refuse badly framed (400/501) or too large (413) requests;
//	                   count the request, its status class, duration and bytes
//	             :80 ──▶ HTTPChallenge (ACME HTTP-01) ──▶ 308 https://host[:port]/path?query, or the 404 page
//	            :443 ──▶ unknown host: 404 page
//	                     alias of a site with RedirectAliases: 308 to https://primary/path?query
//	                     site not running: 503 page with Retry-After
//	                     else httputil.ReverseProxy (Rewrite) ──HTTP/1.1──▶ the site's container
//	                          container unreachable or too slow: 503 page, logged and counted
//
// A route table is immutable and replaced whole; a request keeps the site it
// was routed to until it ends, so SetRoutes never disturbs one in flight.
//
// # HTTPS and HTTP/2
//
// The TLS configuration is a hardened clone of the caller's: TLS 1.2 at
// least, ECDHE with AEAD ciphers, ALPN h2 and http/1.1 ahead of the
// caller's protocols (acme-tls/1). TLS is terminated by the edge's listener
// rather than by net/http, so that the framer sees the plaintext; net/http
// then serves HTTP/2 (negotiated by ALPN) through its "unencrypted HTTP/2"
// path. One consequence: Request.TLS is nil, on both ports; the edge knows
// the scheme by the port. A plain-HTTP request on the HTTPS port gets a short
// 400 answer, as net/http's own TLS listener gives.
//
// # Request smuggling
//
// The edge re-frames every request it forwards, so the container can never
// disagree with it on where a request ends. What remains is the client's
// side: messages whose framing is ambiguous are refused outright, and the
// connection closed (RFC 9112, sections 6.1 and 6.3).
//
//	attempt                                         refused by   status
//	Content-Length values that differ               net/http     400
//	Content-Length not "digits" ("+5", "5, 5")      net/http     400
//	Transfer-Encoding other than one "chunked"      net/http     501
//	  ("chunked, identity", two fields, "xchunked")
//	malformed header line ("Transfer-Encoding :")   net/http     400
//	Transfer-Encoding and Content-Length together   framer       400
//	Transfer-Encoding on HTTP/1.0                   framer       400
//	a header folded onto several lines (obs-fold)   framer       400
//	Transfer_Encoding or Content_Length             edge         400
//	a malformed chunk in the body                   edge         400
//
// net/http accepts the framer's cases silently: it drops Content-Length when
// it sees chunked, ignores Transfer-Encoding on HTTP/1.0 and joins folded
// lines, so a handler cannot see them. The framer (framing.go) follows the raw
// bytes of each HTTP/1 connection in step with net/http to find them.
// TestNetHTTPFraming pins down which cases net/http refuses itself, and
// FuzzFramer checks the framer against net/http's parser.
//
// # Limits and timeouts
//
// Every limit is an Options field with a default. A request head must arrive
// within ReadHeaderTimeout (the TLS handshake too), so a client that
// trickles its head is cut off. There is no whole-request read timeout,
// which would cut off large uploads on slow links; instead each wait for
// more of a request body is bounded by BodyReadTimeout (a stalled upload gets
// 408), as each write of a response to a client that does not read is bounded
// by SendTimeout. A body larger than MaxBodyBytes gets 413: at once when its
// Content-Length says so, at the cap when it is streamed (the container then
// sees the start of a body that ends in an error, never a complete one).
// Upstream connections time out after UpstreamDialTimeout, response heads
// after UpstreamHeaderTimeout.
//
// # What the container sees
//
// The Host header and the query exactly as the client sent them (even
// queries that net/url cannot parse), X-Forwarded-For and X-Real-IP set to
// the client's address, X-Forwarded-Proto "https" and X-Forwarded-Host the
// client's Host. Forwarding headers from the client (Forwarded, X-Real-IP,
// and every X-Forwarded-*) are removed, never trusted. Streamed responses
// (text/event-stream, no Content-Length) are flushed as they come, and
// protocol upgrades (WebSocket) pass through.
//
// # Metrics
//
//	berth_edge_requests_total{site,code}          requests by site id and status class (1xx..5xx)
//	berth_edge_request_duration_seconds{site}     histogram, from request head to end of response
//	berth_edge_response_bytes_total{site}         response body bytes
//	berth_edge_upstream_errors_total{site}        failures to get an answer from the container
//
// Requests for hosts no route claims count under site="". A site's series
// are created at zero when its route appears and removed when it goes.
// Requests that net/http refuses itself never reach the edge's handler and
// are not counted.
package edge
