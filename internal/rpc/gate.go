package rpc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/store"
)

// metrics are the Gate's Prometheus metrics.
type metrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_grpc_server_handled_total",
			Help: "RPCs completed on the server, by method and gRPC status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_grpc_server_handling_seconds",
			Help:    "Time to handle an RPC (for streams: the stream's lifetime), by method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60, 600},
		}, []string{"method"}),
	}
	if reg != nil {
		reg.MustRegister(m.handled, m.duration)
	}
	return m
}

// observe records one finished call. Unknown methods are folded into one
// label value so that scanners cannot grow the label set.
func (m *metrics) observe(rules Rules, method string, err error, d time.Duration) {
	if _, ok := rules[method]; !ok {
		method = "unknown"
	}
	m.handled.WithLabelValues(method, status.Code(err).String()).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
}

// callInfo follows one call through the interceptors and handlers: the
// audit event to write, and whether a handler already wrote it.
type callInfo struct {
	method    string
	principal *auth.Principal
	peer      string

	mu         sync.Mutex // guards the fields below
	resourceID string
	clientID   string
	audited    bool
	denied     bool
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	if ci == nil {
		return &callInfo{}
	}
	return ci
}

// SetResource names the resource a call acts on, for its audit event.
func SetResource(ctx context.Context, resourceID, clientID string) {
	ci := callInfoFrom(ctx)
	ci.mu.Lock()
	ci.resourceID, ci.clientID = resourceID, clientID
	ci.mu.Unlock()
}

// Deny returns the NotFound error for a resource the caller may not see, and
// marks the call as denied so that it is audited.
func Deny(ctx context.Context, kind, id string) error {
	ci := callInfoFrom(ctx)
	ci.mu.Lock()
	ci.denied = true
	ci.resourceID = id
	ci.mu.Unlock()
	return NotFound(kind, id)
}

// SetPrincipal records who a public call turned out to be (a login's user,
// a joining node), for its audit event.
func SetPrincipal(ctx context.Context, p *auth.Principal) {
	ci := callInfoFrom(ctx)
	ci.mu.Lock()
	ci.principal = p
	ci.mu.Unlock()
}

// Peer is the address of the call's caller, as the audit log records it.
func Peer(ctx context.Context) string { return callInfoFrom(ctx).peer }

// event builds the audit event of the call with the given outcome.
func (ci *callInfo) event(id string, now time.Time, err error) *store.AuditEvent {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	e := &store.AuditEvent{
		ID: id, Time: now, Actor: ci.principal.Actor(), Method: ci.method,
		ResourceID: ci.resourceID, ClientID: ci.clientID, Peer: ci.peer,
		Code: status.Code(err).String(),
	}
	if err != nil {
		e.Message = status.Convert(err).Message()
	}
	// A client principal's denied or failed call is filed under its own
	// client, never under the client whose resource it named.
	if err != nil && ci.principal != nil && ci.principal.Role == store.RoleClient {
		e.ClientID = ci.principal.ClientID
	}
	return e
}

// AuditInTx appends the call's success event, at now, inside the caller's
// transaction, so the change and its audit record commit together.
func AuditInTx(ctx context.Context, tx store.Tx, now time.Time, resourceID, clientID string) error {
	ci := callInfoFrom(ctx)
	ci.mu.Lock()
	ci.resourceID, ci.clientID = resourceID, clientID
	ci.mu.Unlock()
	if err := tx.AppendAuditEvent(ci.event(store.NewID("evt", now), now, nil)); err != nil {
		return err
	}
	ci.mu.Lock()
	ci.audited = true
	ci.mu.Unlock()
	return nil
}

// Options configures a Gate. Store is required; zero values of the other
// fields mean the documented defaults.
type Options struct {
	Store store.Store
	// Logger receives errors that callers only see as Internal (default: discard).
	Logger *slog.Logger
	// Registerer receives the Gate's metrics (default: none registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rules are the authorization tables of the services the server
	// carries; a method may appear in only one.
	Rules []Rules
}

// Gate authenticates, authorizes, audits and measures every call of one
// gRPC server. It is safe for concurrent use.
type Gate struct {
	store   store.Store
	log     *slog.Logger
	now     func() time.Time
	auth    *auth.Authenticator
	rules   Rules
	metrics *metrics
}

// NewGate returns a Gate. It panics if two tables of o.Rules name the same
// method: that is a wiring mistake, not a runtime condition.
func NewGate(o Options) *Gate {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	rules, err := merge(o.Rules)
	if err != nil {
		panic(err)
	}
	return &Gate{
		store:   o.Store,
		log:     o.Logger,
		now:     func() time.Time { return o.Now().UTC() },
		auth:    auth.NewAuthenticator(o.Store, o.Now),
		rules:   rules,
		metrics: newMetrics(o.Registerer),
	}
}

// ServerOptions returns the interceptors of a server guarded by g.
func (g *Gate) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.UnaryInterceptor),
		grpc.ChainStreamInterceptor(g.StreamInterceptor),
	}
}

