package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/agents/client"
	"github.com/fixaroo/berth/agents/prober"
	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/metrics"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Applier turns a desired state into running sites.
//
// Apply is called from one goroutine at a time, with desired states in the
// order they arrive; each state is complete, so a later one supersedes an
// earlier one. Apply should return quickly (a reconciler records the state
// and converges in the background) and must be idempotent: the same state
// may be applied more than once, e.g. once from disk at start and again
// when berthd sends it. ctx ends when the agent stops. ds is not modified
// after the call.
type Applier interface {
	Apply(ctx context.Context, ds *agentv1.DesiredState)
}

// Engine is what runs the node's sites: the seam between the wiring and
// the container engine. OpenDocker opens the real one; tests pass their
// own to RunWith.
type Engine interface {
	// Facts returns the node's facts as the engine sees them (HostFacts
	// with the engine's version), for the join and for each hello.
	Facts(ctx context.Context) (*agentv1.NodeFacts, error)
	// Sites builds what serves the sites of the joined node that w
	// describes. It is called once, before anything runs.
	Sites(w Wiring) (Sites, error)
	// Close releases the engine, after the sites have stopped.
	Close() error
}

// Sites serve the node's sites: they apply desired states, answer for a
// site's logs and, if they have an edge, say where it listens.
type Sites interface {
	Applier
	// Logs opens the output of a site's container
	// (client.SessionOptions.Logs).
	Logs(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error)
	// EdgeAddress is where peers and berthd reach the node's edge, "" if
	// unknown (client.SessionOptions.EdgeAddress).
	EdgeAddress(ctx context.Context) string
	// Listening waits until the edge listens and returns its addresses by
	// name ("http", "https") for AddrFile; nil without an edge or once ctx
	// ends.
	Listening(ctx context.Context) map[string]string
	// Run serves until ctx ends and returns after its goroutines have
	// exited.
	Run(ctx context.Context) error
}

// Wiring is what an Engine builds the node's sites with.
type Wiring struct {
	Config   Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	Identity client.Identity
	// Session is the node's session with berthd: sites report their status
	// through it, fetch releases and store certificates with it.
	Session *client.Session
}

// OpenEngine opens the engine that runs the node's sites.
type OpenEngine func(ctx context.Context, cfg Config, log *slog.Logger) (Engine, error)

// Run is berth-agent on a real node: its sites run on the local Docker
// engine and are served through its edge. It joins the fleet if the node
// has not joined yet, applies the desired state saved on disk at once (the
// node serves without the control plane), then keeps the session with
// berthd, saving and applying every desired state it sends. It returns
// when ctx ends, or with an error if the node cannot start.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	return RunWith(ctx, cfg, log, OpenDocker)
}

// RunWith is Run with the engine that open returns: the one seam through
// which tests run the whole agent without a container engine.
func RunWith(ctx context.Context, cfg Config, log *slog.Logger, open OpenEngine) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// Whether the node has joined is on disk: a node that cannot start for
	// want of a join token says so before the engine is opened.
	id, err := client.LoadIdentity(cfg.DataDir)
	joined := err == nil
	switch {
	case errors.Is(err, client.ErrNotJoined) && cfg.JoinToken == "":
		return errors.New("this node has not joined a fleet: run berth-agent with --server and --join-token (make a token with `berth node join-token`)")
	case err != nil && !errors.Is(err, client.ErrNotJoined):
		return err
	}
	eng, err := open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	n := &node{cfg: cfg, log: log, engine: eng}
	if !joined {
		if id, err = n.join(ctx); err != nil {
			return err
		}
	} else if cfg.JoinToken != "" {
		log.Info("this node has joined already; ignoring --join-token", "node_id", id.NodeID)
	}
	if err := n.wire(ctx, id); err != nil {
		return err
	}
	return n.run(ctx)
}

// node is one run of the agent: every part, wired.
type node struct {
	cfg      Config
	log      *slog.Logger
	engine   Engine
	registry *prometheus.Registry
	session  *client.Session
	probes   *prober.Scheduler
	sites    Sites
	saved    *agentv1.DesiredState // on disk at start; nil if none
	metrics  net.Listener          // nil when metrics are off
}

