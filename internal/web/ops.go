package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// pages calls fetch with each page token in turn, from the first page
// ("") until fetch returns no next token or an error.
func pages(fetch func(token string) (next string, err error)) error {
	token := ""
	for {
		next, err := fetch(token)
		if err != nil || next == "" {
			return err
		}
		token = next
	}
}

// eachSite calls fn for every site matching req, a page at a time.
func (s *Server) eachSite(ctx context.Context, req *berthv1.ListSitesRequest, fn func(*berthv1.Site)) error {
	req.PageSize = 1000
	return pages(func(token string) (string, error) {
		req.PageToken = token
		resp, err := s.api.sites.ListSites(ctx, req)
		for _, site := range resp.GetSites() {
			fn(site)
		}
		return resp.GetNextPageToken(), err
	})
}

func (s *Server) allNodes(ctx context.Context) ([]*berthv1.Node, error) {
	var nodes []*berthv1.Node
	err := pages(func(token string) (string, error) {
		resp, err := s.api.nodes.ListNodes(ctx, &berthv1.ListNodesRequest{PageSize: 1000, PageToken: token})
		nodes = append(nodes, resp.GetNodes()...)
		return resp.GetNextPageToken(), err
	})
	return nodes, err
}

func (s *Server) allClients(ctx context.Context) ([]*berthv1.Client, error) {
	var clients []*berthv1.Client
	err := pages(func(token string) (string, error) {
		resp, err := s.api.clients.ListClients(ctx, &berthv1.ListClientsRequest{PageSize: 1000, PageToken: token})
		clients = append(clients, resp.GetClients()...)
		return resp.GetNextPageToken(), err
	})
	return clients, err
}

type stateCount struct {
	State berthv1.SiteState
	Count int
}

type certProblem struct {
	Site   *berthv1.Site
	Cert   *berthv1.CertificateStatus
	Health certHealth
}

type overviewData struct {
	Nodes      []*berthv1.Node
	Now        time.Time
	SiteTotal  int
	ByState    []stateCount
	Incidents  []incidentRow
	Certs      []certProblem
	ReadyNodes int
}

type incidentRow struct {
	Incident *berthv1.Incident
	SiteName string
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx := s.ctx(r, sess)
	now := s.now()
	d := overviewData{Now: now}
	var err error
	if d.Nodes, err = s.allNodes(ctx); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for _, n := range d.Nodes {
		if n.GetState() == berthv1.NodeState_NODE_STATE_READY {
			d.ReadyNodes++
		}
	}
	counts := map[berthv1.SiteState]int{}
	names := map[string]string{}
	err = s.eachSite(ctx, &berthv1.ListSitesRequest{}, func(site *berthv1.Site) {
		d.SiteTotal++
		counts[site.GetState()]++
		names[site.GetId()] = site.GetName()
		for _, c := range site.GetCertificates() {
			if h := healthOf(c, now); h.Class != "st-up" {
				d.Certs = append(d.Certs, certProblem{Site: site, Cert: c, Health: h})
			}
		}
	})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for st := berthv1.SiteState_SITE_STATE_PENDING; st <= berthv1.SiteState_SITE_STATE_DELETING; st++ {
		d.ByState = append(d.ByState, stateCount{st, counts[st]})
	}
	sort.Slice(d.Certs, func(i, j int) bool { return d.Certs[i].Health.Rank > d.Certs[j].Health.Rank })
	if len(d.Certs) > 50 {
		d.Certs = d.Certs[:50]
	}
	inc, err := s.api.uptime.ListIncidents(ctx, &berthv1.ListIncidentsRequest{OpenOnly: true, PageSize: 50})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for _, i := range inc.GetIncidents() {
		d.Incidents = append(d.Incidents, incidentRow{i, names[i.GetSiteId()]})
	}
	s.render(w, r, sess, http.StatusOK, "overview", "Fleet overview", d)
}

// Clients.

type clientListData struct {
	Clients []*berthv1.Client
	Next    string
}