// UnaryInterceptor is the Gate's unary server interceptor.
func (g *Gate) UnaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx, ci, err := g.authorize(ctx, info.FullMethod)
	var resp any
	if err == nil {
		resp, err = handler(ctx, req)
		err = g.finish(ci, err)
	}
	g.afterCall(ci, err)
	g.metrics.observe(g.rules, info.FullMethod, err, time.Since(start))
	return resp, err
}

// StreamInterceptor is the Gate's stream server interceptor.
func (g *Gate) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx, ci, err := g.authorize(ss.Context(), info.FullMethod)
	if err == nil {
		err = handler(srv, &wrappedStream{ServerStream: ss, ctx: ctx})
		err = g.finish(ci, err)
	}
	g.afterCall(ci, err)
	g.metrics.observe(g.rules, info.FullMethod, err, time.Since(start))
	return err
}

type wrappedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (w *wrappedStream) Context() context.Context { return w.ctx }

// authorize authenticates the caller and applies the method's rule.
func (g *Gate) authorize(ctx context.Context, method string) (context.Context, *callInfo, error) {
	ci := &callInfo{method: method, peer: peerAddr(ctx)}
	ctx = context.WithValue(ctx, callInfoKey{}, ci)
	r, ok := g.rules[method]
	if !ok {
		// Deny by default: a method without a rule is unreachable.
		return ctx, ci, status.Errorf(codes.PermissionDenied, "method %s has no authorization rule", method)
	}
	if r.Access == Public {
		return ctx, ci, nil
	}
	p, err := g.authenticate(ctx)
	if err != nil {
		if !errors.Is(err, auth.ErrNoCredential) && !errors.Is(err, auth.ErrInvalidCredential) {
			g.log.Error("authenticate", "method", method, "err", err)
		}
		return ctx, ci, ToStatus(err)
	}
	ci.principal = p
	ctx = auth.WithPrincipal(ctx, p)
	human := p.Role == store.RoleAdmin || p.Role == store.RoleClient
	switch {
	case r.Access == Node && p.Role == store.RoleNode:
	case r.Access == Node:
		return ctx, ci, status.Errorf(codes.PermissionDenied, "%s is for node agents with a node certificate", shortMethod(method))
	case !human:
		return ctx, ci, status.Errorf(codes.PermissionDenied, "%s is not for node agents", shortMethod(method))
	case r.Access == Authenticated:
	case r.Access == Admin && p.IsAdmin():
	case r.Access == AdminOrClient:
	default:
		return ctx, ci, status.Errorf(codes.PermissionDenied, "%s is for agency admins; this token has the %s role", shortMethod(method), p.Role)
	}
	return ctx, ci, nil
}

// authenticate finds the caller: a bearer token if one is sent, else a node
// client certificate verified by the TLS layer.
func (g *Gate) authenticate(ctx context.Context) (*auth.Principal, error) {
	if tok := bearerToken(ctx); tok != "" {
		return g.auth.Authenticate(ctx, tok)
	}
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 {
			return g.auth.AuthenticateNode(ctx, info.State.VerifiedChains[0][0])
		}
	}
	return nil, auth.ErrNoCredential
}

// finish turns a handler's error into its status and logs the
// unexpected ones once, here.
func (g *Gate) finish(ci *callInfo, err error) error {
	st := ToStatus(err)
	if status.Code(st) == codes.Internal {
		g.log.Error("rpc failed", "method", ci.method, "err", err)
	}
	return st
}

// afterCall writes the audit event of a call that did not write its own:
// failed mutations and denied calls.
func (g *Gate) afterCall(ci *callInfo, err error) {
	r, known := g.rules[ci.method]
	ci.mu.Lock()
	audited, denied := ci.audited, ci.denied
	ci.mu.Unlock()
	if audited {
		return
	}
	code := status.Code(err)
	denied = denied || code == codes.Unauthenticated || code == codes.PermissionDenied || !known
	if !(denied || (r.Mutates && err != nil)) {
		return
	}
	now := g.now()
	e := ci.event(store.NewID("evt", now), now, err)
	// The audit write must not depend on the caller's context, which may be
	// cancelled already.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if werr := g.store.Update(ctx, func(tx store.Tx) error { return tx.AppendAuditEvent(e) }); werr != nil {
		g.log.Error("write audit event", "method", ci.method, "err", werr)
	}
}

// bearerToken returns the token of an "authorization: Bearer ..." header.
func bearerToken(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return ""
}

// peerAddr is the caller's address: the TCP peer, or for REST calls that
// reach the gRPC server through the in-process gateway, the address the
// gateway saw (which it alone sets, in x-forwarded-for).
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if p.Addr.Network() == inProcessNetwork {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-forwarded-for"); len(v) > 0 {
			// The gateway appends the real peer last.
			parts := strings.Split(v[len(v)-1], ",")
			return strings.TrimSpace(parts[len(parts)-1])
		}
		return "gateway"
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}

// inProcessNetwork is the Network() of the in-memory connections
// (grpc/test/bufconn) over which the control plane's REST gateway calls the
// gRPC server.
const inProcessNetwork = "bufconn"

func shortMethod(full string) string {
	return full[strings.LastIndex(full, "/")+1:]
}
