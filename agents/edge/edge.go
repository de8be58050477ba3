package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure an Edge. Zero values mean the documented default.
type Options struct {
	// HTTPListen is the plain-HTTP address. Default ":80".
	HTTPListen string
	// HTTPSListen is the HTTPS address. Default ":443". When its port is not
	// 443, redirects to HTTPS name it.
	HTTPSListen string

	// TLSConfig provides the certificates (Certificates, GetCertificate or
	// GetConfigForClient). Required. The edge uses a clone with TLS 1.2 as
	// the minimum, only ECDHE key exchange with AEAD ciphers for TLS 1.2,
	// and ALPN "h2" and "http/1.1" ahead of any protocols already listed
	// (such as "acme-tls/1", which its GetCertificate answers).
	TLSConfig *tls.Config
	// HTTPChallenge, if set, wraps the port-80 handler so that ACME HTTP-01
	// requests are answered before the redirect to HTTPS. It sees every
	// well-framed request on port 80.
	HTTPChallenge func(http.Handler) http.Handler

	// MaxBodyBytes caps a request body. A larger Content-Length is refused
	// with 413 before the site sees the request; a streamed body is cut off
	// at the cap, with 413 if no response has started. Default 64 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes caps a request head. Default 64 KiB.
	MaxHeaderBytes int

	// ReadHeaderTimeout bounds the TLS handshake and the arrival of each
	// request head. Default 10 s.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds each wait for more of a request body, as
	// nginx's client_body_timeout does: an upload may take as long as it
	// needs while it moves, a stalled one is cut off with 408. There is
	// deliberately no whole-request read timeout, which would cut off large
	// uploads on slow links. Default 60 s.
	BodyReadTimeout time.Duration
	// SendTimeout bounds each write of a response to a client that does not
	// read it, as nginx's send_timeout does; long streams and slow downloads
	// that keep moving are not affected. Default 60 s.
	SendTimeout time.Duration
	// IdleTimeout closes keep-alive connections without requests. Default
	// 120 s.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown when Run's context ends.
	// Default 10 s.
	ShutdownTimeout time.Duration

	// UpstreamDialTimeout bounds connecting to a site's container. Default
	// 5 s.
	UpstreamDialTimeout time.Duration
	// UpstreamHeaderTimeout bounds the wait for a container's response head
	// once the request is sent. Default 60 s.
	UpstreamHeaderTimeout time.Duration

	// Registerer receives the edge's metrics (see package doc). Optional.
	Registerer prometheus.Registerer
	// Logger receives upstream failures and route changes. Default: discard.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	setDefault(&o.HTTPListen, ":80")
	setDefault(&o.HTTPSListen, ":443")
	setDefault(&o.MaxBodyBytes, 64<<20)
	setDefault(&o.MaxHeaderBytes, 64<<10)
	setDefault(&o.ReadHeaderTimeout, 10*time.Second)
	setDefault(&o.BodyReadTimeout, 60*time.Second)
	setDefault(&o.SendTimeout, 60*time.Second)
	setDefault(&o.IdleTimeout, 120*time.Second)
	setDefault(&o.ShutdownTimeout, 10*time.Second)
	setDefault(&o.UpstreamDialTimeout, 5*time.Second)
	setDefault(&o.UpstreamHeaderTimeout, 60*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (o *Options) validate() error {
	if o.TLSConfig == nil {
		return errors.New("edge: TLSConfig is required")
	}
	if len(o.TLSConfig.Certificates) == 0 && o.TLSConfig.GetCertificate == nil && o.TLSConfig.GetConfigForClient == nil {
		return errors.New("edge: TLSConfig has no certificate: set Certificates, GetCertificate or GetConfigForClient")
	}
	if o.MaxBodyBytes < 0 || o.MaxHeaderBytes < 0 {
		return errors.New("edge: MaxBodyBytes and MaxHeaderBytes must not be negative")
	}
	for _, d := range []time.Duration{o.ReadHeaderTimeout, o.BodyReadTimeout, o.SendTimeout, o.IdleTimeout,
		o.ShutdownTimeout, o.UpstreamDialTimeout, o.UpstreamHeaderTimeout} {
		if d < 0 {
			return errors.New("edge: timeouts must not be negative")
		}
	}
	return nil
}

// modernCipherSuites are the TLS 1.2 suites the edge accepts: ECDHE key
// exchange (forward secrecy) with an AEAD cipher. TLS 1.3 suites are not
// configurable and all qualify.
var modernCipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// serverTLSConfig derives the edge's TLS configuration from the caller's,
// which it leaves untouched. Configurations that GetConfigForClient returns
// get the same treatment.
func serverTLSConfig(base *tls.Config) *tls.Config {
	c := harden(base)
	if inner := base.GetConfigForClient; inner != nil {
		c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			cfg, err := inner(hello)
			if err != nil || cfg == nil {
				return cfg, err
			}
			return harden(cfg), nil
		}
	}
	return c
}

// harden returns a copy of c with TLS 1.2 as the minimum, modern TLS 1.2
// suites only, and ALPN "h2" and "http/1.1" ahead of the protocols c lists.
func harden(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.MinVersion = max(c.MinVersion, tls.VersionTLS12)
	c.CipherSuites = slices.Clone(modernCipherSuites)
	protos := []string{"h2", "http/1.1"}
	for _, p := range c.NextProtos {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	c.NextProtos = protos
	return c
}

// Edge is the node's HTTP and HTTPS front door: it routes requests by Host
// to the site containers. Its methods are safe for concurrent use.
type Edge struct {
	opts      Options
	tls       *tls.Config
	log       *slog.Logger
	metrics   *metrics
	unknown   *siteMetrics // requests for hosts no route claims
	transport *http.Transport
	buffers   *bufferPool
	port80    http.Handler // redirectToHTTPS, wrapped by Options.HTTPChallenge

	routesMu sync.Mutex // serializes SetRoutes
	table    atomic.Pointer[table]

	started   atomic.Bool
	ready     chan struct{} // closed once both listeners are bound
	httpAddr  net.Addr      // set before ready is closed
	httpsAddr net.Addr      // set before ready is closed
	httpsPort string        // ":port" for redirects, "" for 443; set before serving

	inflight inflight
}

// New returns an Edge with no routes; it serves nothing until Run.
func New(o Options) (*Edge, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Edge{
		opts:      o,
		tls:       serverTLSConfig(o.TLSConfig),
		log:       o.Logger.With("component", "edge"),
		metrics:   m,
		unknown:   m.site(""),
		transport: newTransport(o),
		buffers:   newBufferPool(),
		ready:     make(chan struct{}),
		inflight:  inflight{done: make(chan struct{})},
	}
	e.port80 = http.HandlerFunc(e.redirectToHTTPS)
	if o.HTTPChallenge != nil {
		e.port80 = o.HTTPChallenge(e.port80)
	}
	e.table.Store(&table{hosts: map[string]*site{}, sites: map[string]*site{}})
	return e, nil
}

// SetRoutes replaces the whole route table at once. Requests already in
// flight finish on the route they started with; the next request sees the
// new table. The metric series of sites no longer present are removed.
// Invalid routes (no SiteID, a repeated SiteID, no domain) are skipped and
// logged, as are domains an earlier route already claimed.
func (e *Edge) SetRoutes(routes []Route) {
	e.routesMu.Lock()
	defer e.routesMu.Unlock()

	next := &table{hosts: make(map[string]*site), sites: make(map[string]*site, len(routes))}
	for _, r := range routes {
		if r.SiteID == "" || len(r.Domains) == 0 || canonicalHost(r.Domains[0]) == "" {
			e.log.Warn("route skipped: it needs a site id and a primary domain", "site_id", r.SiteID, "domains", r.Domains)
			continue
		}
		if _, dup := next.sites[r.SiteID]; dup {
			e.log.Warn("route skipped: site id given twice", "site_id", r.SiteID)
			continue
		}
		s := &site{
			id:              r.SiteID,
			primary:         canonicalHost(r.Domains[0]),
			upstream:        r.Upstream,
			redirectAliases: r.RedirectAliases,
			hsts:            r.HSTS,
			metrics:         e.metrics.site(r.SiteID),
		}
		if r.Upstream.IsValid() && r.Upstream.Port() != 0 {
			s.proxy = e.newProxy(s)
		}
		for _, d := range r.Domains {
			host := canonicalHost(d)
			if host == "" {
				continue
			}
			if other, taken := next.hosts[host]; taken {
				if other != s {
					e.log.Warn("domain ignored: claimed by another site", "domain", host, "site_id", r.SiteID, "claimed_by", other.id)
				}
				continue
			}
			next.hosts[host] = s
		}
		next.sites[r.SiteID] = s
	}

	prev := e.table.Swap(next)

	upstreamGone := false
	for id, old := range prev.sites {
		cur, ok := next.sites[id]
		if !ok {
			e.metrics.forget(id)
		}
		if old.running() && (!ok || cur.upstream != old.upstream) {
			upstreamGone = true
		}
	}
	if upstreamGone {
		// A container address may be reused by another site's container;
		// keep-alive connections to the old one must not carry its requests.
		e.transport.CloseIdleConnections()
	}
	e.log.Info("routes updated", "sites", len(next.sites), "hosts", len(next.hosts))
}

// Ready is closed once Run has bound both listeners; Addrs is valid then.
func (e *Edge) Ready() <-chan struct{} { return e.ready }

// Addrs returns the bound HTTP and HTTPS addresses (useful with port 0), or
// nils before Ready is closed.
func (e *Edge) Addrs() (httpAddr, httpsAddr net.Addr) {
	select {
	case <-e.ready:
		return e.httpAddr, e.httpsAddr
	default:
		return nil, nil
	}
}

// Run listens on both addresses and serves until ctx ends. It then stops
// accepting connections, lets requests in flight finish for up to
// ShutdownTimeout, cancels what is left (including upgraded connections such
// as WebSockets) and returns once every handler has returned. It returns nil
// after a shutdown caused by ctx, and an error if it could not listen or a
// server failed. Run may be called once.
func (e *Edge) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("edge: Run called twice")
	}
	var lc net.ListenConfig
	httpLn, err := lc.Listen(ctx, "tcp", e.opts.HTTPListen)
	if err != nil {
		return fmt.Errorf("edge: listen %s: %w", e.opts.HTTPListen, err)
	}
	httpsLn, err := lc.Listen(ctx, "tcp", e.opts.HTTPSListen)
	if err != nil {
		_ = httpLn.Close()
		return fmt.Errorf("edge: listen %s: %w", e.opts.HTTPSListen, err)
	}
	e.httpAddr, e.httpsAddr = httpLn.Addr(), httpsLn.Addr()
	if p := httpsLn.Addr().(*net.TCPAddr).Port; p != 443 {
		e.httpsPort = ":" + strconv.Itoa(p)
	}
	close(e.ready)
	e.log.Info("edge listening", "http", e.httpAddr.String(), "https", e.httpsAddr.String())

	// Requests outlive ctx during the graceful shutdown, and are cancelled
	// by hardStop after it.
	base, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	maxLine := e.opts.MaxHeaderBytes + 4096 + 1 // net/http's head limit, and one more
	servers := []*http.Server{
		e.newServer(base, http.HandlerFunc(e.serveHTTP), false),
		e.newServer(base, http.HandlerFunc(e.serveHTTPS), true),
	}
	listeners := []net.Listener{
		&listener{Listener: httpLn, maxLine: maxLine, log: e.log},
		&listener{Listener: httpsLn, tls: e.tls, handshakeTimeout: e.opts.ReadHeaderTimeout, maxLine: maxLine, log: e.log},
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}

	var runErr error
	pending := len(servers)
	select {
	case <-ctx.Done():
	case err := <-errc:
		pending--
		runErr = fmt.Errorf("edge: serve: %w", err)
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), e.opts.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Go(func() {
			if err := srv.Shutdown(shutdownCtx); err != nil {
				e.log.Warn("graceful shutdown incomplete, closing connections", "err", err)
				_ = srv.Close()
			}
		})
	}
	wg.Wait()
	hardStop()
	e.inflight.wait()
	for ; pending > 0; pending-- {
		<-errc // http.ErrServerClosed
	}
	e.transport.CloseIdleConnections()
	e.log.Info("edge stopped")
	return runErr
}

