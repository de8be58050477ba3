package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/store"
)

// uptimeSites creates a client with n sites and returns the sites.
func uptimeSites(t *testing.T, s store.Store, n int) []*store.Site {
	t.Helper()
	c := newClient(1)
	sites := make([]*store.Site, n)
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(c); err != nil {
			return err
		}
		for i := range sites {
			sites[i] = newSite(c.ID, i)
			if err := tx.CreateSite(sites[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return sites
}

func newProbeResult(nodeID string, seq uint64, siteID string, when time.Time) store.ProbeResult {
	return store.ProbeResult{
		NodeID: nodeID, Seq: seq, SiteID: siteID, Time: when,
		OK: true, StatusCode: 200,
		TotalMS: 42.5, ConnectMS: 3.25, TLSMS: 7.125, FirstByteMS: 30.0625,
		CertNotAfter: at(90 * 24 * time.Hour),
	}
}

func insertProbeResults(t *testing.T, s store.Store, rs []store.ProbeResult) int {
	t.Helper()
	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.InsertProbeResults(rs)
		return err
	})
	return n
}

func listProbeResults(t *testing.T, s store.Store, siteID string, from, to time.Time) []store.ProbeResult {
	t.Helper()
	return read(t, s, func(tx store.ReadTx) ([]store.ProbeResult, error) { return tx.ListProbeResults(siteID, from, to) })
}

// byTime orders probe results as ListProbeResults does.
func byTime(a, b store.ProbeResult) int {
	return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.Seq, b.Seq))
}

func testProbeResults(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 3)
	nodeA, nodeB := store.NewID("node", base), store.NewID("node", at(time.Millisecond))
	// Three vantages probe sites 0 and 1 every 10s for 5 minutes, inserted
	// newest first; site 2 has no results.
	var rs []store.ProbeResult
	for i := 29; i >= 0; i-- {
		when := at(time.Duration(i) * 10 * time.Second)
		for v, node := range []string{nodeB, nodeA, store.ProbeControlPlane} {
			for j, site := range sites[:2] {
				r := newProbeResult(node, uint64(1000*i+10*j+v), site.ID, when)
				if i%7 == 0 {
					r.OK, r.StatusCode, r.ErrorClass, r.Error = false, 503, "status", "503 Service Unavailable"
					r.CertNotAfter = time.Time{}
				}
				rs = append(rs, r)
			}
		}
	}
	if n := insertProbeResults(t, s, rs); n != len(rs) {
		t.Errorf("InsertProbeResults = %d, want %d", n, len(rs))
	}

	want := func(siteID string, from, to time.Time) []store.ProbeResult {
		var out []store.ProbeResult
		for _, r := range rs {
			if r.SiteID == siteID && (from.IsZero() || !r.Time.Before(from)) && (to.IsZero() || r.Time.Before(to)) {
				out = append(out, r)
			}
		}
		slices.SortFunc(out, byTime)
		return out
	}
	for _, tt := range []struct {
		name     string
		site     string
		from, to time.Time
	}{
		{"all", sites[0].ID, time.Time{}, time.Time{}},
		{"bounds on results", sites[0].ID, at(time.Minute), at(2 * time.Minute)},
		{"bounds between results", sites[1].ID, at(65 * time.Second), at(95 * time.Second)},
		{"from only", sites[1].ID, at(4 * time.Minute), time.Time{}},
		{"to only", sites[0].ID, time.Time{}, at(30 * time.Second)},
		{"empty range", sites[0].ID, at(time.Minute), at(time.Minute)},
		{"after the last", sites[0].ID, at(time.Hour), at(2 * time.Hour)},
		{"site without results", sites[2].ID, time.Time{}, time.Time{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := listProbeResults(t, s, tt.site, tt.from, tt.to)
			if diff := gocmp.Diff(want(tt.site, tt.from, tt.to), got, equateEmpty); diff != "" {
				t.Errorf("ListProbeResults (-want +got):\n%s", diff)
			}
		})
	}

	sitesWith := func(from, to time.Time) []string {
		t.Helper()
		return read(t, s, func(tx store.ReadTx) ([]string, error) { return tx.SitesWithProbeResults(from, to) })
	}
	both := sorted([]string{sites[0].ID, sites[1].ID}, false)
	checkIDs(t, "SitesWithProbeResults(all time)", sitesWith(time.Time{}, time.Time{}), both)
	checkIDs(t, "SitesWithProbeResults(first 10s)", sitesWith(base, at(10*time.Second)), both)
	checkIDs(t, "SitesWithProbeResults(before the first)", sitesWith(at(-time.Hour), base), nil)
	checkIDs(t, "SitesWithProbeResults(after the last)", sitesWith(at(290*time.Second+1), at(time.Hour)), nil)

	// Only site 1 has a result in the last second.
	last := newProbeResult(nodeA, 1<<40, sites[1].ID, at(time.Hour))
	insertProbeResults(t, s, []store.ProbeResult{last})
	checkIDs(t, "SitesWithProbeResults(one site)", sitesWith(at(time.Hour), at(time.Hour+time.Second)), []string{sites[1].ID})
}

