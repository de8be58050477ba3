package prober

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixaroo/berth/internal/shared/probe"
)

// outcomeOK is the outcome label of a successful probe; failed ones carry
// their error class.
const outcomeOK = "ok"

// metrics are the prober's collectors. Label values are bounded: outcomes
// by the error classes, domains by the assignments (a domain's series goes
// when no assignment probes it any more).
type metrics struct {
	duration     prometheus.Histogram
	results      *prometheus.CounterVec // outcome
	buffered     prometheus.GaugeFunc
	dropped      prometheus.Counter
	certNotAfter *prometheus.GaugeVec // domain
}

func newMetrics(reg prometheus.Registerer, buffered func() float64) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "berth_agent_probe_duration_seconds",
			Help: "Duration of the node's uptime probes, failed ones included.",
			// 5 ms to ~10 s, the longest timeout.
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_agent_probe_results_total",
			Help: "Uptime probes made by the node, by outcome: ok or the error class.",
		}, []string{"outcome"}),
		buffered: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "berth_agent_probe_buffer_results",
			Help: "Probe results buffered on the node until berthd acknowledges them.",
		}, buffered),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_agent_probe_buffer_dropped_total",
			Help: "Probe results dropped, oldest first, because the buffer was full.",
		}),
		certNotAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "berth_agent_certificate_not_after_seconds",
			Help: "Expiry (Unix time) of the certificate served for each domain the node probes, as its probes last saw it.",
		}, []string{"domain"}),
	}
	// Every outcome exists from the start, so that rates work from the
	// first failure on.
	m.results.WithLabelValues(outcomeOK)
	for _, class := range probe.Classes() {
		m.results.WithLabelValues(class)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.duration, m.results, m.buffered, m.dropped, m.certNotAfter} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("prober: register metrics: %w", err)
		}
	}
	return m, nil
}

// outcome returns the outcome label of a result, within the known set.
func outcome(r probe.Result) string {
	if r.OK {
		return outcomeOK
	}
	for _, class := range probe.Classes() {
		if r.ErrorClass == class {
			return class
		}
	}
	return probe.ClassOther
}