func (e *Edge) newServer(base context.Context, h http.Handler, https bool) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if https {
		// The connections are TLS, terminated by tlsConn; to net/http they
		// look unencrypted (see tlsConn).
		protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: e.opts.ReadHeaderTimeout,
		IdleTimeout:       e.opts.IdleTimeout,
		MaxHeaderBytes:    e.opts.MaxHeaderBytes,
		// Every request must reach the handler, which keeps the framer's
		// count of requests per connection (and answers OPTIONS * itself).
		DisableGeneralOptionsHandler: true,
		BaseContext:                  func(net.Listener) context.Context { return base },
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if fc, ok := c.(framedConn); ok {
				return context.WithValue(ctx, connKey{}, fc.framing())
			}
			return ctx
		},
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
}

type connKey struct{}

// connFrom returns the connection a request arrived on.
func connFrom(ctx context.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

// inflight counts running handlers so that Run can wait for all of them,
// including those of hijacked connections, which http.Server.Shutdown does
// not wait for.
type inflight struct {
	n      atomic.Int64
	closed atomic.Bool
	once   sync.Once
	done   chan struct{}
}

// enter registers a handler; it reports false once wait has begun.
func (f *inflight) enter() bool {
	f.n.Add(1)
	if f.closed.Load() {
		f.exit()
		return false
	}
	return true
}

func (f *inflight) exit() {
	if f.n.Add(-1) == 0 && f.closed.Load() {
		f.once.Do(func() { close(f.done) })
	}
}

// wait refuses new handlers and returns once the running ones have exited.
func (f *inflight) wait() {
	f.closed.Store(true)
	if f.n.Load() == 0 {
		f.once.Do(func() { close(f.done) })
	}
	<-f.done
}
