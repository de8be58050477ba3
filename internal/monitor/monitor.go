// Package monitor is the control plane's side of uptime: it assigns probes
// to vantage points, stores the results the nodes send, probes every site
// itself as one more vantage, turns settled minutes into verdicts and
// incidents (by the rules of package uptime), and queues alerts.
//
// Minutes are evaluated in order, once settled: a minute is final when
// Settle has passed since its end and berthd has been up for Settle, so
// that results buffered by nodes while berthd was away have arrived.
// Results that arrive later still refresh the minute's rollup, but do not
// reopen incident history.
package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// BerthdVantage is the vantage name of berthd's own probes.
const BerthdVantage = "berthd"

// Options configures a Monitor. Store is required.
type Options struct {
	Store  store.Store
	Logger *slog.Logger
	Now    func() time.Time
	// Interval is how often each vantage probes each site (default 60 s,
	// at least 10 s).
	Interval time.Duration
	// Peers is how many nodes besides a site's own probe it (default 2).
	Peers int
	// Prober, if set, makes berthd a vantage point of every site.
	Prober *probe.Prober
	// Settle is how long after a minute ends it is evaluated (default 90 s).
	Settle time.Duration
	// Tick is how often Run looks for settled minutes (default 10 s).
	Tick time.Duration
	// K is how many consecutive down (up) minutes open (close) an incident
	// (default 2).
	K int
	// RawRetention and MinuteRetention bound what is kept (defaults 7 days
	// and 400 days).
	RawRetention, MinuteRetention time.Duration
	// OnIncident is called after an incident opened or was resolved.
	OnIncident func(ctx context.Context, ev uptime.EventKind, inc *store.Incident)
	// Registerer receives the uptime metrics (default: none).
	Registerer prometheus.Registerer
}

// Monitor runs uptime for the fleet.
type Monitor struct {
	o       Options
	log     *slog.Logger
	metrics *metrics
	started time.Time

	mu         sync.Mutex
	lastEval   time.Time            // the last minute evaluated
	late       map[string]time.Time // site id → the first minute that got results after it may have been judged
	lastRatios time.Time            // when the uptime ratio gauges were computed
	berthdSeq  uint64
}

// New returns a Monitor; Run starts it.
func New(o Options) *Monitor {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	o.Interval = max(o.Interval, 10*time.Second)
	if o.Peers <= 0 {
		o.Peers = 2
	}
	if o.Settle <= 0 {
		o.Settle = 90 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = 10 * time.Second
	}
	if o.K <= 0 {
		o.K = 2
	}
	if o.RawRetention <= 0 {
		o.RawRetention = 7 * 24 * time.Hour
	}
	if o.MinuteRetention <= 0 {
		o.MinuteRetention = 400 * 24 * time.Hour
	}
	return &Monitor{o: o, log: o.Logger, late: map[string]time.Time{}, metrics: newMetrics(o.Registerer, o.Store, o.Now), started: o.Now(), berthdSeq: uint64(o.Now().UnixNano())}
}

// Assignments returns the probes node nodeID runs: each running site on a
// node with a known edge is probed by its own node and by up to Peers
// other ready nodes, chosen by a stable hash of the site so that the load
// spreads and stays put.
func (m *Monitor) Assignments(tx store.ReadTx, nodeID string) ([]*agentv1.ProbeAssignment, error) {
	nodes, err := tx.ListNodes(store.Page{Limit: 1000})
	if err != nil {
		return nil, err
	}
	var ready []string
	edges := map[string]string{}
	for _, n := range nodes {
		if n.State == store.NodeStateReady {
			ready = append(ready, n.ID)
		}
		edges[n.ID] = n.EdgeAddress
	}
	var out []*agentv1.ProbeAssignment
	for s, err := range store.AllSites(tx, store.SiteFilter{}) {
		if err != nil {
			return nil, err
		}
		if !monitored(s) {
			continue
		}
		if !slices.Contains(m.vantages(s, ready), nodeID) {
			continue
		}
		target := edges[s.NodeID]
		if target == "" {
			continue
		}
		out = append(out, m.assignment(s, target))
	}
	return out, nil
}

// monitored says whether s is probed: placed, not being deleted, and for
// a static site, serving a release (it has nothing to serve before).
func monitored(s *store.Site) bool {
	switch {
	case s.NodeID == "" || s.State == store.SiteStateDeleting || s.State == store.SiteStatePending:
		return false
	case s.Kind == store.SiteKindStatic && s.ReleaseID == "":
		return false
	}
	return true
}

