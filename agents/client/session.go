package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	defaultHeartbeat = 5 * time.Second
	// stableSession is how long a session must have lasted for the next
	// reconnect to start again from the shortest delay.
	stableSession = 30 * time.Second
	factsTimeout  = 10 * time.Second
	usageTimeout  = 5 * time.Second
)

// errSessionEnded is returned when berthd closes the stream without an error.
var errSessionEnded = errors.New("berthd ended the session")

// SessionOptions configure a Session. Zero values mean the defaults stated.
type SessionOptions struct {
	// Identity is the node's identity; required.
	Identity Identity
	// DataDir is where a renewed key and certificate are saved; required.
	DataDir string
	// Server is berthd's address, host:port. Default Identity.Server.
	Server string
	// Facts returns the node's facts for each hello; required.
	Facts func(ctx context.Context) (*agentv1.NodeFacts, error)
	// Usage returns the content of each heartbeat. Default: the memory in
	// use from /proc/meminfo.
	Usage func(ctx context.Context) *agentv1.AgentHeartbeat
	// OnDesired receives every DesiredState berthd sends, one at a time and
	// in order; required. Its ctx is Run's, not the stream's: applying a
	// state is not cut short by a broken stream.
	OnDesired func(ctx context.Context, ds *agentv1.DesiredState)
	// Logs opens the output of a site's container (stdout and stderr merged
	// by line; the last tail lines, then with follow new ones) to answer
	// berthd's log requests. The reader must end when ctx ends; the session
	// closes it. Default: log requests are answered with an error.
	Logs func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error)
	// Revision is the revision of the desired state applied before Run, sent
	// in the first hello; 0 if none.
	Revision uint64
	// HeartbeatInterval is the mean period of heartbeats (±20%). Default 5s.
	HeartbeatInterval time.Duration
	// Log receives the session's state changes. Default: discard.
	Log *slog.Logger
	// Now and After are the clock; defaults time.Now and time.After.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Rand returns jitter in [0, 1). Default math/rand/v2.
	Rand func() float64
	// Probes, if set, holds the node's probe results for berthd: the
	// session sends them in batches, one batch in flight at a time, and
	// hands berthd's acknowledgements back.
	Probes ProbeSource
	// EdgeAddress, if set, returns the address sent in each hello: where
	// peers and berthd reach this node's edge.
	EdgeAddress func() string
}

// ProbeSource is the node's buffer of probe results.
type ProbeSource interface {
	// Pending returns up to max unacknowledged results, oldest first.
	Pending(max int) []*agentv1.ProbeResult
	// Ack drops the results up to seq: berthd has stored them.
	Ack(seq uint64)
	// Ready fires when new results are buffered.
	Ready() <-chan struct{}
}

const (
	// probeBatch is how many probe results go in one message.
	probeBatch = 1000
	// probeAckTimeout is how long a batch may wait for berthd's ack before
	// the session sends the pending results again.
	probeAckTimeout = 15 * time.Second
)

// Session is the node's connection to berthd: it keeps the AgentService
// Connect stream open, reconnecting with backoff, sends heartbeats and site
// status, hands each desired state to OnDesired, answers berthd's requests
// for site logs, and renews the node's certificate before it expires.
// Report and ReportFull are safe to call from any goroutine, before and
// during Run.
type Session struct {
	opts    SessionOptions
	certs   *certHolder
	backoff backoff // between reconnects

	notify     chan struct{} // capacity 1: a status report is waiting
	probeAcked chan struct{} // capacity 1: berthd acknowledged probe results

	logSlots   chan struct{}  // capacity maxLogStreams: one per log being sent
	logStreams sync.WaitGroup // the goroutines answering log requests

	mu       sync.Mutex                 // guards the fields below
	client   agentv1.AgentServiceClient // set while Run runs
	revision uint64
	sites    map[string]*agentv1.SiteStatus // latest status of each site on the node
	haveFull bool                           // ReportFull was called: sites is complete
	pending  map[string]*agentv1.SiteStatus // not yet sent
	sendAll  bool                           // send all of sites next (after a (re)connect or ReportFull)
}

