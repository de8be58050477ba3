package agent

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixaroo/berth/agents/reconciler"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// siteStates exports how many of the node's sites are in each state, as
// the reconciler last observed them.
type siteStates struct {
	rec  *reconciler.Reconciler
	desc *prometheus.Desc
}

func newSiteStates(rec *reconciler.Reconciler) *siteStates {
	return &siteStates{rec: rec, desc: prometheus.NewDesc("berth_agent_sites",
		"Sites on this node by the state their container was last seen in.", []string{"state"}, nil)}
}

func (c *siteStates) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *siteStates) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]float64{}
	for _, s := range []agentv1.SiteState{agentv1.SiteState_SITE_STATE_PROVISIONING, agentv1.SiteState_SITE_STATE_RUNNING, agentv1.SiteState_SITE_STATE_FAILED} {
		counts[siteStateLabel(s)] = 0
	}
	for _, st := range c.rec.Statuses() {
		counts[siteStateLabel(st.GetState())]++
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, n, state)
	}
}

func siteStateLabel(s agentv1.SiteState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SITE_STATE_"))
}
