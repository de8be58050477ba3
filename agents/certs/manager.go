package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"golang.org/x/net/idna"
)

// Options configures a Manager. Zero values mean the documented defaults.
type Options struct {
	// DataDir is the agent's data directory; the Manager keeps its local
	// copy of certificate storage in DataDir/certs (mode 0700). Required.
	DataDir string
	// Remote is the control plane's certificate storage. Required.
	Remote Remote
	// Signer gets certificates for internal names from the control
	// plane's CA. Without it internal names get no certificate (their
	// Status says so).
	Signer Signer

	// ACMEDirectory is the ACME CA for public names (default: Let's
	// Encrypt's production directory). Configuring it means agreeing to
	// that CA's terms of service.
	ACMEDirectory string
	// ACMEEmail is the ACME account's contact address (default: none).
	ACMEEmail string
	// ACMERoots are the roots trusted for the ACME server's HTTPS (nil:
	// the system's).
	ACMERoots *x509.CertPool
	// InternalSuffixes are the domains whose names (the suffix itself and
	// every name under it) get certificates from the control plane's CA
	// instead of ACME (default: localhost, test, internal).
	InternalSuffixes []string
	// DisableHTTPChallenge and DisableTLSALPNChallenge turn off one ACME
	// challenge type (tests use them to force the other).
	DisableHTTPChallenge, DisableTLSALPNChallenge bool
	// AltHTTPPort and AltTLSALPNPort are the local ports the edge serves
	// HTTP and HTTPS on (default 80 and 443), where the CA connects for
	// the challenges. Before presenting a challenge certmagic checks that
	// something listens there; if nothing does, it binds a listener of its
	// own on 127.0.0.1 for the challenge, which is harmless but cannot be
	// reached from outside, so the edge must be listening before
	// SetDomains is first called.
	AltHTTPPort, AltTLSALPNPort int

	// OnChange is called after the Status of one or more domains changed.
	// Calls come from Run's goroutine, one at a time, and coalesce changes
	// that happen while one is running; it should return quickly.
	OnChange func()
	// Logger receives the Manager's logs and certmagic's (nil: discard).
	Logger *slog.Logger
}

// DomainStatus is the state of one domain's certificate on this node.
type DomainStatus struct {
	Domain string
	// Issuer is "internal" for the control plane's CA or "acme:HOST" for
	// the ACME directory at HOST: where the served certificate comes from,
	// or the last attempt went ("" before either).
	Issuer string
	// NotAfter is when the certificate being served expires (zero if
	// there is none yet).
	NotAfter time.Time
	// LastAttempt is when this node last started to obtain or renew the
	// certificate (zero if it has not had to).
	LastAttempt time.Time
	// LastError is the error of the last attempt, in the CA's words, or
	// why the name cannot be managed; "" after a success.
	LastError string
	// Managed is true when the node is obtaining, serving and renewing a
	// certificate for the domain; false for a name that cannot have one.
	Managed bool
}

// Manager gets, serves and renews the certificates of the domains the node
// serves; see the package documentation. Its methods are safe for
// concurrent use.
type Manager struct {
	opts     Options
	log      *slog.Logger
	storage  *storage
	cache    *certmagic.Cache
	acme     *certmagic.Config
	internal *certmagic.Config
	acmeIss  *certmagic.ACMEIssuer
	acmeName string // Issuer in DomainStatus for ACME certificates

	life    context.Context // ends when Run returns; parent of the domains' contexts
	stop    context.CancelFunc
	changed chan struct{} // cap 1: a status changed; Run calls OnChange
	settle  chan struct{} // cap 1: a certificate was obtained; Run watches the cache

	mu      sync.Mutex // guards the fields below
	domains map[string]*domain
	running bool // Run has been called
}

// domain is a name passed to SetDomains.
type domain struct {
	status DomainStatus
	cancel context.CancelFunc // stops certmagic's work on the name; nil if not managed
	// awaiting is the NotAfter of a certificate obtained but not yet
	// served (zero if none), since awaitSince.
	awaiting, awaitSince time.Time
}

