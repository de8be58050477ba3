package api

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/fixaroo/berth/internal/alerts"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/monitor"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Options configures an API. Store is required; zero values of the other
// fields mean the documented defaults.
type Options struct {
	Store store.Store
	// Logger receives errors that callers only see as Internal (default: discard).
	Logger *slog.Logger
	// Registerer receives the API's metrics (default: none registered).
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
	// CA signs node certificates; required.
	CA *pki.CA
	// NodeCertTTL is the lifetime of node certificates (default 30 days);
	// agents renew them when a third is left.
	NodeCertTTL time.Duration
	// Blobs stores release bundles; ReleaseService and FetchRelease need it
	// and fail with FailedPrecondition without it.
	Blobs *blobs.Store
	// ScratchDir is where uploaded bundles are unpacked to be checked, then
	// removed (default: the OS temporary directory).
	ScratchDir string
	// LogsStartTimeout is how long GetSiteLogs waits for the site's node to
	// start answering (default 10 s).
	LogsStartTimeout time.Duration
	// InternalSuffixes are the domain suffixes whose site certificates
	// berthd's CA signs (AgentService.SignCertificate); default
	// DefaultInternalSuffixes.
	InternalSuffixes []string
	// Monitor stores the nodes' probe results and assigns their probes;
	// without it nodes are sent no probes and their results are dropped.
	Monitor *monitor.Monitor
	// AlertSender sends test alerts (default: alerts.Sender's defaults).
	AlertSender *alerts.Sender
}

// DefaultInternalSuffixes are the development names berthd's CA signs site
// certificates for: names no public CA may issue for.
var DefaultInternalSuffixes = []string{"localhost", "test", "internal"}

// API implements the berth.v1 services. Create it with New and register it
// with Register.
type API struct {
	store       store.Store
	log         *slog.Logger
	now         func() time.Time
	auth        *auth.Authenticator
	limiter     *auth.LoginLimiter
	metrics     *metrics
	sessionTTL  time.Duration
	watchResync time.Duration
	ca          *pki.CA
	nodeCertTTL time.Duration
	blobs       *blobs.Store
	scratchDir  string
	// checks bounds how many uploaded bundles are unpacked at once.
	checks chan struct{}
	// logs pairs GetSiteLogs calls with the nodes' SendLogs calls.
	logs             *logRelay
	logsStartTimeout time.Duration
	internalSuffixes []string
	monitor          *monitor.Monitor
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
	if o.NodeCertTTL <= 0 {
		o.NodeCertTTL = 30 * 24 * time.Hour
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
	if len(o.InternalSuffixes) == 0 {
		o.InternalSuffixes = DefaultInternalSuffixes
	}
	if o.LoginLimiter == nil {
		o.LoginLimiter = auth.NewLoginLimiter(auth.LimiterOptions{Now: o.Now})
	}
	return &API{
		store:       o.Store,
		log:         o.Logger,
		now:         func() time.Time { return o.Now().UTC() },
		auth:        auth.NewAuthenticator(o.Store, o.Now),
		limiter:     o.LoginLimiter,
		metrics:     newMetrics(o.Registerer),
		sessionTTL:  o.SessionTTL,
		watchResync: o.WatchResync,
		ca:          o.CA,
		nodeCertTTL: o.NodeCertTTL,
		blobs:       o.Blobs,
		scratchDir:  o.ScratchDir,
		checks:      make(chan struct{}, maxConcurrentChecks),
		logs:        newLogRelay(),
		closed:      make(chan struct{}),

		logsStartTimeout: o.LogsStartTimeout,
		internalSuffixes: o.InternalSuffixes,
		monitor:          o.Monitor,
		alertSender:      o.AlertSender,
		statusPages:      newStatusPageCache(),
	}
}

// ServerOptions returns the interceptors every server of this API must use.
func (a *API) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.UnaryInterceptor),
		grpc.ChainStreamInterceptor(a.StreamInterceptor),
	}
}

// Register registers every service on s.
func (a *API) Register(s grpc.ServiceRegistrar) {
	berthv1.RegisterAuthServiceServer(s, authService{API: a})
	berthv1.RegisterClientServiceServer(s, clientService{API: a})
	berthv1.RegisterSiteServiceServer(s, siteService{API: a})
	berthv1.RegisterNodeServiceServer(s, nodeService{API: a})
	berthv1.RegisterUserServiceServer(s, userService{API: a})
	berthv1.RegisterTokenServiceServer(s, tokenService{API: a})
	berthv1.RegisterAuditServiceServer(s, auditService{API: a})
	agentv1.RegisterAgentServiceServer(s, agentService{API: a})
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
