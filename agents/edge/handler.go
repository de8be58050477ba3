package edge

import (
	"context"
	"net/http"
	"strings"
	"time"
)

const (
	hstsValue  = "max-age=31536000"
	retryAfter = "30" // seconds; a container usually restarts within that
)

// serveHTTP is the port-80 handler.
func (e *Edge) serveHTTP(w http.ResponseWriter, r *http.Request) { e.serve(w, r, false) }

// serveHTTPS is the port-443 handler.
func (e *Edge) serveHTTPS(w http.ResponseWriter, r *http.Request) { e.serve(w, r, true) }

// serve is the front of both ports: it finds the site, refuses requests that
// are badly framed or too large, and records the metrics of every request.
func (e *Edge) serve(w http.ResponseWriter, r *http.Request, https bool) {
	if !e.inflight.enter() {
		w.Header().Set("Connection", "close")
		writePage(w, r, http.StatusServiceUnavailable, "")
		return
	}
	defer e.inflight.exit()

	start := time.Now()
	host := canonicalHost(r.Host)
	s := e.table.Load().lookup(host)
	sm := e.unknown
	if s != nil {
		sm = s.metrics
	}
	rw := newResponseWriter(w, r, e.opts.SendTimeout)
	// Deferred, so that a response aborted by a panic (http.ErrAbortHandler
	// from the proxy when a stream breaks) is counted too.
	defer func() {
		rw.finish()
		sm.observe(rw.status, rw.written, start)
	}()

	if status := e.refusal(r); status != 0 {
		if r.ProtoMajor == 1 {
			rw.Header().Set("Connection", "close")
		}
		writePage(rw, r, status, host)
		return
	}
	if !https {
		e.port80.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), siteKey{}, s)))
		return
	}
	e.serveSite(rw, r, host, s)
}

// refusal returns the status to refuse r with before anything else sees it,
// or 0. See the package doc for which smuggling attempts net/http refuses
// itself and which are caught here.
func (e *Edge) refusal(r *http.Request) int {
	if r.ProtoMajor == 1 {
		if c := connFrom(r.Context()); c != nil && !c.admit() {
			return http.StatusBadRequest
		}
	}
	// net/http refuses any other coding itself (501); this keeps the
	// invariant local.
	if te := r.TransferEncoding; len(te) > 1 || len(te) == 1 && te[0] != "chunked" {
		return http.StatusNotImplemented
	}
	for name := range r.Header {
		if strings.IndexByte(name, '_') >= 0 && isFramingHeader(strings.ReplaceAll(name, "_", "-")) {
			// "Transfer_Encoding" means nothing to net/http, but some
			// servers behind a proxy read it as Transfer-Encoding.
			return http.StatusBadRequest
		}
	}
	if r.ContentLength > e.opts.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge
	}
	return 0
}

func isFramingHeader(name string) bool {
	return strings.EqualFold(name, "Transfer-Encoding") || strings.EqualFold(name, "Content-Length")
}

type siteKey struct{}

// redirectToHTTPS is the port-80 handler behind HTTPChallenge: a 308 to the
// same host over HTTPS for known hosts, the 404 page for others.
func (e *Edge) redirectToHTTPS(w http.ResponseWriter, r *http.Request) {
	host := canonicalHost(r.Host)
	if s, _ := r.Context().Value(siteKey{}).(*site); s == nil {
		writePage(w, r, http.StatusNotFound, host)
		return
	}
	http.Redirect(w, r, e.httpsURL(host, r), http.StatusPermanentRedirect)
}

// serveSite answers a request on port 443 for host, which routes to s (nil
// when no route claims it).
func (e *Edge) serveSite(w *responseWriter, r *http.Request, host string, s *site) {
	switch {
	case s == nil:
		writePage(w, r, http.StatusNotFound, host)
	case s.redirectAliases && host != s.primary:
		if s.hsts {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		http.Redirect(w, r, e.httpsURL(s.primary, r), http.StatusPermanentRedirect)
	case !s.running():
		if s.hsts {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		w.Header().Set("Retry-After", retryAfter)
		writePage(w, r, http.StatusServiceUnavailable, host)
	default:
		if r.Body != nil && r.Body != http.NoBody {
			b := newBody(w.ResponseWriter, r.Body, e.opts.MaxBodyBytes, e.opts.BodyReadTimeout)
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
			r.Body = b
		}
		s.proxy.ServeHTTP(w, r)
	}
}

// httpsURL is the HTTPS URL of r's path and query on host.
func (e *Edge) httpsURL(host string, r *http.Request) string {
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]" // an IPv6 literal
	}
	uri := r.URL.RequestURI()
	if !strings.HasPrefix(uri, "/") {
		uri = "/" // "OPTIONS *"
	}
	return "https://" + host + e.httpsPort + uri
}

// responseWriter records the status and body size of a response for the
// metrics, and bounds each write to the client by the send timeout.
type responseWriter struct {
	http.ResponseWriter
	ctl     *http.ResponseController
	timeout time.Duration
	status  int   // the final status; 0 until written
	written int64 // body bytes
}

func newResponseWriter(w http.ResponseWriter, r *http.Request, timeout time.Duration) *responseWriter {
	rw := &responseWriter{ResponseWriter: w, ctl: http.NewResponseController(w), timeout: timeout}
	if r.ProtoMajor == 1 {
		// The deadline set by finish for the previous request on this
		// connection would otherwise still apply to net/http's own writes,
		// such as "100 Continue".
		_ = rw.ctl.SetWriteDeadline(time.Time{})
	}
	return rw
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code // 1xx other than 101 are interim responses
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	n, err := w.ResponseWriter.Write(p)
	// Cleared again, so that an idle stream (server-sent events, long
	// polling) is not cut off between writes.
	_ = w.ctl.SetWriteDeadline(time.Time{})
	w.written += int64(n)
	return n, err
}

// FlushError is what http.ResponseController.Flush calls, as the reverse
// proxy does.
func (w *responseWriter) FlushError() error {
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
	err := w.ctl.Flush()
	_ = w.ctl.SetWriteDeadline(time.Time{})
	return err
}

// Unwrap gives http.ResponseController (Hijack for upgrades, deadlines) the
// underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish bounds net/http's final flush of the response after the handler
// returns, which no Write covers.
func (w *responseWriter) finish() {
	_ = w.ctl.SetWriteDeadline(time.Now().Add(w.timeout))
}
