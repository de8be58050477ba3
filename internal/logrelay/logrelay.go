// Package logrelay pairs the readers of a site's logs with the node that
// runs the site. Site logs travel from the node to the reader through
// berthd:
//
//	reader ── GetSiteLogs ──▶ berthd ── LogsRequest (on the node's Connect stream) ──▶ agent
//	reader ◀── lines ──────── berthd ◀── SendLogs (a call the agent opens per request) ── agent
//
// The public LogService (package api) opens a request and reads its lines;
// the node-facing AgentService (package agentapi) attaches each node's
// Connect stream and hands the node's SendLogs call the request it claims.
// berthd matches the two calls by a request id that it issued to that node
// only. When the reader goes away, berthd ends the SendLogs call and the
// agent stops reading the container's output.
package logrelay

import (
	"sync"
	"time"

	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	// batches bounds the batches (each at most a gRPC message) buffered
	// between a node's SendLogs call and its reader; a slow reader holds
	// back the node through gRPC flow control.
	batches = 8
	// sessionRequests bounds the log requests queued for one node's
	// Connect stream.
	sessionRequests = 16
)

// Relay pairs GetSiteLogs calls with the nodes that answer them. It is
// safe for concurrent use.
type Relay struct {
	mu       sync.Mutex          // guards the fields below
	sessions map[string]*Session // node id → the node's live Connect stream
	pending  map[string]*Pending // request id → a request no node has claimed yet
}

// New returns an empty Relay.
func New() *Relay {
	return &Relay{sessions: map[string]*Session{}, pending: map[string]*Pending{}}
}

// Session is a node's live Connect stream, as log readers see it.
type Session struct {
	Requests chan *agentv1.LogsRequest // Connect sends them to the node
	Done     chan struct{}             // closed when the stream has ended
}

// Pending is one GetSiteLogs call: waiting for its node to claim it,
// then receiving the node's lines.
type Pending struct {
	NodeID, SiteID string
	Started        chan struct{} // closed when the node's SendLogs claims the request
	Batches        chan []string // the node's lines; closed by End
	Gone           chan struct{} // closed when the reader has gone away
	// Err is why the node's answer ended (nil: all was sent). End writes it
	// before closing Batches, so a reader reads it after Batches is closed.
	Err error
}

// Attach records the Connect stream of nodeID as its live one: a newer
// stream of the same node replaces an older one.
func (r *Relay) Attach(nodeID string) *Session {
	sess := &Session{Requests: make(chan *agentv1.LogsRequest, sessionRequests), Done: make(chan struct{})}
	r.mu.Lock()
	r.sessions[nodeID] = sess
	r.mu.Unlock()
	return sess
}

// Detach records that sess, a Connect stream of nodeID, has ended.
func (r *Relay) Detach(nodeID string, sess *Session) {
	r.mu.Lock()
	if r.sessions[nodeID] == sess {
		delete(r.sessions, nodeID)
	}
	r.mu.Unlock()
	close(sess.Done)
}

// Session returns the live Connect stream of nodeID, or nil.
func (r *Relay) Session(nodeID string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[nodeID]
}

// Open issues a request id for logs of siteID from nodeID.
func (r *Relay) Open(nodeID, siteID string, now time.Time) (string, *Pending) {
	p := &Pending{
		NodeID: nodeID, SiteID: siteID,
		Started: make(chan struct{}),
		Batches: make(chan []string, batches),
		Gone:    make(chan struct{}),
	}
	id := store.NewID("logs", now)
	r.mu.Lock()
	r.pending[id] = p
	r.mu.Unlock()
	return id, p
}

// Close records that the reader of request id has gone away.
func (r *Relay) Close(id string, p *Pending) {
	r.mu.Lock()
	delete(r.pending, id)
	r.mu.Unlock()
	close(p.Gone)
}

// Claim hands request id to nodeID's SendLogs call, once. foreign reports
// an id issued to another node, which stays unclaimed.
func (r *Relay) Claim(id, nodeID string) (p *Pending, foreign bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p = r.pending[id]
	if p == nil {
		return nil, false
	}
	if p.NodeID != nodeID {
		return nil, true
	}
	delete(r.pending, id)
	close(p.Started)
	return p, false
}

// End closes the node's side of a claimed request; err is why it ended.
func (p *Pending) End(err error) {
	p.Err = err
	close(p.Batches)
}
