// Package controlplane is berthd's composition root: the one place that knows
// every concrete part of the control plane, wires them together and runs them
// under one errgroup until the context ends.
//
//	data dir ─▶ seal key, CA, SQLite store, blobs ─▶ api.API (public services)
//	                                                   + agentapi.Server (node contract)
//	                                                   behind one rpc.Gate
//	                                                     │
//	one TLS listener ─▶ gRPC (application/grpc) ─────────┤
//	                 ├▶ REST gateway ─── in-process ─────┤
//	                 ├▶ release upload ─ in-process ─────┘
//	                 └▶ /openapi.json, /healthz, /readyz
//	metrics listener ─▶ /metrics (own registry)
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/fixaroo/berth/internal/agentapi"
	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/fleet"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/monitor"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/addrfile"
	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/metrics"
	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/shared/tlsroots"
	"github.com/fixaroo/berth/internal/store/sqlite"
	"github.com/fixaroo/berth/internal/web"
)

// Files in the data directory.
const (
	// AdminTokenFile holds the bootstrap admin API token (mode 0600).
	AdminTokenFile = "admin.token"
	// AddrFile holds the addresses berthd listens on, as JSON
	// {"listen": "...", "metrics": "..."}, while it runs.
	AddrFile     = "berthd.addr"
	dbFile       = "berth.db"
	blobsDir     = "blobs"   // release bundles, content-addressed
	scratchDir   = "scratch" // uploads being checked
	secretKey    = "secret.key"
	shutdownTime = 10 * time.Second
)

// newProber builds berthd's own prober: it trusts berthd's CA, the
// system's roots and cfg.ProbeRoots, and reaches the fleet's nodes on
// private and loopback addresses (never link-local or metadata ones).
func newProber(cfg Config, ca *pki.CA) (*probe.Prober, error) {
	roots, err := tlsroots.Pool(cfg.ProbeRoots)
	if err != nil {
		return nil, fmt.Errorf("probe roots: %w", err)
	}
	roots.AddCert(ca.Certificate())
	return &probe.Prober{Roots: roots, Guard: probe.Guard{AllowPrivate: probe.FleetRanges()}}, nil
}

// newAlertSender builds the alert sender: webhooks and SMTP servers are
// reached only on public addresses, plus the ranges of
// cfg.AlertAllowPrivate; never link-local or metadata ones.
func newAlertSender(cfg Config) *alerts.Sender {
	var allow []netip.Prefix
	for _, p := range cfg.AlertAllowPrivate {
		allow = append(allow, netip.MustParsePrefix(strings.TrimSpace(p))) // checked by Validate
	}
	guard := probe.Guard{AllowPrivate: allow}
	return &alerts.Sender{
		HTTPClient: &http.Client{Timeout: alerts.DefaultTimeout, Transport: &http.Transport{
			DialContext: guard.DialContext, TLSHandshakeTimeout: 10 * time.Second, MaxIdleConns: 10, IdleConnTimeout: time.Minute}},
		DialContext:        guard.DialContext,
		AllowPlainLoopback: true,
	}
}