func (s *Server) clientList(w http.ResponseWriter, r *http.Request, sess *session) {
	resp, err := s.api.clients.ListClients(s.ctx(r, sess), &berthv1.ListClientsRequest{PageSize: 100, PageToken: r.URL.Query().Get("page_token")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "clients", "Clients", clientListData{resp.GetClients(), resp.GetNextPageToken()})
}

type clientFormData struct {
	Client *berthv1.Client
	Error  string
}

func (s *Server) clientNew(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, sess, http.StatusOK, "client_new", "New client", clientFormData{Client: &berthv1.Client{}})
}

func clientFromForm(r *http.Request) *berthv1.Client {
	f := r.PostForm
	return &berthv1.Client{
		DisplayName:  strings.TrimSpace(f.Get("display_name")),
		Slug:         strings.TrimSpace(f.Get("slug")),
		ContactEmail: strings.TrimSpace(f.Get("contact_email")),
	}
}

func (s *Server) clientCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	c := clientFromForm(r)
	resp, err := s.api.clients.CreateClient(s.ctx(r, sess), &berthv1.CreateClientRequest{Client: c})
	if s.failed(w, r, sess, err, func(msg string) {
		s.render(w, r, sess, http.StatusBadRequest, "client_new", "New client", clientFormData{Client: c, Error: msg})
	}) {
		return
	}
	s.redirect(w, r, "/ops/clients/"+resp.GetClient().GetId(), "Client "+c.GetDisplayName()+" created.")
}

type clientDetailData struct {
	Client    *berthv1.Client
	Users     []*berthv1.User
	Channels  []*berthv1.AlertChannel
	Sites     []*berthv1.Site
	OnPage    map[string]bool
	Month     string
	Error     string
	FormError string // which form Error belongs to
}

func (s *Server) clientDetail(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderClient(w, r, sess, http.StatusOK, "", "")
}