func testProbeResultsIdempotent(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	node := store.NewID("node", base)
	// More than one statement's worth on SQLite, so batches are split.
	const n = 6000
	batch := make([]store.ProbeResult, n)
	for i := range batch {
		batch[i] = newProbeResult(node, uint64(i), sites[i%2].ID, at(time.Duration(i)*time.Second))
	}
	if got := insertProbeResults(t, s, batch); got != n {
		t.Errorf("first InsertProbeResults = %d, want %d", got, n)
	}
	if got := insertProbeResults(t, s, batch); got != 0 {
		t.Errorf("InsertProbeResults of the same batch again = %d, want 0", got)
	}
	count := func() int {
		t.Helper()
		return len(listProbeResults(t, s, sites[0].ID, time.Time{}, time.Time{})) +
			len(listProbeResults(t, s, sites[1].ID, time.Time{}, time.Time{}))
	}
	if got := count(); got != n {
		t.Errorf("%d results stored after a retransmission, want %d", got, n)
	}

	// A retransmission wins nothing: the first copy stays.
	changed := batch[0]
	changed.OK, changed.StatusCode = false, 500
	var mixed []store.ProbeResult
	mixed = append(mixed, changed)
	for i := range 10 {
		mixed = append(mixed, newProbeResult(node, uint64(n+i), sites[0].ID, at(-time.Duration(i+1)*time.Second)))
	}
	// The same (NodeID, Seq) from another vantage is another result, and
	// one listed twice in a batch is stored once.
	other := newProbeResult(store.ProbeControlPlane, 0, sites[0].ID, at(time.Hour))
	mixed = append(mixed, other, other)
	if got := insertProbeResults(t, s, mixed); got != 11 {
		t.Errorf("InsertProbeResults of 1 old and 11 new results, one of them twice = %d, want 11", got)
	}
	if got := count(); got != n+11 {
		t.Errorf("%d results stored, want %d", got, n+11)
	}
	first := listProbeResults(t, s, sites[0].ID, batch[0].Time, batch[0].Time.Add(time.Nanosecond))
	if diff := gocmp.Diff([]store.ProbeResult{batch[0]}, first); diff != "" {
		t.Errorf("result after a changed retransmission (-want +got):\n%s", diff)
	}

	// Results of a site that does not exist are skipped, not an error.
	gone := newProbeResult(node, uint64(2*n), store.NewID("site", at(time.Hour)), at(time.Minute))
	kept := newProbeResult(node, uint64(2*n+1), sites[1].ID, at(2*time.Hour))
	if got := insertProbeResults(t, s, []store.ProbeResult{gone, kept}); got != 1 {
		t.Errorf("InsertProbeResults with a missing site = %d, want 1", got)
	}
	if got := insertProbeResults(t, s, nil); got != 0 {
		t.Errorf("InsertProbeResults(nil) = %d", got)
	}

	// The whole uint64 range of sequence numbers round-trips.
	for _, seq := range []uint64{1<<63 - 1, 1 << 63, 1<<64 - 1} {
		r := newProbeResult(node, seq, sites[1].ID, at(time.Duration(seq%1000)*time.Hour+3*time.Hour))
		if got := insertProbeResults(t, s, []store.ProbeResult{r}); got != 1 {
			t.Errorf("InsertProbeResults with seq %d = %d, want 1", seq, got)
		}
		got := listProbeResults(t, s, r.SiteID, r.Time, r.Time.Add(time.Nanosecond))
		if diff := gocmp.Diff([]store.ProbeResult{r}, got); diff != "" {
			t.Errorf("result with seq %d (-want +got):\n%s", seq, diff)
		}
	}
}

