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
	ids := make([]string, sites)
	for i := range ids {
		ids[i] = fmt.Sprintf("site_%d", i)
	}
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := createSites(tx, now, ids...); err != nil {
			return err
		}
		for _, id := range ids {
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