// NewSession returns a session; Run starts it.
func NewSession(opts SessionOptions) *Session {
	if opts.Server == "" {
		opts.Server = opts.Identity.Server
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = defaultHeartbeat
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.After == nil {
		opts.After = time.After
	}
	if opts.Usage == nil {
		opts.Usage = func(context.Context) *agentv1.AgentHeartbeat {
			_, used := memInfo()
			return &agentv1.AgentHeartbeat{MemoryUsedMib: used}
		}
	}
	return &Session{
		opts:    opts,
		certs:   newCertHolder(opts.Identity.Cert),
		backoff: backoff{min: time.Second, max: time.Minute, rand: opts.Rand},
		notify:  make(chan struct{}, 1), probeAcked: make(chan struct{}, 1),
		logSlots: make(chan struct{}, maxLogStreams),
		revision: opts.Revision,
		sites:    make(map[string]*agentv1.SiteStatus),
		pending:  make(map[string]*agentv1.SiteStatus),
	}
}

// Report queues the status of one site for berthd. It never blocks: reports
// for the same site that have not been sent yet are replaced by the latest.
// st must not be modified afterwards.
func (s *Session) Report(st *agentv1.SiteStatus) {
	if st.GetSiteId() == "" {
		return
	}
	s.mu.Lock()
	if st.GetRemoved() {
		delete(s.sites, st.GetSiteId())
	} else {
		s.sites[st.GetSiteId()] = st
	}
	s.pending[st.GetSiteId()] = st
	s.mu.Unlock()
	s.wake()
}

// ReportFull sets the status of all the node's sites; sites not listed are
// not on the node. It is sent (full = true) at once and again after every
// reconnect, kept current by later Reports. Until the first ReportFull,
// reconnects resend only the sites reported so far, as a partial report.
// The statuses must not be modified afterwards.
func (s *Session) ReportFull(sts []*agentv1.SiteStatus) {
	s.mu.Lock()
	clear(s.sites)
	for _, st := range sts {
		if st.GetSiteId() != "" && !st.GetRemoved() {
			s.sites[st.GetSiteId()] = st
		}
	}
	s.haveFull = true
	s.sendAll = true
	clear(s.pending)
	s.mu.Unlock()
	s.wake()
}

func (s *Session) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// takeReport returns the status report to send now, or nil.
func (s *Session) takeReport() *agentv1.SiteStatusReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sites []*agentv1.SiteStatus
	full := false
	if s.sendAll {
		sites, full = slices.Collect(maps.Values(s.sites)), s.haveFull
		for _, st := range s.pending {
			if st.GetRemoved() { // not in s.sites, and berthd must still hear of it
				sites = append(sites, st)
			}
		}
	} else {
		sites = slices.Collect(maps.Values(s.pending))
	}
	s.sendAll = false
	clear(s.pending)
	if len(sites) == 0 && !full {
		return nil
	}
	slices.SortFunc(sites, func(a, b *agentv1.SiteStatus) int { return cmp.Compare(a.GetSiteId(), b.GetSiteId()) })
	return &agentv1.SiteStatusReport{Sites: sites, Full: full}
}

// requeue puts back the statuses of a report that could not be sent, unless
// a newer status of the same site is waiting.
func (s *Session) requeue(r *agentv1.SiteStatusReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.GetFull() {
		s.sendAll = true
	}
	for _, st := range r.GetSites() {
		if _, newer := s.pending[st.GetSiteId()]; !newer {
			s.pending[st.GetSiteId()] = st
		}
	}
}

func (s *Session) lastRevision() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revision
}

// Run connects to berthd and keeps the session up until ctx ends; it then
// returns nil after its goroutines have exited. Failures are logged and
// retried, never returned.
func (s *Session) Run(ctx context.Context) error {
	addr, host, err := ServerAddress(s.opts.Server)
	if err != nil {
		return err
	}
	creds := credentials.NewTLS(&tls.Config{
		RootCAs:              s.opts.Identity.CAPool,
		ServerName:           host,
		GetClientCertificate: s.certs.getClientCertificate,
		MinVersion:           tls.VersionTLS12,
	})
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(creds),
		// berthd sends nothing while the desired state is unchanged, so pings
		// are how the agent notices a berthd that vanished without a FIN.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second}),
	)
	if err != nil {
		return fmt.Errorf("connect to berthd %s: %w", addr, err)
	}
	defer conn.Close()
	client := agentv1.NewAgentServiceClient(conn)
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.client = nil
		s.mu.Unlock()
	}()

	var wg sync.WaitGroup
	wg.Go(func() { s.renewLoop(ctx, client) })
	s.connectLoop(ctx, client)
	wg.Wait()
	s.logStreams.Wait()
	return nil
}

