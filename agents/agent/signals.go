package agent

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/fixaroo/berth/agents/certs"
)

// renewOnSignal renews every certificate when the agent gets SIGUSR1 (for
// ops, e.g. after a CA revoked certificates), until ctx ends.
func renewOnSignal(ctx context.Context, m *certs.Manager, log *slog.Logger) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	defer signal.Stop(c)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c:
			log.Info("SIGUSR1: renewing every certificate")
			if err := m.RenewAll(ctx); err != nil {
				log.Error("renewing certificates", "err", err)
			} else {
				log.Info("every certificate renewed")
			}
		}
	}
}