func (s *Server) renderClient(w http.ResponseWriter, r *http.Request, sess *session, code int, form, msg string) {
	ctx := s.ctx(r, sess)
	id := r.PathValue("id")
	c, err := s.api.clients.GetClient(ctx, &berthv1.GetClientRequest{Id: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := clientDetailData{Client: c.GetClient(), OnPage: map[string]bool{}, Month: s.now().UTC().Format("2006-01"), Error: msg, FormError: form}
	users, err := s.api.users.ListUsers(ctx, &berthv1.ListUsersRequest{ClientId: id, PageSize: 1000})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d.Users = users.GetUsers()
	ch, err := s.api.alerts.ListAlertChannels(ctx, &berthv1.ListAlertChannelsRequest{ClientId: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d.Channels = ch.GetChannels()
	if err := s.eachSite(ctx, &berthv1.ListSitesRequest{ClientId: id}, func(site *berthv1.Site) { d.Sites = append(d.Sites, site) }); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for _, sid := range d.Client.GetStatusPage().GetSiteIds() {
		d.OnPage[sid] = true
	}
	s.render(w, r, sess, code, "client", d.Client.GetDisplayName(), d)
}

func (s *Server) clientUpdate(w http.ResponseWriter, r *http.Request, sess *session) {
	c := clientFromForm(r)
	c.Id = r.PathValue("id")
	_, err := s.api.clients.UpdateClient(s.ctx(r, sess), &berthv1.UpdateClientRequest{
		Client:     c,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "slug", "contact_email"}},
	})
	if s.failed(w, r, sess, err, func(msg string) { s.renderClient(w, r, sess, http.StatusBadRequest, "client", msg) }) {
		return
	}
	s.redirect(w, r, "/ops/clients/"+c.Id, "Client saved.")
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	f := r.PostForm
	_, err := s.api.users.CreateUser(s.ctx(r, sess), &berthv1.CreateUserRequest{
		User:     &berthv1.User{Email: strings.TrimSpace(f.Get("email")), Role: berthv1.Role_ROLE_CLIENT, ClientId: id},
		Password: f.Get("password"),
	})
	if s.failed(w, r, sess, err, func(msg string) { s.renderClient(w, r, sess, http.StatusBadRequest, "user", msg) }) {
		return
	}
	s.redirect(w, r, "/ops/clients/"+id, "User "+f.Get("email")+" can now log in.")
}

func (s *Server) userDelete(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	uid := r.PathValue("uid")
	ctx := s.ctx(r, sess)
	// The user must belong to the client of the page the form is on.
	u, err := s.api.users.GetUser(ctx, &berthv1.GetUserRequest{Id: uid})
	if err == nil && u.GetUser().GetClientId() != id {
		s.notFound(w, r, sess)
		return
	}
	if err == nil {
		_, err = s.api.users.DeleteUser(ctx, &berthv1.DeleteUserRequest{Id: uid})
	}
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.redirect(w, r, "/ops/clients/"+id, "User removed; their sessions have ended.")
}

func (s *Server) channelCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	f := r.PostForm
	ch := &berthv1.AlertChannel{ClientId: id, Name: strings.TrimSpace(f.Get("name"))}
	switch f.Get("kind") {
	case "webhook":
		ch.Kind, ch.Url = berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK, strings.TrimSpace(f.Get("url"))
	case "slack":
		ch.Kind, ch.Url = berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_SLACK, strings.TrimSpace(f.Get("url"))
	case "email":
		ch.Kind = berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_EMAIL
		ch.SmtpAddress = strings.TrimSpace(f.Get("smtp_address"))
		ch.SmtpUsername = strings.TrimSpace(f.Get("smtp_username"))
		ch.SmtpPassword = f.Get("smtp_password")
		ch.EmailFrom = strings.TrimSpace(f.Get("email_from"))
		for _, to := range strings.FieldsFunc(f.Get("email_to"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			ch.EmailTo = append(ch.EmailTo, to)
		}
	}
	_, err := s.api.alerts.CreateAlertChannel(s.ctx(r, sess), &berthv1.CreateAlertChannelRequest{Channel: ch})
	if s.failed(w, r, sess, err, func(msg string) { s.renderClient(w, r, sess, http.StatusBadRequest, "channel", msg) }) {
		return
	}
	s.redirect(w, r, "/ops/clients/"+id, "Alert channel "+ch.GetName()+" added.")
}

func (s *Server) channelDelete(w http.ResponseWriter, r *http.Request, sess *session) {
	id, cid := r.PathValue("id"), r.PathValue("cid")
	ctx := s.ctx(r, sess)
	list, err := s.api.alerts.ListAlertChannels(ctx, &berthv1.ListAlertChannelsRequest{ClientId: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	found := false
	for _, ch := range list.GetChannels() {
		found = found || ch.GetId() == cid
	}
	if !found {
		s.notFound(w, r, sess)
		return
	}
	if _, err := s.api.alerts.DeleteAlertChannel(ctx, &berthv1.DeleteAlertChannelRequest{Id: cid}); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.redirect(w, r, "/ops/clients/"+id, "Alert channel removed.")
}

func (s *Server) statusPageUpdate(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	f := r.PostForm
	sp := &berthv1.StatusPage{
		Enabled:     f.Get("enabled") == "on",
		SiteIds:     f["site_ids"],
		AccentColor: strings.TrimSpace(f.Get("accent_color")),
	}
	_, err := s.api.clients.UpdateClient(s.ctx(r, sess), &berthv1.UpdateClientRequest{
		Client: &berthv1.Client{Id: id, StatusPage: sp},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{
			"status_page.enabled", "status_page.site_ids", "status_page.accent_color",
		}},
	})
	if s.failed(w, r, sess, err, func(msg string) { s.renderClient(w, r, sess, http.StatusBadRequest, "status", msg) }) {
		return
	}
	s.status.forget()
	s.redirect(w, r, "/ops/clients/"+id, "Status page saved.")
}

// maxLogo is one byte more than the API accepts, so that the API, not the
// dashboard, says what is too big.
const maxLogo = 64<<10 + 1

// logoUpload sets or, with remove, clears a client's status page logo.
func (s *Server) logoUpload(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	var logo []byte
	if r.URL.Query().Get("remove") == "" {
		r.Body = http.MaxBytesReader(w, r.Body, 2*maxLogo)
		part, ok := s.multipartFile(w, r, sess, "logo")
		if !ok {
			return
		}
		if part == nil {
			s.renderClient(w, r, sess, http.StatusBadRequest, "status", "Choose a PNG or JPEG file for the logo.")
			return
		}
		var err error
		if logo, err = io.ReadAll(io.LimitReader(part, maxLogo)); err != nil {
			s.renderClient(w, r, sess, http.StatusBadRequest, "status", "The logo could not be read; it must be at most 64 KiB.")
			return
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil || !sess.validCSRF(r.PostForm.Get(csrfField)) {
			s.errorPage(w, r, sess, http.StatusForbidden, "The form has expired", "Go back, reload the page and submit the form again.")
			return
		}
	}
	_, err := s.api.clients.UpdateClient(s.ctx(r, sess), &berthv1.UpdateClientRequest{
		Client:     &berthv1.Client{Id: id, StatusPage: &berthv1.StatusPage{Logo: logo}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status_page.logo"}},
	})
	if s.failed(w, r, sess, err, func(msg string) { s.renderClient(w, r, sess, http.StatusBadRequest, "status", msg) }) {
		return
	}
	s.status.forget()
	if logo == nil {
		s.redirect(w, r, "/ops/clients/"+id, "Logo removed.")
		return
	}
	s.redirect(w, r, "/ops/clients/"+id, "Logo saved.")
}

// Nodes.

type nodeListData struct {
	Nodes []*berthv1.Node
	Now   time.Time
}

func (s *Server) nodeList(w http.ResponseWriter, r *http.Request, sess *session) {
	nodes, err := s.allNodes(s.ctx(r, sess))
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "nodes", "Nodes", nodeListData{nodes, s.now()})
}

type nodeDetailData struct {
	Node  *berthv1.Node
	Sites []*berthv1.Site
	Now   time.Time
	Drain *berthv1.DrainNodeResponse
}

func (s *Server) nodeDetail(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderNode(w, r, sess, nil)
}

func (s *Server) renderNode(w http.ResponseWriter, r *http.Request, sess *session, drain *berthv1.DrainNodeResponse) {
	ctx := s.ctx(r, sess)
	id := r.PathValue("id")
	n, err := s.api.nodes.GetNode(ctx, &berthv1.GetNodeRequest{Id: id})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := nodeDetailData{Node: n.GetNode(), Now: s.now(), Drain: drain}
	if err := s.eachSite(ctx, &berthv1.ListSitesRequest{NodeId: id}, func(site *berthv1.Site) { d.Sites = append(d.Sites, site) }); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.render(w, r, sess, http.StatusOK, "node", "Node "+d.Node.GetName(), d)
}

func (s *Server) nodeDrain(w http.ResponseWriter, r *http.Request, sess *session) {
	resp, err := s.api.nodes.DrainNode(s.ctx(r, sess), &berthv1.DrainNodeRequest{Id: r.PathValue("id")})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.renderNode(w, r, sess, resp)
}

type joinData struct {
	Token   string
	Expire  *timestamppb.Timestamp
	Command string
	Server  string
}

func (s *Server) joinPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, sess, http.StatusOK, "join", "Add a node", joinData{})
}

func (s *Server) joinCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	resp, err := s.api.nodes.CreateJoinToken(s.ctx(r, sess), &berthv1.CreateJoinTokenRequest{Ttl: durationpb.New(15 * time.Minute)})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	// The address the admin reached berthd at is one the new node can try.
	server := "https://" + r.Host
	d := joinData{Token: resp.GetToken(), Expire: resp.GetExpireTime(), Server: server}
	d.Command = fmt.Sprintf("berth-agent --server %s --join-token %s --data-dir /var/lib/berth-agent", server, d.Token)
	s.render(w, r, sess, http.StatusOK, "join", "Add a node", d)
}

// Maintenance windows.

type maintenanceData struct {
	Windows []*berthv1.MaintenanceWindow
	Clients []*berthv1.Client
	Names   map[string]string
	Error   string
	Form    url.Values
}

func (s *Server) maintenanceList(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderMaintenance(w, r, sess, http.StatusOK, "", nil)
}

func (s *Server) renderMaintenance(w http.ResponseWriter, r *http.Request, sess *session, code int, msg string, form url.Values) {
	ctx := s.ctx(r, sess)
	resp, err := s.api.uptime.ListMaintenanceWindows(ctx, &berthv1.ListMaintenanceWindowsRequest{
		EndAfter: timestamppb.New(s.now().Add(-30 * 24 * time.Hour)),
	})
	if err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	d := maintenanceData{Windows: resp.GetWindows(), Names: map[string]string{}, Error: msg, Form: form}
	if d.Clients, err = s.allClients(ctx); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	for _, c := range d.Clients {
		d.Names[c.GetId()] = c.GetDisplayName()
	}
	for _, mw := range d.Windows {
		if id := mw.GetSiteId(); id != "" {
			if site, err := s.api.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: id}); err == nil {
				d.Names[id] = site.GetSite().GetName()
			}
		}
	}
	s.render(w, r, sess, code, "maintenance", "Maintenance windows", d)
}