func testProbeResultsPrune(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	var rs []store.ProbeResult
	for i := range 20 {
		rs = append(rs, newProbeResult("node_a", uint64(i), sites[i%2].ID, at(time.Duration(i)*time.Minute)))
	}
	insertProbeResults(t, s, rs)
	prune := func(before time.Time) int {
		t.Helper()
		var n int
		update(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneProbeResults(before)
			return err
		})
		return n
	}
	if n := prune(base); n != 0 {
		t.Errorf("PruneProbeResults before the first result = %d, want 0", n)
	}
	// Strictly before: the result at 5m stays.
	if n := prune(at(5 * time.Minute)); n != 5 {
		t.Errorf("PruneProbeResults(5m) = %d, want 5", n)
	}
	if n := prune(at(5 * time.Minute)); n != 0 {
		t.Errorf("PruneProbeResults(5m) again = %d, want 0", n)
	}
	got := append(listProbeResults(t, s, sites[0].ID, time.Time{}, time.Time{}),
		listProbeResults(t, s, sites[1].ID, time.Time{}, time.Time{})...)
	slices.SortFunc(got, byTime)
	if diff := gocmp.Diff(rs[5:], got); diff != "" {
		t.Errorf("results after pruning (-want +got):\n%s", diff)
	}
	if n := prune(at(time.Hour)); n != 15 {
		t.Errorf("PruneProbeResults(1h) = %d, want 15", n)
	}
}

func newSiteMinute(siteID string, minute time.Time, i int) store.SiteMinute {
	m := store.SiteMinute{
		SiteID: siteID, Minute: minute, Status: 1, Up: 6, Total: 6,
		P50MS: 40 + float64(i), P95MS: 80.5, P99MS: 120.25,
	}
	if i%3 == 0 {
		m.Status, m.Up = 3, 2
		m.ErrorClasses = []string{"timeout", "tls"}
		m.FailedVantages = []string{"node_a", store.ProbeControlPlane}
	}
	return m
}

func putSiteMinutes(t *testing.T, s store.Store, ms []store.SiteMinute) {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.PutSiteMinutes(ms) })
}

func listSiteMinutes(t *testing.T, s store.Store, siteID string, from, to time.Time) []store.SiteMinute {
	t.Helper()
	return read(t, s, func(tx store.ReadTx) ([]store.SiteMinute, error) { return tx.ListSiteMinutes(siteID, from, to) })
}

