package monitor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
)

// BenchmarkRatioPass times one recomputation of the uptime ratio gauges for
// 10 sites with 30 days of minutes each (432,000 stored minutes).
func BenchmarkRatioPass(b *testing.B) {
	ctx := context.Background()
	st := openStore(b)
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	const sites = 10
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: "cl_1", DisplayName: "One", Slug: "one", ContactEmail: "a@one.test", CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		for i := range sites {
			id := fmt.Sprintf("site_%d", i)
			if err := tx.CreateSite(&store.Site{ID: id, ClientID: "cl_1", Name: id, Kind: store.SiteKindStatic, PrimaryDomain: id + ".one.test",
				MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStateRunning, Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
				return err
			}
			ms := make([]store.SiteMinute, 0, 30*24*60)
			for j := 1; j <= 30*24*60; j++ {
				status := uptime.StatusUp
				if j%97 == 0 {
					status = uptime.StatusDown
				}
				ms = append(ms, store.SiteMinute{SiteID: id, Minute: now.Add(-time.Duration(j) * time.Minute), Status: int32(status)})
			}
			if err := tx.PutSiteMinutes(ms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	m := New(Options{Store: st, Now: func() time.Time { return now }})
	b.ResetTimer()
	for b.Loop() {
		m.lastRatios = time.Time{} // every pass recomputes the ratios
		if err := m.refreshGauges(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
