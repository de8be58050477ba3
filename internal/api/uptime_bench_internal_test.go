package api

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// BenchmarkSiteUptime90d computes GetSiteUptime's answer for a site with 90
// days of minutes, the cost of a site page and of one site of a status page.
func BenchmarkSiteUptime90d(b *testing.B) {
	for _, tt := range []struct {
		name string
		fn   func(store.ReadTx, *store.Site, time.Time) (*berthv1.GetSiteUptimeResponse, error)
	}{{"counted", siteUptime}, {"by-minute", siteUptimeByMinute}} {
		b.Run(tt.name, func(b *testing.B) {
			st, site, now := seedMinutes(b, func(m time.Time, i int) (store.SiteMinute, bool) {
				sm := store.SiteMinute{Status: 1, Up: 3, Total: 3, P50MS: 40, P95MS: 80, P99MS: 90}
				if i%97 == 0 {
					sm.Status, sm.Up, sm.ErrorClasses, sm.FailedVantages = 3, 0, []string{"timeout"}, []string{"node_a", "node_b"}
				}
				return sm, true
			})
			ctx := context.Background()
			for b.Loop() {
				err := st.View(ctx, func(tx store.ReadTx) error {
					_, err := tt.fn(tx, site, now)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSiteUptimeCounted: the answer counted by the store equals the one
// read minute by minute, for random minutes with gaps over 91 days, at a
// moment that is not a whole hour.
func TestSiteUptimeCounted(t *testing.T) {
	st, site, now := seedMinutes(t, func(m time.Time, i int) (store.SiteMinute, bool) {
		r := uint64(i)*2654435761 + uint64(m.Unix()/60)*40503
		if r%7 == 0 {
			return store.SiteMinute{}, false // no data
		}
		return store.SiteMinute{Status: int32(r % 5), Up: 2, Total: 3, P50MS: float64(r%400) + 1, P95MS: 500, P99MS: 600}, true
	})
	var fast, slow *berthv1.GetSiteUptimeResponse
	err := st.View(context.Background(), func(tx store.ReadTx) (err error) {
		if fast, err = siteUptime(tx, site, now); err != nil {
			return err
		}
		slow, err = siteUptimeByMinute(tx, site, now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slow, fast, protocmp.Transform()); diff != "" {
		t.Fatalf("counted answer differs (-by minute +counted):\n%s", diff)
	}
	if len(fast.GetDaily()) != 91 || fast.GetWindows()[3].GetDownMinutes() == 0 || fast.GetLatency_24H().GetSamples() == 0 {
		t.Fatalf("the seed did not exercise the answer: %d days, %d down minutes", len(fast.GetDaily()), fast.GetWindows()[3].GetDownMinutes())
	}
}

// seedMinutes stores a client and a site with 91 days of minutes made by
// minute (false: no row) and returns the store, the site and "now".
func seedMinutes(tb testing.TB, minute func(m time.Time, i int) (store.SiteMinute, bool)) (store.Store, *store.Site, time.Time) {
	ctx := context.Background()
	dir := tb.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		tb.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 28, 14, 37, 0, 0, time.UTC)
	c := &store.Client{ID: store.NewID("cl", now), DisplayName: "C", Slug: "c", ContactEmail: "c@c.test", CreateTime: now, UpdateTime: now}
	site := &store.Site{ID: store.NewID("site", now), ClientID: c.ID, Name: "s", Kind: store.SiteKindStatic, PrimaryDomain: "s.c.test",
		State: store.SiteStateRunning, CreateTime: now, UpdateTime: now}
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		if err := tx.CreateSite(site); err != nil {
			return err
		}
		var ms []store.SiteMinute
		i := 0
		for m := now.AddDate(0, 0, -91); m.Before(now); m = m.Add(time.Minute) {
			i++
			sm, ok := minute(m, i)
			if !ok {
				continue
			}
			sm.SiteID, sm.Minute = site.ID, m
			ms = append(ms, sm)
			if len(ms) == 5000 {
				if err := tx.PutSiteMinutes(ms); err != nil {
					return err
				}
				ms = ms[:0]
			}
		}
		return tx.PutSiteMinutes(ms)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st, site, now
}
