package edge

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// codeClasses are the values of the "code" label, indexed by status/100 - 1.
var codeClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// metrics are the edge's collectors. Every series is labelled by site id;
// requests for hosts the edge does not serve count under site="".
type metrics struct {
	requests       *prometheus.CounterVec   // site, code
	duration       *prometheus.HistogramVec // site
	responseBytes  *prometheus.CounterVec   // site
	upstreamErrors *prometheus.CounterVec   // site
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_edge_requests_total",
			Help: "Requests answered by the edge on :80 and :443, by site and status class.",
		}, []string{"site", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_edge_request_duration_seconds",
			Help: "Time from a request's head to the end of its response, by site.",
			// 5 ms to ~82 s: a cached page to a slow WordPress admin request.
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 15),
		}, []string{"site"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_edge_response_bytes_total",
			Help: "Response body bytes sent to clients, by site.",
		}, []string{"site"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_edge_upstream_errors_total",
			Help: "Requests the edge could not get an answer for from the site's container (refused, timed out, reset), by site.",
		}, []string{"site"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.responseBytes, m.upstreamErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("edge: register metrics: %w", err)
		}
	}
	return m, nil
}

// siteMetrics are one site's series, looked up once per route table rather
// than once per request. An in-flight request of a site that was removed
// meanwhile counts into children that are no longer exported, so a removed
// site's series never come back by accident.
type siteMetrics struct {
	requests       [5]prometheus.Counter
	duration       prometheus.Observer
	responseBytes  prometheus.Counter
	upstreamErrors prometheus.Counter
}

// site returns the series of one site, creating them (at zero) if needed.
func (m *metrics) site(id string) *siteMetrics {
	s := &siteMetrics{
		duration:       m.duration.WithLabelValues(id),
		responseBytes:  m.responseBytes.WithLabelValues(id),
		upstreamErrors: m.upstreamErrors.WithLabelValues(id),
	}
	for i, class := range codeClasses {
		s.requests[i] = m.requests.WithLabelValues(id, class)
	}
	return s
}

// forget removes every series of a site.
func (m *metrics) forget(id string) {
	l := prometheus.Labels{"site": id}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.responseBytes.DeletePartialMatch(l)
	m.upstreamErrors.DeletePartialMatch(l)
}

// observe records one finished request.
func (s *siteMetrics) observe(status int, bytes int64, start time.Time) {
	if status == 0 {
		status = 200 // nothing written: net/http sends an empty 200
	}
	if i := status/100 - 1; i >= 0 && i < len(s.requests) {
		s.requests[i].Inc()
	}
	s.duration.Observe(time.Since(start).Seconds())
	if bytes > 0 {
		s.responseBytes.Add(float64(bytes))
	}
}
