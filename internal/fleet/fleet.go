// Package fleet keeps the fleet converging: it places pending sites on ready
// nodes (with package scheduler), moves static sites off draining nodes, and
// marks nodes that stop heartbeating NOT_READY.
//
// Like every controller in Berth it is level-triggered: each pass reads the
// whole current state and acts on it, so a missed trigger or a crash costs
// nothing but a delay until the next pass.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/fixaroo/berth/internal/scheduler"
	"github.com/fixaroo/berth/internal/store"
)

// Options configures a Fleet; zero values mean the defaults.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// HeartbeatGrace is how long a node may stay silent before it is
	// NOT_READY (default 30 s).
	HeartbeatGrace time.Duration
	// Interval is the period of a full pass (default 5 s); site changes
	// trigger a pass sooner.
	Interval time.Duration
}

// Fleet runs the placement and node-liveness loop.
type Fleet struct {
	store    store.Store
	log      *slog.Logger
	now      func() time.Time
	grace    time.Duration
	interval time.Duration
}

// New returns a Fleet.
func New(o Options) *Fleet {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HeartbeatGrace <= 0 {
		o.HeartbeatGrace = 30 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	return &Fleet{store: o.Store, log: o.Logger, now: func() time.Time { return o.Now().UTC() }, grace: o.HeartbeatGrace, interval: o.Interval}
}

// Run passes over the fleet until ctx ends.
func (f *Fleet) Run(ctx context.Context) error {
	ids, cancel := f.store.SubscribeSites()
	defer cancel()
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		if err := f.Pass(ctx); err != nil && ctx.Err() == nil {
			f.log.Error("fleet pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-ids:
			for len(ids) > 0 {
				<-ids
			}
		}
	}
}

// Pass runs one pass: node liveness, then placement and drains.
func (f *Fleet) Pass(ctx context.Context) error {
	return errors.Join(f.checkLiveness(ctx), f.place(ctx))
}

// checkLiveness marks READY nodes whose last heartbeat is older than the
// grace period NOT_READY, and tells their sites.
func (f *Fleet) checkLiveness(ctx context.Context) error {
	now := f.now()
	return f.store.Update(ctx, func(tx store.Tx) error {
		nodes, err := tx.ListNodes(store.Page{Limit: 1 << 30})
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.State != store.NodeStateReady || now.Sub(n.LastHeartbeatTime) <= f.grace {
				continue
			}
			n.State = store.NodeStateNotReady
			if err := tx.UpdateNode(n); err != nil {
				return err
			}
			f.log.Warn("node not ready", "node_id", n.ID, "node_name", n.Name, "last_heartbeat", n.LastHeartbeatTime)
			msg := fmt.Sprintf("node %s has sent no heartbeat since %s", n.Name, n.LastHeartbeatTime.Format(time.RFC3339))
			if err := SetNodeReady(tx, n.ID, false, msg, now); err != nil {
				return err
			}
			if err := tx.AppendAuditEvent(&store.AuditEvent{ID: store.NewID("evt", now), Time: now, Actor: "berthd",
				Method: "node not ready", ResourceID: n.ID, Code: "OK",
				Message: fmt.Sprintf("no heartbeat since %s", n.LastHeartbeatTime.Format(time.RFC3339))}); err != nil {
				return err
			}
		}
		return nil
	})
}

