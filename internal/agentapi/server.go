package agentapi

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/monitor"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Options configures a Server. Store and CA are required; zero values of
// the other fields mean the documented defaults.
type Options struct {
	Store store.Store
	// Logger receives the nodes' joins and sessions (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CA signs node certificates, and site certificates of development names.
	CA *pki.CA
	// NodeCertTTL is the lifetime of node certificates (default 30 days);
	// agents renew them when a third is left.
	NodeCertTTL time.Duration
	// Blobs stores release bundles; FetchRelease fails with
	// FailedPrecondition without it.
	Blobs *blobs.Store
	// InternalSuffixes are the domain suffixes whose site certificates
	// berthd's CA signs (SignCertificate); default DefaultInternalSuffixes.
	InternalSuffixes []string
	// Monitor stores the nodes' probe results and assigns their probes;
	// without it nodes are sent no probes and their results are dropped.
	Monitor *monitor.Monitor
	// Logs pairs the public GetSiteLogs calls with the nodes' sessions; the
	// public API must be given the same Relay (default: a Relay of its own,
	// which no reader reaches).
	Logs *logrelay.Relay
	// WatchResync is how often a node's session re-reads its desired state
	// even without a change notification, covering notifications dropped
	// under load (default 15 s).
	WatchResync time.Duration
}

// DefaultInternalSuffixes are the development names berthd's CA signs site
// certificates for: names no public CA may issue for.
var DefaultInternalSuffixes = []string{"localhost", "test", "internal"}

// Server implements the node contract, berth.agent.v1.AgentService. Create
// it with New and register it with Register on a server guarded by an
// rpc.Gate that has Rules.
type Server struct {
	store            store.Store
	log              *slog.Logger
	now              func() time.Time
	ca               *pki.CA
	nodeCertTTL      time.Duration
	blobs            *blobs.Store
	internalSuffixes []string
	monitor          *monitor.Monitor
	logs             *logrelay.Relay
	watchResync      time.Duration

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: long-lived streams end
}

// New returns a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NodeCertTTL <= 0 {
		o.NodeCertTTL = 30 * 24 * time.Hour
	}
	if len(o.InternalSuffixes) == 0 {
		o.InternalSuffixes = DefaultInternalSuffixes
	}
	if o.Logs == nil {
		o.Logs = logrelay.New()
	}
	if o.WatchResync <= 0 {
		o.WatchResync = 15 * time.Second
	}
	return &Server{
		store:            o.Store,
		log:              o.Logger,
		now:              func() time.Time { return o.Now().UTC() },
		ca:               o.CA,
		nodeCertTTL:      o.NodeCertTTL,
		blobs:            o.Blobs,
		internalSuffixes: o.InternalSuffixes,
		monitor:          o.Monitor,
		logs:             o.Logs,
		watchResync:      o.WatchResync,
		closed:           make(chan struct{}),
	}
}

// Register registers the AgentService on s.
func (srv *Server) Register(s grpc.ServiceRegistrar) {
	agentv1.RegisterAgentServiceServer(s, agentService{Server: srv})
}

// Close ends the nodes' long-lived streams (Connect, SendLogs) so that a
// graceful shutdown does not wait for them. Safe to call more than once.
func (srv *Server) Close() {
	srv.closeOnce.Do(func() { close(srv.closed) })
}

// auditInTx appends the call's success event inside tx.
func (srv *Server) auditInTx(ctx context.Context, tx store.Tx, resourceID, clientID string) error {
	return rpc.AuditInTx(ctx, tx, srv.now(), resourceID, clientID)
}

// chunkSize is the size of the chunks FetchRelease sends.
const chunkSize = 1 << 20

var errNoBlobs = status.Error(codes.FailedPrecondition, "this berthd has no release storage configured")
