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
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/agents/reconciler"
	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/shared/config"
	"github.com/fixaroo/berth/internal/shared/metrics"
	"github.com/fixaroo/berth/internal/shared/seal"
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

// Reporter takes site status for berthd; *Session implements it.
type Reporter interface {
	Report(st *agentv1.SiteStatus)
	ReportFull(sts []*agentv1.SiteStatus)
}

// Options are the parts that Run does not build itself. Zero values mean
// the defaults stated.
type Options struct {
	// Applier receives every desired state. Default (nil): the node's real
	// stack, which Run builds itself: a reconciler that runs the sites on
	// the local Docker engine, and the edge that serves them. Tests pass
	// their own to run the agent without an engine.
	Applier Applier
	// Facts returns the node's facts, for the join and for each hello.
	// Default: HostFacts, with the engine's version when Run builds the
	// Docker stack. Run sets the labels from the configuration; if Facts
	// fails, Run logs it and uses HostFacts.
	Facts func(ctx context.Context) (*agentv1.NodeFacts, error)
	// Usage returns the content of each heartbeat. Default: the memory in
	// use, no container count.
	Usage func(ctx context.Context) *agentv1.AgentHeartbeat
	// Session, if set, is called with the session before it starts, so that
	// a reconciler can report site status through it.
	Session func(Reporter)
}

