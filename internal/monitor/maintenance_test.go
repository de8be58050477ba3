package monitor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// TestMaintenanceWindow has three sites go down for minutes 2–6 as every
// vantage sees them: one in a maintenance window of its own, one in a
// window of its client, one in none. The windowed sites' minutes 2–6 are
// MAINTENANCE, open no incident and leave their uptime ratio at 1; the
// other site's are DOWN and open an incident, which the same results show
// would have happened without the windows.
func TestMaintenanceWindow(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	var mu sync.Mutex
	opened := map[string]int{} // site id → incidents opened
	m := New(Options{Store: st, Now: clk.Now, Settle: 30 * time.Second, K: 2,
		OnIncident: func(_ context.Context, k uptime.EventKind, inc *store.Incident) {
			mu.Lock()
			defer mu.Unlock()
			if k == uptime.EventOpened {
				opened[inc.SiteID]++
			}
		}})
	start, end := t0.Add(2*time.Minute), t0.Add(7*time.Minute)
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := createSites(tx, t0, "site_own", "site_none"); err != nil {
			return err
		}
		if err := tx.CreateClient(&store.Client{ID: "cl_2", DisplayName: "Two", Slug: "two", ContactEmail: "a@two.test", CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		if err := tx.CreateSite(&store.Site{ID: "site_client", ClientID: "cl_2", Name: "site_client", Kind: store.SiteKindStatic, PrimaryDomain: "site.two.test",
			MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStateRunning, Generation: 1, CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		for _, w := range []*store.MaintenanceWindow{
			{ID: "mw_site", SiteID: "site_own", Start: start, End: end, Reason: "upgrade", CreateTime: t0},
			{ID: "mw_client", ClientID: "cl_2", Start: start, End: end, Reason: "migration", CreateTime: t0},
		} {
			if err := tx.CreateMaintenanceWindow(w); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sites := []struct {
		id, client string
		windowed   bool
	}{{"site_own", "cl_1", true}, {"site_client", "cl_2", true}, {"site_none", "cl_1", false}}
	// Minutes 0–1 and 7–9 up, 2–6 down, from three vantages.
	seq := map[string]uint64{}
	for _, site := range sites {
		for _, v := range []string{"node_a", "node_b", "berthd"} {
			var batch []*agentv1.ProbeResult
			for minute := range 10 {
				seq[v]++
				r := &agentv1.ProbeResult{Seq: seq[v], SiteId: site.id, Time: timestamppb.New(t0.Add(time.Duration(minute)*time.Minute + 20*time.Second)),
					Ok: minute < 2 || minute > 6}
				if !r.Ok {
					r.ErrorClass = "refused"
				}
				batch = append(batch, r)
			}
			if _, err := m.Ingest(ctx, v, batch); err != nil {
				t.Fatal(err)
			}
		}
	}
	clk.Set(t0.Add(11 * time.Minute)) // minutes before 10:10 are settled
	if err := m.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}

	for _, site := range sites {
		var minutes []store.SiteMinute
		var incs []*store.Incident
		err := st.View(ctx, func(tx store.ReadTx) (err error) {
			if minutes, err = tx.ListSiteMinutes(site.id, t0, t0.Add(time.Hour)); err != nil {
				return err
			}
			incs, err = tx.ListIncidents(store.IncidentFilter{SiteID: site.id}, store.Page{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(minutes) != 10 {
			t.Fatalf("%s: %d minutes stored, want 10", site.id, len(minutes))
		}
		for i, mn := range minutes {
			want := uptime.StatusUp
			switch {
			case i >= 2 && i <= 6 && site.windowed:
				want = uptime.StatusMaintenance
			case i >= 2 && i <= 6:
				want = uptime.StatusDown
			}
			if got := uptime.Status(mn.Status); got != want {
				t.Errorf("%s minute %d: %v, want %v", site.id, i, got, want)
			}
		}
		wantIncidents, wantRatio := 0, 1.0
		if !site.windowed {
			wantIncidents, wantRatio = 1, 0.5 // 5 of 10 counted minutes up
		}
		mu.Lock()
		n := opened[site.id]
		mu.Unlock()
		if len(incs) != wantIncidents || n != wantIncidents {
			t.Errorf("%s: %d incidents stored, %d opened; want %d", site.id, len(incs), n, wantIncidents)
		}
		if got := testutil.ToFloat64(m.metrics.uptimeRatio.WithLabelValues(site.id, site.client, "24h")); got != wantRatio {
			t.Errorf("%s: 24h uptime ratio %v, want %v", site.id, got, wantRatio)
		}
	}
}
