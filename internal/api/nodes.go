package api

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/agentapi"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/fleet"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/scheduler"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type nodeService struct {
	*API
	berthv1.UnimplementedNodeServiceServer
}

// maxJoinTokenTTL bounds how long a join token may stay usable.
const maxJoinTokenTTL = 15 * time.Minute

func (s nodeService) ListNodes(ctx context.Context, req *berthv1.ListNodesRequest) (*berthv1.ListNodesResponse, error) {
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "node")
	if err != nil {
		return nil, err
	}
	resp := &berthv1.ListNodesResponse{}
	err = s.store.View(ctx, func(tx store.ReadTx) error {
		list, err := tx.ListNodes(page)
		if err != nil {
			return err
		}
		list, resp.NextPageToken = pageOf(list, n, func(n *store.Node) string { return n.ID })
		for _, node := range list {
			sites, err := tx.ListSites(store.SiteFilter{NodeID: node.ID}, store.Page{Limit: 1_000_000})
			if err != nil {
				return err
			}
			resp.Nodes = append(resp.Nodes, nodeToProto(node, sites))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s nodeService) GetNode(ctx context.Context, req *berthv1.GetNodeRequest) (*berthv1.GetNodeResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "node", id); err != nil {
		return nil, err
	}
	var node *berthv1.Node
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		n, err := tx.GetNode(id)
		if err != nil {
			return err
		}
		sites, err := tx.ListSites(store.SiteFilter{NodeID: id}, store.Page{Limit: 1_000_000})
		if err != nil {
			return err
		}
		node = nodeToProto(n, sites)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("node", id)
	} else if err != nil {
		return nil, err
	}
	return &berthv1.GetNodeResponse{Node: node}, nil
}

func (s nodeService) DrainNode(ctx context.Context, req *berthv1.DrainNodeRequest) (*berthv1.DrainNodeResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "node", id); err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, id, "")
	resp := &berthv1.DrainNodeResponse{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.GetNode(id)
		if err != nil {
			return err
		}
		if n.State != store.NodeStateDraining {
			n.State = store.NodeStateDraining
			if err := tx.UpdateNode(n); err != nil {
				return err
			}
		}
		// Move what can move now, in this transaction, so the caller learns
		// at once what stays; the fleet loop retries the rest on every pass.
		nodes, sites, err := fleet.SchedulerState(tx)
		if err != nil {
			return err
		}
		plan := scheduler.Drain(nodes, sites, id)
		anyReady := slices.ContainsFunc(nodes, func(n scheduler.Node) bool { return n.State == scheduler.Ready })
		placed, err := fleet.ApplyPlan(tx, plan, s.now(), anyReady)
		if err != nil {
			return err
		}
		for _, pl := range placed {
			resp.Moved = append(resp.Moved, &berthv1.SiteMove{SiteId: pl.SiteID, NodeId: pl.NodeID})
		}
		for _, u := range plan.Unplaced {
			resp.NotMoved = append(resp.NotMoved, &berthv1.NotMoved{SiteId: u.SiteID, Reason: u.Reason})
		}
		remaining, err := tx.ListSites(store.SiteFilter{NodeID: id}, store.Page{Limit: 1_000_000})
		if err != nil {
			return err
		}
		resp.Node = nodeToProto(n, remaining)
		return s.auditInTx(ctx, tx, id, "")
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("node", id)
	} else if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s nodeService) DeleteNode(ctx context.Context, req *berthv1.DeleteNodeRequest) (*berthv1.DeleteNodeResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "node", id); err != nil {
		return nil, err
	}
	rpc.SetResource(ctx, id, "")
	resp := &berthv1.DeleteNodeResponse{}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.GetNode(id)
		if err != nil {
			return err
		}
		sites, err := tx.ListSites(store.SiteFilter{NodeID: id}, store.Page{Limit: 1_000_000})
		if err != nil {
			return err
		}
		if n.State == store.NodeStateReady && len(sites) > 0 {
			// A heartbeating node is not gone: deleting it would fail its
			// WordPress sites while their data is still there.
			return rpc.FailedPrecondition("node %q is READY and runs %d sites: if it is gone for good, delete it once it stops heartbeating (NOT_READY); to retire a working node, drain it first (`berth node drain %s`)",
				id, len(sites), id)
		}
		now := s.now()
		for _, site := range sites {
			switch {
			case site.State == store.SiteStateDeleting:
				// Nothing is left to remove: the site went with the node.
				if err := tx.DeleteSite(site.ID); err != nil {
					return err
				}
				resp.DeletedSiteIds = append(resp.DeletedSiteIds, site.ID)
				continue
			case site.Kind == store.SiteKindStatic:
				msg := fmt.Sprintf("node %s was deleted; waiting to be placed again", id)
				site.State, site.ObservedGeneration = store.SiteStatePending, 0
				site.Conditions = store.SetCondition(nodeOwnedConditionsRemoved(site.Conditions), store.Condition{
					Type: "Scheduled", Status: "False", Reason: "NodeDeleted", Message: msg, LastTransitionTime: now})
				resp.RequeuedSiteIds = append(resp.RequeuedSiteIds, site.ID)
			default:
				// The site's database and files were on the node. It leaves the
				// node (so that deleting it needs no node) and stays FAILED:
				// the fleet loop never places a FAILED site that is on no node.
				msg := fmt.Sprintf("node %s was deleted and WordPress sites cannot move until backups exist; delete and recreate the site", id)
				site.State = store.SiteStateFailed
				site.Conditions = nodeOwnedConditionsRemoved(site.Conditions)
				for _, typ := range []string{"Scheduled", "Ready"} {
					site.Conditions = store.SetCondition(site.Conditions, store.Condition{
						Type: typ, Status: "False", Reason: "NodeDeleted", Message: msg, LastTransitionTime: now})
				}
				resp.FailedSiteIds = append(resp.FailedSiteIds, site.ID)
			}
			site.NodeID = ""
			site.UpdateTime = now
			if err := tx.UpdateSite(site); err != nil {
				return err
			}
		}
		if err := tx.DeleteNode(id); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, id, "")
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("node", id)
	} else if err != nil {
		return nil, err
	}
	return resp, nil
}