// Client returns the AgentService client while Run runs, else nil. Calls
// on it fail fast with Unavailable while berthd cannot be reached.
func (s *Session) Client() agentv1.AgentServiceClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// FetchRelease opens the bundle of a static release from berthd. The
// caller closes the reader; closing it early cancels the download.
func (s *Session) FetchRelease(ctx context.Context, releaseID string) (io.ReadCloser, error) {
	client := s.Client()
	if client == nil {
		return nil, errors.New("not connected to berthd")
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := client.FetchRelease(ctx, &agentv1.FetchReleaseRequest{ReleaseId: releaseID})
	if err != nil {
		cancel()
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		for {
			msg, err := stream.Recv()
			if err == io.EOF {
				pw.Close()
				return
			} else if err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := pw.Write(msg.GetChunk()); err != nil {
				return
			}
		}
	}()
	return readCloser{Reader: pr, close: func() error { cancel(); return pr.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

// connectLoop runs sessions one after another until ctx ends, with backoff
// between them. It logs when the state changes: connected, lost, failing
// for a new reason.
func (s *Session) connectLoop(ctx context.Context, client agentv1.AgentServiceClient) {
	log := s.opts.Log
	attempt := 0
	lastCode := codes.OK
	for {
		connectedAt, err := s.session(ctx, client)
		if ctx.Err() != nil {
			return
		}
		code := status.Code(err)
		connected := !connectedAt.IsZero()
		if connected && s.opts.Now().Sub(connectedAt) >= stableSession {
			attempt = 0
		}
		delay := s.backoff.delay(attempt)
		attempt++
		attrs := []any{"err", err, "retry_in", delay.Round(time.Millisecond)}
		if hint := s.hint(code); hint != "" {
			attrs = append(attrs, "hint", hint)
		}
		switch {
		case connected:
			log.Warn("lost the session with berthd; reconnecting", attrs...)
		case code != lastCode:
			log.Warn("cannot connect to berthd; retrying", attrs...)
		default:
			log.Debug("cannot connect to berthd; retrying", attrs...)
		}
		lastCode = code
		select {
		case <-ctx.Done():
			return
		case <-s.opts.After(delay):
		}
	}
}

func (s *Session) hint(code codes.Code) string {
	switch code {
	case codes.Unauthenticated, codes.PermissionDenied:
		if leaf := s.certs.get().Leaf; leaf != nil && s.opts.Now().After(leaf.NotAfter) {
			return fmt.Sprintf("the node certificate expired on %s; remove node.json from the data directory and join again with a new token", leaf.NotAfter.Format(time.RFC3339))
		}
		return "berthd does not accept this node's certificate; if the node was deleted, remove node.json from the data directory and join again with a new token"
	}
	return ""
}

// session runs one Connect stream until it fails or ctx ends. connectedAt
// is when the first desired state arrived (zero if none did).
func (s *Session) session(ctx context.Context, client agentv1.AgentServiceClient) (connectedAt time.Time, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Connect(sctx)
	if err != nil {
		return time.Time{}, err
	}
	fctx, fcancel := context.WithTimeout(ctx, factsTimeout)
	facts, err := s.opts.Facts(fctx)
	fcancel()
	if err != nil {
		return time.Time{}, fmt.Errorf("gather node facts: %w", err)
	}
	var edge string
	if s.opts.EdgeAddress != nil {
		edge = s.opts.EdgeAddress()
	}
	hello := &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{
		Facts: facts, Revision: s.lastRevision(), EdgeAddress: edge,
	}}}
	if err := stream.Send(hello); err != nil {
		if errors.Is(err, io.EOF) { // the stream's status comes from Recv
			_, err = stream.Recv()
		}
		return time.Time{}, err
	}
	s.mu.Lock()
	s.sendAll = true
	s.mu.Unlock()
	s.wake()

	recvErr := make(chan error, 1)
	go func() { recvErr <- s.receive(ctx, client, stream, &connectedAt) }()
	err = s.send(sctx, stream, recvErr)
	cancel()
	if rerr := <-recvErr; err == nil {
		err = rerr
	}
	return connectedAt, err
}

// probeBatch is a message with the oldest pending probe results, or nil.
func (s *Session) probeBatch() *agentv1.ConnectRequest {
	rs := s.opts.Probes.Pending(probeBatch)
	if len(rs) == 0 {
		return nil
	}
	return &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_ProbeResults{ProbeResults: &agentv1.ProbeResults{Results: rs}}}
}

// receive hands each desired state to OnDesired, and starts answering each
// log request, until the stream fails.
func (s *Session) receive(ctx context.Context, client agentv1.AgentServiceClient, stream agentv1.AgentService_ConnectClient, connectedAt *time.Time) error {
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return errSessionEnded
		} else if err != nil {
			return err
		}
		if lr := resp.GetLogsRequest(); lr != nil {
			s.serveLogs(ctx, client, lr)
			continue
		}
		if ack := resp.GetProbeAck(); ack != nil {
			if s.opts.Probes != nil {
				s.opts.Probes.Ack(ack.GetSeq())
				select {
				case s.probeAcked <- struct{}{}:
				default:
				}
			}
			continue
		}
		ds := resp.GetDesiredState()
		if ds == nil {
			continue
		}
		if connectedAt.IsZero() {
			*connectedAt = s.opts.Now()
			s.opts.Log.Info("connected to berthd", "node_id", s.opts.Identity.NodeID, "server", s.opts.Server, "revision", ds.GetRevision())
		}
		s.opts.OnDesired(ctx, ds)
		s.mu.Lock()
		s.revision = ds.GetRevision()
		s.mu.Unlock()
	}
}

