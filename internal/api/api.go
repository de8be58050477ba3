package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Options configures an API. Store is required; zero values of the other
// fields mean the documented defaults.
type Options struct {
	Store store.Store
	// Logger receives errors that callers only see as Internal (default: discard).
	Logger *slog.Logger
	// Registerer receives the metrics of the Gate that ServerOptions uses
	// (default: none registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SessionTTL is how long a login session lasts (default 12 hours).
	SessionTTL time.Duration
	// WatchResync is how often WatchSite re-reads a site even without a change
	// notification, covering notifications dropped under load (default 15 s).
	WatchResync time.Duration
	// LoginLimiter limits failed logins (default: 5 failures per email or peer per 15 minutes).
	LoginLimiter *auth.LoginLimiter
	// CA is berthd's certificate authority, whose hash join tokens carry;
	// required.
	CA *pki.CA
	// Blobs stores release bundles; ReleaseService needs it and fails with
	// FailedPrecondition without it.
	Blobs *blobs.Store
	// ScratchDir is where uploaded bundles are unpacked to be checked, then
	// removed (default: the OS temporary directory).
	ScratchDir string
	// LogsStartTimeout is how long GetSiteLogs waits for the site's node to
	// start answering (default 10 s).
	LogsStartTimeout time.Duration
	// Logs reaches the nodes' sessions for GetSiteLogs; the node-facing
	// server (package agentapi) must be given the same Relay (default: a
	// Relay of its own, which no node reaches).
	Logs *logrelay.Relay
	// AlertSender sends test alerts (default: alerts.Sender's defaults).
	AlertSender *alerts.Sender
}

// API implements the public berth.v1 services. Create it with New and
// register it with Register on a server guarded by an rpc.Gate that has
// Rules (ServerOptions makes one for a server of this API alone).
type API struct {
	store       store.Store
	log         *slog.Logger
	now         func() time.Time
	gate        *rpc.Gate
	limiter     *auth.LoginLimiter
	sessionTTL  time.Duration
	watchResync time.Duration
	ca          *pki.CA
	blobs       *blobs.Store
	scratchDir  string
	// checks bounds how many uploaded bundles are unpacked at once.
	checks chan struct{}
	// logs pairs GetSiteLogs calls with the nodes' SendLogs calls.
	logs             *logrelay.Relay
	logsStartTimeout time.Duration
	alertSender      *alerts.Sender
	// statusPages keeps recently built public status pages.
	statusPages *statusPageCache

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: long-lived streams end
}

// New returns an API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.WatchResync <= 0 {
		o.WatchResync = 15 * time.Second
	}
	if o.LogsStartTimeout <= 0 {
		o.LogsStartTimeout = 10 * time.Second
	}
	if o.AlertSender == nil {
		// A zero Sender refuses only link-local, metadata, multicast and
		// unspecified addresses and requires STARTTLS. berthd passes its
		// own, limited to public addresses and --alert-allow-private.
		o.AlertSender = &alerts.Sender{}
	}
	if o.Logs == nil {
		o.Logs = logrelay.New()
	}
	if o.LoginLimiter == nil {
		o.LoginLimiter = auth.NewLoginLimiter(auth.LimiterOptions{Now: o.Now})
	}
	return &API{
		store: o.Store,
		log:   o.Logger,
		now:   func() time.Time { return o.Now().UTC() },
		gate: rpc.NewGate(rpc.Options{Store: o.Store, Logger: o.Logger, Registerer: o.Registerer, Now: o.Now,
			Rules: []rpc.Rules{Rules(), rpc.InfrastructureRules()}}),
		limiter:     o.LoginLimiter,
		sessionTTL:  o.SessionTTL,
		watchResync: o.WatchResync,
		ca:          o.CA,
		blobs:       o.Blobs,
		scratchDir:  o.ScratchDir,
		checks:      make(chan struct{}, maxConcurrentChecks),
		logs:        o.Logs,
		closed:      make(chan struct{}),

		logsStartTimeout: o.LogsStartTimeout,
		alertSender:      o.AlertSender,
		statusPages:      newStatusPageCache(),
	}
}

// ServerOptions returns the interceptors of a server that carries this API
// alone (tests, the dashboard's harness). berthd's server also carries the
// node contract and uses one rpc.Gate with both packages' Rules instead.
func (a *API) ServerOptions() []grpc.ServerOption {
	return a.gate.ServerOptions()
}

// Register registers every public service on s.
func (a *API) Register(s grpc.ServiceRegistrar) {
	berthv1.RegisterAuthServiceServer(s, authService{API: a})
	berthv1.RegisterClientServiceServer(s, clientService{API: a})
	berthv1.RegisterSiteServiceServer(s, siteService{API: a})
	berthv1.RegisterNodeServiceServer(s, nodeService{API: a})
	berthv1.RegisterUserServiceServer(s, userService{API: a})
	berthv1.RegisterTokenServiceServer(s, tokenService{API: a})
	berthv1.RegisterAuditServiceServer(s, auditService{API: a})
	berthv1.RegisterReleaseServiceServer(s, releaseService{API: a})
	berthv1.RegisterLogServiceServer(s, logService{API: a})
	berthv1.RegisterUptimeServiceServer(s, uptimeService{API: a})
	berthv1.RegisterAlertServiceServer(s, alertService{API: a})
	berthv1.RegisterStatusPageServiceServer(s, statusPageService{API: a})
}

// Close ends long-lived streams (WatchSite, GetSiteLogs) so that a graceful shutdown does
// not wait for them. Safe to call more than once.
func (a *API) Close() {
	a.closeOnce.Do(func() { close(a.closed) })
}

// auditInTx appends the call's success event inside tx.
func (a *API) auditInTx(ctx context.Context, tx store.Tx, resourceID, clientID string) error {
	return rpc.AuditInTx(ctx, tx, a.now(), resourceID, clientID)
}
