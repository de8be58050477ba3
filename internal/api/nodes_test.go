package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fixaroo/berth/internal/fleet"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// fleetWorld is a client with nodes and sites created directly in the store.
type fleetWorld struct {
	s        *server
	admin    context.Context
	clientID string
	now      time.Time
}

func newFleetWorld(t *testing.T) *fleetWorld {
	t.Helper()
	s := newServer(t)
	w := &fleetWorld{s: s, admin: as(t, adminToken(t, s)), clientID: store.NewID("cl", time.Now()), now: time.Now().UTC()}
	s.update(t, func(tx store.Tx) error {
		return tx.CreateClient(&store.Client{ID: w.clientID, DisplayName: "Acme", Slug: "acme", ContactEmail: "ops@acme.test", CreateTime: w.now, UpdateTime: w.now})
	})
	return w
}

// node creates a node with 2 GiB memory and 2 cores that heartbeated just now.
func (w *fleetWorld) node(t *testing.T, name string, state store.NodeState) string {
	t.Helper()
	id := store.NewID("node", w.now)
	w.s.update(t, func(tx store.Tx) error {
		return tx.CreateNode(&store.Node{ID: id, Name: name, State: state, MemoryMiB: 2048, CPUMillicores: 2000, LastHeartbeatTime: w.now, CreateTime: w.now})
	})
	return id
}

// site creates a site running on nodeID (or pending if "") with a condition
// its node reported.
func (w *fleetWorld) site(t *testing.T, name string, kind store.SiteKind, memMiB int32, nodeID string, state store.SiteState) string {
	t.Helper()
	id := store.NewID("site", w.now)
	site := &store.Site{ID: id, ClientID: w.clientID, Name: name, Kind: kind, PrimaryDomain: name + ".acme.test",
		MemoryMiB: memMiB, CPUMillicores: 100, NodeID: nodeID, State: state, Generation: 3, ObservedGeneration: 3,
		Conditions: []store.Condition{
			{Type: "Scheduled", Status: "True", Reason: "Placed", Message: "placed on node " + nodeID, LastTransitionTime: w.now},
			{Type: "Ready", Status: "True", Reason: "Serving", Message: "serving", LastTransitionTime: w.now},
		},
		CreateTime: w.now, UpdateTime: w.now}
	if kind == store.SiteKindWordPress {
		site.WPTitle, site.WPAdminEmail = "Blog", "ops@acme.test"
		site.Secrets = map[string]string{"db_password": "databasePassword1234", "admin_password": "adminPassword123456"}
	}
	w.s.update(t, func(tx store.Tx) error { return tx.CreateSite(site) })
	return id
}

