package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

const sitesPerPage = 50

type siteRow struct {
	Site   *berthv1.Site
	Client string
	Status *berthv1.SiteStatusSummary
}

type siteListData struct {
	Rows    []siteRow
	Next    string
	Q       url.Values
	Clients []*berthv1.Client
	States  []berthv1.SiteState
	Portal  bool
}

// siteRows adds each site's client name and current status.
func (s *Server) siteRows(ctx context.Context, sites []*berthv1.Site, clientNames bool) ([]siteRow, error) {
	rows := make([]siteRow, len(sites))
	ids := make([]string, len(sites))
	names := map[string]string{}
	for i, site := range sites {
		rows[i].Site = site
		ids[i] = site.GetId()
		if clientNames {
			id := site.GetClientId()
			if _, ok := names[id]; !ok {
				c, err := s.api.clients.GetClient(ctx, &berthv1.GetClientRequest{Id: id})
				if err != nil && status.Code(err) != codes.NotFound {
					return nil, err
				}
				names[id] = c.GetClient().GetDisplayName()
			}
			rows[i].Client = names[id]
		}
	}
	if len(ids) == 0 {
		return rows, nil
	}
	st, err := s.api.uptime.BatchGetSiteStatus(ctx, &berthv1.BatchGetSiteStatusRequest{SiteIds: ids})
	if err != nil {
		return nil, err
	}
	byID := map[string]*berthv1.SiteStatusSummary{}
	for _, x := range st.GetStatuses() {
		byID[x.GetSiteId()] = x
	}
	for i := range rows {
		rows[i].Status = byID[ids[i]]
	}
	return rows, nil
}

func (s *Server) siteList(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	q := r.URL.Query()
	req := &berthv1.ListSitesRequest{
		PageSize: sitesPerPage, PageToken: q.Get("page_token"),
		ClientId: q.Get("client"), NodeId: q.Get("node"), Query: strings.TrimSpace(q.Get("q")),
	}
	if st := q.Get("state"); st != "" {
		req.State = berthv1.SiteState(berthv1.SiteState_value["SITE_STATE_"+st])
	}
	resp, err := s.api.sites.ListSites(ctx, req)
	if s.failed(w, r, sess, err, func(msg string) { s.errorPage(w, r, sess, http.StatusBadRequest, "Check the filter", msg) }) {
		return
	}
	d := siteListData{Next: resp.GetNextPageToken(), Q: q}
	if d.Rows, err = s.siteRows(ctx, resp.GetSites(), true); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	if d.Clients, err = s.allClients(ctx); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for st := berthv1.SiteState_SITE_STATE_PENDING; st <= berthv1.SiteState_SITE_STATE_DELETING; st++ {
		d.States = append(d.States, st)
	}
	s.render(w, r, sess, http.StatusOK, "sites", "Sites", d)
}

type siteFormData struct {
	Clients []*berthv1.Client
	Form    url.Values
	Error   string
}

func (s *Server) siteNew(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderSiteForm(w, r, sess, http.StatusOK, url.Values{"client": {r.URL.Query().Get("client")}, "kind": {"static"}}, "")
}

func (s *Server) renderSiteForm(w http.ResponseWriter, r *http.Request, sess *session, code int, form url.Values, msg string) {
	clients, err := s.allClients(s.ctx(r, sess))
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, code, "site_new", "New site", siteFormData{clients, form, msg})
}

