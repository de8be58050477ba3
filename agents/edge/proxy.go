package edge

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport is the one transport to every site's container.
func newTransport(o Options) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true) // containers speak plain HTTP/1.1
	dialer := &net.Dialer{Timeout: o.UpstreamDialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		// Proxy stays nil: upstreams are local containers, never reached
		// through an HTTP_PROXY from the agent's environment.
		DialContext:            dialer.DialContext,
		Protocols:              &protocols,
		ResponseHeaderTimeout:  o.UpstreamHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           1024, // across hundreds of sites
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		// Pass Accept-Encoding and compressed bodies through untouched.
		DisableCompression: true,
	}
}

// newProxy returns the reverse proxy to s's container. It captures s, so a
// request finishes against the route it started on.
func (e *Edge) newProxy(s *site) *httputil.ReverseProxy {
	upstreamHost := s.upstream.String()
	log := e.log.With("site_id", s.id, "upstream", upstreamHost)
	var lastLogged atomic.Int64 // unix nanoseconds of the last upstream error logged
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			rewrite(pr, upstreamHost)
		},
		Transport:  e.transport,
		BufferPool: e.buffers,
		// FlushInterval 0: the proxy already flushes every write of a
		// streamed response (text/event-stream, or no Content-Length).
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				if c := connFrom(resp.Request.Context()); c != nil {
					c.stopFraming()
				}
			}
			if s.hsts && resp.Header.Get("Strict-Transport-Security") == "" {
				resp.Header.Set("Strict-Transport-Security", hstsValue)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e.proxyError(w, r, err, s, log, &lastLogged)
		},
		// What the proxy logs itself: an upstream failing mid-response.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// rewrite aims the outbound request at the container. The client's own
// forwarding headers are never trusted: net/http/httputil removes Forwarded
// and X-Forwarded-{For,Host,Proto}, and this removes every other
// X-Forwarded-* and X-Real-IP before setting them from the connection.
func rewrite(pr *httputil.ProxyRequest, upstreamHost string) {
	out := pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = upstreamHost
	// The site gets the query as the client sent it. Rewrite mode re-encodes
	// queries net/url cannot parse (dropping parameters after a ';'),
	// which protects a proxy that acts on the query; the edge never does.
	out.URL.RawQuery = pr.In.URL.RawQuery
	out.Host = pr.In.Host
	for name := range out.Header {
		if strings.HasPrefix(name, "X-Forwarded-") {
			delete(out.Header, name)
		}
	}
	ip := clientIP(pr.In.RemoteAddr)
	out.Header["X-Forwarded-For"] = []string{ip}
	out.Header["X-Forwarded-Host"] = []string{pr.In.Host}
	out.Header["X-Forwarded-Proto"] = []string{"https"}
	out.Header["X-Real-Ip"] = []string{ip}
}

func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// upstreamLogInterval spaces the log lines of one site's failing upstream;
// the metric counts every failure.
const upstreamLogInterval = 10 * time.Second

// proxyError answers a request the proxy could not complete. The client's
// own failures (a body too large, too slow or broken; a client gone) are
// told apart from the container's, which alone count as upstream errors and
// get the 503 page.
func (e *Edge) proxyError(w http.ResponseWriter, r *http.Request, err error, s *site, log *slog.Logger, lastLogged *atomic.Int64) {
	// r is the outbound request here, with the inbound one's context.
	if b, ok := r.Context().Value(bodyKey{}).(*body); ok {
		if bodyErr := b.readErr(); bodyErr != nil {
			status := http.StatusBadRequest
			var tooLarge *http.MaxBytesError
			var netErr net.Error
			switch {
			case errors.As(bodyErr, &tooLarge):
				status = http.StatusRequestEntityTooLarge
			case errors.As(bodyErr, &netErr) && netErr.Timeout():
				status = http.StatusRequestTimeout
			case r.Context().Err() != nil:
				w.WriteHeader(statusClientClosed)
				return
			}
			if r.ProtoMajor == 1 {
				w.Header().Set("Connection", "close")
			}
			writePage(w, r, status, canonicalHost(r.Host))
			return
		}
	}
	if r.Context().Err() != nil {
		// The client left; nobody reads an answer.
		w.WriteHeader(statusClientClosed)
		return
	}
	s.metrics.upstreamErrors.Inc()
	now := time.Now().UnixNano()
	if last := lastLogged.Load(); now-last >= int64(upstreamLogInterval) && lastLogged.CompareAndSwap(last, now) {
		log.Warn("upstream failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if s.hsts {
		w.Header().Set("Strict-Transport-Security", hstsValue)
	}
	w.Header().Set("Retry-After", retryAfter)
	writePage(w, r, http.StatusServiceUnavailable, canonicalHost(r.Host))
}

// statusClientClosed is nginx's status for a request whose client went away
// before the answer: it counts as a 4xx, not as the site's 5xx.
const statusClientClosed = 499

// body is a request body on its way to a container: capped at MaxBodyBytes,
// with a deadline on each read, and remembering why reading it failed.
type body struct {
	io.ReadCloser // http.MaxBytesReader over the request body
	ctl           *http.ResponseController
	timeout       time.Duration

	mu  sync.Mutex // guards err: the transport reads, the handler asks
	err error      // the first read error other than io.EOF
}

func newBody(w http.ResponseWriter, rc io.ReadCloser, limit int64, timeout time.Duration) *body {
	return &body{
		ReadCloser: http.MaxBytesReader(w, rc, limit),
		ctl:        http.NewResponseController(w),
		timeout:    timeout,
	}
}

func (b *body) Read(p []byte) (int, error) {
	_ = b.ctl.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		// On HTTP/1 the deadline is the connection's; left armed it would
		// end the connection while the container takes its time to answer.
		_ = b.ctl.SetReadDeadline(time.Time{})
	case err != nil:
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *body) readErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

type bodyKey struct{}

// bufferPool recycles the proxy's copy buffers.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }
