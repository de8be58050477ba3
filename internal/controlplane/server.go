package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/web"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// maxRESTBody bounds REST request bodies; the API's messages are small.
const maxRESTBody = 4 << 20

// newGateway returns the REST gateway and its connection to the gRPC
// server. It calls the gRPC server over an in-memory connection rather than
// registering the services directly, so that REST calls pass the same
// interceptors (authentication, authorization, audit, metrics) as gRPC calls
// and server streams work too. The connection is closed when ctx ends.
func newGateway(ctx context.Context, g *errgroup.Group, grpcServer *grpc.Server) (*runtime.ServeMux, *grpc.ClientConn, error) {
	lis := bufconn.Listen(1 << 20)
	g.Go(func() error {
		if err := grpcServer.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("serve in-process gRPC: %w", err)
		}
		return nil
	})
	conn, err := grpc.NewClient("passthrough:///berthd-inprocess",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect gateway: %w", err)
	}
	g.Go(func() error {
		<-ctx.Done()
		return conn.Close()
	})
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
			UnmarshalOptions: protojson.UnmarshalOptions{},
		}),
	)
	for _, register := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		berthv1.RegisterAuthServiceHandler,
		berthv1.RegisterClientServiceHandler,
		berthv1.RegisterSiteServiceHandler,
		berthv1.RegisterNodeServiceHandler,
		berthv1.RegisterUserServiceHandler,
		berthv1.RegisterTokenServiceHandler,
		berthv1.RegisterAuditServiceHandler,
		berthv1.RegisterReleaseServiceHandler,
		berthv1.RegisterLogServiceHandler,
		berthv1.RegisterUptimeServiceHandler,
		berthv1.RegisterAlertServiceHandler,
		berthv1.RegisterStatusPageServiceHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, nil, fmt.Errorf("register gateway: %w", err)
		}
	}
	return mux, conn, nil
}

// newHandler routes the one TLS port: gRPC by content type, then the
// unauthenticated endpoints, then REST: release uploads (which stream large
// bodies) and everything else through the gateway.
func newHandler(grpcServer *grpc.Server, gateway, upload, dashboard http.Handler, st store.Store, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		err := st.View(ctx, func(tx store.ReadTx) error {
			_, err := tx.GetMeta(metaBootstrap)
			return err
		})
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			log.Warn("readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "store not ready")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(berthv1.OpenAPI)
	})
	mux.Handle("POST /v1/sites/{id}/releases", upload)
	mux.Handle("/v1/", http.MaxBytesHandler(gateway, maxRESTBody))
	// Everything else is the dashboard.
	mux.Handle("/", dashboard)
	rest := web.SecurityHeaders(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			grpcServer.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// renewBefore is how long before its expiry berthd's certificate is replaced.
const renewBefore = 30 * 24 * time.Hour

// certSource serves berthd's TLS certificate and issues a fresh one from the
// CA before the current one nears its expiry, so a long-running berthd never
// serves an expired certificate.
type certSource struct {
	ca    *pki.CA
	hosts []string
	now   func() time.Time

	mu   sync.Mutex // guards cert
	cert *tls.Certificate
}

// newCertSource issues the first certificate; now is the clock (nil:
// time.Now).
func newCertSource(ca *pki.CA, hosts []string, now func() time.Time) (*certSource, error) {
	if now == nil {
		now = time.Now
	}
	c := &certSource{ca: ca, hosts: hosts, now: now}
	if _, err := c.get(nil); err != nil {
		return nil, err
	}
	return c, nil
}

// tlsConfig is the configuration of berthd's TLS port, serving c's
// certificate.
func (c *certSource) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: c.get,
		NextProtos:     []string{"h2", "http/1.1"},
		// Node agents present client certificates from berthd's CA;
		// everyone else authenticates with bearer tokens.
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  c.ca.Pool(),
	}
}

func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cert != nil && now.Before(c.cert.Leaf.NotAfter.Add(-renewBefore)) {
		return c.cert, nil
	}
	cert, err := c.ca.ServerCertificate(c.hosts, now)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	if cert.Leaf == nil {
		return nil, errors.New("issue server certificate: no parsed leaf")
	}
	// Send the CA too: a joining node pins it by the hash in its join token.
	cert.Certificate = append(cert.Certificate, c.ca.Certificate().Raw)
	c.cert = &cert
	return c.cert, nil
}