func (m *Monitor) assignment(s *store.Site, target string) *agentv1.ProbeAssignment {
	t := m.target(s, target)
	return &agentv1.ProbeAssignment{SiteId: s.ID, Domain: s.PrimaryDomain, Target: target,
		IntervalSeconds: int32(m.interval(s) / time.Second), TimeoutMs: int32(t.Timeout / time.Millisecond),
		ExpectedStatus: int32(t.ExpectedStatus), Keyword: t.Keyword}
}

// interval is how often s is probed: its own setting or the fleet's.
func (m *Monitor) interval(s *store.Site) time.Duration {
	if s.CheckIntervalSeconds > 0 {
		return max(time.Duration(s.CheckIntervalSeconds)*time.Second, 10*time.Second)
	}
	return m.o.Interval
}

// target is the probe of s at its node's edge address: a timeout of 80%
// of its interval (at most 10 s), its expected status and keyword.
func (m *Monitor) target(s *store.Site, addr string) probe.Target {
	expected := int(s.CheckExpectedStatus)
	if expected == 0 {
		expected = 200
	}
	return probe.Target{SiteID: s.ID, Domain: s.PrimaryDomain, Address: addr, Timeout: min(m.interval(s)*8/10, 10*time.Second),
		ExpectedStatus: expected, Keyword: s.CheckKeyword}
}

// vantages are the nodes that probe s: its own and Peers others from ready.
func (m *Monitor) vantages(s *store.Site, ready []string) []string {
	out := []string{s.NodeID}
	others := slices.DeleteFunc(slices.Clone(ready), func(id string) bool { return id == s.NodeID })
	sort.Slice(others, func(i, j int) bool { return rank(s.ID, others[i]) < rank(s.ID, others[j]) })
	return append(out, others[:min(len(others), m.o.Peers)]...)
}

func rank(siteID, nodeID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(siteID + "/" + nodeID))
	return h.Sum64()
}

// Ingest stores results a node sent and returns the highest seq stored.
func (m *Monitor) Ingest(ctx context.Context, nodeID string, rs []*agentv1.ProbeResult) (uint64, error) {
	var ack uint64
	batch := make([]store.ProbeResult, 0, len(rs))
	for _, r := range rs {
		ack = max(ack, r.GetSeq())
		if r.GetSiteId() == "" || r.GetTime() == nil {
			continue
		}
		batch = append(batch, fromProto(nodeID, r))
	}
	err := m.o.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.InsertProbeResults(batch)
		return err
	})
	if err != nil {
		return 0, err
	}
	m.metrics.ingested.Add(float64(len(batch)))
	// Results a node buffered while berthd was away may be for minutes
	// judged already: their rollups are redone.
	judged := m.o.Now().Add(-m.o.Settle).Truncate(time.Minute)
	m.mu.Lock()
	for _, r := range batch {
		if minute := r.Time.Truncate(time.Minute); minute.Before(judged) {
			if first, ok := m.late[r.SiteID]; !ok || minute.Before(first) {
				m.late[r.SiteID] = minute
			}
		}
	}
	m.mu.Unlock()
	return ack, nil
}

func fromProto(nodeID string, r *agentv1.ProbeResult) store.ProbeResult {
	pr := store.ProbeResult{NodeID: nodeID, Seq: r.GetSeq(), SiteID: r.GetSiteId(), Time: r.GetTime().AsTime(), OK: r.GetOk(),
		StatusCode: r.GetStatusCode(), TotalMS: r.GetTotalMs(), ConnectMS: r.GetConnectMs(), TLSMS: r.GetTlsMs(),
		FirstByteMS: r.GetFirstByteMs(), ErrorClass: r.GetErrorClass(), Error: truncate(r.GetError(), 512)}
	if r.GetCertNotAfter() != nil {
		pr.CertNotAfter = r.GetCertNotAfter().AsTime()
	}
	return pr
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Run evaluates minutes, probes from berthd and prunes old data until ctx
// ends.
func (m *Monitor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if m.o.Prober != nil {
		wg.Go(func() { m.probeLoop(ctx) })
	}
	tick := time.NewTicker(m.o.Tick)
	defer tick.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		if err := m.Evaluate(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("evaluate uptime", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		case <-prune.C:
			m.prune(ctx)
		}
	}
}

func (m *Monitor) prune(ctx context.Context) {
	now := m.o.Now()
	err := m.o.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.PruneProbeResults(now.Add(-m.o.RawRetention)); err != nil {
			return err
		}
		_, err := tx.PruneSiteMinutes(now.Add(-m.o.MinuteRetention))
		return err
	})
	if err != nil {
		m.log.Error("prune uptime data", "err", err)
	}
}