func testSiteMinutes(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	start := base.Truncate(time.Hour)
	minute := func(i int) time.Time { return start.Add(time.Duration(i) * time.Minute) }
	var ofA []store.SiteMinute
	var all []store.SiteMinute
	for i := 9; i >= 0; i-- { // put out of order
		m := newSiteMinute(sites[0].ID, minute(i), i)
		ofA = append(ofA, m)
		all = append(all, m, newSiteMinute(sites[1].ID, minute(i), i+1))
	}
	putSiteMinutes(t, s, all)
	slices.SortFunc(ofA, func(a, b store.SiteMinute) int { return a.Minute.Compare(b.Minute) })

	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     []store.SiteMinute
	}{
		{"all", time.Time{}, time.Time{}, ofA},
		{"range", minute(2), minute(5), ofA[2:5]},
		{"between minutes", minute(2).Add(time.Second), minute(5).Add(time.Second), ofA[3:6]},
		{"from", minute(8), time.Time{}, ofA[8:]},
		{"to", time.Time{}, minute(1), ofA[:1]},
		{"none", minute(10), minute(20), nil},
	} {
		got := listSiteMinutes(t, s, sites[0].ID, tt.from, tt.to)
		if diff := gocmp.Diff(tt.want, got, equateEmpty); diff != "" {
			t.Errorf("ListSiteMinutes %s (-want +got):\n%s", tt.name, diff)
		}
	}

	// Counting agrees with listing.
	for _, r := range [][2]time.Time{{{}, {}}, {minute(2), minute(5)}, {minute(2).Add(time.Second), minute(9)}, {minute(10), minute(20)}} {
		want := store.MinuteCounts{ByStatus: map[int32]int64{}}
		for _, m := range listSiteMinutes(t, s, sites[0].ID, r[0], r[1]) {
			want.ByStatus[m.Status]++
			want.Last, want.LastStatus = m.Minute, m.Status
		}
		got := read(t, s, func(tx store.ReadTx) (store.MinuteCounts, error) { return tx.CountSiteMinutes(sites[0].ID, r[0], r[1]) })
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("CountSiteMinutes %s..%s (-want +got):\n%s", r[0], r[1], diff)
		}
	}

	// Put replaces a minute and adds new ones.
	replaced := ofA[3] // one with error classes and vantages
	replaced.Status, replaced.Up, replaced.Total, replaced.ErrorClasses, replaced.FailedVantages = 5, 0, 0, nil, nil
	added := newSiteMinute(sites[0].ID, minute(10), 10)
	putSiteMinutes(t, s, []store.SiteMinute{replaced, added})
	want := slices.Clone(ofA)
	want[3] = replaced
	want = append(want, added)
	if diff := gocmp.Diff(want, listSiteMinutes(t, s, sites[0].ID, time.Time{}, time.Time{}), equateEmpty); diff != "" {
		t.Errorf("ListSiteMinutes after replacing (-want +got):\n%s", diff)
	}
	if n := len(listSiteMinutes(t, s, sites[1].ID, time.Time{}, time.Time{})); n != 10 {
		t.Errorf("the other site has %d minutes after replacing, want 10", n)
	}

	// Minutes of a missing site are skipped; a minute must be whole.
	putSiteMinutes(t, s, []store.SiteMinute{newSiteMinute(store.NewID("site", at(time.Hour)), minute(0), 0)})
	err := updateErr(t, s, func(tx store.Tx) error {
		return tx.PutSiteMinutes([]store.SiteMinute{newSiteMinute(sites[0].ID, minute(30).Add(time.Second), 0)})
	})
	if err == nil {
		t.Error("PutSiteMinutes accepted a minute that is not whole")
	}

	var n int
	update(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.PruneSiteMinutes(minute(3))
		return err
	})
	if n != 6 {
		t.Errorf("PruneSiteMinutes(minute 3) = %d, want 6", n)
	}
	if diff := gocmp.Diff(want[3:], listSiteMinutes(t, s, sites[0].ID, time.Time{}, time.Time{}), equateEmpty); diff != "" {
		t.Errorf("ListSiteMinutes after pruning (-want +got):\n%s", diff)
	}

	// By day, around midnights.
	midnight := start.Truncate(24 * time.Hour).Add(48 * time.Hour)
	var edge []store.SiteMinute
	for i, m := range []time.Time{midnight.Add(-time.Minute), midnight, midnight.Add(time.Minute), midnight.Add(24 * time.Hour)} {
		edge = append(edge, newSiteMinute(sites[1].ID, m, i))
	}
	putSiteMinutes(t, s, edge)
	for _, site := range sites {
		var want []store.DayMinuteCounts
		for _, m := range listSiteMinutes(t, s, site.ID, time.Time{}, time.Time{}) {
			day := m.Minute.UTC().Truncate(24 * time.Hour)
			if len(want) == 0 || !want[len(want)-1].Day.Equal(day) {
				want = append(want, store.DayMinuteCounts{Day: day, MinuteCounts: store.MinuteCounts{ByStatus: map[int32]int64{}}})
			}
			d := &want[len(want)-1]
			d.ByStatus[m.Status]++
			d.Last, d.LastStatus = m.Minute, m.Status
		}
		got := read(t, s, func(tx store.ReadTx) ([]store.DayMinuteCounts, error) {
			return tx.CountSiteMinutesByDay(site.ID, time.Time{}, time.Time{})
		})
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("CountSiteMinutesByDay (-want +got):\n%s", diff)
		}
	}
}

func testUptimeState(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	get := func(siteID string) ([]byte, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) ([]byte, error) { return tx.GetUptimeState(siteID) })
	}
	_, err := get(sites[0].ID)
	wantErr(t, "GetUptimeState before any put", err, store.ErrNotFound, sites[0].ID)

	for _, state := range []string{`{"open":null,"down_since":"2025-03-14T09:27:00Z"}`, `{}`, `{"open":"inc_1"}`} {
		update(t, s, func(tx store.Tx) error { return tx.PutUptimeState(sites[0].ID, []byte(state)) })
		got, err := get(sites[0].ID)
		if err != nil || string(got) != state {
			t.Errorf("GetUptimeState after putting %s = %s, %v", state, got, err)
		}
	}
	_, err = get(sites[1].ID)
	wantErr(t, "GetUptimeState of another site", err, store.ErrNotFound)

	missing := store.NewID("site", at(time.Hour))
	err = updateErr(t, s, func(tx store.Tx) error { return tx.PutUptimeState(missing, []byte(`{}`)) })
	wantErr(t, "PutUptimeState of a missing site", err, store.ErrNotFound, missing)
}

