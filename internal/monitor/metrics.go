package monitor

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fixaroo/berth/internal/store"
)

// metrics are the Monitor's Prometheus series; site series are bounded by
// the fleet's sites and removed with them.
type metrics struct {
	siteUp       *prometheus.GaugeVec
	uptimeRatio  *prometheus.GaugeVec
	openIncident prometheus.Gauge
	ingested     prometheus.Counter
	lag          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, st store.Store, now func() time.Time) *metrics {
	m := &metrics{
		siteUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "berth_site_up",
			Help: "1 when the site's last evaluated minute was up or degraded, 0 when down; absent without data."}, []string{"site", "client"}),
		uptimeRatio: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "berth_site_uptime_ratio",
			Help: "Uptime of the site over the window (24h, 7d, 30d), maintenance excluded."}, []string{"site", "client", "window"}),
		openIncident: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_incidents_open", Help: "Incidents open now."}),
		ingested:     prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_probe_results_ingested_total", Help: "Probe results stored, from every vantage."}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_probe_ingest_lag_seconds",
			Help: "How far the last evaluated minute lies behind now."}),
	}
	if reg != nil {
		reg.MustRegister(m.siteUp, m.uptimeRatio, m.openIncident, m.ingested, m.lag, newFleetCollector(st, now))
	}
	return m
}

// pruneSites removes the berth_site_up series of every site not in
// present. A deleted site is never evaluated again, so nothing else would
// remove its series.
func (m *metrics) pruneSites(present map[string]bool) {
	ch := make(chan prometheus.Metric)
	go func() {
		m.siteUp.Collect(ch)
		close(ch)
	}()
	var gone []string
	for metric := range ch {
		var pb dto.Metric
		if metric.Write(&pb) != nil {
			continue
		}
		for _, l := range pb.GetLabel() {
			if l.GetName() == "site" && !present[l.GetValue()] {
				gone = append(gone, l.GetValue())
			}
		}
	}
	// Collect holds the vector's lock until the channel closes.
	for _, id := range gone {
		m.siteUp.DeletePartialMatch(prometheus.Labels{"site": id})
	}
}

// fleetCollector reads node and certificate state from the store at each
// scrape, so the series always match the store.
type fleetCollector struct {
	store       store.Store
	now         func() time.Time
	nodes       *prometheus.Desc
	nodeReady   *prometheus.Desc
	heartbeat   *prometheus.Desc
	certFailing *prometheus.Desc
	certExpiry  *prometheus.Desc
}

func newFleetCollector(st store.Store, now func() time.Time) *fleetCollector {
	return &fleetCollector{store: st, now: now,
		nodes:     prometheus.NewDesc("berth_nodes", "Nodes by state.", []string{"state"}, nil),
		nodeReady: prometheus.NewDesc("berth_node_ready", "1 when the node is READY, 0 when NOT_READY or DRAINING.", []string{"node"}, nil),
		heartbeat: prometheus.NewDesc("berth_node_heartbeat_age_seconds", "Time since the node's last heartbeat.", []string{"node"}, nil),
		certFailing: prometheus.NewDesc("berth_site_certificate_failing",
			"1 when the last attempt to obtain or renew the domain's certificate failed.", []string{"site", "domain"}, nil),
		certExpiry: prometheus.NewDesc("berth_site_certificate_not_after_seconds",
			"When the domain's certificate expires (Unix time), as its node reports it.", []string{"site", "domain"}, nil),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.nodes
	ch <- c.nodeReady
	ch <- c.heartbeat
	ch <- c.certFailing
	ch <- c.certExpiry
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.now()
	_ = c.store.View(ctx, func(tx store.ReadTx) error {
		nodes, err := tx.ListNodes(store.Page{Limit: 1000})
		if err != nil {
			return err
		}
		byState := map[store.NodeState]float64{store.NodeStateReady: 0, store.NodeStateNotReady: 0, store.NodeStateDraining: 0}
		for _, n := range nodes {
			byState[n.State]++
		}
		for state, count := range byState {
			ch <- prometheus.MustNewConstMetric(c.nodes, prometheus.GaugeValue, count, strings.ToLower(string(state)))
		}
		for _, n := range nodes {
			ready := 0.0
			if n.State == store.NodeStateReady {
				ready = 1
			}
			ch <- prometheus.MustNewConstMetric(c.nodeReady, prometheus.GaugeValue, ready, n.Name)
			ch <- prometheus.MustNewConstMetric(c.heartbeat, prometheus.GaugeValue, now.Sub(n.LastHeartbeatTime).Seconds(), n.Name)
		}
		for s, err := range store.AllSites(tx, store.SiteFilter{}) {
			if err != nil {
				return err
			}
			for _, cs := range s.Certificates {
				failing := 0.0
				if cs.LastError != "" {
					failing = 1
				}
				ch <- prometheus.MustNewConstMetric(c.certFailing, prometheus.GaugeValue, failing, s.ID, cs.Domain)
				if !cs.NotAfter.IsZero() {
					ch <- prometheus.MustNewConstMetric(c.certExpiry, prometheus.GaugeValue, float64(cs.NotAfter.Unix()), s.ID, cs.Domain)
				}
			}
		}
		return nil
	})
}
