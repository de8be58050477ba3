package sqlite

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	txDuration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "berth_store_tx_duration_seconds",
		Help: "Time from the start of a store transaction to its commit or rollback.",
		// 100µs to ~6.5s: SQLite transactions are usually well under a millisecond.
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	}, []string{"kind", "outcome"})
	if err := reg.Register(h); err != nil {
		// A second store on the same registry (tests, a reopen) shares the
		// collector instead of failing.
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, fmt.Errorf("sqlite: register metrics: %w", err)
		}
		existing, ok := are.ExistingCollector.(*prometheus.HistogramVec)
		if !ok {
			return nil, fmt.Errorf("sqlite: register metrics: %w", err)
		}
		h = existing
	}
	for _, kind := range []string{"read", "write"} {
		for _, outcome := range []string{"ok", "error"} {
			h.WithLabelValues(kind, outcome) // export zeroes before the first transaction
		}
	}
	return &metrics{txDuration: h}, nil
}

// observe records one transaction; it is a no-op on a nil *metrics.
func (m *metrics) observe(kind string, start time.Time, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.txDuration.WithLabelValues(kind, outcome).Observe(time.Since(start).Seconds())
}