// place runs the scheduler over pending sites and draining nodes and writes
// its decisions. It plans from a read-only snapshot, so that the write lock is
// held only while a plan is written; ApplyPlan skips what changed meanwhile.
func (f *Fleet) place(ctx context.Context) error {
	var nodes []scheduler.Node
	var sites []scheduler.Site
	err := f.store.View(ctx, func(tx store.ReadTx) (err error) {
		nodes, sites, err = SchedulerState(tx)
		return err
	})
	if err != nil {
		return err
	}
	plans := []scheduler.Plan{}
	if slices.ContainsFunc(sites, func(s scheduler.Site) bool { return s.NodeID == "" }) {
		plans = append(plans, scheduler.Schedule(nodes, sites))
	}
	for _, n := range nodes {
		if n.State == scheduler.Draining && slices.ContainsFunc(sites, func(s scheduler.Site) bool { return s.NodeID == n.ID }) {
			plans = append(plans, scheduler.Drain(nodes, sites, n.ID))
		}
	}
	anyReady := slices.ContainsFunc(nodes, func(n scheduler.Node) bool { return n.State == scheduler.Ready })
	var errs []error
	for _, p := range plans {
		var placed []scheduler.Placement
		now := f.now()
		err := f.store.Update(ctx, func(tx store.Tx) (err error) {
			placed, err = ApplyPlan(tx, p, now, anyReady)
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pl := range placed {
			f.log.Info("site placed", "site_id", pl.SiteID, "node_id", pl.NodeID)
		}
	}
	return errors.Join(errs...)
}

// SchedulerState reads the fleet as package scheduler sees it: every node,
// and every site that holds or wants capacity. DELETING sites are left out
// (they are on their way off their node), and so are FAILED sites on no node:
// those were lost with a deleted node and wait for ops to recreate them, so
// placing them again would silently install an empty site.
func SchedulerState(tx store.ReadTx) ([]scheduler.Node, []scheduler.Site, error) {
	var nodes []scheduler.Node
	ns, err := tx.ListNodes(store.Page{Limit: 1 << 30})
	if err != nil {
		return nil, nil, err
	}
	for _, n := range ns {
		nodes = append(nodes, schedNode(n))
	}
	var sites []scheduler.Site
	for s, err := range store.AllSites(tx, store.SiteFilter{}) {
		if err != nil {
			return nil, nil, err
		}
		if s.State == store.SiteStateDeleting || (s.State == store.SiteStateFailed && s.NodeID == "") {
			continue
		}
		sites = append(sites, schedSite(s))
	}
	return nodes, sites, nil
}

// ApplyPlan writes plan p inside tx and returns the placements it made: each
// moves a site to its node. Each unplaced site gets a Scheduled condition
// saying why; a site that cannot leave a draining node keeps running there.
// anyReady tells whether any node was ready when p was made, which picks the
// reason of unplaced pending sites.
//
// Only sites that still wait for a node, or are still on a draining node, are
// touched: a plan made from an older snapshot never moves or relabels a site
// that was placed or moved since.
func ApplyPlan(tx store.Tx, p scheduler.Plan, now time.Time, anyReady bool) ([]scheduler.Placement, error) {
	draining := map[string]bool{}
	// current reads site id if the plan still applies to it, else returns nil.
	current := func(id string) (*store.Site, error) {
		s, err := tx.GetSite(id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		if s.State == store.SiteStateDeleting || (s.State == store.SiteStateFailed && s.NodeID == "") {
			return nil, nil
		}
		if s.NodeID == "" {
			return s, nil
		}
		d, ok := draining[s.NodeID]
		if !ok {
			n, err := tx.GetNode(s.NodeID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			d = err == nil && n.State == store.NodeStateDraining
			draining[s.NodeID] = d
		}
		if !d {
			return nil, nil
		}
		return s, nil
	}
	var placed []scheduler.Placement
	for _, pl := range p.Placements {
		s, err := current(pl.SiteID)
		if err != nil {
			return nil, err
		}
		if s == nil || s.NodeID == pl.NodeID {
			continue
		}
		msg := "placed on node " + pl.NodeID
		if s.NodeID != "" {
			msg = fmt.Sprintf("moved from draining node %s to node %s", s.NodeID, pl.NodeID)
		}
		s.NodeID, s.State, s.ObservedGeneration = pl.NodeID, store.SiteStateProvisioning, 0
		s.Conditions = store.SetCondition(s.Conditions, store.Condition{Type: "Scheduled", Status: "True", Reason: "Placed", Message: msg, LastTransitionTime: now})
		s.UpdateTime = now
		if err := tx.UpdateSite(s); err != nil {
			return nil, err
		}
		placed = append(placed, pl)
	}
	for _, u := range p.Unplaced {
		s, err := current(u.SiteID)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		c := store.Condition{Type: "Scheduled", Status: "False", Reason: "NoCapacity", Message: u.Reason, LastTransitionTime: now}
		if !anyReady {
			c.Reason = "NoReadyNode"
		}
		if s.NodeID != "" {
			// A site that cannot leave a draining node keeps running there.
			c.Status, c.Reason = "True", "CannotMove"
		}
		if i := slices.IndexFunc(s.Conditions, func(x store.Condition) bool { return x.Type == c.Type }); i >= 0 &&
			s.Conditions[i].Status == c.Status && s.Conditions[i].Reason == c.Reason && s.Conditions[i].Message == c.Message {
			continue
		}
		s.Conditions = store.SetCondition(s.Conditions, c)
		s.UpdateTime = now
		if err := tx.UpdateSite(s); err != nil {
			return nil, err
		}
	}
	return placed, nil
}

// SetNodeReady records on every site of a node whether the node is ready:
// the condition NodeReady, owned by the control plane, tells a site's owner
// that its state comes from a node that has gone silent.
func SetNodeReady(tx store.Tx, nodeID string, ready bool, msg string, now time.Time) error {
	c := store.Condition{Type: "NodeReady", Status: "True", Reason: "Heartbeating", Message: msg, LastTransitionTime: now}
	if !ready {
		c.Status, c.Reason = "False", "NoHeartbeat"
	}
	for s, err := range store.AllSites(tx, store.SiteFilter{NodeID: nodeID}) {
		if err != nil {
			return err
		}
		s.Conditions = store.SetCondition(s.Conditions, c)
		s.UpdateTime = now
		if err := tx.UpdateSite(s); err != nil {
			return err
		}
	}
	return nil
}

func schedNode(n *store.Node) scheduler.Node {
	state := map[store.NodeState]scheduler.NodeState{
		store.NodeStateReady: scheduler.Ready, store.NodeStateNotReady: scheduler.NotReady, store.NodeStateDraining: scheduler.Draining,
	}[n.State]
	return scheduler.Node{ID: n.ID, State: state, MemoryMiB: n.MemoryMiB, CPUMillicores: int64(n.CPUMillicores), Labels: n.Labels}
}

func schedSite(s *store.Site) scheduler.Site {
	kind := scheduler.Static
	if s.Kind == store.SiteKindWordPress {
		kind = scheduler.WordPress
	}
	return scheduler.Site{ID: s.ID, ClientID: s.ClientID, Kind: kind, MemoryMiB: int64(s.MemoryMiB), CPUMillicores: int64(s.CPUMillicores), NodeID: s.NodeID}
}