// New makes a Manager. It starts certmagic's certificate maintenance, which
// Run stops when it returns: call Run.
func New(o Options) (*Manager, error) {
	if o.DataDir == "" {
		return nil, errors.New("certs: Options.DataDir is required")
	}
	if o.Remote == nil {
		return nil, errors.New("certs: Options.Remote is required")
	}
	if o.ACMEDirectory == "" {
		o.ACMEDirectory = certmagic.LetsEncryptProductionCA
	}
	dirURL, err := url.Parse(o.ACMEDirectory)
	if err != nil || dirURL.Scheme != "https" || dirURL.Host == "" {
		return nil, fmt.Errorf("certs: ACME directory %q: want an https:// URL", o.ACMEDirectory)
	}
	if o.InternalSuffixes == nil {
		o.InternalSuffixes = []string{"localhost", "test", "internal"}
	}
	o.InternalSuffixes = slices.Clone(o.InternalSuffixes)
	for i, s := range o.InternalSuffixes {
		o.InternalSuffixes[i] = normalize(s)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	log := o.Logger.With("component", "certs")

	dir := filepath.Join(o.DataDir, "certs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	st, err := newStorage(dir, o.Remote, log)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}

	life, stop := context.WithCancel(context.Background())
	m := &Manager{
		opts:     o,
		log:      log,
		storage:  st,
		acmeName: "acme:" + dirURL.Host,
		life:     life,
		stop:     stop,
		changed:  make(chan struct{}, 1),
		settle:   make(chan struct{}, 1),
		domains:  make(map[string]*domain),
	}
	zl := newZapLogger(log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: m.configForCert,
		Logger:           zl,
	})
	// Both configurations keep certmagic's defaults for what is not set
	// here: renewal when a third of the lifetime is left or when ARI says
	// so, retries with backoff from one minute to six hours (for 30 days),
	// and its global limit of 10 ACME orders per 10 s per CA and account.
	template := certmagic.Config{
		Storage:        st,
		OCSP:           certmagic.OCSPConfig{DisableStapling: true},
		ShouldEmitFunc: func(event string) bool { return event != "tls_get_certificate" },
		Logger:         zl,
	}
	acmeTemplate := template
	acmeTemplate.OnEvent = m.onEvent(m.acmeName)
	m.acme = certmagic.New(m.cache, acmeTemplate)
	m.acmeIss = certmagic.NewACMEIssuer(m.acme, certmagic.ACMEIssuer{
		CA:                      o.ACMEDirectory,
		Email:                   o.ACMEEmail,
		Agreed:                  true,
		TrustedRoots:            o.ACMERoots,
		DisableHTTPChallenge:    o.DisableHTTPChallenge,
		DisableTLSALPNChallenge: o.DisableTLSALPNChallenge,
		// Challenges are answered from this process's memory by the
		// edge's handlers, never through storage: nothing about a
		// challenge goes to the control plane, and a request for a
		// challenge not started here costs no storage lookup.
		DisableDistributedSolvers: true,
		ListenHost:                "127.0.0.1",
		AltHTTPPort:               o.AltHTTPPort,
		AltTLSALPNPort:            o.AltTLSALPNPort,
		Logger:                    zl,
	})
	m.acme.Issuers = []certmagic.Issuer{m.acmeIss}

	internalTemplate := template
	internalTemplate.OnEvent = m.onEvent(internalIssuerKey)
	internalTemplate.DisableARI = true // ARI is ACME's
	internalTemplate.Issuers = []certmagic.Issuer{internalIssuer{signer: o.Signer}}
	m.internal = certmagic.New(m.cache, internalTemplate)
	return m, nil
}

// configForCert is the cache's GetConfigForCert: the configuration that
// maintains a cached certificate, by its name.
func (m *Manager) configForCert(c certmagic.Certificate) (*certmagic.Config, error) {
	if len(c.Names) == 0 {
		return nil, errors.New("certs: certificate without names")
	}
	return m.configFor(c.Names[0]), nil
}

// configFor returns the certmagic configuration for a name.
func (m *Manager) configFor(name string) *certmagic.Config {
	if m.isInternal(name) {
		return m.internal
	}
	return m.acme
}

func (m *Manager) isInternal(name string) bool {
	for _, s := range m.opts.InternalSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

// normalize returns the form of a domain name that the Manager keys on and
// certificates carry: lower case, IDNs in punycode, no trailing dot.
func normalize(name string) string {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if ascii, err := idna.Lookup.ToASCII(name); err == nil {
		return ascii
	}
	return name
}

// managed reports whether name is a domain the Manager manages.
func (m *Manager) managed(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.domains[name]
	return ok && d.status.Managed
}

// TLSConfig returns the configuration for the edge's HTTPS listener. Its
// GetCertificate serves the certificate of a domain given to SetDomains
// from memory, and the TLS-ALPN-01 challenge certificate while this node
// validates one of those domains; a handshake for any other name fails.
// Handshakes never start an order, so no SNI can make the node ask a CA
// for anything. It allows TLS 1.2 and later with forward-secret AEAD
// ciphers only, and offers h2, http/1.1 and acme-tls/1.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // for TLS 1.2; TLS 1.3's are all modern
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos:     []string{"h2", "http/1.1", acmez.ACMETLS1Protocol},
		GetCertificate: m.getCertificate,
	}
}