func (s *Server) siteCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	site := &berthv1.Site{
		ClientId:      f.Get("client"),
		Name:          strings.TrimSpace(f.Get("name")),
		PrimaryDomain: strings.TrimSpace(f.Get("primary_domain")),
		AliasDomains:  strings.Fields(strings.ReplaceAll(f.Get("alias_domains"), ",", " ")),
		Resources:     &berthv1.Resources{},
	}
	switch f.Get("kind") {
	case "wordpress":
		site.Kind = berthv1.SiteKind_SITE_KIND_WORDPRESS
		site.Wordpress = &berthv1.WordPressSpec{Title: strings.TrimSpace(f.Get("wp_title")), AdminEmail: strings.TrimSpace(f.Get("wp_admin_email"))}
	case "static":
		site.Kind = berthv1.SiteKind_SITE_KIND_STATIC
	}
	for field, dst := range map[string]*int32{"memory_mib": &site.Resources.MemoryMib, "cpu_millicores": &site.Resources.CpuMillicores} {
		if v := strings.TrimSpace(f.Get(field)); v != "" {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				s.renderSiteForm(w, r, sess, http.StatusBadRequest, f, field+": "+strconv.Quote(v)+" is not a whole number")
				return
			}
			*dst = int32(n)
		}
	}
	resp, err := s.api.sites.CreateSite(s.ctx(r, sess), &berthv1.CreateSiteRequest{Site: site})
	if s.failed(w, r, sess, err, func(msg string) { s.renderSiteForm(w, r, sess, http.StatusBadRequest, f, msg) }) {
		return
	}
	s.redirect(w, r, "/sites/"+resp.GetSite().GetId(), "Site "+site.GetName()+" created; it is being placed and started.")
}

type siteDetailData struct {
	Site      *berthv1.Site
	Client    *berthv1.Client
	Uptime    *berthv1.GetSiteUptimeResponse
	Incidents []*berthv1.Incident
	Releases  *berthv1.ListReleasesResponse
	Now       time.Time
	Settled   bool
	Steps     []step
	Month     string
}

type step struct {
	Label string
	Class string
}

// progressSteps describes how far a site is on its way to RUNNING.
func progressSteps(site *berthv1.Site) []step {
	labels := []string{"Placed on a node", "Containers starting", "Running"}
	reached := 0
	switch site.GetState() {
	case berthv1.SiteState_SITE_STATE_PENDING:
		reached = 0
	case berthv1.SiteState_SITE_STATE_PROVISIONING:
		reached = 1
	case berthv1.SiteState_SITE_STATE_RUNNING:
		reached = 3
	case berthv1.SiteState_SITE_STATE_FAILED:
		reached = -1
	}
	steps := make([]step, len(labels))
	for i, l := range labels {
		steps[i].Label = l
		switch {
		case reached == -1 && i == 1:
			steps[i].Class = "failed"
		case reached == -1 && i == 0, i < reached:
			steps[i].Class = "done"
		case i == reached:
			steps[i].Class = "current"
		}
	}
	return steps
}

func settled(site *berthv1.Site) bool {
	st := site.GetState()
	return (st == berthv1.SiteState_SITE_STATE_RUNNING || st == berthv1.SiteState_SITE_STATE_FAILED) &&
		site.GetObservedGeneration() >= site.GetGeneration()
}

func (s *Server) siteDetail(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	id := r.PathValue("id")
	got, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	site := got.GetSite()
	if !sess.admin() {
		scrubNodes(site)
	}
	d := siteDetailData{Site: site, Now: s.now(), Settled: settled(site), Steps: progressSteps(site), Month: s.now().UTC().Format("2006-01")}
	c, err := s.api.clients.GetClient(ctx, &berthv1.GetClientRequest{Id: site.GetClientId()})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d.Client = c.GetClient()
	if d.Uptime, err = s.api.uptime.GetSiteUptime(ctx, &berthv1.GetSiteUptimeRequest{SiteId: id}); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	inc, err := s.api.uptime.ListIncidents(ctx, &berthv1.ListIncidentsRequest{SiteId: id, PageSize: 10})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d.Incidents = inc.GetIncidents()
	if site.GetKind() == berthv1.SiteKind_SITE_KIND_STATIC {
		if d.Releases, err = s.api.releases.ListReleases(ctx, &berthv1.ListReleasesRequest{SiteId: id, PageSize: 20}); err != nil &&
			status.Code(err) != codes.FailedPrecondition {
			s.apiError(w, r, sess, err)
			return
		}
	}
	s.render(w, r, sess, http.StatusOK, "site", site.GetName(), d)
}