// facts is what the node tells berthd about itself: the engine's facts
// (the host's if the engine cannot tell), with the configured labels.
func (n *node) facts(ctx context.Context) (*agentv1.NodeFacts, error) {
	f, err := n.engine.Facts(ctx)
	if err != nil {
		n.log.Warn("cannot gather all node facts; sending the host's", "err", err)
		f = client.HostFacts(n.cfg.DataDir)
	} else {
		f = proto.Clone(f).(*agentv1.NodeFacts)
	}
	f.Labels = maps.Clone(n.cfg.Labels)
	return f, nil
}

// join trades the configured join token for the node's identity.
func (n *node) join(ctx context.Context) (client.Identity, error) {
	f, _ := n.facts(ctx)
	id, err := client.Join(ctx, client.JoinConfig{Server: n.cfg.Server, JoinToken: n.cfg.JoinToken, NodeName: n.cfg.NodeName, DataDir: n.cfg.DataDir}, f)
	if err != nil {
		return client.Identity{}, err
	}
	n.log.Info("joined the fleet", "node_id", id.NodeID, "node_name", id.NodeName, "server", id.Server)
	return id, nil
}

// wire builds every part for the node id is. The session comes before the
// sites, which report, fetch releases and store certificates through it;
// its callbacks reach the sites through n, complete before anything runs.
func (n *node) wire(ctx context.Context, id client.Identity) error {
	server := id.Server
	if n.cfg.Server != "" {
		var err error
		if server, _, err = client.ServerAddress(n.cfg.Server); err != nil {
			return err
		}
	}
	n.registry = prometheus.NewRegistry()
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if n.probes, err = newProbeScheduler(n.cfg, id.CAPEM, n.registry, n.log); err != nil {
		return err
	}
	n.saved = n.loadDesired()
	n.session = client.NewSession(client.SessionOptions{
		Identity:    id,
		DataDir:     n.cfg.DataDir,
		Server:      server,
		Facts:       n.facts,
		Logs:        n.logs,
		Revision:    n.saved.GetRevision(),
		Probes:      n.probes,
		EdgeAddress: func() string { return n.sites.EdgeAddress(ctx) },
		OnDesired:   n.desired,
		Log:         n.log.With("component", "session"),
	})
	if n.sites, err = n.engine.Sites(Wiring{Config: n.cfg, Log: n.log, Registry: n.registry, Identity: id, Session: n.session}); err != nil {
		return err
	}
	if !config.IsOff(n.cfg.MetricsListen) {
		if n.metrics, err = net.Listen("tcp", n.cfg.MetricsListen); err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
	}
	return nil
}

// loadDesired returns the desired state saved on disk, nil if there is
// none or it cannot be read (berthd will send it again).
func (n *node) loadDesired() *agentv1.DesiredState {
	ds, err := LoadDesired(n.cfg.DataDir)
	switch {
	case errors.Is(err, ErrNoDesiredState):
		return nil
	case err != nil:
		n.log.Warn("cannot read the saved desired state; waiting for berthd's", "err", err)
		return nil
	}
	return ds
}

// logs opens a site's container output for berthd.
func (n *node) logs(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error) {
	return n.sites.Logs(ctx, siteID, follow, tail)
}

// apply hands a desired state to the prober and the sites.
func (n *node) apply(ctx context.Context, ds *agentv1.DesiredState) {
	n.probes.SetAssignments(ds.GetProbes())
	n.sites.Apply(ctx, ds)
}

// desired saves and applies a desired state from berthd.
func (n *node) desired(ctx context.Context, ds *agentv1.DesiredState) {
	if err := SaveDesired(n.cfg.DataDir, ds); err != nil {
		n.log.Error("cannot save the desired state; applying it anyway", "err", err)
	}
	n.apply(ctx, ds)
}

// run applies the saved desired state, then runs every part until ctx
// ends or one fails.
func (n *node) run(ctx context.Context) error {
	if n.saved != nil {
		n.log.Info("applying the saved desired state", "revision", n.saved.GetRevision(), "sites", len(n.saved.GetSites()))
		n.apply(ctx, n.saved)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.session.Run(ctx) })
	g.Go(func() error { return n.sites.Run(ctx) })
	g.Go(func() error { return n.probes.Run(ctx) })
	var metricsAddr net.Addr
	if n.metrics != nil {
		metricsAddr = n.metrics.Addr()
		g.Go(func() error { return metrics.Serve(ctx, n.metrics, n.registry) })
	}
	g.Go(func() error { return writeAddrFile(ctx, n.cfg.DataDir, n.sites, metricsAddr) })
	return g.Wait()
}
