package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/client"
	"github.com/fixaroo/berth/agents/edge"
	"github.com/fixaroo/berth/agents/reconciler"
	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/shared/seal"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// dockerEngine runs the node's sites on the local Docker engine.
type dockerEngine struct {
	rt  *docker.Runtime
	cfg Config
}

// OpenDocker opens the local Docker engine: Run's Engine.
func OpenDocker(ctx context.Context, cfg Config, log *slog.Logger) (Engine, error) {
	rt, err := docker.New(ctx, docker.Options{BindRoot: cfg.DataDir, Logger: log.With("component", "docker")})
	if err != nil {
		return nil, err
	}
	return &dockerEngine{rt: rt, cfg: cfg}, nil
}

// Facts returns HostFacts with the engine's version.
func (d *dockerEngine) Facts(ctx context.Context) (*agentv1.NodeFacts, error) {
	f := client.HostFacts(d.cfg.DataDir)
	info, err := d.rt.Info(ctx)
	if err != nil {
		return nil, err
	}
	f.DockerVersion = info.ServerVersion
	return f, nil
}

// Close closes the engine's client.
func (d *dockerEngine) Close() error { return d.rt.Close() }

// dockerSites are the node's real sites: a reconciler runs their
// containers, the edge serves them under certificates from the manager,
// routes keeps the edge and the manager in step with the sites.
type dockerSites struct {
	cfg    Config
	log    *slog.Logger
	rt     *docker.Runtime
	rec    *reconciler.Reconciler
	edge   *edge.Edge
	certs  *certs.Manager
	routes *routes
}

// Sites builds the reconciler, the edge and the certificate manager.
func (d *dockerEngine) Sites(w Wiring) (Sites, error) {
	box, err := seal.LoadOrCreateKey(filepath.Join(w.Config.DataDir, stateKeyFile))
	if err != nil {
		return nil, err
	}
	s := &dockerSites{cfg: w.Config, log: w.Log, rt: d.rt, routes: newRoutes()}
	statuses := newCertStatus(s.routes, w.Session.Report)
	if s.certs, s.edge, err = newEdge(w.Config, w.Session.CertStorage(), statuses.certificatesChanged, w.Registry, w.Log); err != nil {
		return nil, err
	}
	statuses.certs = s.certs
	cfg := w.Config
	s.rec = reconciler.New(reconciler.Options{
		Runtime: d.rt, NodeID: w.Identity.NodeID, DataDir: cfg.DataDir, Box: box, Logger: w.Log.With("component", "reconciler"),
		Resync: time.Duration(cfg.Resync),
		Images: reconciler.Images{Static: cfg.Images[ImageStatic], WordPress: cfg.Images[ImageWordPress], MariaDB: cfg.Images[ImageMariaDB]},
		Fetch:  w.Session.FetchRelease,
		Report: statuses.siteStatus,
		// The reconciler is the one record of where a site answers; routes
		// reads it from there when told it changed.
		Upstream:  func(string, netip.AddrPort) { s.routes.changed() },
		HTTPSPort: listenPort(cfg.HTTPSListen),
	})
	w.Registry.MustRegister(newSiteStates(s.rec))
	return s, nil
}

// Apply records the sites' domains and options for the edge and passes the
// state on to the reconciler.
func (s *dockerSites) Apply(ctx context.Context, ds *agentv1.DesiredState) {
	s.routes.setSites(ds)
	s.rec.Apply(ctx, ds)
}

// Logs opens the output of a site's container.
func (s *dockerSites) Logs(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error) {
	// The reconciler names a site's container berth-<site id>.
	rc, err := s.rt.Logs(ctx, "berth-"+siteID, follow, tail)
	if errors.Is(err, docker.ErrNotFound) {
		return nil, fmt.Errorf("site %s has no container on this node yet", siteID)
	}
	return rc, err
}

// EdgeAddress is where peers reach this node's edge.
func (s *dockerSites) EdgeAddress(ctx context.Context) string {
	return advertiseAddress(ctx, s.cfg, s.edge)
}

// Listening waits for the edge to listen and returns its addresses.
func (s *dockerSites) Listening(ctx context.Context) map[string]string {
	select {
	case <-s.edge.Ready():
	case <-ctx.Done():
		return nil
	}
	httpAddr, httpsAddr := s.edge.Addrs()
	return map[string]string{"http": httpAddr.String(), "https": httpsAddr.String()}
}

// Run runs the reconciler, the edge, the certificate manager and the
// routes until ctx ends.
func (s *dockerSites) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.rec.Run(ctx) })
	g.Go(func() error { return s.edge.Run(ctx) })
	g.Go(func() error { return s.certs.Run(ctx) })
	g.Go(func() error { s.routes.run(ctx, s.edge, s.certs, s.rec.Upstream); return nil })
	g.Go(func() error { renewOnSignal(ctx, s.certs, s.log); return nil })
	return g.Wait()
}