// nodeIDRE matches node ids in condition messages.
var nodeIDRE = regexp.MustCompile(`\bnode_[0-9a-z]{26}\b`)

// scrubNodes removes what a client user is not told about the fleet from
// a site: which node runs it, also where condition messages name it.
func scrubNodes(site *berthv1.Site) {
	site.NodeId = ""
	for _, c := range site.GetConditions() {
		c.Message = nodeIDRE.ReplaceAllString(c.GetMessage(), "its server")
	}
}

// siteProgress is the JSON the site page polls while a site settles.
func (s *Server) siteProgress(w http.ResponseWriter, r *http.Request, sess *session) {
	got, err := s.api.sites.GetSite(s.ctx(r, sess), &berthv1.GetSiteRequest{Id: r.PathValue("id")})
	if err != nil {
		code := http.StatusInternalServerError
		if c := status.Code(err); c == codes.NotFound || c == codes.PermissionDenied {
			code = http.StatusNotFound
		}
		http.Error(w, http.StatusText(code), code)
		return
	}
	site := got.GetSite()
	msg := "Waiting for a node to take the site."
	for _, c := range site.GetConditions() {
		if c.GetStatus() != "True" && c.GetMessage() != "" {
			msg = c.GetMessage()
			break
		}
	}
	switch site.GetState() {
	case berthv1.SiteState_SITE_STATE_PROVISIONING:
		if msg == "Waiting for a node to take the site." {
			msg = "Starting the site's containers on " + site.GetNodeId() + "."
		}
	case berthv1.SiteState_SITE_STATE_RUNNING:
		msg = "The site is running."
	}
	if !sess.admin() {
		msg = nodeIDRE.ReplaceAllString(msg, "its server")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"state":       siteStateName(site.GetState()),
		"state_class": stateClass(site.GetState()),
		"message":     msg,
		"done":        settled(site) && site.GetState() == berthv1.SiteState_SITE_STATE_RUNNING,
		"failed":      site.GetState() == berthv1.SiteState_SITE_STATE_FAILED,
	})
}

type logsData struct {
	Site  *berthv1.Site
	Lines []string
	Error string
}

func (s *Server) siteLogs(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	got, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := logsData{Site: got.GetSite()}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	stream, err := s.api.logs.GetSiteLogs(lctx, &berthv1.GetSiteLogsRequest{SiteId: d.Site.GetId(), TailLines: 200})
	for err == nil {
		var msg *berthv1.GetSiteLogsResponse
		if msg, err = stream.Recv(); err == nil {
			d.Lines = append(d.Lines, msg.GetLines()...)
		}
	}
	if !errors.Is(err, io.EOF) {
		switch status.Code(err) {
		case codes.NotFound, codes.PermissionDenied, codes.Unauthenticated:
			s.apiError(w, r, sess, err)
			return
		case codes.Unavailable, codes.DeadlineExceeded, codes.FailedPrecondition:
			d.Error = status.Convert(err).Message()
		default:
			s.log.Error("site logs", "site", d.Site.GetId(), "err", err)
			d.Error = "The logs could not be read; berthd's log has details."
		}
	}
	s.render(w, r, sess, http.StatusOK, "logs", "Logs of "+d.Site.GetName(), d)
}

// multipartFile checks a multipart form's CSRF token, which must be its
// first field, and returns the file field that follows, or nil when the
// form has no file. On false, the error page has been written.
func (s *Server) multipartFile(w http.ResponseWriter, r *http.Request, sess *session, field string) (*multipart.Part, bool) {
	expired := func() (*multipart.Part, bool) {
		s.errorPage(w, r, sess, http.StatusForbidden, "The form has expired", "Go back, reload the page and submit the form again.")
		return nil, false
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return expired()
	}
	part, err := mr.NextPart()
	if err != nil || part.FormName() != csrfField {
		return expired()
	}
	tok, _ := io.ReadAll(io.LimitReader(part, 256))
	if !sess.validCSRF(string(tok)) {
		return expired()
	}
	part, err = mr.NextPart()
	if err != nil || part.FormName() != field || part.FileName() == "" {
		return nil, true
	}
	return part, true
}

