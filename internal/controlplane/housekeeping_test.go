package controlplane

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
)

// fakeTicker stands in for housekeeping's ticker. Its channel is
// unbuffered: a send returns only once the loop has taken the tick, that
// is, after the work before it is done.
type fakeTicker struct {
	c chan time.Time

	mu      sync.Mutex // guards periods
	periods []time.Duration
}

func (f *fakeTicker) newTicker(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.periods = append(f.periods, d)
	return f.c, func() {}
}

func (f *fakeTicker) tick(t *testing.T) {
	t.Helper()
	select {
	case f.c <- time.Time{}:
	case <-time.After(10 * time.Second):
		t.Fatal("housekeeping did not take a tick")
	}
}

// TestHousekeepingLoop runs berthd's housekeeping against a real store and
// blob directory with a fake hourly ticker: at start it removes the bundle
// no release uses and the audit events older than the retention, keeps the
// bundle a release uses and the younger events, and on a later tick does
// the same for a bundle orphaned and an event aged since.
func TestHousekeepingLoop(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	clk := &clock{now: t0}
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, secretKey))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, dbFile), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bl, err := blobs.New(blobs.Options{Dir: filepath.Join(dir, blobsDir)})
	if err != nil {
		t.Fatal(err)
	}

	// write stores a bundle that no upload holds any more.
	write := func(content string) string {
		t.Helper()
		d, _, err := bl.Write(strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		bl.Unpin(d)
		return d
	}
	used := write("the bundle site_1 serves")
	write("a bundle of a deleted site")
	const retention = 24 * time.Hour
	err = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateClient(&store.Client{ID: "cl_1", DisplayName: "One", Slug: "one", ContactEmail: "a@one.test", CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		if err := tx.CreateSite(&store.Site{ID: "site_1", ClientID: "cl_1", Name: "site-1", Kind: store.SiteKindStatic, PrimaryDomain: "site-1.one.test",
			MemoryMiB: 64, CPUMillicores: 100, State: store.SiteStatePending, Generation: 1, CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		if err := tx.CreateRelease(&store.Release{ID: "rel_1", SiteID: "site_1", Digest: used, SizeBytes: 24, CreateTime: t0}); err != nil {
			return err
		}
		for id, age := range map[string]time.Duration{"evt_old": retention + time.Hour, "evt_aging": retention - 30*time.Minute, "evt_new": 0} {
			if err := tx.AppendAuditEvent(&store.AuditEvent{ID: id, Time: t0.Add(-age), Actor: "test", Method: "test", Code: "OK"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	check := func(step string, wantBlobs, wantEvents []string) {
		t.Helper()
		list, err := bl.List()
		if err != nil {
			t.Fatal(err)
		}
		var gotBlobs []string
		for _, b := range list {
			gotBlobs = append(gotBlobs, b.Digest)
		}
		var events []*store.AuditEvent
		err = st.View(ctx, func(tx store.ReadTx) (err error) {
			events, err = tx.ListAuditEvents(store.AuditFilter{}, store.Page{Limit: 100})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var gotEvents []string
		for _, e := range events {
			gotEvents = append(gotEvents, e.ID)
		}
		for _, s := range [][]string{wantBlobs, gotBlobs, wantEvents, gotEvents} {
			slices.Sort(s)
		}
		if diff := cmp.Diff(wantBlobs, gotBlobs); diff != "" {
			t.Errorf("%s: bundles stored (-want +got):\n%s", step, diff)
		}
		if diff := cmp.Diff(wantEvents, gotEvents); diff != "" {
			t.Errorf("%s: audit events kept (-want +got):\n%s", step, diff)
		}
	}

	tk := &fakeTicker{c: make(chan time.Time)}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- housekeeping{store: st, blobs: blobs.Collector{Blobs: bl, Store: st}, retention: retention, log: slog.New(slog.DiscardHandler), now: clk.Now, newTicker: tk.newTicker}.run(runCtx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("housekeeping: %v", err)
		}
	})

	tk.tick(t) // the pass at start is done
	check("at start", []string{used}, []string{"evt_aging", "evt_new"})

	// An hour later: another site's bundle lost its release, and evt_aging
	// passed the retention.
	write("a bundle whose release was deleted")
	clk.Set(t0.Add(time.Hour))
	tk.tick(t) // starts a pass
	tk.tick(t) // returns once it is done
	check("an hour later", []string{used}, []string{"evt_new"})

	tk.mu.Lock()
	defer tk.mu.Unlock()
	if !slices.Equal(tk.periods, []time.Duration{time.Hour}) {
		t.Errorf("housekeeping asked for tickers of %v, want one hourly", tk.periods)
	}
}

// logWatch is a slog handler that passes each record's message on.
type logWatch struct{ msgs chan string }

func (w logWatch) Enabled(context.Context, slog.Level) bool { return true }
func (w logWatch) WithAttrs([]slog.Attr) slog.Handler       { return w }
func (w logWatch) WithGroup(string) slog.Handler            { return w }
func (w logWatch) Handle(_ context.Context, r slog.Record) error {
	select {
	case w.msgs <- r.Message:
	default: // the test reads only what it waits for
	}
	return nil
}

// TestRunHousekeepsAtStart starts berthd on a data directory holding a
// bundle no release uses and an audit event older than --audit-retention:
// berthd's composition root runs the housekeeping, which removes both as
// soon as berthd has started.
func TestRunHousekeepsAtStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Listen, cfg.MetricsListen, cfg.ProbeFromBerthd = dir, "127.0.0.1:0", "off", false
	cfg.AuditRetention = Duration(24 * time.Hour)

	bl, err := blobs.New(blobs.Options{Dir: filepath.Join(dir, blobsDir)})
	if err != nil {
		t.Fatal(err)
	}
	orphan, _, err := bl.Write(strings.NewReader("a bundle of a site deleted before the restart"))
	if err != nil {
		t.Fatal(err)
	}
	bl.Unpin(orphan)
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, secretKey))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, dbFile), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		return tx.AppendAuditEvent(&store.AuditEvent{ID: "evt_old", Time: time.Now().Add(-25 * time.Hour), Actor: "test", Method: "test", Code: "OK"})
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	logs := logWatch{msgs: make(chan string, 1000)}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(logs), io.Discard) }()
	want := map[string]bool{"removed release bundles no release uses": true, "pruned audit events": true}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case msg := <-logs.msgs:
			delete(want, msg)
		case err := <-done:
			t.Fatalf("berthd stopped before housekeeping: %v", err)
		case <-timeout:
			t.Fatalf("berthd started but did not log %v", slices.Collect(maps.Keys(want)))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	if ok, err := bl.Exists(orphan); ok || err != nil {
		t.Errorf("the unused bundle is still stored (%v)", err)
	}
	st, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, dbFile), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.View(context.Background(), func(tx store.ReadTx) error {
		events, err := tx.ListAuditEvents(store.AuditFilter{}, store.Page{Limit: 100})
		for _, e := range events {
			if e.ID == "evt_old" {
				t.Errorf("the audit event older than the retention is still kept")
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