// nodeOwnedConditionsRemoved returns conds without the conditions a node
// reported: they describe a node the site has left.
func nodeOwnedConditionsRemoved(conds []store.Condition) []store.Condition {
	return slices.DeleteFunc(conds, func(c store.Condition) bool {
		return agentapi.NodeCondition(c.Type)
	})
}

func (s nodeService) CreateJoinToken(ctx context.Context, req *berthv1.CreateJoinTokenRequest) (*berthv1.CreateJoinTokenResponse, error) {
	ttl := maxJoinTokenTTL
	if req.GetTtl() != nil {
		if err := req.GetTtl().CheckValid(); err != nil {
			return nil, &validate.Error{Field: "ttl", Msg: "is not a valid duration"}
		}
		ttl = req.GetTtl().AsDuration()
		if ttl < time.Minute || ttl > maxJoinTokenTTL {
			return nil, &validate.Error{Field: "ttl", Msg: fmt.Sprintf("must be between 1m and %s, got %s", maxJoinTokenTTL, ttl)}
		}
	}
	secret, hash := auth.NewToken(auth.JoinTokenPrefix)
	now := s.now()
	j := &store.JoinToken{
		ID: store.NewID("jt", now), Hash: hash, CreatedBy: auth.FromContext(ctx).Actor(),
		CreateTime: now, ExpireTime: now.Add(ttl),
	}
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateJoinToken(j); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, j.ID, "")
	})
	if err != nil {
		return nil, err
	}
	// The token carries the hash of berthd's CA, so that the new node can
	// verify berthd before it has a certificate of its own.
	token := secret + "." + JoinTokenCAHash(s.ca.Certificate())
	return &berthv1.CreateJoinTokenResponse{Token: token, ExpireTime: timestamppb.New(j.ExpireTime)}, nil
}

// JoinTokenCAHash returns the part of a join token that pins berthd's CA:
// the hex SHA-256 of its certificate, so that a new node can verify berthd
// before it has any certificate of its own.
func JoinTokenCAHash(ca *x509.Certificate) string {
	h := sha256.Sum256(ca.Raw)
	return hex.EncodeToString(h[:])
}