func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalize(hello.ServerName)
	if name == "" {
		return nil, errors.New("certs: no server name (SNI) in the TLS handshake")
	}
	if !m.managed(name) {
		return nil, fmt.Errorf("certs: %q is not a domain served here", name)
	}
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acmez.ACMETLS1Protocol {
		if _, ok := certmagic.GetACMEChallenge(name); !ok {
			return nil, fmt.Errorf("certs: no TLS-ALPN-01 challenge in progress for %q", name)
		}
	}
	return m.configFor(name).GetCertificate(hello)
}

// HTTPChallengeHandler answers the HTTP-01 challenges this node started
// for domains given to SetDomains, and passes every other request to next.
func (m *Manager) HTTPChallengeHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if certmagic.LooksLikeHTTPChallenge(r) {
			host := normalize(hostOnly(r.Host))
			if _, ok := certmagic.GetACMEChallenge(host); ok && m.managed(host) && !m.isInternal(host) &&
				m.acmeIss.HandleHTTPChallenge(w, r) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// SetDomains makes domains the exact set of names the node has
// certificates for; it is the gate through which any certificate work
// starts. New names are loaded from storage (the control plane's, so a
// moved site keeps its certificate) or obtained in the background; names
// no longer listed stop being served and maintained, and their work in
// progress is cancelled, but their storage is kept. Names that cannot have
// a certificate (IP addresses, wildcards, malformed names) are reported in
// Status with Managed false. The call returns at once; ctx is not retained.
func (m *Manager) SetDomains(ctx context.Context, domains []string) {
	want := make(map[string]bool, len(domains))
	for _, d := range domains {
		if n := normalize(d); n != "" {
			want[n] = true
		}
	}
	var start, removed []string
	changed := false
	m.mu.Lock()
	if m.life.Err() != nil {
		m.mu.Unlock()
		m.log.WarnContext(ctx, "SetDomains after Run returned; ignored")
		return
	}
	for name, d := range m.domains {
		if want[name] {
			continue
		}
		if d.cancel != nil {
			d.cancel()
			removed = append(removed, name)
		}
		delete(m.domains, name)
		changed = true
	}
	for name := range want {
		if _, ok := m.domains[name]; ok {
			continue
		}
		changed = true
		d := &domain{status: DomainStatus{Domain: name}}
		m.domains[name] = d
		if why := unmanageable(name); why != "" {
			d.status.LastError = why
			continue
		}
		d.status.Managed = true
		start = append(start, name)
	}
	m.mu.Unlock()

	if len(removed) > 0 {
		subjects := make([]certmagic.SubjectIssuer, len(removed))
		for i, name := range removed {
			subjects[i] = certmagic.SubjectIssuer{Subject: name}
		}
		m.cache.RemoveManaged(subjects)
		m.log.InfoContext(ctx, "stopped managing certificates", "domains", removed)
	}
	slices.Sort(start)
	for _, name := range start {
		m.mu.Lock()
		d, ok := m.domains[name]
		if !ok || d.cancel != nil {
			m.mu.Unlock()
			continue // a concurrent SetDomains changed it
		}
		var dctx context.Context
		dctx, d.cancel = context.WithCancel(m.life)
		m.mu.Unlock()
		if err := m.configFor(name).ManageAsync(dctx, []string{name}); err != nil {
			m.update(name, func(s *DomainStatus) { s.LastError = err.Error() })
		}
	}
	if len(start) > 0 {
		m.log.InfoContext(ctx, "managing certificates", "domains", start)
	}
	if changed {
		signal(m.changed)
	}
}

// unmanageable says why name cannot have a certificate from this Manager,
// or returns "".
func unmanageable(name string) string {
	switch {
	case net.ParseIP(name) != nil:
		return "an IP address cannot have a certificate here"
	case strings.Contains(name, "*"):
		return "wildcard names are not supported"
	case !certmagic.SubjectQualifiesForCert(name):
		return "not a name a certificate can be issued for"
	}
	return ""
}

// Status returns the state of every domain given to SetDomains, sorted by
// domain.
func (m *Manager) Status() []DomainStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DomainStatus, 0, len(m.domains))
	for _, d := range m.domains {
		out = append(out, d.status)
	}
	slices.SortFunc(out, func(a, b DomainStatus) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// update changes the status of a managed domain and schedules OnChange if
// it changed. It reports whether name is managed.
func (m *Manager) update(name string, f func(*DomainStatus)) bool {
	m.mu.Lock()
	d, ok := m.domains[name]
	if !ok || !d.status.Managed {
		m.mu.Unlock()
		return false
	}
	before := d.status
	f(&d.status)
	changed := d.status != before
	m.mu.Unlock()
	if changed {
		signal(m.changed)
	}
	return true
}

// RenewAll renews, now and whether due or not, the certificate of every
// managed domain that has one (after a CA incident, for example), and
// serves the new certificates. Domains still waiting for their first
// certificate are left to the obtain already under way. It returns the
// errors of the renewals that failed.
func (m *Manager) RenewAll(ctx context.Context) error {
	m.mu.Lock()
	var names []string
	for name, d := range m.domains {
		if d.status.Managed {
			names = append(names, name)
		}
	}
	m.mu.Unlock()
	slices.Sort(names)

	var errs []error
	for _, name := range names {
		old := m.cache.AllMatchingCertificates(name)
		if len(old) == 0 {
			continue
		}
		cfg := m.configFor(name)
		if err := cfg.RenewCertSync(ctx, name, true); err != nil {
			errs = append(errs, fmt.Errorf("renew %s: %w", name, err))
			continue
		}
		cert, err := cfg.CacheManagedCertificate(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("renew %s: load the new certificate: %w", name, err))
			continue
		}
		var stale []string
		for _, c := range old {
			if c.Hash() != cert.Hash() && hasName(c.Names, name) {
				stale = append(stale, c.Hash())
			}
		}
		m.cache.Remove(stale)
	}
	return errors.Join(errs...)
}

