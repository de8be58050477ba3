package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/client"
	"github.com/fixaroo/berth/agents/edge"
	"github.com/fixaroo/berth/internal/shared/tlsroots"
)

// newEdge builds the node's certificate manager, which keeps its
// certificates in berthd through storage and calls onChange when they
// change, and the edge that serves the sites under them.
func newEdge(cfg Config, storage client.CertStorage, onChange func(), reg *prometheus.Registry, log *slog.Logger) (*certs.Manager, *edge.Edge, error) {
	var roots *x509.CertPool // nil: certmagic's default, the system's
	if cfg.ACMERoots != "" {
		var err error
		if roots, err = tlsroots.Pool(cfg.ACMERoots); err != nil {
			return nil, nil, fmt.Errorf("acme roots: %w", err)
		}
	}
	mgr, err := certs.New(certs.Options{
		DataDir: cfg.DataDir, Remote: storage, Signer: storage,
		ACMEDirectory: cfg.ACMEDirectory, ACMEEmail: cfg.ACMEEmail, ACMERoots: roots,
		InternalSuffixes:     cfg.InternalSuffixes,
		DisableHTTPChallenge: !cfg.challenge("http-01"), DisableTLSALPNChallenge: !cfg.challenge("tls-alpn-01"),
		AltHTTPPort: listenPort(cfg.HTTPListen), AltTLSALPNPort: listenPort(cfg.HTTPSListen),
		OnChange: onChange,
		Logger:   log,
	})
	if err != nil {
		return nil, nil, err
	}
	e, err := edge.New(edge.Options{
		HTTPListen: cfg.HTTPListen, HTTPSListen: cfg.HTTPSListen,
		TLSConfig: mgr.TLSConfig(),
		HTTPChallenge: func(next http.Handler) http.Handler {
			return mgr.HTTPChallengeHandler(challengesNotRedirected(next))
		},
		Registerer: reg, Logger: log,
	})
	if err != nil {
		return nil, nil, err
	}
	return mgr, e, nil
}

// challengesNotRedirected answers 404 to ACME HTTP-01 requests that no
// challenge in progress claimed, instead of redirecting them to HTTPS: a
// CA validating over HTTP must see the challenge's real answer.
func challengesNotRedirected(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			http.Error(w, "no such ACME challenge", http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// advertiseAddress is where peers reach this node's edge: the configured
// address, else the HTTPS listen address when it names a host, else the
// host name with its port. It waits (briefly) for the edge to listen.
func advertiseAddress(ctx context.Context, cfg Config, e *edge.Edge) string {
	if cfg.AdvertiseAddress != "" {
		return cfg.AdvertiseAddress
	}
	select {
	case <-e.Ready():
	case <-ctx.Done():
		return ""
	case <-time.After(10 * time.Second):
		return ""
	}
	_, httpsAddr := e.Addrs()
	host, port, err := net.SplitHostPort(httpsAddr.String())
	if err != nil {
		return ""
	}
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		return httpsAddr.String()
	}
	name, err := os.Hostname()
	if err != nil {
		return ""
	}
	return net.JoinHostPort(name, port)
}

// listenPort is the port of a host:port address, 0 if it has none.
func listenPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}
