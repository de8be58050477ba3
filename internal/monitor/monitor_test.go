package monitor

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
	"github.com/fixaroo/berth/internal/uptime"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func openStore(t testing.TB) store.Store {
	t.Helper()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// createSites creates client cl_1 and a running static site of it for each
// id, named after the id.
func createSites(tx store.Tx, at time.Time, ids ...string) error {
	if err := tx.CreateClient(&store.Client{ID: "cl_1", DisplayName: "One", Slug: "one", ContactEmail: "a@one.test", CreateTime: at, UpdateTime: at}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := tx.CreateSite(&store.Site{ID: id, ClientID: "cl_1", Name: id, Kind: store.SiteKindStatic, PrimaryDomain: id + ".one.test",
			MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStateRunning, Generation: 1, CreateTime: at, UpdateTime: at}); err != nil {
			return err
		}
	}
	return nil
}

// TestEvaluate feeds three vantages' results through Ingest and checks the
// minutes, the incident and its events: down minutes open it after K=2,
// up minutes close it, a retransmitted batch is stored once, and nothing
// is judged before the settle time has passed since start.
func TestEvaluate(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	var mu sync.Mutex
	var events []uptime.EventKind
	m := New(Options{Store: st, Now: clk.Now, Settle: 30 * time.Second, K: 2,
		OnIncident: func(_ context.Context, k uptime.EventKind, inc *store.Incident) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, k)
		}})
	err := st.Update(ctx, func(tx store.Tx) error { return createSites(tx, t0, "site_1") })
	if err != nil {
		t.Fatal(err)
	}
	// Minutes 0-1 up, 2-4 down (all three fail), 5-7 up; one result per
	// vantage per minute, 20 s into the minute.
	seq := map[string]uint64{}
	send := func(vantage string, minute int, ok bool) {
		seq[vantage]++
		r := &agentv1.ProbeResult{Seq: seq[vantage], SiteId: "site_1", Time: timestamppb.New(t0.Add(time.Duration(minute)*time.Minute + 20*time.Second)), Ok: ok}
		if !ok {
			r.ErrorClass = "refused"
		}
		batch := []*agentv1.ProbeResult{r}
		for range 2 { // the second is a retransmission
			if ack, err := m.Ingest(ctx, vantage, batch); err != nil || ack != seq[vantage] {
				t.Fatalf("Ingest: ack %d, %v; want %d", ack, err, seq[vantage])
			}
		}
	}
	for minute := range 8 {
		for _, v := range []string{"node_a", "node_b", "berthd"} {
			send(v, minute, minute < 2 || minute > 4)
		}
	}
	if err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(t, st); got != 0 {
		t.Fatalf("%d minutes judged before the settle time passed since start, want 0", got)
	}
	clk.Set(t0.Add(9 * time.Minute))
	if err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	var minutes []store.SiteMinute
	var incs []*store.Incident
	err = st.View(ctx, func(tx store.ReadTx) (err error) {
		if minutes, err = tx.ListSiteMinutes("site_1", t0, t0.Add(time.Hour)); err != nil {
			return err
		}
		incs, err = tx.ListIncidents(store.IncidentFilter{SiteID: "site_1"}, store.Page{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(minutes) != 8 {
		t.Fatalf("%d minutes, want 8", len(minutes))
	}
	for i, mn := range minutes {
		want := uptime.StatusUp
		if i >= 2 && i <= 4 {
			want = uptime.StatusDown
		}
		if uptime.Status(mn.Status) != want || mn.Total != 3 {
			t.Errorf("minute %d: %v with %d vantages, want %v with 3 (each counted once)", i, uptime.Status(mn.Status), mn.Total, want)
		}
	}
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	inc := incs[0]
	if !inc.Start.Equal(t0.Add(2*time.Minute)) || !inc.End.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("incident %v → %v, want 10:02 → 10:05", inc.Start, inc.End)
	}
	// A fourth vantage's results for minute 6 arrive late (it was cut off
	// from berthd): the minute is redone, the incident history is not.
	send("node_c", 6, false)
	clk.Set(t0.Add(10 * time.Minute))
	if err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx store.ReadTx) (err error) {
		minutes, err = tx.ListSiteMinutes("site_1", t0.Add(6*time.Minute), t0.Add(7*time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(minutes) != 1 || minutes[0].Total != 4 || uptime.Status(minutes[0].Status) != uptime.StatusDegraded {
		t.Errorf("minute 6 after a late result: %+v, want 4 vantages, degraded", minutes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0] != uptime.EventOpened || events[1] != uptime.EventResolved {
		t.Errorf("events %v, want opened then resolved", events)
	}
}

func count(t *testing.T, st store.Store) int {
	t.Helper()
	var n int
	err := st.View(context.Background(), func(tx store.ReadTx) error {
		ms, err := tx.ListSiteMinutes("site_1", time.Time{}, time.Now().Add(time.Hour))
		n = len(ms)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDeletedSiteSeriesRemoved checks that the ratio pass drops the
// berth_site_up series of a site that no longer exists, and keeps the
// others.
func TestDeletedSiteSeriesRemoved(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	m := New(Options{Store: st, Now: func() time.Time { return t0 }})
	err := st.Update(ctx, func(tx store.Tx) error { return createSites(tx, t0, "site_kept") })
	if err != nil {
		t.Fatal(err)
	}
	m.metrics.siteUp.WithLabelValues("site_kept", "cl_1").Set(1)
	m.metrics.siteUp.WithLabelValues("site_gone", "cl_1").Set(0)
	if err := m.refreshGauges(ctx); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.metrics.siteUp); n != 1 {
		t.Errorf("%d berth_site_up series after the ratio pass, want 1", n)
	}
	if v := testutil.ToFloat64(m.metrics.siteUp.WithLabelValues("site_kept", "cl_1")); v != 1 {
		t.Errorf("berth_site_up of the kept site = %v, want 1", v)
	}
}

// TestUptimeRatioGauges checks berth_site_uptime_ratio against
// uptime.Summarize of the same stored minutes, for each window, and that a
// site without minutes in 30 days has no series.
func TestUptimeRatioGauges(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	m := New(Options{Store: st, Now: func() time.Time { return now }})
	var minutes []store.SiteMinute
	var want []uptime.Minute
	// 10 days of minutes, with gaps: every 7th down, every 11th degraded,
	// every 13th in maintenance, every 17th missing (NO_DATA).
	for i := 1; i <= 10*24*60; i++ {
		if i%17 == 0 {
			continue
		}
		status := uptime.StatusUp
		switch {
		case i%13 == 0:
			status = uptime.StatusMaintenance
		case i%11 == 0:
			status = uptime.StatusDegraded
		case i%7 == 0:
			status = uptime.StatusDown
		}
		at := now.Add(-time.Duration(i) * time.Minute)
		minutes = append(minutes, store.SiteMinute{SiteID: "site_1", Minute: at, Status: int32(status)})
		want = append(want, uptime.Minute{Start: at, Status: status})
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := createSites(tx, now, "site_1", "site_quiet"); err != nil {
			return err
		}
		return tx.PutSiteMinutes(minutes)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.refreshGauges(ctx); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour} {
		w := uptime.Summarize(now.Add(-d), now, want)
		got := testutil.ToFloat64(m.metrics.uptimeRatio.WithLabelValues("site_1", "cl_1", name))
		if got != w.Ratio || w.Ratio == 1 {
			t.Errorf("%s ratio = %v, want %v (and below 1)", name, got, w.Ratio)
		}
	}
	if n := testutil.CollectAndCount(m.metrics.uptimeRatio); n != 3 {
		t.Errorf("%d uptime ratio series, want 3: none for a site without minutes", n)
	}
}

// TestFirstProbeMarkSpreads checks that 1,200 sites berthd starts probing
// at once come due again spread over their interval: at most twice the
// even share of them in any 5 s tick, and none beyond one interval.
func TestFirstProbeMarkSpreads(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	const sites, interval, tick = 1200, time.Minute, 5 * time.Second
	perTick := map[int]int{}
	for i := range sites {
		due := firstProbeMark(store.NewID("site", now.Add(time.Duration(i)*time.Millisecond)), now, interval).Add(interval)
		if !due.After(now) || due.After(now.Add(interval)) {
			t.Fatalf("site %d is due at %v, want within (now, now+%v]", i, due.Sub(now), interval)
		}
		perTick[int(due.Sub(now)/tick)]++
	}
	even := sites / int(interval/tick)
	for slot, n := range perTick {
		if n > 2*even {
			t.Errorf("%d sites due in tick %d, want at most %d (even share %d)", n, slot, 2*even, even)
		}
	}
	if len(perTick) < int(interval/tick) {
		t.Errorf("sites due in %d of the %d ticks of an interval", len(perTick), interval/tick)
	}
}