// Run is berth-agent: it joins the fleet if the node has not joined yet,
// applies the desired state saved on disk at once (the node serves without
// the control plane), then keeps the session with berthd, saving and
// applying every desired state it sends. It returns when ctx ends, or with
// an error if the node cannot start.
func Run(ctx context.Context, cfg Config, log *slog.Logger, opts Options) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	// Whether the node has joined is on disk: a node that cannot start for
	// want of a join token says so before anything is dialled.
	id, err := LoadIdentity(cfg.DataDir)
	joined := err == nil
	switch {
	case errors.Is(err, ErrNotJoined) && cfg.JoinToken == "":
		return errors.New("this node has not joined a fleet: run berth-agent with --server and --join-token (make a token with `berth node join-token`)")
	case err != nil && !errors.Is(err, ErrNotJoined):
		return err
	}
	// Without an Applier the agent runs sites on the local Docker engine and
	// serves them through its edge.
	var rec *reconciler.Reconciler
	var makeReconciler func(nodeID string)
	var sessionRef atomic.Pointer[Session]
	var logs func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error)
	var fr *front
	registry := prometheus.NewRegistry()
	if opts.Applier == nil {
		rt, err := docker.New(ctx, docker.Options{BindRoot: cfg.DataDir, Logger: log.With("component", "docker")})
		if err != nil {
			return err
		}
		defer rt.Close()
		box, err := seal.LoadOrCreateKey(filepath.Join(cfg.DataDir, stateKeyFile))
		if err != nil {
			return err
		}
		if fr, err = newEdge(cfg, &sessionRef, registry, log); err != nil {
			return err
		}
		// The reconciler labels what it creates with the node id, known
		// once the node has joined.
		makeReconciler = func(nodeID string) {
			rec = reconciler.New(reconciler.Options{
				Runtime: rt, NodeID: nodeID, DataDir: cfg.DataDir, Box: box, Logger: log.With("component", "reconciler"),
				Resync: time.Duration(cfg.Resync),
				Images: reconciler.Images{Static: cfg.Images[ImageStatic], WordPress: cfg.Images[ImageWordPress], MariaDB: cfg.Images[ImageMariaDB]},
				Fetch: func(ctx context.Context, id string) (io.ReadCloser, error) {
					return sessionRef.Load().FetchRelease(ctx, id)
				},
				Report:    fr.siteStatus,
				Upstream:  fr.upstream,
				HTTPSPort: listenPort(cfg.HTTPSListen),
			})
			fr.next = rec
			opts.Applier = fr
			registry.MustRegister(newSiteStates(rec))
		}
		logs = func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error) {
			// The reconciler names a site's container berth-<site id>.
			rc, err := rt.Logs(ctx, "berth-"+siteID, follow, tail)
			if errors.Is(err, docker.ErrNotFound) {
				return nil, fmt.Errorf("site %s has no container on this node yet", siteID)
			}
			return rc, err
		}
		if opts.Facts == nil {
			opts.Facts = func(ctx context.Context) (*agentv1.NodeFacts, error) {
				f := HostFacts(cfg.DataDir)
				info, err := rt.Info(ctx)
				if err != nil {
					return nil, err
				}
				f.DockerVersion = info.ServerVersion
				return f, nil
			}
		}
	}
	facts := func(ctx context.Context) (*agentv1.NodeFacts, error) {
		f := HostFacts(cfg.DataDir)
		if opts.Facts != nil {
			of, err := opts.Facts(ctx)
			if err != nil {
				log.Warn("cannot gather all node facts; sending the host's", "err", err)
			} else {
				f = proto.Clone(of).(*agentv1.NodeFacts)
			}
		}
		f.Labels = maps.Clone(cfg.Labels)
		return f, nil
	}

	switch {
	case !joined:
		f, _ := facts(ctx)
		if id, err = Join(ctx, cfg, f); err != nil {
			return err
		}
		log.Info("joined the fleet", "node_id", id.NodeID, "node_name", id.NodeName, "server", id.Server)
	case cfg.JoinToken != "":
		log.Info("this node has joined already; ignoring --join-token", "node_id", id.NodeID)
	}
	if makeReconciler != nil {
		makeReconciler(id.NodeID)
	}
	if fr != nil {
		if fr.probes, err = newProbeScheduler(cfg, id.CAPEM, registry, log); err != nil {
			return err
		}
	}
	server := id.Server
	if cfg.Server != "" {
		if server, _, err = serverAddress(cfg.Server); err != nil {
			return err
		}
	}

	var revision uint64
	switch ds, err := LoadDesired(cfg.DataDir); {
	case errors.Is(err, ErrNoDesiredState):
	case err != nil:
		log.Warn("cannot read the saved desired state; waiting for berthd's", "err", err)
	default:
		log.Info("applying the saved desired state", "revision", ds.GetRevision(), "sites", len(ds.GetSites()))
		opts.Applier.Apply(ctx, ds)
		revision = ds.GetRevision()
	}

	var probes ProbeSource
	var edgeAddress func() string
	if fr != nil {
		probes = fr.probes
		edgeAddress = func() string { return advertiseAddress(ctx, cfg, fr.edge) }
	}
	session := NewSession(SessionOptions{
		Probes:      probes,
		EdgeAddress: edgeAddress,
		Identity:    id,
		DataDir:     cfg.DataDir,
		Server:      server,
		Facts:       facts,
		Usage:       opts.Usage,
		Logs:        logs,
		Revision:    revision,
		Log:         log.With("component", "session"),
		OnDesired: func(ctx context.Context, ds *agentv1.DesiredState) {
			if err := SaveDesired(cfg.DataDir, ds); err != nil {
				log.Error("cannot save the desired state; applying it anyway", "err", err)
			}
			opts.Applier.Apply(ctx, ds)
		},
	})
	sessionRef.Store(session)
	if opts.Session != nil {
		opts.Session(session)
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return session.Run(ctx) })
	if rec != nil {
		g.Go(func() error { return rec.Run(ctx) })
	}
	if fr != nil {
		g.Go(func() error { return fr.edge.Run(ctx) })
		g.Go(func() error { return fr.certs.Run(ctx) })
		g.Go(func() error { fr.run(ctx); return nil })
		g.Go(func() error { renewOnSignal(ctx, fr.certs, log); return nil })
		g.Go(func() error { return fr.probes.Run(ctx) })
	}
	var metricsAddr net.Addr
	if !config.IsOff(cfg.MetricsListen) {
		lis, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listen: %w", err)
		}
		metricsAddr = lis.Addr()
		g.Go(func() error { return metrics.Serve(ctx, lis, registry) })
	}
	if fr != nil {
		g.Go(func() error { return writeAddrFile(ctx, cfg.DataDir, fr.edge, metricsAddr) })
	}
	return g.Wait()
}