// releaseUpload streams a bundle from a multipart form to CreateRelease.
// The form's first field must be the CSRF token, so nothing is read from a
// forged form.
func (s *Server) releaseUpload(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	part, ok := s.multipartFile(w, r, sess, "bundle")
	if !ok {
		return
	}
	if part == nil {
		s.errorPage(w, r, sess, http.StatusBadRequest, "Choose a bundle to upload", "Pick a .tar.gz of the site's files.")
		return
	}
	ctx, cancel := context.WithCancel(s.ctx(r, sess))
	defer cancel()
	stream, err := s.api.releases.CreateRelease(ctx)
	if err == nil {
		err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Header{Header: &berthv1.ReleaseUploadHeader{SiteId: id}}})
	}
	buf := make([]byte, 1<<20)
	for err == nil {
		n, rerr := io.ReadFull(part, buf)
		if n > 0 {
			if err = stream.Send(&berthv1.CreateReleaseRequest{Msg: &berthv1.CreateReleaseRequest_Chunk{Chunk: buf[:n]}}); err != nil {
				break
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		} else if rerr != nil {
			s.errorPage(w, r, sess, http.StatusBadRequest, "The upload broke off", "Try again.")
			return
		}
	}
	var resp *berthv1.CreateReleaseResponse
	if err == nil || errors.Is(err, io.EOF) {
		resp, err = stream.CloseAndRecv()
	}
	if s.failed(w, r, sess, err, func(msg string) { s.errorPage(w, r, sess, http.StatusBadRequest, "The bundle was refused", msg) }) {
		return
	}
	s.redirect(w, r, "/sites/"+id, "Release "+resp.GetRelease().GetId()+" deployed ("+humanBytes(resp.GetRelease().GetUnpackedBytes())+").")
}

func (s *Server) releaseActivate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	_, err := s.api.releases.ActivateRelease(s.ctx(r, sess), &berthv1.ActivateReleaseRequest{SiteId: id, ReleaseId: r.PathValue("rid")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.redirect(w, r, "/sites/"+id, "Release "+r.PathValue("rid")+" is live again.")
}

type deleteData struct {
	Site  *berthv1.Site
	Error string
}

func (s *Server) siteDeleteConfirm(w http.ResponseWriter, r *http.Request, sess *session) {
	got, err := s.api.sites.GetSite(s.ctx(r, sess), &berthv1.GetSiteRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "site_delete", "Delete "+got.GetSite().GetName(), deleteData{Site: got.GetSite()})
}

func (s *Server) siteDelete(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	got, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	site := got.GetSite()
	if r.PostForm.Get("confirm") != site.GetName() {
		s.render(w, r, sess, http.StatusBadRequest, "site_delete", "Delete "+site.GetName(),
			deleteData{Site: site, Error: "Type the site's name, " + site.GetName() + ", to confirm."})
		return
	}
	if _, err := s.api.sites.DeleteSite(ctx, &berthv1.DeleteSiteRequest{Id: site.GetId()}); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.redirect(w, r, "/sites/"+site.GetId(), "Deleting "+site.GetName()+": its node removes the containers and data.")
}

type incidentData struct {
	Incident *berthv1.Incident
	Site     *berthv1.Site
}

func (s *Server) incidentDetail(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	inc, err := s.api.uptime.GetIncident(ctx, &berthv1.GetIncidentRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := incidentData{Incident: inc.GetIncident()}
	if site, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: d.Incident.GetSiteId()}); err == nil {
		d.Site = site.GetSite()
	}
	s.render(w, r, sess, http.StatusOK, "incident", "Incident", d)
}
