package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The error classes of a Result, as in berth.v1.ProbeResult.error_class.
// A successful probe has the class "".
const (
	ClassTimeout        = "timeout"         // the probe's deadline passed
	ClassRefused        = "refused"         // the connection was refused
	ClassTLS            = "tls"             // handshake or certificate failure
	ClassHTTP5xx        = "http_5xx"        // a 5xx status other than the expected one
	ClassHTTPStatus     = "http_status"     // another unexpected status
	ClassKeywordMissing = "keyword_missing" // the body lacks the keyword
	ClassDNS            = "dns"             // the edge's host name did not resolve
	ClassOther          = "other"           // anything else, a refused address included
)

// Classes are the error classes a Result may carry, "" excluded.
func Classes() []string {
	return []string{ClassTimeout, ClassRefused, ClassTLS, ClassHTTP5xx, ClassHTTPStatus, ClassKeywordMissing, ClassDNS, ClassOther}
}

const (
	// UserAgent is the User-Agent of every probe.
	UserAgent = "Berth-Uptime/1"
	// DefaultTimeout is a probe's timeout when its Target sets none.
	DefaultTimeout = 10 * time.Second
	// MaxBody is how much of a response body a probe reads, and so where it
	// looks for the keyword.
	MaxBody = 1 << 20
	// maxError bounds Result.Error, in bytes (an ellipsis marks a cut).
	maxError = 256
	// maxHeaderBytes bounds the response head a probe accepts.
	maxHeaderBytes = 64 << 10
)

// Target is one site as one vantage point probes it.
type Target struct {
	SiteID string
	// Domain is the SNI and the Host of the request; the certificate must be
	// valid for it.
	Domain string
	// Address is the serving node's edge, "host:port" (HTTPS). The probe
	// connects there and nowhere else.
	Address string
	// Timeout bounds the whole probe, body included (default DefaultTimeout).
	Timeout time.Duration
	// ExpectedStatus is the status of a healthy site (default 200). Any
	// other status, a redirect included, fails the probe.
	ExpectedStatus int
	// Keyword, if set, must appear (case-sensitively) in the first MaxBody
	// bytes of the body.
	Keyword string
}

// Result is the outcome of one probe.
type Result struct {
	SiteID string
	// Time is when the probe started, by Prober.Now.
	Time time.Time
	OK   bool
	// StatusCode is the HTTP status, 0 if none was received.
	StatusCode int
	// Total is the whole probe: connect, handshake, request, and reading
	// the first MaxBody bytes of the body.
	Total time.Duration
	// Connect is the time to a TCP connection (every address tried).
	Connect time.Duration
	// TLS is the TLS handshake.
	TLS time.Duration
	// FirstByte is the wait from the ready connection to the first byte of
	// the response: writing the request and the server's think time.
	FirstByte time.Duration
	// CertNotAfter is the expiry of the leaf certificate the edge served,
	// even one that failed verification; zero if none was received.
	CertNotAfter time.Time
	// ErrorClass is "" for a successful probe, else one of the Class*
	// constants.
	ErrorClass string
	// Error says what failed, in a few words; "" for a successful probe.
	Error string
}

// Prober probes sites over HTTPS. Its methods are safe for concurrent use;
// its fields must not change once it is in use.
type Prober struct {
	// Roots verify the edges' certificates; nil means the system's roots.
	// A caller that also trusts berthd's CA or a test ACME server builds a
	// pool of the system's roots and those.
	Roots *x509.CertPool
	// Guard decides which edge addresses may be probed. The zero Guard
	// allows public addresses only, so a fleet on a private network lists
	// its nodes' ranges in Guard.AllowPrivate.
	Guard Guard
	// Now stamps Result.Time (default time.Now). Durations are measured
	// with the monotonic clock regardless.
	Now func() time.Time
}

// Probe makes one HTTPS GET https://Domain/ over a fresh connection to
// t.Address, and reports how it went. It never follows a redirect, never
// uses a proxy and never reuses a connection. The probe ends by t.Timeout
// or when ctx ends, whichever comes first; a probe cut short by ctx (not by
// its own timeout) reports ClassOther, "probe canceled", which a caller
// shutting down discards.
func (p *Prober) Probe(ctx context.Context, t Target) Result {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	r := Result{SiteID: t.SiteID, Time: now()}
	start := time.Now()
	if err := validateTarget(t); err != nil {
		r.ErrorClass, r.Error = ClassOther, truncate(err.Error())
		return r
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	expected := t.ExpectedStatus
	if expected == 0 {
		expected = http.StatusOK
	}

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	tr := &tracer{}
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())

	transport := p.transport(t)
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+t.Domain+"/", nil)
	if err != nil {
		r.ErrorClass, r.Error = ClassOther, truncate(err.Error())
		return r
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "*/*")

	resp, err := transport.RoundTrip(req)
	if err != nil {
		r.Total = time.Since(start)
		ph := tr.snapshot(deadline)
		ph.fill(&r)
		r.CertNotAfter = certNotAfter(err, ph.tlsState)
		r.ErrorClass, r.Error = classify(err, ph, parent, timeout)
		return r
	}
	defer resp.Body.Close()
	r.StatusCode = resp.StatusCode
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.CertNotAfter = resp.TLS.PeerCertificates[0].NotAfter
	}
	body, bodyErr := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	r.Total = time.Since(start)
	ph := tr.snapshot(deadline)
	ph.fill(&r)
	if bodyErr == nil && (ctx.Err() != nil || time.Now().After(deadline)) {
		// The transport closes the connection at the deadline, which can
		// make a stalled server end its response properly: too late all
		// the same.
		bodyErr = context.DeadlineExceeded
		if parent.Err() != nil {
			bodyErr = parent.Err()
		}
	}

	switch {
	case ph.firstByte.IsZero():
		// The head itself came after the deadline.
		r.StatusCode = 0
		r.ErrorClass, r.Error = classify(bodyErr, ph, parent, timeout)
	case resp.StatusCode != expected:
		r.ErrorClass = ClassHTTPStatus
		if resp.StatusCode >= 500 && resp.StatusCode <= 599 {
			r.ErrorClass = ClassHTTP5xx
		}
		r.Error = fmt.Sprintf("status %s, want %d", statusText(resp.StatusCode), expected)
	case bodyErr != nil:
		r.ErrorClass, r.Error = classify(bodyErr, ph, parent, timeout)
	case t.Keyword != "" && !bytes.Contains(body, []byte(t.Keyword)):
		r.ErrorClass = ClassKeywordMissing
		r.Error = truncate(fmt.Sprintf("keyword %q not in the first MiB of the body", t.Keyword))
	default:
		r.OK = true
	}
	return r
}

