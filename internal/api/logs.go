package api

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Site logs travel from the node to the reader through berthd:
//
//	reader ── GetSiteLogs ──▶ berthd ── LogsRequest (on the node's Connect stream) ──▶ agent
//	reader ◀── lines ──────── berthd ◀── SendLogs (a call the agent opens per request) ── agent
//
// berthd matches the two calls by a request id that it issued to that node
// only. When the reader goes away, berthd ends the SendLogs call and the
// agent stops reading the container's output.

const (
	defaultTailLines = 100
	maxTailLines     = 10_000
	// logBatches bounds the batches (each at most a gRPC message) buffered
	// between a node's SendLogs call and its reader; a slow reader holds
	// back the node through gRPC flow control.
	logBatches = 8
	// sessionRequests bounds the log requests queued for one node's
	// Connect stream.
	sessionRequests = 16
	// maxAgentError bounds the error text of a node that is passed on.
	maxAgentError = 1024
)

type logService struct {
	*API
	berthv1.UnimplementedLogServiceServer
}

// logRelay pairs GetSiteLogs calls with the nodes that answer them. It is
// safe for concurrent use.
type logRelay struct {
	mu       sync.Mutex              // guards the fields below
	sessions map[string]*nodeSession // node id → the node's live Connect stream
	pending  map[string]*pendingLogs // request id → a request no node has claimed yet
}

func newLogRelay() *logRelay {
	return &logRelay{sessions: map[string]*nodeSession{}, pending: map[string]*pendingLogs{}}
}

// nodeSession is a node's live Connect stream, as log readers see it.
type nodeSession struct {
	requests chan *agentv1.LogsRequest // Connect sends them to the node
	done     chan struct{}             // closed when the stream has ended
}

// pendingLogs is one GetSiteLogs call: waiting for its node to claim it,
// then receiving the node's lines.
type pendingLogs struct {
	nodeID, siteID string
	started        chan struct{} // closed when the node's SendLogs claims the request
	batches        chan []string // the node's lines; closed by end
	gone           chan struct{} // closed when the reader has gone away
	// err is why the node's answer ended (nil: all was sent). end writes it
	// before closing batches, so a reader reads it after batches is closed.
	err error
}

// attach records the Connect stream of nodeID as its live one: a newer
// stream of the same node replaces an older one.
func (r *logRelay) attach(nodeID string) *nodeSession {
	sess := &nodeSession{requests: make(chan *agentv1.LogsRequest, sessionRequests), done: make(chan struct{})}
	r.mu.Lock()
	r.sessions[nodeID] = sess
	r.mu.Unlock()
	return sess
}

// detach records that sess, a Connect stream of nodeID, has ended.
func (r *logRelay) detach(nodeID string, sess *nodeSession) {
	r.mu.Lock()
	if r.sessions[nodeID] == sess {
		delete(r.sessions, nodeID)
	}
	r.mu.Unlock()
	close(sess.done)
}

// session returns the live Connect stream of nodeID, or nil.
func (r *logRelay) session(nodeID string) *nodeSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[nodeID]
}

// open issues a request id for logs of siteID from nodeID.
func (r *logRelay) open(nodeID, siteID string, now time.Time) (string, *pendingLogs) {
	p := &pendingLogs{
		nodeID: nodeID, siteID: siteID,
		started: make(chan struct{}),
		batches: make(chan []string, logBatches),
		gone:    make(chan struct{}),
	}
	id := store.NewID("logs", now)
	r.mu.Lock()
	r.pending[id] = p
	r.mu.Unlock()
	return id, p
}

// close records that the reader of request id has gone away.
func (r *logRelay) close(id string, p *pendingLogs) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
	close(p.gone)
}

// claim hands request id to nodeID's SendLogs call, once. foreign reports
// an id issued to another node, which stays unclaimed.
func (r *logRelay) claim(id, nodeID string) (p *pendingLogs, foreign bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p = r.pending[id]
	if p == nil {
		return nil, false
	}
	if p.nodeID != nodeID {
		return nil, true
	}
	delete(r.pending, id)
	close(p.started)
	return p, false
}

// end closes the node's side of a claimed request; err is why it ended.
func (p *pendingLogs) end(err error) {
	p.err = err
	close(p.batches)
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
		return notFound("site", id)
	} else if err != nil {
		return err
	}
	if !auth.FromContext(ctx).MayAccessClient(site.ClientID) {
		return deny(ctx, "site", id)
	}
	setResource(ctx, id, site.ClientID)
	var sess *nodeSession
	if site.NodeID != "" {
		sess = s.logs.session(site.NodeID)
	}
	if sess == nil {
		return failedPrecondition("site %q is not running on a connected node", id)
	}

	reqID, p := s.logs.open(site.NodeID, id, s.now())
	defer s.logs.close(reqID, p)
	noAnswer := status.Errorf(codes.Unavailable, "node %s did not answer the request for the logs of site %q within %s; retry",
		site.NodeID, id, s.logsStartTimeout)
	nodeGone := status.Errorf(codes.Unavailable, "node %s disconnected before it sent the logs of site %q; retry", site.NodeID, id)
	timeout := time.NewTimer(s.logsStartTimeout)
	defer timeout.Stop()
	lr := &agentv1.LogsRequest{RequestId: reqID, SiteId: id, Follow: req.GetFollow(), TailLines: tail}
	select {
	case sess.requests <- lr:
	case <-sess.done:
		return nodeGone
	case <-timeout.C:
		return noAnswer
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errServerClosing
	}
	select {
	case <-p.started:
	case <-sess.done:
		return nodeGone
	case <-timeout.C:
		return noAnswer
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return errServerClosing
	}
	for {
		select {
		case lines, ok := <-p.batches:
			if !ok {
				return p.err
			}
			if err := stream.Send(&berthv1.GetSiteLogsResponse{Lines: lines}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return errServerClosing
		}
	}
}

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
	p, foreign := s.logs.claim(id, nodeID)
	switch {
	case foreign:
		return deny(ctx, "logs request", id)
	case p == nil:
		return notFound("logs request", id)
	}
	setResource(ctx, p.siteID, "")
	result, err := s.relayLogs(stream, p, first)
	p.end(result)
	if err != nil {
		return err
	}
	// OK also when the reader went away: the node stops sending either way.
	return stream.SendAndClose(&agentv1.SendLogsResponse{})
}

// relayLogs passes the lines of the node's messages, starting with first,
// to p's reader until the node ends its call, reports an error or the
// reader goes away. result is what the reader is told; err ends the call.
func (s agentService) relayLogs(stream agentv1.AgentService_SendLogsServer, p *pendingLogs, first *agentv1.SendLogsRequest) (result, err error) {
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
		return status.Errorf(codes.Unavailable, "node %s stopped sending the logs of site %q: %s", p.nodeID, p.siteID, status.Convert(err).Message())
	}
	for m := first; ; {
		if lines := m.GetLines(); len(lines) > 0 {
			select {
			case p.batches <- lines:
			case <-p.gone:
				return nil, nil
			case <-ctx.Done():
				return lost(ctx.Err()), ctx.Err()
			case <-s.closed:
				return errServerClosing, errServerClosing
			}
		}
		if e := m.GetError(); e != "" {
			return failedPrecondition("node %s cannot send the logs of site %q: %s", p.nodeID, p.siteID, truncate(e, maxAgentError)), nil
		}
		select {
		case m = <-msgs:
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return lost(err), err
		case <-p.gone:
			return nil, nil
		case <-s.closed:
			return errServerClosing, errServerClosing
		}
	}
}
