package api

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Site logs travel from the node to the reader through berthd; package
// logrelay pairs this service's GetSiteLogs calls with the node's answer,
// which reaches berthd through the node-facing AgentService (agentapi).

const (
	defaultTailLines = 100
	maxTailLines     = 10_000
)

type logService struct {
	*API
	berthv1.UnimplementedLogServiceServer
}

func (s logService) GetSiteLogs(req *berthv1.GetSiteLogsRequest, stream berthv1.LogService_GetSiteLogsServer) error {
	ctx := stream.Context()
	id := req.GetSiteId()
	if err := validate.ID("site_id", "site", id); err != nil {
		return err
	}
	tail := req.GetTailLines()
	if tail < 0 || tail > maxTailLines {
		return &validate.Error{Field: "tail_lines", Value: fmt.Sprint(tail), Msg: fmt.Sprintf("must be between 1 and %d (0 for %d)", maxTailLines, defaultTailLines)}
	}
	if tail == 0 {
		tail = defaultTailLines
	}
	var site *store.Site
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		site, err = tx.GetSite(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return rpc.NotFound("site", id)
	} else if err != nil {
		return err
	}
	if !auth.FromContext(ctx).MayAccessClient(site.ClientID) {
		return rpc.Deny(ctx, "site", id)
	}
	rpc.SetResource(ctx, id, site.ClientID)
	var sess *logrelay.Session
	if site.NodeID != "" {
		sess = s.logs.Session(site.NodeID)
	}
	if sess == nil {
		return rpc.FailedPrecondition("site %q is not running on a connected node", id)
	}

	reqID, p := s.logs.Open(site.NodeID, id, s.now())
	defer s.logs.Close(reqID, p)
	noAnswer := status.Errorf(codes.Unavailable, "node %s did not answer the request for the logs of site %q within %s; retry",
		site.NodeID, id, s.logsStartTimeout)
	nodeGone := status.Errorf(codes.Unavailable, "node %s disconnected before it sent the logs of site %q; retry", site.NodeID, id)
	timeout := time.NewTimer(s.logsStartTimeout)
	defer timeout.Stop()
	lr := &agentv1.LogsRequest{RequestId: reqID, SiteId: id, Follow: req.GetFollow(), TailLines: tail}
	select {
	case sess.Requests <- lr:
	case <-sess.Done:
		return nodeGone
	case <-timeout.C:
		return noAnswer
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return rpc.ErrServerClosing
	}
	select {
	case <-p.Started:
	case <-sess.Done:
		return nodeGone
	case <-timeout.C:
		return noAnswer
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return rpc.ErrServerClosing
	}
	for {
		select {
		case lines, ok := <-p.Batches:
			if !ok {
				return p.Err
			}
			if err := stream.Send(&berthv1.GetSiteLogsResponse{Lines: lines}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return rpc.ErrServerClosing
		}
	}
}