// stopTimeout bounds how long Run, returning, waits for certmagic's
// cancelled work to unwind.
const stopTimeout = 5 * time.Second

// notify calls OnChange after changes, and watches the cache while a
// certificate just obtained is not yet served.
func (m *Manager) notify(ctx context.Context) {
	var tick <-chan time.Time
	var ticker *time.Ticker
	for {
		select {
		case <-ctx.Done():
			if ticker != nil {
				ticker.Stop()
			}
			return
		case <-m.changed:
			if m.opts.OnChange != nil {
				m.opts.OnChange()
			}
		case <-m.settle:
			if ticker == nil {
				ticker = time.NewTicker(100 * time.Millisecond)
				tick = ticker.C
			}
		case <-tick:
			if !m.settleNotAfter() {
				ticker.Stop()
				ticker, tick = nil, nil
			}
		}
	}
}

// Run syncs to Remote what was stored locally while Remote was unavailable,
// as soon as it answers again (retrying with backoff, from 1 s up to a
// minute), and calls OnChange. It blocks until ctx ends, then cancels all
// certificate work, stops certmagic's maintenance and returns nil. A
// Manager cannot be used after Run returns.
func (m *Manager) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("certs: Run called twice")
	}
	m.running = true
	m.mu.Unlock()

	var wg sync.WaitGroup
	defer func() {
		m.mu.Lock()
		m.stop()
		for _, d := range m.domains {
			if d.cancel != nil {
				d.cancel()
			}
		}
		m.mu.Unlock()
		wg.Wait()
		m.cache.Stop()
		m.storage.close(stopTimeout)
	}()
	wg.Go(func() { m.notify(ctx) })

	retry := backoff{min: time.Second, max: time.Minute}
	failures := 0
	for {
		wake := m.storage.pendingAdded
		var timer *time.Timer
		var expired <-chan time.Time
		if m.storage.pendingCount() > 0 {
			n, err := m.storage.sync(ctx)
			switch {
			case err == nil:
				if failures > 0 {
					m.log.Info("synced certificate storage to the control plane")
				}
				failures = 0
			case ctx.Err() != nil:
				return nil
			default:
				if failures == 0 {
					m.log.Warn("cannot sync certificate storage to the control plane; will retry", "pending", n, "err", err)
				}
				timer = time.NewTimer(retry.delay(failures))
				expired = timer.C
				wake = m.storage.remoteUp // new pending keys won't help; Remote answering will
				failures++
			}
		}
		select {
		case <-ctx.Done():
		case <-wake:
		case <-expired:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