func (w *fleetWorld) get(t *testing.T, id string) *store.Site {
	t.Helper()
	var site *store.Site
	err := w.s.store.View(context.Background(), func(tx store.ReadTx) (err error) {
		site, err = tx.GetSite(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	return site
}

func conditionOf(s *store.Site, typ string) *store.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

// auditCodes returns the codes of the audit events of method on resourceID,
// oldest first.
func (w *fleetWorld) auditCodes(t *testing.T, method, resourceID string) []string {
	t.Helper()
	resp, err := berthv1.NewAuditServiceClient(w.s.conn).ListAuditEvents(w.admin, &berthv1.ListAuditEventsRequest{Method: method, ResourceId: resourceID})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for i := len(resp.GetEvents()) - 1; i >= 0; i-- {
		codes = append(codes, resp.GetEvents()[i].GetCode())
	}
	return codes
}

func TestDeleteNodeWithSites(t *testing.T) {
	w := newFleetWorld(t)
	gone := w.node(t, "gone", store.NodeStateNotReady)
	other := w.node(t, "other", store.NodeStateReady)
	static := w.site(t, "www", store.SiteKindStatic, 128, gone, store.SiteStateRunning)
	wp := w.site(t, "blog", store.SiteKindWordPress, 256, gone, store.SiteStateRunning)
	deleting := w.site(t, "old", store.SiteKindStatic, 128, gone, store.SiteStateDeleting)
	elsewhere := w.site(t, "shop", store.SiteKindStatic, 128, other, store.SiteStateRunning)
	nodes := berthv1.NewNodeServiceClient(w.s.conn)

	resp, err := nodes.DeleteNode(w.admin, &berthv1.DeleteNodeRequest{Id: gone})
	if err != nil {
		t.Fatal(err)
	}
	want := &berthv1.DeleteNodeResponse{RequeuedSiteIds: []string{static}, FailedSiteIds: []string{wp}, DeletedSiteIds: []string{deleting}}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("DeleteNode response (-want +got):\n%s", diff)
	}
	_, err = nodes.GetNode(w.admin, &berthv1.GetNodeRequest{Id: gone})
	wantCode(t, "GetNode of the deleted node", err, codes.NotFound)

	s := w.get(t, static)
	if s.NodeID != "" || s.State != store.SiteStatePending || s.ObservedGeneration != 0 {
		t.Errorf("static site: node %q state %s observed %d; want no node, PENDING, 0", s.NodeID, s.State, s.ObservedGeneration)
	}
	if c := conditionOf(s, "Scheduled"); c == nil || c.Status != "False" || c.Reason != "NodeDeleted" ||
		c.Message != fmt.Sprintf("node %s was deleted; waiting to be placed again", gone) {
		t.Errorf("static site: Scheduled condition %+v, want False NodeDeleted", c)
	}
	if c := conditionOf(s, "Ready"); c != nil {
		t.Errorf("static site keeps the deleted node's condition %+v", c)
	}

	s = w.get(t, wp)
	if s.NodeID != "" || s.State != store.SiteStateFailed {
		t.Errorf("WordPress site: node %q state %s; want no node, FAILED", s.NodeID, s.State)
	}
	if c := conditionOf(s, "Ready"); c == nil || c.Status != "False" || c.Reason != "NodeDeleted" ||
		!strings.Contains(c.Message, "node "+gone+" was deleted") || !strings.Contains(c.Message, "delete and recreate the site") {
		t.Errorf("WordPress site: Ready condition %+v, want False NodeDeleted telling to recreate the site", c)
	}
	if s.Secrets["admin_password"] == "" {
		t.Error("WordPress site lost its secrets")
	}
	if s := w.get(t, deleting); s != nil {
		t.Errorf("DELETING site still exists: %+v", s)
	}
	if s := w.get(t, elsewhere); s.NodeID != other || s.State != store.SiteStateRunning {
		t.Errorf("site on another node: node %q state %s; want untouched", s.NodeID, s.State)
	}
	if got := w.auditCodes(t, "DeleteNode", gone); !cmp.Equal(got, []string{"OK"}) {
		t.Errorf("audit of DeleteNode: %v, want one OK event", got)
	}

	// The fleet loop places the static site again and leaves the failed
	// WordPress site alone: placing it would install an empty site.
	if err := fleet.New(fleet.Options{Store: w.s.store}).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := w.get(t, static); s.NodeID != other || s.State != store.SiteStateProvisioning {
		t.Errorf("static site after a fleet pass: node %q state %s; want on %s, PROVISIONING", s.NodeID, s.State, other)
	}
	if s := w.get(t, wp); s.NodeID != "" || s.State != store.SiteStateFailed {
		t.Errorf("WordPress site after a fleet pass: node %q state %s; want no node, FAILED", s.NodeID, s.State)
	}

	// Recreating starts with deleting, which needs no node.
	del, err := berthv1.NewSiteServiceClient(w.s.conn).DeleteSite(w.admin, &berthv1.DeleteSiteRequest{Id: wp})
	if err != nil {
		t.Fatal(err)
	}
	if del.GetSite() != nil || w.get(t, wp) != nil {
		t.Errorf("DeleteSite of the failed WordPress site: %v; want it removed at once", del)
	}
}

func TestDeleteNodeRefuses(t *testing.T) {
	w := newFleetWorld(t)
	ready := w.node(t, "ready", store.NodeStateReady)
	site := w.site(t, "www", store.SiteKindWordPress, 128, ready, store.SiteStateRunning)
	empty := w.node(t, "empty", store.NodeStateReady)
	nodes := berthv1.NewNodeServiceClient(w.s.conn)

	_, err := nodes.DeleteNode(w.admin, &berthv1.DeleteNodeRequest{Id: ready})
	wantCode(t, "DeleteNode of a READY node with sites", err, codes.FailedPrecondition, "is READY and runs 1 sites", "berth node drain "+ready)
	if s := w.get(t, site); s.NodeID != ready || s.State != store.SiteStateRunning {
		t.Errorf("site after the refused delete: node %q state %s; want untouched", s.NodeID, s.State)
	}
	if got := w.auditCodes(t, "DeleteNode", ready); !cmp.Equal(got, []string{"FailedPrecondition"}) {
		t.Errorf("audit of the refused DeleteNode: %v", got)
	}
	// A READY node without sites goes, as before.
	resp, err := nodes.DeleteNode(w.admin, &berthv1.DeleteNodeRequest{Id: empty})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&berthv1.DeleteNodeResponse{}, resp, protocmp.Transform()); diff != "" {
		t.Errorf("DeleteNode of an empty node (-want +got):\n%s", diff)
	}
	_, err = nodes.DeleteNode(w.admin, &berthv1.DeleteNodeRequest{Id: empty})
	wantCode(t, "DeleteNode of a missing node", err, codes.NotFound)
	_, err = nodes.DeleteNode(w.admin, &berthv1.DeleteNodeRequest{Id: "nope"})
	wantCode(t, "DeleteNode with a malformed id", err, codes.InvalidArgument)
}

func TestDrainNode(t *testing.T) {
	w := newFleetWorld(t)
	src := w.node(t, "src", store.NodeStateReady)
	dst := w.node(t, "dst", store.NodeStateReady)
	small := w.site(t, "www", store.SiteKindStatic, 128, src, store.SiteStateRunning)
	big := w.site(t, "big", store.SiteKindStatic, 4000, src, store.SiteStateRunning) // fits on no 2 GiB node
	wp := w.site(t, "blog", store.SiteKindWordPress, 256, src, store.SiteStateRunning)
	deleting := w.site(t, "old", store.SiteKindStatic, 128, src, store.SiteStateDeleting)
	nodes := berthv1.NewNodeServiceClient(w.s.conn)

	resp, err := nodes.DrainNode(w.admin, &berthv1.DrainNodeRequest{Id: src})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetNode().GetState() != berthv1.NodeState_NODE_STATE_DRAINING || resp.GetNode().GetSiteCount() != 3 {
		t.Errorf("node after drain: state %v with %d sites; want DRAINING with 3 (big, blog, old)", resp.GetNode().GetState(), resp.GetNode().GetSiteCount())
	}
	if diff := cmp.Diff([]*berthv1.SiteMove{{SiteId: small, NodeId: dst}}, resp.GetMoved(), protocmp.Transform()); diff != "" {
		t.Errorf("moved (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, nm := range resp.GetNotMoved() {
		reasons[nm.GetSiteId()] = nm.GetReason()
	}
	if len(reasons) != 2 ||
		!strings.Contains(reasons[big], "no ready node has 4000 MiB memory") ||
		!strings.Contains(reasons[wp], "WordPress sites move with backups") || !strings.Contains(reasons[wp], "keeps running on "+src) {
		t.Errorf("not moved: %v; want big (no room) and blog (WordPress)", reasons)
	}

	s := w.get(t, small)
	if s.NodeID != dst || s.State != store.SiteStateProvisioning || s.ObservedGeneration != 0 {
		t.Errorf("moved site: node %q state %s observed %d; want %s, PROVISIONING, 0", s.NodeID, s.State, s.ObservedGeneration, dst)
	}
	if c := conditionOf(s, "Scheduled"); c == nil || c.Status != "True" || c.Message != fmt.Sprintf("moved from draining node %s to node %s", src, dst) {
		t.Errorf("moved site: Scheduled condition %+v", c)
	}
	if c := conditionOf(w.get(t, big), "Scheduled"); c == nil || c.Reason != "CannotMove" || c.Message != reasons[big] {
		t.Errorf("site that could not move: Scheduled condition %+v, want CannotMove with the reason", c)
	}
	if s := w.get(t, deleting); s.NodeID != src || s.State != store.SiteStateDeleting {
		t.Errorf("DELETING site: node %q state %s; want left on %s", s.NodeID, s.State, src)
	}

	// Draining again moves nothing more and says the same about the rest.
	again, err := nodes.DrainNode(w.admin, &berthv1.DrainNodeRequest{Id: src})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, nm := range again.GetNotMoved() {
		left = append(left, nm.GetSiteId())
	}
	if len(again.GetMoved()) != 0 || !cmp.Equal(left, []string{big, wp}) {
		t.Errorf("second drain: moved %v, not moved %v; want nothing moved and big, blog left", again.GetMoved(), again.GetNotMoved())
	}
	if got := w.auditCodes(t, "DrainNode", src); !cmp.Equal(got, []string{"OK", "OK"}) {
		t.Errorf("audit of DrainNode: %v", got)
	}
	_, err = nodes.DrainNode(w.admin, &berthv1.DrainNodeRequest{Id: store.NewID("node", w.now)})
	wantCode(t, "DrainNode of a missing node", err, codes.NotFound)
}