func newIncident(site *store.Site, i int, start, end time.Time) *store.Incident {
	return &store.Incident{
		ID:           store.NewID("inc", at(time.Duration(i)*time.Millisecond)),
		SiteID:       site.ID,
		ClientID:     site.ClientID,
		Start:        start,
		End:          end,
		ErrorClasses: []string{"timeout"},
		Vantages:     []string{"node_a", store.ProbeControlPlane},
		CreateTime:   start.Add(time.Minute),
		UpdateTime:   start.Add(time.Minute),
	}
}

func testIncidentCRUD(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	inc := newIncident(sites[0], 1, at(time.Hour), time.Time{})
	update(t, s, func(tx store.Tx) error { return tx.CreateIncident(inc) })
	get := func(id string) (*store.Incident, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (*store.Incident, error) { return tx.GetIncident(id) })
	}
	got, err := get(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(inc, got); diff != "" {
		t.Errorf("GetIncident after create (-want +got):\n%s", diff)
	}
	if !got.Open() {
		t.Error("an incident without an end is not open")
	}

	// Update closes it and replaces everything but ID and CreateTime.
	closed := *inc
	closed.End = at(time.Hour + 5*time.Minute)
	closed.ErrorClasses, closed.Vantages = []string{"timeout", "tls"}, nil
	closed.UpdateTime = closed.End
	ignored := closed
	ignored.CreateTime = at(-time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.UpdateIncident(&ignored) })
	got, err = get(inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(&closed, got, equateEmpty); diff != "" {
		t.Errorf("GetIncident after update (-want +got):\n%s", diff)
	}
	if got.Open() {
		t.Error("an incident with an end is open")
	}

	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateIncident(inc) })
	wantErr(t, "CreateIncident with a taken id", err, store.ErrConflict, inc.ID)

	missingSite := newIncident(&store.Site{ID: store.NewID("site", at(time.Hour))}, 2, base, time.Time{})
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateIncident(missingSite) })
	wantErr(t, "CreateIncident of a missing site", err, store.ErrNotFound, missingSite.SiteID)
	missing := newIncident(sites[1], 3, base, time.Time{})
	err = updateErr(t, s, func(tx store.Tx) error { return tx.UpdateIncident(missing) })
	wantErr(t, "UpdateIncident of a missing incident", err, store.ErrNotFound, missing.ID)
	_, err = get(missing.ID)
	wantErr(t, "GetIncident of a missing incident", err, store.ErrNotFound, missing.ID)
}

