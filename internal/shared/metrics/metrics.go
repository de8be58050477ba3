// Package metrics serves a Prometheus registry over HTTP, the same way on
// berthd and on every node.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// shutdownTimeout bounds the wait for scrapes in flight when ctx ends.
const shutdownTimeout = 5 * time.Second

// Serve serves reg at GET /metrics on lis until ctx ends, then shuts the
// server down (waiting briefly for scrapes in flight) and returns nil. It
// returns an error if serving fails before that.
func Serve(ctx context.Context, lis net.Listener, reg *prometheus.Registry) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(lis)
	if !errors.Is(err, http.ErrServerClosed) {
		srv.Close()
		return fmt.Errorf("serve metrics on %s: %w", lis.Addr(), err)
	}
	<-done
	return nil
}
