package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/edge"
	"github.com/fixaroo/berth/agents/prober"
	"github.com/fixaroo/berth/agents/reconciler"
	"github.com/fixaroo/berth/internal/shared/addrfile"
	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/tlsroots"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// AddrFile, in the data directory, holds the addresses the agent listens
// on, as JSON {"http": "...", "https": "...", "metrics": "..."}, once its
// edge listens.
const AddrFile = "agent.addr"

// newEdge builds the node's edge and certificate manager around a front
// whose Applier is set once the reconciler exists.
func newEdge(cfg Config, session *atomic.Pointer[Session], reg *prometheus.Registry, log *slog.Logger) (*front, error) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var roots *x509.CertPool // nil: certmagic's default, the system's
	if cfg.ACMERoots != "" {
		var err error
		if roots, err = tlsroots.Pool(cfg.ACMERoots); err != nil {
			return nil, fmt.Errorf("acme roots: %w", err)
		}
	}
	remote := certRemote{session: session.Load}
	var fr *front
	mgr, err := certs.New(certs.Options{
		DataDir: cfg.DataDir, Remote: remote, Signer: remote,
		ACMEDirectory: cfg.ACMEDirectory, ACMEEmail: cfg.ACMEEmail, ACMERoots: roots,
		InternalSuffixes:     cfg.InternalSuffixes,
		DisableHTTPChallenge: !cfg.challenge("http-01"), DisableTLSALPNChallenge: !cfg.challenge("tls-alpn-01"),
		AltHTTPPort: listenPort(cfg.HTTPListen), AltTLSALPNPort: listenPort(cfg.HTTPSListen),
		OnChange: func() { fr.certificatesChanged() },
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	e, err := edge.New(edge.Options{
		HTTPListen: cfg.HTTPListen, HTTPSListen: cfg.HTTPSListen,
		TLSConfig: mgr.TLSConfig(),
		HTTPChallenge: func(next http.Handler) http.Handler {
			return mgr.HTTPChallengeHandler(challengesNotRedirected(next))
		},
		Registerer: reg, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	fr = newFront(nil, e, mgr, func(st *agentv1.SiteStatus) {
		if s := session.Load(); s != nil {
			s.Report(st)
		}
	})
	return fr, nil
}

// challengesNotRedirected answers 404 to ACME HTTP-01 requests that no
// challenge in progress claimed, instead of redirecting them to HTTPS: a
// CA validating over HTTP must see the challenge's real answer.
func challengesNotRedirected(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			http.Error(w, "no such ACME challenge", http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newProbeScheduler builds the node's prober: it verifies sites against
// the system's roots, berthd's CA (internal names) and --acme-roots, and
// reaches the fleet's nodes on private and loopback addresses (never
// link-local or metadata ones).
func newProbeScheduler(cfg Config, caPEM []byte, reg *prometheus.Registry, log *slog.Logger) (*prober.Scheduler, error) {
	roots, err := tlsroots.Pool(cfg.ACMERoots)
	if err != nil {
		return nil, fmt.Errorf("acme roots: %w", err)
	}
	roots.AppendCertsFromPEM(caPEM)
	guard := probe.Guard{AllowPrivate: probe.FleetRanges(), Source: probeSource(cfg)}
	return prober.New(prober.Options{DataDir: cfg.DataDir, Prober: &probe.Prober{Roots: roots, Guard: guard},
		Registerer: reg, Logger: log.With("component", "prober")})
}

// probeSource is the address the node probes from: the host of its
// advertise (or HTTPS listen) address when that is an IP of this machine,
// so that peers see probes come from the address they know the node by.
func probeSource(cfg Config) netip.Addr {
	addr := cfg.AdvertiseAddress
	if addr == "" {
		addr = cfg.HTTPSListen
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.Addr{}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() {
		return netip.Addr{}
	}
	if ip.IsLoopback() {
		return ip
	}
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range ifaddrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr() == ip {
			return ip
		}
	}
	return netip.Addr{}
}

// advertiseAddress is where peers reach this node's edge: the configured
// address, else the HTTPS listen address when it names a host, else the
// host name with its port. It waits (briefly) for the edge to listen.
func advertiseAddress(ctx context.Context, cfg Config, e *edge.Edge) string {
	if cfg.AdvertiseAddress != "" {
		return cfg.AdvertiseAddress
	}
	select {
	case <-e.Ready():
	case <-ctx.Done():
		return ""
	case <-time.After(10 * time.Second):
		return ""
	}
	_, httpsAddr := e.Addrs()
	host, port, err := net.SplitHostPort(httpsAddr.String())
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		return httpsAddr.String()
	}
	name, err := os.Hostname()
	if err != nil {
		return ""
	}
	return net.JoinHostPort(name, port)
}

// listenPort is the port of a host:port address, 0 if it has none.
func listenPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// renewOnSignal renews every certificate when the agent gets SIGUSR1 (for
// ops, e.g. after a CA revoked certificates), until ctx ends.
func renewOnSignal(ctx context.Context, m *certs.Manager, log *slog.Logger) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	defer signal.Stop(c)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
			log.Info("SIGUSR1: renewing every certificate")
			if err := m.RenewAll(ctx); err != nil {
				log.Error("renewing certificates", "err", err)
			} else {
				log.Info("every certificate renewed")
			}
		}
	}
}

// writeAddrFile writes AddrFile once the edge listens, and removes it when
// ctx ends.
func writeAddrFile(ctx context.Context, dataDir string, e *edge.Edge, metrics net.Addr) error {
	select {
	case <-e.Ready():
	case <-ctx.Done():
		return nil
	}
	httpAddr, httpsAddr := e.Addrs()
	addrs := map[string]string{"http": httpAddr.String(), "https": httpsAddr.String()}
	if metrics != nil {
		addrs["metrics"] = metrics.String()
	}
	path := filepath.Join(dataDir, AddrFile)
	if err := addrfile.Write(path, addrs); err != nil {
		return err
	}
	<-ctx.Done()
	os.Remove(path)
	return nil
}

// siteStates exports how many of the node's sites are in each state, as
// the reconciler last observed them.
type siteStates struct {
	rec  *reconciler.Reconciler
	desc *prometheus.Desc
}

func newSiteStates(rec *reconciler.Reconciler) *siteStates {
	return &siteStates{rec: rec, desc: prometheus.NewDesc("berth_agent_sites",
		"Sites on this node by the state their container was last seen in.", []string{"state"}, nil)}
}

func (c *siteStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *siteStates) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]float64{}
	for _, s := range []agentv1.SiteState{agentv1.SiteState_SITE_STATE_PROVISIONING, agentv1.SiteState_SITE_STATE_RUNNING, agentv1.SiteState_SITE_STATE_FAILED} {
		counts[siteStateLabel(s)] = 0
	}
	for _, st := range c.rec.Statuses() {
		counts[siteStateLabel(st.GetState())]++
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, state)
	}
}

func siteStateLabel(s agentv1.SiteState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SITE_STATE_"))
}