func testListIncidents(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	sites := []*store.Site{newSite(a.ID, 1), newSite(a.ID, 2), newSite(b.ID, 3)}
	var incs []*store.Incident
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateClient(a); err != nil {
			return err
		}
		if err := tx.CreateClient(b); err != nil {
			return err
		}
		for _, site := range sites {
			if err := tx.CreateSite(site); err != nil {
				return err
			}
		}
		// 25 incidents; ids are not in start order, and some starts tie.
		for i := range listed {
			start := at(time.Duration((i*7)%listed/2) * time.Hour)
			end := start.Add(time.Duration(1+i%4) * 20 * time.Minute)
			if i%5 == 0 {
				end = time.Time{} // open
			}
			inc := newIncident(sites[i%3], i, start, end)
			incs = append(incs, inc)
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
		}
		return nil
	})
	newestFirst := slices.Clone(incs)
	slices.SortFunc(newestFirst, func(x, y *store.Incident) int {
		return cmp.Or(y.Start.Compare(x.Start), cmp.Compare(y.ID, x.ID))
	})

	from, to := at(3*time.Hour), at(6*time.Hour)
	for _, tt := range []struct {
		name string
		f    store.IncidentFilter
	}{
		{"all", store.IncidentFilter{}},
		{"client", store.IncidentFilter{ClientID: a.ID}},
		{"site", store.IncidentFilter{SiteID: sites[2].ID}},
		{"open only", store.IncidentFilter{OpenOnly: true}},
		{"overlapping", store.IncidentFilter{From: from, To: to}},
		{"since", store.IncidentFilter{From: from}},
		{"until", store.IncidentFilter{To: to}},
		{"site, open, overlapping", store.IncidentFilter{SiteID: sites[0].ID, OpenOnly: true, From: from, To: to}},
		{"client and range", store.IncidentFilter{ClientID: b.ID, From: at(time.Hour), To: at(9 * time.Hour)}},
		{"unknown client", store.IncidentFilter{ClientID: store.NewID("cli", base)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			var want []string
			for _, inc := range newestFirst {
				if (f.ClientID == "" || inc.ClientID == f.ClientID) &&
					(f.SiteID == "" || inc.SiteID == f.SiteID) &&
					(!f.OpenOnly || inc.End.IsZero()) &&
					(f.To.IsZero() || inc.Start.Before(f.To)) &&
					(f.From.IsZero() || inc.End.IsZero() || inc.End.After(f.From)) {
					want = append(want, inc.ID)
				}
			}
			for _, limit := range []int{1, 3, 100} {
				got := pageAll(t, s, limit, func(i *store.Incident) string { return i.ID },
					func(tx store.ReadTx, p store.Page) ([]*store.Incident, error) { return tx.ListIncidents(f, p) })
				checkIDs(t, fmt.Sprintf("ListIncidents limit %d", limit), got, want)
			}
			if n := read(t, s, func(tx store.ReadTx) (int, error) { return tx.CountIncidents(f) }); n != len(want) {
				t.Errorf("CountIncidents = %d, want %d", n, len(want))
			}
		})
	}

	// An incident that ended exactly at From does not overlap it; one that
	// starts exactly at To does not either.
	edge := newIncident(sites[0], 100, at(100*time.Hour), at(101*time.Hour))
	update(t, s, func(tx store.Tx) error { return tx.CreateIncident(edge) })
	for _, f := range []store.IncidentFilter{
		{SiteID: sites[0].ID, From: at(101 * time.Hour), To: at(102 * time.Hour)},
		{SiteID: sites[0].ID, From: at(99 * time.Hour), To: at(100 * time.Hour)},
	} {
		got := read(t, s, func(tx store.ReadTx) ([]*store.Incident, error) { return tx.ListIncidents(f, store.Page{}) })
		if slices.ContainsFunc(got, func(i *store.Incident) bool { return i.ID == edge.ID }) {
			t.Errorf("ListIncidents(%v to %v) lists an incident from %v to %v", f.From, f.To, edge.Start, edge.End)
		}
	}

	first := read(t, s, func(tx store.ReadTx) ([]*store.Incident, error) {
		return tx.ListIncidents(store.IncidentFilter{}, store.Page{Limit: 1})
	})
	if diff := gocmp.Diff([]*store.Incident{edge}, first, equateEmpty); diff != "" {
		t.Errorf("newest incident (-want +got):\n%s", diff)
	}
	_, err := read2(t, s, func(tx store.ReadTx) ([]*store.Incident, error) {
		return tx.ListIncidents(store.IncidentFilter{}, store.Page{After: store.NewID("inc", base)})
	})
	wantErr(t, "ListIncidents after a missing incident", err, store.ErrNotFound)
}

func newMaintenanceWindow(i int, siteID, clientID string, start, end time.Time) *store.MaintenanceWindow {
	return &store.MaintenanceWindow{
		ID:         store.NewID("mw", at(time.Duration(i)*time.Millisecond)),
		SiteID:     siteID,
		ClientID:   clientID,
		Start:      start,
		End:        end,
		Reason:     fmt.Sprintf("upgrade %d", i),
		CreatedBy:  "user:ops@agency.example (admin)",
		CreateTime: at(time.Duration(i) * time.Second),
	}
}

