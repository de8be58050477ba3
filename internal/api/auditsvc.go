package api

import (
	"context"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type auditService struct {
	*API
	berthv1.UnimplementedAuditServiceServer
}

func (s auditService) ListAuditEvents(ctx context.Context, req *berthv1.ListAuditEventsRequest) (*berthv1.ListAuditEventsResponse, error) {
	p := auth.FromContext(ctx)
	f := store.AuditFilter{
		Method: req.GetMethod(), ResourceID: req.GetResourceId(), ClientID: req.GetClientId(),
		FailedOnly: req.GetFailedOnly(),
	}
	if len(f.Method) > 200 {
		return nil, &validate.Error{Field: "method", Msg: "is too long"}
	}
	if len(f.ResourceID) > 100 {
		return nil, &validate.Error{Field: "resource_id", Msg: "is too long"}
	}
	if f.ClientID != "" {
		if err := validate.ID("client_id", "cl", f.ClientID); err != nil {
			return nil, err
		}
	}
	if t := req.GetStartTime(); t != nil {
		f.Start = t.AsTime()
	}
	if t := req.GetEndTime(); t != nil {
		f.End = t.AsTime()
	}
	if !p.IsAdmin() {
		if f.ClientID != "" && f.ClientID != p.ClientID {
			return nil, rpc.Deny(ctx, "client", f.ClientID)
		}
		f.ClientID = p.ClientID
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "evt")
	if err != nil {
		return nil, err
	}
	var list []*store.AuditEvent
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListAuditEvents(f, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(e *store.AuditEvent) string { return e.ID })
	resp := &berthv1.ListAuditEventsResponse{NextPageToken: next}
	for _, e := range list {
		resp.Events = append(resp.Events, auditEventToProto(e))
	}
	return resp, nil
}
