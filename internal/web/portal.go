package web

import (
	"net/http"
	"regexp"
	"strings"
	"time"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type portalData struct {
	Client    *berthv1.Client
	Rows      []siteRow
	Next      string
	Incidents []incidentRow
	Month     string
}

// portal is a client user's home: their sites, open incidents and reports.
func (s *Server) portal(w http.ResponseWriter, r *http.Request, sess *session) {
	if sess.admin() {
		http.Redirect(w, r, "/ops", http.StatusSeeOther)
		return
	}
	ctx := s.ctx(r, sess)
	clientID := sess.who.GetClientId()
	c, err := s.api.clients.GetClient(ctx, &berthv1.GetClientRequest{Id: clientID})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := portalData{Client: c.GetClient(), Month: s.now().UTC().Format("2006-01")}
	resp, err := s.api.sites.ListSites(ctx, &berthv1.ListSitesRequest{
		ClientId: clientID, PageSize: sitesPerPage, PageToken: r.URL.Query().Get("page_token"),
	})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d.Next = resp.GetNextPageToken()
	if d.Rows, err = s.siteRows(ctx, resp.GetSites(), false); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	inc, err := s.api.uptime.ListIncidents(ctx, &berthv1.ListIncidentsRequest{ClientId: clientID, PageSize: 10})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	names := map[string]string{}
	for _, row := range d.Rows {
		names[row.Site.GetId()] = row.Site.GetName()
	}
	for _, i := range inc.GetIncidents() {
		name, ok := names[i.GetSiteId()]
		if !ok {
			if site, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: i.GetSiteId()}); err == nil {
				name = site.GetSite().GetName()
			}
		}
		d.Incidents = append(d.Incidents, incidentRow{i, name})
	}
	s.render(w, r, sess, http.StatusOK, "portal", d.Client.GetDisplayName(), d)
}

type reportIndexData struct {
	Client *berthv1.Client
	Months []string
}

func (s *Server) reportIndex(w http.ResponseWriter, r *http.Request, sess *session) {
	c, err := s.api.clients.GetClient(s.ctx(r, sess), &berthv1.GetClientRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := reportIndexData{Client: c.GetClient()}
	m := time.Date(s.now().UTC().Year(), s.now().UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	created := c.GetClient().GetCreateTime().AsTime()
	for i := 0; i < 13 && !m.AddDate(0, 1, 0).Before(created); i++ {
		d.Months = append(d.Months, m.Format("2006-01"))
		m = m.AddDate(0, -1, 0)
	}
	s.render(w, r, sess, http.StatusOK, "reports", "SLA reports", d)
}

var monthRE = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])$`)

type reportData struct {
	Client *berthv1.Client
	Report *berthv1.GetSLAReportResponse
	Month  string
	Title  string
	Prev   string
	Next   string
}

// report is a client's monthly SLA report: the API's GetSLAReport as a
// printable page, or with a .csv suffix the API's own CSV.
func (s *Server) report(w http.ResponseWriter, r *http.Request, sess *session) {
	month := r.PathValue("month")
	csv := strings.HasSuffix(month, ".csv")
	month = strings.TrimSuffix(month, ".csv")
	if !monthRE.MatchString(month) {
		s.errorPage(w, r, sess, http.StatusNotFound, "No such month", "Reports are at /clients/<id>/reports/<yyyy-mm>, e.g. "+s.now().UTC().Format("2006-01")+".")
		return
	}
	ctx := s.ctx(r, sess)
	id := r.PathValue("id")
	c, err := s.api.clients.GetClient(ctx, &berthv1.GetClientRequest{Id: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	rep, err := s.api.uptime.GetSLAReport(ctx, &berthv1.GetSLAReportRequest{ClientId: id, Month: month})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	if csv {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="sla-`+c.GetClient().GetSlug()+"-"+month+`.csv"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte(rep.GetCsv()))
		return
	}
	t, _ := time.Parse("2006-01", month)
	d := reportData{
		Client: c.GetClient(), Report: rep, Month: month, Title: t.Format("January 2006"),
		Prev: t.AddDate(0, -1, 0).Format("2006-01"),
	}
	if next := t.AddDate(0, 1, 0); !next.After(s.now()) {
		d.Next = next.Format("2006-01")
	}
	s.render(w, r, sess, http.StatusOK, "report", "SLA report "+d.Title, d)
}