// transport returns a single-use HTTP/1.1 transport that dials t.Address
// whatever the request's host, through the guard.
func (p *Prober) transport(t Target) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	guard := p.Guard
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return guard.DialContext(ctx, network, t.Address)
		},
		TLSClientConfig: &tls.Config{
			ServerName: t.Domain,
			RootCAs:    p.Roots,
			MinVersion: tls.VersionTLS12,
		},
		Protocols:              &protocols,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: maxHeaderBytes,
	}
}

// validateTarget refuses targets that would make a malformed request or
// dial something other than host:port.
func validateTarget(t Target) error {
	if t.Domain == "" {
		return fmt.Errorf("invalid target: no domain")
	}
	for _, c := range t.Domain {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
		if !ok {
			return fmt.Errorf("invalid target: domain %q may hold only letters, digits, dots, hyphens and underscores", t.Domain)
		}
	}
	host, port, err := net.SplitHostPort(t.Address)
	if err != nil || host == "" {
		return fmt.Errorf("invalid target: address %q is not host:port", t.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid target: address %q has no valid port", t.Address)
	}
	return nil
}

func statusText(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}

// truncate bounds a message to maxError bytes (and an ellipsis) without
// splitting a rune.
func truncate(s string) string {
	if len(s) <= maxError {
		return s
	}
	s = s[:maxError]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimSpace(s) + "…"
}

// tracer records the moments of one probe's phases. Its callbacks run on
// the transport's goroutines, some possibly after Probe has returned.
type tracer struct {
	mu sync.Mutex // guards the fields below
	ph phases
}

// phases are the moments of a probe; zero if not reached.
type phases struct {
	connectStart, connectDone time.Time // first attempt, successful one
	tlsStart, tlsDone         time.Time
	tlsErr                    error
	tlsState                  *tls.ConnectionState
	gotConn, firstByte        time.Time
}

func (tr *tracer) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		ConnectStart: func(string, string) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			if tr.ph.connectStart.IsZero() {
				tr.ph.connectStart = time.Now()
			}
		},
		ConnectDone: func(_, _ string, err error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			if err == nil && tr.ph.connectDone.IsZero() {
				tr.ph.connectDone = time.Now()
			}
		},
		TLSHandshakeStart: func() {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.ph.tlsStart = time.Now()
		},
		TLSHandshakeDone: func(st tls.ConnectionState, err error) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.ph.tlsDone, tr.ph.tlsErr, tr.ph.tlsState = time.Now(), err, &st
		},
		GotConn: func(httptrace.GotConnInfo) {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.ph.gotConn = time.Now()
		},
		GotFirstResponseByte: func() {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			tr.ph.firstByte = time.Now()
		},
	}
}

// snapshot returns the phases reached by the deadline: what happened
// after it (as the connection was closed) does not count.
func (tr *tracer) snapshot(deadline time.Time) phases {
	tr.mu.Lock()
	ph := tr.ph
	tr.mu.Unlock()
	for _, t := range []*time.Time{&ph.connectStart, &ph.connectDone, &ph.tlsStart, &ph.tlsDone, &ph.gotConn, &ph.firstByte} {
		if t.After(deadline) {
			*t = time.Time{}
		}
	}
	return ph
}

// fill sets the phase durations of r.
func (ph phases) fill(r *Result) {
	if !ph.connectStart.IsZero() && !ph.connectDone.IsZero() {
		r.Connect = ph.connectDone.Sub(ph.connectStart)
	}
	if !ph.tlsStart.IsZero() && !ph.tlsDone.IsZero() && ph.tlsErr == nil {
		r.TLS = ph.tlsDone.Sub(ph.tlsStart)
	}
	if !ph.gotConn.IsZero() && !ph.firstByte.IsZero() {
		r.FirstByte = ph.firstByte.Sub(ph.gotConn)
	}
}

// stage names the phase a probe was in when it failed.
func (ph phases) stage() string {
	switch {
	case ph.connectDone.IsZero():
		return "connecting"
	case ph.tlsDone.IsZero():
		return "in the TLS handshake"
	case ph.firstByte.IsZero():
		return "waiting for the response"
	default:
		return "reading the body"
	}
}