// parseFormTime reads a datetime-local field as UTC.
func parseFormTime(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time like 2026-11-28T14:00", v)
}

func (s *Server) maintenanceCreate(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	start, err := parseFormTime(f.Get("start"))
	if err != nil {
		s.renderMaintenance(w, r, sess, http.StatusBadRequest, "Start: "+err.Error(), f)
		return
	}
	end, err := parseFormTime(f.Get("end"))
	if err != nil {
		s.renderMaintenance(w, r, sess, http.StatusBadRequest, "End: "+err.Error(), f)
		return
	}
	mw := &berthv1.MaintenanceWindow{
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(end), Reason: strings.TrimSpace(f.Get("reason")),
	}
	if site := strings.TrimSpace(f.Get("site_id")); site != "" {
		mw.SiteId = site
	} else {
		mw.ClientId = f.Get("client_id")
	}
	_, err = s.api.uptime.CreateMaintenanceWindow(s.ctx(r, sess), &berthv1.CreateMaintenanceWindowRequest{Window: mw})
	if s.failed(w, r, sess, err, func(msg string) { s.renderMaintenance(w, r, sess, http.StatusBadRequest, msg, f) }) {
		return
	}
	s.redirect(w, r, "/ops/maintenance", "Maintenance window scheduled.")
}

