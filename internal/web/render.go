package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/web/chart"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// page is what every template gets: the viewer, the page's own data, and
// what the layout needs.
type page struct {
	Title   string
	Session *session
	Admin   bool
	Email   string
	CSRF    string
	Flash   string
	Path    string
	Data    any
	// Theme is a stylesheet added after the default one (status pages).
	Theme string
}

// parsePages parses each page template with the layout it uses: layout.html
// for the console and portal, bare.html for the login and status pages.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "bare" || strings.HasPrefix(base, "_") {
			continue
		}
		layout := "templates/layout.html"
		if bareLayout[base] {
			layout = "templates/bare.html"
		}
		t, err := template.New(path.Base(layout)).Funcs(funcs).ParseFS(templateFS, layout, "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// bareLayout are the pages without the console's navigation.
var bareLayout = map[string]bool{"login": true, "status": true, "report": false}

// render writes a page. Templates are executed into a buffer first, so a
// failing template gives a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *session, code int, name, title string, data any) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Session: sess, Path: r.URL.Path, Data: data}
	if sess.loggedIn() {
		p.Admin, p.Email, p.CSRF, p.Flash = sess.admin(), sess.who.GetEmail(), sess.csrf(), sess.flash
	}
	if th, ok := data.(interface{ theme() string }); ok {
		p.Theme = th.theme()
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if p.Flash != "" {
		s.clearCookie(w, flashCookie)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

var funcs = template.FuncMap{
	"time":         timeTag,
	"date":         dateTag,
	"ago":          agoTag,
	"pct":          chart.Percent,
	"slaPct":       slaPercent,
	"siteState":    siteStateName,
	"stateClass":   stateClass,
	"nodeState":    nodeStateName,
	"minute":       minuteName,
	"minuteClass":  minuteClass,
	"kind":         kindName,
	"bars":         bars,
	"latencyChart": latencyChart,
	"pageQuery":    pageQuery,
	"int64":        func(v int32) int64 { return int64(v) },
	"portalRows":   func(rows []siteRow) siteListData { return siteListData{Rows: rows, Portal: true} },
	"mib":          func(v int64) string { return humanMiB(v) },
	"bytes":        humanBytes,
	"duration":     humanSeconds,
	"join":         strings.Join,
	"certHealth":   healthOf,
	"add":          func(a, b int) int { return a + b },
	"percentOf": func(used, total int64) string {
		if total <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f %%", 100*float64(used)/float64(total))
	},
}

// slaPercent formats an uptime ratio as the API's SLA report CSV does in its
// uptime_percent column (three decimals), with " %": the printable report
// and its CSV must show the same number.
func slaPercent(ratio float64) string {
	return strconv.FormatFloat(ratio*100, 'f', 3, 64) + " %"
}

// timeTag renders a timestamp as a <time> element: UTC in the text and the
// tooltip, turned into the viewer's zone by the page script.
func timeTag(ts *timestamppb.Timestamp) template.HTML {
	return timeElem(ts, "datetime", "2006-01-02 15:04 UTC")
}

func dateTag(ts *timestamppb.Timestamp) template.HTML {
	return timeElem(ts, "date", "2006-01-02")
}

func agoTag(ts *timestamppb.Timestamp) template.HTML {
	return timeElem(ts, "relative", "2006-01-02 15:04 UTC")
}

func timeElem(ts *timestamppb.Timestamp, format, layout string) template.HTML {
	if ts == nil || !ts.IsValid() || (ts.GetSeconds() == 0 && ts.GetNanos() == 0) {
		return "—"
	}
	t := ts.AsTime().UTC()
	return template.HTML(fmt.Sprintf(`<time datetime="%s" data-format="%s" title="%s">%s</time>`,
		t.Format(time.RFC3339), format, t.Format("2006-01-02 15:04:05 UTC"), template.HTMLEscapeString(t.Format(layout))))
}

func siteStateName(s berthv1.SiteState) string {
	return strings.TrimPrefix(s.String(), "SITE_STATE_")
}

// stateClass is the badge class of a site or node state.
func stateClass(v any) string {
	switch s := v.(type) {
	case berthv1.SiteState:
		return "state-" + strings.ToLower(siteStateName(s))
	case berthv1.NodeState:
		return "state-" + strings.ToLower(nodeStateName(s))
	}
	return ""
}

func nodeStateName(s berthv1.NodeState) string {
	return strings.TrimPrefix(s.String(), "NODE_STATE_")
}

// minuteLooks are each minute status's label and badge class.
var minuteLooks = map[berthv1.MinuteStatus][2]string{
	berthv1.MinuteStatus_MINUTE_STATUS_UP:          {"Up", "st-up"},
	berthv1.MinuteStatus_MINUTE_STATUS_DEGRADED:    {"Degraded", "st-degraded"},
	berthv1.MinuteStatus_MINUTE_STATUS_DOWN:        {"Down", "st-down"},
	berthv1.MinuteStatus_MINUTE_STATUS_MAINTENANCE: {"Maintenance", "st-maint"},
}

func minuteName(s berthv1.MinuteStatus) string {
	if l, ok := minuteLooks[s]; ok {
		return l[0]
	}
	return "No data"
}

func minuteClass(s berthv1.MinuteStatus) string {
	if l, ok := minuteLooks[s]; ok {
		return l[1]
	}
	return "st-nodata"
}

func kindName(k berthv1.SiteKind) string {
	switch k {
	case berthv1.SiteKind_SITE_KIND_WORDPRESS:
		return "WordPress"
	case berthv1.SiteKind_SITE_KIND_STATIC:
		return "Static"
	}
	return "—"
}

// bars renders a site's daily bars.
func bars(label string, daily []*berthv1.DailyBar) template.HTML {
	days := make([]chart.Day, len(daily))
	for i, d := range daily {
		u := d.GetUptime()
		days[i] = chart.Day{
			Date: d.GetDate(), Ratio: u.GetUptimeRatio(), Counted: u.GetCountedMinutes(), Down: u.GetDownMinutes(),
			Degraded: u.GetDegradedMinutes(), NoData: u.GetNoDataMinutes(), Maintenance: u.GetMaintenanceMinutes(),
		}
	}
	return chart.UptimeBars(days, chart.BarsOptions{Label: label})
}

// latencyChart renders a site's response times, hour by hour.
func latencyChart(u *berthv1.GetSiteUptimeResponse) template.HTML {
	pts := make([]chart.Point, 0, len(u.GetLatencyHourly()))
	for _, p := range u.GetLatencyHourly() {
		pts = append(pts, chart.Point{Time: p.GetTime().AsTime(), P50: p.GetP50Ms(), P95: p.GetP95Ms()})
	}
	return chart.LatencyChart(pts, chart.LineOptions{Label: "Response time, p50 and p95, by hour"})
}

// certHealth is a certificate's one-line health; Rank orders problems,
// worst first.
type certHealth struct {
	Text, Class string
	Rank        int
}

func healthOf(c *berthv1.CertificateStatus, now time.Time) certHealth {
	switch {
	case c.GetNotAfter() == nil && c.GetLastError() != "":
		return certHealth{"Failing", "st-down", 4}
	case c.GetNotAfter() == nil:
		return certHealth{"Pending", "st-nodata", 1}
	case c.GetNotAfter().AsTime().Before(now):
		return certHealth{"Expired", "st-down", 5}
	case c.GetLastError() != "":
		return certHealth{"Renewal failing", "st-degraded", 3}
	case c.GetNotAfter().AsTime().Before(now.Add(14 * 24 * time.Hour)):
		return certHealth{"Expires soon", "st-degraded", 2}
	}
	return certHealth{"Valid", "st-up", 0}
}

func humanMiB(v int64) string {
	if v >= 10*1024 {
		return fmt.Sprintf("%.0f GiB", float64(v)/1024)
	}
	if v >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(v)/1024)
	}
	return fmt.Sprintf("%d MiB", v)
}

func humanBytes(v int64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(v)/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(v)/(1<<10))
	}
	return fmt.Sprintf("%d B", v)
}

func humanSeconds(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", sec)
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}