func testMaintenanceWindowCRUD(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 1)
	mw := newMaintenanceWindow(1, sites[0].ID, "", at(time.Hour), at(2*time.Hour))
	update(t, s, func(tx store.Tx) error { return tx.CreateMaintenanceWindow(mw) })
	get := func(id string) (*store.MaintenanceWindow, error) {
		t.Helper()
		return read2(t, s, func(tx store.ReadTx) (*store.MaintenanceWindow, error) { return tx.GetMaintenanceWindow(id) })
	}
	got, err := get(mw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(mw, got); diff != "" {
		t.Errorf("GetMaintenanceWindow after create (-want +got):\n%s", diff)
	}
	err = updateErr(t, s, func(tx store.Tx) error { return tx.CreateMaintenanceWindow(mw) })
	wantErr(t, "CreateMaintenanceWindow with a taken id", err, store.ErrConflict, mw.ID)

	update(t, s, func(tx store.Tx) error { return tx.DeleteMaintenanceWindow(mw.ID) })
	_, err = get(mw.ID)
	wantErr(t, "GetMaintenanceWindow after delete", err, store.ErrNotFound, mw.ID)
	err = updateErr(t, s, func(tx store.Tx) error { return tx.DeleteMaintenanceWindow(mw.ID) })
	wantErr(t, "DeleteMaintenanceWindow of a missing window", err, store.ErrNotFound, mw.ID)

	ghostSite, ghostClient := store.NewID("site", at(time.Hour)), store.NewID("cli", at(time.Hour))
	for _, tt := range []struct {
		name   string
		w      *store.MaintenanceWindow
		target error
	}{
		{"missing site", newMaintenanceWindow(2, ghostSite, "", at(time.Hour), at(2*time.Hour)), store.ErrNotFound},
		{"missing client", newMaintenanceWindow(3, "", ghostClient, at(time.Hour), at(2*time.Hour)), store.ErrNotFound},
		{"site and client", newMaintenanceWindow(4, sites[0].ID, sites[0].ClientID, at(time.Hour), at(2*time.Hour)), nil},
		{"neither site nor client", newMaintenanceWindow(5, "", "", at(time.Hour), at(2*time.Hour)), nil},
		{"end before start", newMaintenanceWindow(6, sites[0].ID, "", at(2*time.Hour), at(time.Hour)), nil},
		{"empty", newMaintenanceWindow(7, sites[0].ID, "", at(time.Hour), at(time.Hour)), nil},
	} {
		err := updateErr(t, s, func(tx store.Tx) error { return tx.CreateMaintenanceWindow(tt.w) })
		switch {
		case tt.target != nil:
			wantErr(t, "CreateMaintenanceWindow with a "+tt.name, err, tt.target)
		case err == nil:
			t.Errorf("CreateMaintenanceWindow with %s succeeded", tt.name)
		}
	}
	if got := read(t, s, func(tx store.ReadTx) ([]*store.MaintenanceWindow, error) {
		return tx.ListMaintenanceWindows("", "", time.Time{}, time.Time{})
	}); len(got) != 0 {
		t.Errorf("windows stored after refused creates: %v", got)
	}
}