// Run starts berthd and blocks until ctx ends or a component fails; it
// returns after everything has stopped. stderr receives the one-time
// bootstrap message with the admin token's path.
func Run(ctx context.Context, cfg Config, log *slog.Logger, stderr io.Writer) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	box, err := seal.LoadOrCreateKey(filepath.Join(cfg.DataDir, secretKey))
	if err != nil {
		return err
	}
	now := time.Now()
	ca, created, err := pki.LoadOrCreateCA(cfg.DataDir, now)
	if err != nil {
		return err
	}
	if created {
		log.Info("created certificate authority", "path", filepath.Join(cfg.DataDir, pki.CertFile))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo())

	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(cfg.DataDir, dbFile), Box: box, Registerer: reg, Logger: log.With("component", "store")})
	if err != nil {
		return err
	}
	defer st.Close()

	if err := bootstrapAdmin(ctx, st, cfg.DataDir, stderr); err != nil {
		return err
	}

	bl, err := blobs.New(blobs.Options{Dir: filepath.Join(cfg.DataDir, blobsDir)})
	if err != nil {
		return err
	}
	// Uploads are unpacked here to be checked; whatever a crash left is junk.
	scratch := filepath.Join(cfg.DataDir, scratchDir)
	if err := os.RemoveAll(scratch); err != nil {
		return fmt.Errorf("clear scratch directory: %w", err)
	}
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return fmt.Errorf("create scratch directory: %w", err)
	}

	// Uptime: berthd probes every site as one vantage, trusting its own CA
	// (internal names) and the system's roots plus --probe-roots (ACME).
	var prober *probe.Prober
	if cfg.ProbeFromBerthd {
		if prober, err = newProber(cfg, ca); err != nil {
			return err
		}
	}
	alerter := monitor.NewAlerter(monitor.Alerter{Store: st, Sender: newAlertSender(cfg), Log: log.With("component", "alerts")})
	mon := monitor.New(monitor.Options{Store: st, Logger: log.With("component", "uptime"), Registerer: reg,
		Interval: time.Duration(cfg.ProbeInterval), Settle: time.Duration(cfg.UptimeSettle), Prober: prober,
		Tick: time.Duration(cfg.UptimeTick), K: cfg.IncidentMinutes,
		OnIncident: alerter.IncidentAlert})
	// One server carries the public API and the node contract; one Gate
	// authorizes both by their own tables. GetSiteLogs reaches the nodes'
	// sessions through the shared log relay.
	relay := logrelay.New()
	a := api.New(api.Options{Store: st, Logger: log.With("component", "api"), CA: ca, Blobs: bl, ScratchDir: scratch,
		AlertSender: alerter.Sender, Logs: relay})
	nodes := agentapi.New(agentapi.Options{Store: st, Logger: log.With("component", "agentapi"), CA: ca, Blobs: bl,
		InternalSuffixes: cfg.InternalSuffixes, Monitor: mon, Logs: relay})
	gate := rpc.NewGate(rpc.Options{Store: st, Logger: log.With("component", "api"), Registerer: reg,
		Rules: []rpc.Rules{api.Rules(), agentapi.Rules(), rpc.InfrastructureRules()}})
	grpcServer := grpc.NewServer(gate.ServerOptions()...)
	a.Register(grpcServer)
	nodes.Register(grpcServer)
	reflection.Register(grpcServer)
	healthServer := health.NewServer()
	healthpb.RegisterHealthServer(grpcServer, healthServer)

	hosts := append(pki.DefaultServerHosts(), cfg.TLSHosts...)
	certs, err := newCertSource(ca, hosts, nil)
	if err != nil {
		return err
	}

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var metricsLis net.Listener
	if !config.IsOff(cfg.MetricsListen) {
		if metricsLis, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			lis.Close()
			return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsListen, err)
		}
	}

	g, ctx := errgroup.WithContext(ctx)
	gw, gwConn, err := newGateway(ctx, g, grpcServer)
	if err != nil {
		return err
	}
	dashboard, err := web.New(web.Options{Conn: gwConn, Logger: log.With("component", "web")})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(grpcServer, gw, newUploadHandler(gw, gwConn), dashboard.Handler(), st, log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		TLSConfig:         certs.tlsConfig(),
	}
	g.Go(func() error {
		if err := srv.ServeTLS(lis, "", ""); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", cfg.Listen, err)
		}
		return nil
	})
	addrs := map[string]string{"listen": lis.Addr().String()}
	if metricsLis != nil {
		g.Go(func() error { return metrics.Serve(ctx, metricsLis, reg) })
		addrs["metrics"] = metricsLis.Addr().String()
	}
	g.Go(func() error {
		return housekeeping{store: st, blobs: blobs.Collector{Blobs: bl, Store: st}, retention: time.Duration(cfg.AuditRetention), log: log}.run(ctx)
	})
	g.Go(func() error {
		return fleet.New(fleet.Options{Store: st, Logger: log.With("component", "fleet")}).Run(ctx)
	})
	g.Go(func() error { return mon.Run(ctx) })
	g.Go(func() error { return alerter.Run(ctx) })

	addrPath := filepath.Join(cfg.DataDir, AddrFile)
	if err := addrfile.Write(addrPath, addrs); err != nil {
		log.Warn("write address file", "err", err)
	}
	log.Info("berthd started", "listen", addrs["listen"], "metrics", addrs["metrics"], "data_dir", cfg.DataDir)

	g.Go(func() error {
		<-ctx.Done()
		log.Info("shutting down")
		healthServer.Shutdown()
		a.Close()
		nodes.Close()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTime)
		defer cancel()
		err := srv.Shutdown(sctx)
		grpcServer.Stop()
		os.Remove(addrPath)
		return err
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func buildInfo() prometheus.Collector {
	version, goVersion := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
	}
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "berth_build_info",
		Help: "Always 1; labels tell berthd's version and Go version.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(version, goVersion).Set(1)
	return g
}