// probeLoop probes every placed site from berthd, each at its interval.
func (m *Monitor) probeLoop(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	last := map[string]time.Time{} // site id → when berthd last probed it
	for {
		m.probeDue(ctx, last)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// firstProbeMark is the time berthd records for its first probe of a site,
// made now: earlier than now by a phase of the site's own within its
// interval, so that the next probe comes that much sooner. Sites first
// probed together (every site, when berthd starts) thus spread over the
// interval instead of staying in one burst.
func firstProbeMark(siteID string, now time.Time, interval time.Duration) time.Time {
	h := fnv.New64a()
	h.Write([]byte(siteID))
	return now.Add(-time.Duration(h.Sum64() % uint64(interval)))
}

// probeDue probes the sites whose interval has passed since last[site].
func (m *Monitor) probeDue(ctx context.Context, last map[string]time.Time) {
	now := m.o.Now()
	var targets []probe.Target
	var intervals []time.Duration
	seen := map[string]bool{}
	err := m.o.Store.View(ctx, func(tx store.ReadTx) error {
		nodes, err := tx.ListNodes(store.Page{Limit: 1000})
		if err != nil {
			return err
		}
		edges := map[string]string{}
		for _, n := range nodes {
			edges[n.ID] = n.EdgeAddress
		}
		for s, err := range store.AllSites(tx, store.SiteFilter{}) {
			if err != nil {
				return err
			}
			if !monitored(s) {
				continue
			}
			seen[s.ID] = true
			addr := edges[s.NodeID]
			if addr == "" || now.Sub(last[s.ID]) < m.interval(s) {
				continue
			}
			targets = append(targets, m.target(s, addr))
			intervals = append(intervals, m.interval(s))
		}
		return nil
	})
	if err != nil {
		m.log.Error("list sites to probe", "err", err)
		return
	}
	for id := range last {
		if !seen[id] {
			delete(last, id)
		}
	}
	for i, t := range targets {
		if _, before := last[t.SiteID]; before {
			last[t.SiteID] = now
		} else {
			last[t.SiteID] = firstProbeMark(t.SiteID, now, intervals[i])
		}
	}
	results := make([]store.ProbeResult, len(targets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := m.o.Prober.Probe(ctx, t)
			results[i] = store.ProbeResult{NodeID: BerthdVantage, SiteID: r.SiteID, Time: r.Time, OK: r.OK, StatusCode: int32(r.StatusCode),
				TotalMS: ms(r.Total), ConnectMS: ms(r.Connect), TLSMS: ms(r.TLS), FirstByteMS: ms(r.FirstByte),
				CertNotAfter: r.CertNotAfter, ErrorClass: r.ErrorClass, Error: truncate(r.Error, 512)}
		})
	}
	wg.Wait()
	if ctx.Err() != nil || len(results) == 0 {
		return
	}
	m.mu.Lock()
	for i := range results {
		m.berthdSeq++
		results[i].Seq = m.berthdSeq
	}
	m.mu.Unlock()
	err = m.o.Store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.InsertProbeResults(results)
		return err
	})
	if err != nil && ctx.Err() == nil {
		m.log.Error("store berthd's probe results", "err", err)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// trackerState is what Evaluate keeps per site between runs.
type trackerState struct {
	Tracker    uptime.TrackerState `json:"tracker"`
	IncidentID string              `json:"incident_id,omitempty"`
}

// Evaluate turns every settled minute since the last evaluation into
// verdicts, incidents and alerts.
func (m *Monitor) Evaluate(ctx context.Context) error {
	now := m.o.Now()
	if now.Sub(m.started) < m.o.Settle {
		return nil // nodes may still be sending what they buffered
	}
	until := now.Add(-m.o.Settle).Truncate(time.Minute) // minutes before this are settled
	m.mu.Lock()
	from := m.lastEval
	m.mu.Unlock()
	if from.IsZero() {
		from = until.Add(-24 * time.Hour)
	}
	if !from.Before(until) {
		return nil
	}
	var siteIDs []string
	err := m.o.Store.View(ctx, func(tx store.ReadTx) (err error) {
		siteIDs, err = tx.SitesWithProbeResults(from.Add(-time.Minute), until)
		return err
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	late := m.late
	m.late = map[string]time.Time{}
	m.mu.Unlock()
	for id := range late {
		if !slices.Contains(siteIDs, id) {
			siteIDs = append(siteIDs, id)
		}
	}
	defer func() {
		// What was not redone is redone next time.
		m.mu.Lock()
		for id, minute := range late {
			if first, ok := m.late[id]; !ok || minute.Before(first) {
				m.late[id] = minute
			}
		}
		m.mu.Unlock()
	}()
	for _, id := range siteIDs {
		err := m.evaluateSite(ctx, id, from, until, late[id])
		switch {
		case err == nil:
			delete(late, id)
		case errors.Is(err, store.ErrNotFound): // deleted meanwhile
			delete(late, id)
			m.metrics.siteUp.DeletePartialMatch(prometheus.Labels{"site": id})
		default:
			return fmt.Errorf("site %s: %w", id, err)
		}
	}
	m.mu.Lock()
	m.lastEval = until
	m.mu.Unlock()
	m.metrics.lag.Set(now.Sub(until).Seconds())
	return m.refreshGauges(ctx)
}

// ratioEvery is how often the uptime ratio gauges are recomputed.
const ratioEvery = 10 * time.Minute

// ratioWindows are the windows of berth_site_uptime_ratio, longest first.
var ratioWindows = []struct {
	name string
	span time.Duration
}{{"30d", 30 * 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"24h", 24 * time.Hour}}

// refreshGauges sets the open incident count and, every ratioEvery, each
// site's uptime ratios, dropping the series of deleted sites.
func (m *Monitor) refreshGauges(ctx context.Context) error {
	now := m.o.Now().Truncate(time.Minute)
	m.mu.Lock()
	ratios := now.Sub(m.lastRatios) >= ratioEvery
	if ratios {
		m.lastRatios = now
	}
	m.mu.Unlock()
	return m.o.Store.View(ctx, func(tx store.ReadTx) error {
		open, err := tx.CountIncidents(store.IncidentFilter{OpenOnly: true})
		if err != nil {
			return err
		}
		m.metrics.openIncident.Set(float64(open))
		if !ratios {
			return nil
		}
		m.metrics.uptimeRatio.Reset()
		present := map[string]bool{}
		for s, err := range store.AllSites(tx, store.SiteFilter{}) {
			if err != nil {
				return err
			}
			present[s.ID] = true
			for i, w := range ratioWindows {
				c, err := tx.CountSiteMinutes(s.ID, now.Add(-w.span), now)
				if err != nil {
					return err
				}
				if i == 0 && c.Last.IsZero() {
					break // no minutes in the longest window: no series
				}
				n := func(st uptime.Status) int64 { return c.ByStatus[int32(st)] }
				ratio := uptime.Count(now.Add(-w.span), now, n(uptime.StatusUp), n(uptime.StatusDegraded), n(uptime.StatusDown), n(uptime.StatusMaintenance)).Ratio
				m.metrics.uptimeRatio.WithLabelValues(s.ID, s.ClientID, w.name).Set(ratio)
			}
		}
		m.metrics.pruneSites(present)
		return nil
	})
}

// evaluateSite judges the site's minutes in [from, until) not judged yet,
// and redoes the rollups of judged minutes from redo on (zero: none) with
// results that arrived late. Incidents follow the first judgement only.
func (m *Monitor) evaluateSite(ctx context.Context, siteID string, from, until, redo time.Time) error {
	var events []func()
	err := m.o.Store.Update(ctx, func(tx store.Tx) error {
		site, err := tx.GetSite(siteID)
		if err != nil {
			return err
		}
		var st trackerState
		raw, err := tx.GetUptimeState(siteID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(raw, &st); err != nil {
				return fmt.Errorf("uptime state: %w", err)
			}
		}
		if !st.Tracker.Last.IsZero() && !from.After(st.Tracker.Last) {
			from = st.Tracker.Last.Add(time.Minute)
		}
		if !redo.IsZero() && redo.Before(from) {
			if err := m.reroll(tx, site, redo, from); err != nil {
				return err
			}
		}
		if !from.Before(until) {
			return nil
		}
		results, err := tx.ListProbeResults(siteID, from, until)
		if err != nil {
			return err
		}
		windows, err := tx.ListMaintenanceWindows(site.ClientID, siteID, from, until)
		if err != nil {
			return err
		}
		var minutes []store.SiteMinute
		next := 0 // results are ordered by time
		for start := from; start.Before(until); start = start.Add(time.Minute) {
			var in []uptime.Result
			for ; next < len(results) && results[next].Time.Before(start.Add(time.Minute)); next++ {
				if r := results[next]; !r.Time.Before(start) {
					in = append(in, uptime.Result{Vantage: r.NodeID, Time: r.Time, OK: r.OK, ErrorClass: r.ErrorClass, TotalMS: r.TotalMS})
				}
			}
			if len(in) == 0 && st.Tracker.Last.IsZero() {
				continue // nothing yet for this site
			}
			min := uptime.RollupMinute(start, in, inMaintenance(windows, start))
			if len(in) > 0 || min.Status == uptime.StatusMaintenance {
				minutes = append(minutes, toStore(siteID, min))
			}
			next, evs := uptime.Step(st.Tracker, min, m.o.K)
			st.Tracker = next
			for _, ev := range evs {
				inc, err := m.applyEvent(tx, site, &st, ev)
				if err != nil {
					return err
				}
				events = append(events, func() {
					if m.o.OnIncident != nil {
						m.o.OnIncident(ctx, ev.Kind, inc)
					}
				})
			}
		}
		if err := tx.PutSiteMinutes(minutes); err != nil {
			return err
		}
		if n := len(minutes); n > 0 {
			switch uptime.Status(minutes[n-1].Status) {
			case uptime.StatusUp, uptime.StatusDegraded:
				m.metrics.siteUp.WithLabelValues(site.ID, site.ClientID).Set(1)
			case uptime.StatusDown:
				m.metrics.siteUp.WithLabelValues(site.ID, site.ClientID).Set(0)
			}
		}
		raw, err = json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.PutUptimeState(siteID, raw)
	})
	if err != nil {
		return err
	}
	for _, f := range events {
		f()
	}
	return nil
}

// reroll recomputes the stored rollups of the site's minutes in
// [from, to) from the results stored now.
func (m *Monitor) reroll(tx store.Tx, site *store.Site, from, to time.Time) error {
	results, err := tx.ListProbeResults(site.ID, from, to)
	if err != nil {
		return err
	}
	windows, err := tx.ListMaintenanceWindows(site.ClientID, site.ID, from, to)
	if err != nil {
		return err
	}
	byMinute := map[time.Time][]uptime.Result{}
	for _, r := range results {
		minute := r.Time.UTC().Truncate(time.Minute)
		byMinute[minute] = append(byMinute[minute], uptime.Result{Vantage: r.NodeID, Time: r.Time, OK: r.OK, ErrorClass: r.ErrorClass, TotalMS: r.TotalMS})
	}
	minutes := make([]store.SiteMinute, 0, len(byMinute))
	for start, in := range byMinute {
		minutes = append(minutes, toStore(site.ID, uptime.RollupMinute(start, in, inMaintenance(windows, start))))
	}
	return tx.PutSiteMinutes(minutes)
}

func inMaintenance(ws []*store.MaintenanceWindow, minute time.Time) bool {
	for _, w := range ws {
		if !minute.Before(w.Start) && minute.Before(w.End) {
			return true
		}
	}
	return false
}

func toStore(siteID string, m uptime.Minute) store.SiteMinute {
	return store.SiteMinute{SiteID: siteID, Minute: m.Start, Status: int32(m.Status), Up: int32(m.Up), Total: int32(m.Total),
		P50MS: m.P50MS, P95MS: m.P95MS, P99MS: m.P99MS, ErrorClasses: m.ErrorClasses, FailedVantages: m.FailedVantages}
}

// applyEvent records an incident opening or closing.
func (m *Monitor) applyEvent(tx store.Tx, site *store.Site, st *trackerState, ev uptime.Event) (*store.Incident, error) {
	now := m.o.Now()
	switch ev.Kind {
	case uptime.EventOpened:
		inc := &store.Incident{ID: store.NewID("inc", now), SiteID: site.ID, ClientID: site.ClientID, Start: ev.Incident.Start,
			ErrorClasses: ev.Incident.ErrorClasses, Vantages: ev.Incident.Vantages, CreateTime: now, UpdateTime: now}
		if err := tx.CreateIncident(inc); err != nil {
			return nil, err
		}
		st.IncidentID = inc.ID
		m.log.Warn("incident opened", "site_id", site.ID, "incident_id", inc.ID, "start", inc.Start, "causes", strings.Join(inc.ErrorClasses, ","))
		return inc, nil
	default:
		inc, err := tx.GetIncident(st.IncidentID)
		if err != nil {
			return nil, fmt.Errorf("open incident %q: %w", st.IncidentID, err)
		}
		inc.End, inc.ErrorClasses, inc.Vantages, inc.UpdateTime = ev.Incident.End, ev.Incident.ErrorClasses, ev.Incident.Vantages, now
		if err := tx.UpdateIncident(inc); err != nil {
			return nil, err
		}
		st.IncidentID = ""
		m.log.Info("incident resolved", "site_id", site.ID, "incident_id", inc.ID, "duration", inc.End.Sub(inc.Start))
		return inc, nil
	}
}