// send writes heartbeats and status reports until the stream fails. It
// returns nil once receive has reported (through recvErr, which it then
// leaves for the caller) or ctx has ended.
func (s *Session) send(ctx context.Context, stream agentv1.AgentService_ConnectClient, recvErr chan error) error {
	heartbeat := s.opts.After(jitter(s.opts.HeartbeatInterval, s.opts.Rand))
	// One batch of probe results is in flight at a time; a new session
	// starts by sending what is pending.
	var probesReady <-chan struct{}
	var probeRetry <-chan time.Time
	inflight := false
	if s.opts.Probes != nil {
		probesReady = s.opts.Probes.Ready()
		select {
		case s.probeAcked <- struct{}{}:
		default:
		}
	}
	for {
		var msg *agentv1.ConnectRequest
		select {
		case <-probesReady:
			if inflight {
				continue
			}
			msg = s.probeBatch()
		case <-s.probeAcked:
			inflight, probeRetry = false, nil
			msg = s.probeBatch()
		case <-probeRetry:
			inflight, probeRetry = false, nil
			msg = s.probeBatch()
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			recvErr <- err // for the caller
			return nil
		case <-heartbeat:
			heartbeat = s.opts.After(jitter(s.opts.HeartbeatInterval, s.opts.Rand))
			uctx, cancel := context.WithTimeout(ctx, usageTimeout)
			usage := s.opts.Usage(uctx)
			cancel()
			msg = &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Heartbeat{Heartbeat: usage}}
		case <-s.notify:
			r := s.takeReport()
			if r == nil {
				continue
			}
			msg = &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Status{Status: r}}
		}
		if msg == nil {
			continue
		}
		if msg.GetProbeResults() != nil {
			inflight, probeRetry = true, s.opts.After(probeAckTimeout)
		}
		if err := stream.Send(msg); err != nil {
			if r := msg.GetStatus(); r != nil {
				s.requeue(r)
			}
			if errors.Is(err, io.EOF) { // the stream's status arrives through Recv
				select {
				case err := <-recvErr:
					recvErr <- err
				case <-ctx.Done():
				}
				return nil
			}
			return err
		}
	}
}
