package agentapi

import (
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// maxAgentError bounds the error text of a node that is passed on to a
// log reader.
const maxAgentError = 1024

// SendLogs relays a node's answer to a LogsRequest to the reader waiting
// for it. The request id must have been issued to the calling node.
func (s agentService) SendLogs(stream agentv1.AgentService_SendLogsServer) error {
	ctx := stream.Context()
	nodeID := auth.FromContext(ctx).NodeID
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	id := first.GetRequestId()
	if err := validate.ID("request_id", "logs", id); err != nil {
		return err
	}
	p, foreign := s.logs.Claim(id, nodeID)
	switch {
	case foreign:
		return rpc.Deny(ctx, "logs request", id)
	case p == nil:
		return rpc.NotFound("logs request", id)
	}
	rpc.SetResource(ctx, p.SiteID, "")
	result, err := s.relayLogs(stream, p, first)
	p.End(result)
	if err != nil {
		return err
	}
	// OK also when the reader went away: the node stops sending either way.
	return stream.SendAndClose(&agentv1.SendLogsResponse{})
}

// relayLogs passes the lines of the node's messages, starting with first,
// to p's reader until the node ends its call, reports an error or the
// reader goes away. result is what the reader is told; err ends the call.
func (s agentService) relayLogs(stream agentv1.AgentService_SendLogsServer, p *logrelay.Pending, first *agentv1.SendLogsRequest) (result, err error) {
	ctx := stream.Context()
	msgs := make(chan *agentv1.SendLogsRequest)
	recvErr := make(chan error, 1)
	// The handler must watch for the reader going away while the node is
	// quiet, so the stream is read by a goroutine; it ends when the call does.
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	lost := func(err error) error {
		return status.Errorf(codes.Unavailable, "node %s stopped sending the logs of site %q: %s", p.NodeID, p.SiteID, status.Convert(err).Message())
	}
	for m := first; ; {
		if lines := m.GetLines(); len(lines) > 0 {
			select {
			case p.Batches <- lines:
			case <-p.Gone:
				return nil, nil
			case <-ctx.Done():
				return lost(ctx.Err()), ctx.Err()
			case <-s.closed:
				return rpc.ErrServerClosing, rpc.ErrServerClosing
			}
		}
		if e := m.GetError(); e != "" {
			return rpc.FailedPrecondition("node %s cannot send the logs of site %q: %s", p.NodeID, p.SiteID, truncate(e, maxAgentError)), nil
		}
		select {
		case m = <-msgs:
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return lost(err), err
		case <-p.Gone:
			return nil, nil
		case <-s.closed:
			return rpc.ErrServerClosing, rpc.ErrServerClosing
		}
	}
}