func testListMaintenanceWindows(t *testing.T, s store.Store) {
	a, b := newClient(1), newClient(2)
	a1, a2, b1 := newSite(a.ID, 1), newSite(a.ID, 2), newSite(b.ID, 3)
	h := func(n int) time.Time { return at(time.Duration(n) * time.Hour) }
	// Created out of start order; ids follow creation.
	windows := []*store.MaintenanceWindow{
		newMaintenanceWindow(0, a1.ID, "", h(5), h(6)),
		newMaintenanceWindow(1, "", a.ID, h(1), h(3)),
		newMaintenanceWindow(2, a2.ID, "", h(2), h(4)),
		newMaintenanceWindow(3, a1.ID, "", h(0), h(2)),
		newMaintenanceWindow(4, "", b.ID, h(2), h(9)),
		newMaintenanceWindow(5, b1.ID, "", h(7), h(8)),
		newMaintenanceWindow(6, "", a.ID, h(8), h(10)),
		newMaintenanceWindow(7, a1.ID, "", h(1), h(3)), // starts with window 1
	}
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.CreateClient(a) },
			func() error { return tx.CreateClient(b) },
			func() error { return tx.CreateSite(a1) },
			func() error { return tx.CreateSite(a2) },
			func() error { return tx.CreateSite(b1) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		for _, w := range windows {
			if err := tx.CreateMaintenanceWindow(w); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(is ...int) []string {
		var out []string
		for _, i := range is {
			out = append(out, windows[i].ID)
		}
		return out
	}
	for _, tt := range []struct {
		name             string
		clientID, siteID string
		from, to         time.Time
		want             []string // in start order
	}{
		{"site", "", a1.ID, time.Time{}, time.Time{}, ids(3, 7, 0)},
		{"client", a.ID, "", time.Time{}, time.Time{}, ids(1, 6)},
		{"site and its client", a.ID, a1.ID, time.Time{}, time.Time{}, ids(3, 1, 7, 0, 6)},
		{"every window", "", "", time.Time{}, time.Time{}, ids(3, 1, 7, 2, 4, 0, 5, 6)},
		{"site and client overlapping", a.ID, a1.ID, h(2), h(6), ids(1, 7, 0)},
		{"touching ends do not overlap", "", a1.ID, h(2), h(5), ids(7)},
		{"since", "", "", h(7), time.Time{}, ids(4, 5, 6)},
		{"until", b.ID, b1.ID, time.Time{}, h(7), ids(4)},
		{"other client", b.ID, "", h(0), h(1), nil},
	} {
		got := read(t, s, func(tx store.ReadTx) ([]*store.MaintenanceWindow, error) {
			return tx.ListMaintenanceWindows(tt.clientID, tt.siteID, tt.from, tt.to)
		})
		var gotIDs []string
		for _, w := range got {
			gotIDs = append(gotIDs, w.ID)
		}
		checkIDs(t, "ListMaintenanceWindows "+tt.name, gotIDs, tt.want)
	}
}

// testDeleteSiteDeletesUptime: a site's uptime history goes with it, and
// does not stop it from being deleted.
func testDeleteSiteDeletesUptime(t *testing.T, s store.Store) {
	sites := uptimeSites(t, s, 2)
	gone, kept := sites[0], sites[1]
	minute := base.Truncate(time.Minute)
	var incs []*store.Incident
	var mws []*store.MaintenanceWindow
	update(t, s, func(tx store.Tx) error {
		for i, site := range sites {
			if _, err := tx.InsertProbeResults([]store.ProbeResult{
				newProbeResult("node_a", uint64(i), site.ID, at(time.Second)),
			}); err != nil {
				return err
			}
			if err := tx.PutSiteMinutes([]store.SiteMinute{newSiteMinute(site.ID, minute, i)}); err != nil {
				return err
			}
			if err := tx.PutUptimeState(site.ID, []byte(`{}`)); err != nil {
				return err
			}
			inc := newIncident(site, i, at(time.Minute), time.Time{})
			mw := newMaintenanceWindow(i, site.ID, "", at(time.Hour), at(2*time.Hour))
			incs, mws = append(incs, inc), append(mws, mw)
			if err := tx.CreateIncident(inc); err != nil {
				return err
			}
			if err := tx.CreateMaintenanceWindow(mw); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteSite(gone.ID) })

	view(t, s, func(tx store.ReadTx) error {
		for _, tt := range []struct {
			site *store.Site
			want int
		}{{gone, 0}, {kept, 1}} {
			if rs, err := tx.ListProbeResults(tt.site.ID, time.Time{}, time.Time{}); err != nil || len(rs) != tt.want {
				t.Errorf("ListProbeResults(site %s) = %d results, %v; want %d", tt.site.Name, len(rs), err, tt.want)
			}
			if ms, err := tx.ListSiteMinutes(tt.site.ID, time.Time{}, time.Time{}); err != nil || len(ms) != tt.want {
				t.Errorf("ListSiteMinutes(site %s) = %d minutes, %v; want %d", tt.site.Name, len(ms), err, tt.want)
			}
			if n, err := tx.CountIncidents(store.IncidentFilter{SiteID: tt.site.ID}); err != nil || n != tt.want {
				t.Errorf("CountIncidents(site %s) = %d, %v; want %d", tt.site.Name, n, err, tt.want)
			}
			if ws, err := tx.ListMaintenanceWindows("", tt.site.ID, time.Time{}, time.Time{}); err != nil || len(ws) != tt.want {
				t.Errorf("ListMaintenanceWindows(site %s) = %d windows, %v; want %d", tt.site.Name, len(ws), err, tt.want)
			}
		}
		ids, err := tx.SitesWithProbeResults(time.Time{}, time.Time{})
		checkIDs(t, "SitesWithProbeResults after DeleteSite", ids, []string{kept.ID})
		if err != nil {
			t.Error(err)
		}
		_, err = tx.GetUptimeState(gone.ID)
		wantErr(t, "GetUptimeState of a deleted site", err, store.ErrNotFound)
		_, err = tx.GetIncident(incs[0].ID)
		wantErr(t, "GetIncident of a deleted site", err, store.ErrNotFound)
		_, err = tx.GetMaintenanceWindow(mws[0].ID)
		wantErr(t, "GetMaintenanceWindow of a deleted site", err, store.ErrNotFound)
		if _, err := tx.GetUptimeState(kept.ID); err != nil {
			t.Errorf("GetUptimeState of another site: %v", err)
		}
		if _, err := tx.GetIncident(incs[1].ID); err != nil {
			t.Errorf("GetIncident of another site: %v", err)
		}
		return nil
	})

	// The client goes too, with its own windows, once its sites are gone.
	clientWindow := newMaintenanceWindow(10, "", kept.ClientID, at(time.Hour), at(2*time.Hour))
	update(t, s, func(tx store.Tx) error { return tx.CreateMaintenanceWindow(clientWindow) })
	update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteSite(kept.ID); err != nil {
			return err
		}
		return tx.DeleteClient(kept.ClientID)
	})
	_, err := read2(t, s, func(tx store.ReadTx) (*store.MaintenanceWindow, error) {
		return tx.GetMaintenanceWindow(clientWindow.ID)
	})
	wantErr(t, "GetMaintenanceWindow of a deleted client", err, store.ErrNotFound)
}
