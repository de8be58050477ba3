package web_test

import (
	"context"
	"encoding/csv"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"google.golang.org/grpc/metadata"

	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/uptime"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// slaNumbers is one site's row of an SLA report, wherever it was read.
type slaNumbers struct {
	name, domain                               string
	percent                                    string // as shown: "99.873 %" on the page, "99.873" in the CSV
	ratio                                      float64
	down, degraded, maintenance, noData, count int64
	incidents                                  int64
}

// TestSLAReportNumbersIdentical seeds a month of per-minute rollups for a
// client's three sites (down and degraded minutes, maintenance windows of
// the site and of the client, gaps without data, incidents) and checks that
// the printable report, for ops and for the client's own user, the CSV and
// the API's GetSLAReport give the same numbers for every site, and that
// they are the numbers the seed implies.
func TestSLAReportNumbersIdentical(t *testing.T) {
	h := newHarness(t)
	thisMonth := time.Date(h.now.Year(), h.now.Month(), 1, 0, 0, 0, 0, time.UTC)
	start, end := thisMonth.AddDate(0, -1, 0), thisMonth
	month := start.Format("2006-01")

	ca := h.client(t, "acme", store.StatusPage{})
	cb := h.client(t, "other", store.StatusPage{})
	sites := []*store.Site{h.site(t, ca, "shop"), h.site(t, ca, "blog"), h.site(t, ca, "api")}
	h.site(t, cb, "elsewhere")
	h.user(t, "admin@ops.test", store.RoleAdmin, "")
	h.user(t, "u@acme.test", store.RoleClient, ca.ID)
	h.user(t, "u@other.test", store.RoleClient, cb.ID)

	at := func(day, hour, minute int) time.Time {
		return start.Add(time.Duration(day-1)*24*time.Hour + time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	// The client's window crosses the start of the month: only its part in
	// the month counts. The shop's own window hides down minutes.
	windows := []*store.MaintenanceWindow{
		{ID: store.NewID("mw", h.now), ClientID: ca.ID, Start: start.Add(-30 * time.Minute), End: start.Add(45 * time.Minute),
			Reason: "provider migration", CreatedBy: "test", CreateTime: h.now},
		{ID: store.NewID("mw", h.now), SiteID: sites[0].ID, Start: at(10, 2, 0), End: at(10, 3, 30),
			Reason: "database upgrade", CreatedBy: "test", CreateTime: h.now},
	}
	// status[i][m] is the stored status of minute m of the month of site
	// i, as internal/uptime numbers it (0 is a minute with no row).
	span := int(end.Sub(start) / time.Minute)
	status := make([][]uptime.Status, len(sites))
	rng := rand.New(rand.NewPCG(1, 2))
	set := func(i int, from time.Time, n int, st uptime.Status) {
		m0 := int(from.Sub(start) / time.Minute)
		for m := m0; m < m0+n; m++ {
			status[i][m] = st
		}
	}
	for i := range sites {
		status[i] = make([]uptime.Status, span)
		set(i, start, span, uptime.StatusUp)
		for range 20 + 15*i { // scattered degraded minutes
			status[i][rng.IntN(span)] = uptime.StatusDegraded
		}
		for range 3 * i { // scattered single down minutes
			status[i][rng.IntN(span)] = uptime.StatusDown
		}
	}
	set(0, at(3, 14, 7), 37, uptime.StatusDown)   // the shop's incident
	set(0, at(10, 2, 30), 20, uptime.StatusDown)  // inside its maintenance window
	set(0, at(20, 8, 0), 45, uptime.StatusNoData) // probes missing
	set(1, at(5, 23, 50), 25, uptime.StatusDown)  // the blog's first incident, across midnight
	set(1, at(18, 9, 0), 120, uptime.StatusDown)  // and its second
	set(1, at(18, 11, 0), 300, uptime.StatusDegraded)
	set(1, at(25, 0, 0), 24*60, uptime.StatusNoData) // a whole day without data
	set(2, start, 10*24*60, uptime.StatusNoData)     // the api site started on the 11th
	set(2, at(28, 16, 0), 4, uptime.StatusDown)
	incidents := [][2]time.Time{
		{at(3, 14, 7), at(3, 14, 44)},
		{at(5, 23, 50), at(6, 0, 15)},
		{at(18, 9, 0), at(18, 11, 0)},
		{at(28, 16, 0), at(28, 16, 4)},
		{start.Add(-3 * time.Hour), start.Add(-2 * time.Hour)}, // in the month before: not counted
	}
	incSite := []int{0, 1, 1, 2, 2}
	wantIncidents := []int64{1, 2, 1}

	h.update(t, func(tx store.Tx) error {
		for _, w := range windows {
			if err := tx.CreateMaintenanceWindow(w); err != nil {
				return err
			}
		}
		for i, site := range sites {
			var ms []store.SiteMinute
			for m, st := range status[i] {
				if st == uptime.StatusNoData {
					continue // the monitor stores no row for a minute nobody probed
				}
				sm := store.SiteMinute{SiteID: site.ID, Minute: start.Add(time.Duration(m) * time.Minute),
					Status: int32(st), Up: 3, Total: 3, P50MS: 40, P95MS: 80, P99MS: 120}
				switch st {
				case uptime.StatusDegraded:
					sm.Up = 2
				case uptime.StatusDown:
					sm.Up, sm.ErrorClasses, sm.FailedVantages = 0, []string{"timeout"}, []string{"node_a", "node_b", "node_c"}
				}
				ms = append(ms, sm)
			}
			// A minute on each side of the month, which must not count.
			ms = append(ms, store.SiteMinute{SiteID: site.ID, Minute: start.Add(-time.Minute), Status: int32(uptime.StatusDown), Total: 3},
				store.SiteMinute{SiteID: site.ID, Minute: end, Status: int32(uptime.StatusDown), Total: 3})
			if err := tx.PutSiteMinutes(ms); err != nil {
				return err
			}
		}
		for k, span := range incidents {
			site := sites[incSite[k]]
			if err := tx.CreateIncident(&store.Incident{ID: store.NewID("inc", h.now), SiteID: site.ID, ClientID: site.ClientID,
				Start: span[0], End: span[1], ErrorClasses: []string{"timeout"}, Vantages: []string{"node_a"},
				CreateTime: h.now, UpdateTime: h.now}); err != nil {
				return err
			}
		}
		return nil
	})

	// What the seed implies, by the rules of internal/uptime: maintenance
	// wins over any stored minute; no data and maintenance are not counted.
	want := make([]slaNumbers, len(sites))
	for i, site := range sites {
		w := &want[i]
		w.name, w.domain, w.incidents = site.Name, site.PrimaryDomain, wantIncidents[i]
		var up int64
		for m, st := range status[i] {
			t := start.Add(time.Duration(m) * time.Minute)
			for _, mw := range windows {
				if (mw.ClientID == ca.ID || mw.SiteID == site.ID) && !t.Before(mw.Start) && t.Before(mw.End) {
					st = uptime.StatusMaintenance
				}
			}
			switch st {
			case uptime.StatusUp:
				up++
			case uptime.StatusDegraded:
				w.degraded++
			case uptime.StatusDown:
				w.down++
			case uptime.StatusMaintenance:
				w.maintenance++
			default:
				w.noData++
			}
		}
		w.count = up + w.degraded + w.down
		w.ratio = float64(up+w.degraded) / float64(w.count)
		if w.ratio >= 0.99999 || w.ratio < 0.9 || w.down == 0 {
			t.Fatalf("seed of %s gives a trivial ratio %v", site.Name, w.ratio)
		}
	}

	// The API.
	rep, err := berthv1.NewUptimeServiceClient(h.conn).GetSLAReport(apiContext(t, h, "admin@ops.test"),
		&berthv1.GetSLAReportRequest{ClientId: ca.ID, Month: month})
	if err != nil {
		t.Fatal(err)
	}
	api := map[string]slaNumbers{}
	var apiOrder []string
	for _, s := range rep.GetSites() {
		u := s.GetUptime()
		api[s.GetSiteId()] = slaNumbers{name: s.GetName(), domain: s.GetPrimaryDomain(),
			percent: strconv.FormatFloat(u.GetUptimeRatio()*100, 'f', 3, 64), ratio: u.GetUptimeRatio(),
			down: u.GetDownMinutes(), degraded: u.GetDegradedMinutes(), maintenance: u.GetMaintenanceMinutes(),
			noData: u.GetNoDataMinutes(), count: u.GetCountedMinutes(), incidents: int64(s.GetIncidents())}
		apiOrder = append(apiOrder, s.GetSiteId())
	}
	if len(api) != len(sites) {
		t.Fatalf("the API's report has %d sites, want %d", len(api), len(sites))
	}
	for i, site := range sites {
		got, ok := api[site.ID]
		if !ok {
			t.Fatalf("the API's report lacks %s", site.Name)
		}
		t.Logf("%s: %s %% up, %d counted, %d down, %d degraded, %d maintenance, %d no data, %d incidents",
			site.Name, got.percent, got.count, got.down, got.degraded, got.maintenance, got.noData, got.incidents)
		w := want[i]
		w.percent = got.percent // the API's formatting is what the others are held to
		if got != w {
			t.Errorf("API numbers of %s:\n got %+v\nwant %+v", site.Name, got, w)
		}
		if total := got.count + got.maintenance + got.noData; total != int64(span) {
			t.Errorf("%s: counted+maintenance+no data = %d minutes, the month has %d", site.Name, total, span)
		}
	}

	// The CSV, as a browser downloads it.
	admin := h.browser(t).login("admin@ops.test")
	own := h.browser(t).login("u@acme.test")
	other := h.browser(t).login("u@other.test")
	code, body, hd := admin.get("/clients/" + ca.ID + "/reports/" + month + ".csv")
	if code != http.StatusOK || !strings.HasPrefix(hd.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV = %d %q:\n%.400s", code, hd.Get("Content-Type"), body)
	}
	if body != rep.GetCsv() {
		t.Errorf("the downloaded CSV differs from the API's:\n%s\nAPI:\n%s", body, rep.GetCsv())
	}
	records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"site_id", "name", "primary_domain", "month", "uptime_percent", "counted_minutes", "down_minutes",
		"degraded_minutes", "no_data_minutes", "maintenance_minutes", "incidents"}
	if len(records) == 0 || !slices.Equal(records[0], wantHeader) {
		t.Fatalf("CSV header = %q, want %q", records[:min(1, len(records))], wantHeader)
	}
	fromCSV := map[string]slaNumbers{}
	var csvOrder []string
	for _, r := range records[1:] {
		if len(r) != len(wantHeader) || r[3] != month {
			t.Fatalf("CSV row %q: want %d fields and month %s", r, len(wantHeader), month)
		}
		n := slaNumbers{name: r[1], domain: r[2], percent: r[4]}
		n.ratio = api[r[0]].ratio // the CSV has only the percentage, compared as text
		for k, p := range []*int64{&n.count, &n.down, &n.degraded, &n.noData, &n.maintenance, &n.incidents} {
			v, err := strconv.ParseInt(r[5+k], 10, 64)
			if err != nil {
				t.Fatalf("CSV %s = %q: %v", wantHeader[5+k], r[5+k], err)
			}
			*p = v
		}
		fromCSV[r[0]] = n
		csvOrder = append(csvOrder, r[0])
	}
	compare(t, "CSV", fromCSV, csvOrder, api, apiOrder)

	// The printable page, for ops and for the client's own user.
	for _, b := range []struct {
		who string
		b   *browser
	}{{"admin", admin}, {"client user", own}} {
		code, body, _ := b.b.get("/clients/" + ca.ID + "/reports/" + month)
		if code != http.StatusOK {
			t.Fatalf("report page as %s = %d:\n%.400s", b.who, code, body)
		}
		page, order := parseSLATable(t, body)
		for id, n := range page {
			// The page shows the CSV's number with a percent sign.
			if want := api[id].percent + " %"; n.percent != want {
				t.Errorf("page as %s: uptime of %s = %q, the CSV says %q", b.who, n.name, n.percent, want)
			}
			n.percent = strings.TrimSuffix(n.percent, " %")
			page[id] = n
		}
		compare(t, "page as "+b.who, page, order, api, apiOrder)
	}

	// Client B's user sees neither, and bad months are not found.
	other.t = t
	for _, p := range []string{month, month + ".csv"} {
		if code, body, _ := other.get("/clients/" + ca.ID + "/reports/" + p); code != http.StatusNotFound || strings.Contains(body, sites[0].PrimaryDomain) {
			t.Errorf("client B's user: GET report %s of client A = %d, want 404 naming nothing", p, code)
		}
	}
	for _, bad := range []string{"2026-13", "x", "2026-00", "2026-1", "2026-13.csv", "x.csv"} {
		if code, _, _ := admin.get("/clients/" + ca.ID + "/reports/" + bad); code != http.StatusNotFound {
			t.Errorf("admin: GET report %q = %d, want 404", bad, code)
		}
		if code, _, _ := own.get("/clients/" + ca.ID + "/reports/" + bad); code != http.StatusNotFound {
			t.Errorf("client user: GET report %q = %d, want 404", bad, code)
		}
	}
}

// compare fails the test unless got has exactly the API's sites, in the
// API's order, with the same numbers.
func compare(t *testing.T, where string, got map[string]slaNumbers, order []string, api map[string]slaNumbers, apiOrder []string) {
	t.Helper()
	if !slices.Equal(order, apiOrder) {
		t.Errorf("%s lists sites %q, the API %q", where, order, apiOrder)
	}
	if len(got) != len(api) {
		t.Errorf("%s has %d sites, the API %d", where, len(got), len(api))
	}
	for id, a := range api {
		if g, ok := got[id]; !ok {
			t.Errorf("%s lacks site %s (%s)", where, id, a.name)
		} else if g != a {
			t.Errorf("%s differs from the API for %s:\n got %+v\n API %+v", where, a.name, g, a)
		}
	}
}

// parseSLATable reads table#sla of a report page: each tr[data-site] with
// the cells name, domain, uptime (data-ratio holds the ratio), down,
// degraded, maintenance, no data, counted minutes and incidents.
func parseSLATable(t *testing.T, body string) (map[string]slaNumbers, []string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	table := findNode(doc, func(n *html.Node) bool { return n.Data == "table" && attr(n, "id") == "sla" })
	if table == nil {
		t.Fatalf("no table#sla on the page:\n%.600s", body)
	}
	var heads []string
	for th := range table.Descendants() {
		if th.Type == html.ElementNode && th.Data == "th" {
			heads = append(heads, text(th))
		}
	}
	wantHeads := []string{"Site", "Domain", "Uptime", "Down", "Degraded", "Maintenance", "No data", "Counted", "Incidents"}
	if !slices.Equal(heads, wantHeads) {
		t.Fatalf("table#sla columns = %q, want %q", heads, wantHeads)
	}
	out := map[string]slaNumbers{}
	var order []string
	for tr := range table.Descendants() {
		if tr.Type != html.ElementNode || tr.Data != "tr" || attr(tr, "data-site") == "" {
			continue
		}
		var cells []*html.Node
		for td := range tr.ChildNodes() {
			if td.Type == html.ElementNode && td.Data == "td" {
				cells = append(cells, td)
			}
		}
		if len(cells) != len(wantHeads) {
			t.Fatalf("row %s has %d cells, want %d", attr(tr, "data-site"), len(cells), len(wantHeads))
		}
		n := slaNumbers{name: text(cells[0]), domain: text(cells[1]), percent: text(cells[2])}
		if n.ratio, err = strconv.ParseFloat(attr(cells[2], "data-ratio"), 64); err != nil {
			t.Fatalf("row %s: data-ratio: %v", attr(tr, "data-site"), err)
		}
		for k, p := range []*int64{&n.down, &n.degraded, &n.maintenance, &n.noData, &n.count, &n.incidents} {
			if *p, err = strconv.ParseInt(text(cells[3+k]), 10, 64); err != nil {
				t.Fatalf("row %s, %s: %v", attr(tr, "data-site"), wantHeads[3+k], err)
			}
		}
		id := attr(tr, "data-site")
		if _, dup := out[id]; dup {
			t.Fatalf("site %s is on the page twice", id)
		}
		out[id] = n
		order = append(order, id)
	}
	return out, order
}

func findNode(n *html.Node, match func(*html.Node) bool) *html.Node {
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			return d
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is the trimmed text content of n, with runs of space collapsed.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// apiContext logs email in through the API and returns a context carrying
// the session token and an address, as the dashboard's own calls do.
func apiContext(t testing.TB, h *harness, email string) context.Context {
	t.Helper()
	ctx := metadata.NewOutgoingContext(context.Background(), metadata.Pairs("x-forwarded-for", "127.0.0.1"))
	resp, err := berthv1.NewAuthServiceClient(h.conn).Login(ctx, &berthv1.LoginRequest{Email: email, Password: testPassword})
	if err != nil {
		t.Fatalf("API login %s: %v", email, err)
	}
	return metadata.NewOutgoingContext(context.Background(),
		metadata.Pairs("authorization", "Bearer "+resp.GetToken(), "x-forwarded-for", "127.0.0.1"))
}