func (s *Server) maintenanceDelete(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := s.api.uptime.DeleteMaintenanceWindow(s.ctx(r, sess), &berthv1.DeleteMaintenanceWindowRequest{Id: r.PathValue("id")}); err != nil {
		s.apiError(w, r, sess, err)
		return
	}
	s.redirect(w, r, "/ops/maintenance", "Maintenance window removed.")
}

// Audit log.

type auditData struct {
	Events []*berthv1.AuditEvent
	Next   string
	Q      url.Values
}

func (s *Server) auditList(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	resp, err := s.api.audit.ListAuditEvents(s.ctx(r, sess), &berthv1.ListAuditEventsRequest{
		PageSize: 100, PageToken: q.Get("page_token"),
		Method: strings.TrimSpace(q.Get("method")), ResourceId: strings.TrimSpace(q.Get("resource_id")),
		ClientId: strings.TrimSpace(q.Get("client_id")), FailedOnly: q.Get("failed") == "on",
	})
	if s.failed(w, r, sess, err, func(msg string) { s.errorPage(w, r, sess, http.StatusBadRequest, "Check the filter", msg) }) {
		return
	}
	s.render(w, r, sess, http.StatusOK, "audit", "Audit log", auditData{resp.GetEvents(), resp.GetNextPageToken(), q})
}

// pageQuery returns the current query with page_token set, for pager links.
func pageQuery(q url.Values, token string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	c.Set("page_token", token)
	return "?" + c.Encode()
}
