package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixaroo/berth/agents/prober"
	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/tlsroots"
)

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
