package api

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

type siteService struct {
	*API
	berthv1.UnimplementedSiteServiceServer
}

// Defaults for a site's resources when the request leaves them out.
const (
	defaultMemoryMiB     = 256
	defaultCPUMillicores = 500
	maxAliasDomains      = 20
)

func (s siteService) CreateSite(ctx context.Context, req *berthv1.CreateSiteRequest) (*berthv1.CreateSiteResponse, error) {
	in := req.GetSite()
	now := s.now()
	site := &store.Site{
		ID:       store.NewID("site", now),
		ClientID: in.GetClientId(),
		Name:     in.GetName(),
		State:    store.SiteStatePending, Generation: 1,
		HSTS: in.GetHsts(), RedirectAliases: in.GetRedirectAliases(),
		CheckIntervalSeconds: in.GetUptimeCheck().GetIntervalSeconds(), CheckExpectedStatus: in.GetUptimeCheck().GetExpectedStatus(),
		CheckKeyword: in.GetUptimeCheck().GetKeyword(),
		CreateTime:   now, UpdateTime: now,
	}
	if err := validate.ID("site.client_id", "cl", site.ClientID); err != nil {
		return nil, err
	}
	if err := validate.SiteName("site.name", site.Name); err != nil {
		return nil, err
	}
	switch in.GetKind() {
	case berthv1.SiteKind_SITE_KIND_WORDPRESS:
		site.Kind = store.SiteKindWordPress
	case berthv1.SiteKind_SITE_KIND_STATIC:
		site.Kind = store.SiteKindStatic
	default:
		return nil, &validate.Error{Field: "site.kind", Msg: "choose WORDPRESS or STATIC"}
	}
	if in.GetWordpress() != nil && site.Kind != store.SiteKindWordPress {
		return nil, &validate.Error{Field: "site.wordpress", Msg: "is only for WORDPRESS sites; leave it out"}
	}
	site.WPTitle, site.WPAdminEmail = in.GetWordpress().GetTitle(), in.GetWordpress().GetAdminEmail()
	site.PrimaryDomain, site.AliasDomains = in.GetPrimaryDomain(), in.GetAliasDomains()
	site.MemoryMiB, site.CPUMillicores = in.GetResources().GetMemoryMib(), in.GetResources().GetCpuMillicores()
	if site.MemoryMiB == 0 {
		site.MemoryMiB = defaultMemoryMiB
	}
	if site.CPUMillicores == 0 {
		site.CPUMillicores = defaultCPUMillicores
	}
	if err := validateSiteSpec(site); err != nil {
		return nil, err
	}
	if site.Kind == store.SiteKindWordPress {
		site.Secrets = map[string]string{"db_password": randomPassword(), secretAdminPassword: randomPassword()}
	}
	rpc.SetResource(ctx, site.ID, site.ClientID)
	err := s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.GetClient(site.ClientID); errors.Is(err, store.ErrNotFound) {
			return &validate.Error{Field: "site.client_id", Msg: fmt.Sprintf("no client has id %q; list clients with `berth client list`", site.ClientID)}
		} else if err != nil {
			return err
		}
		cond, err := schedulingCondition(tx, now)
		if err != nil {
			return err
		}
		site.Conditions = []store.Condition{cond}
		if err := tx.CreateSite(site); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, site.ID, site.ClientID)
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.CreateSiteResponse{Site: siteToProto(site)}, nil
}

// schedulingCondition is the Scheduled condition of a site waiting for a
// node, telling ops what to do when no node could take it.
func schedulingCondition(tx store.ReadTx, now time.Time) (store.Condition, error) {
	nodes, err := tx.ListNodes(store.Page{Limit: 1_000_000})
	if err != nil {
		return store.Condition{}, err
	}
	for _, n := range nodes {
		if n.State == store.NodeStateReady {
			return store.Condition{Type: "Scheduled", Status: "Unknown", Reason: "Pending",
				Message: "waiting to be placed on a node", LastTransitionTime: now}, nil
		}
	}
	return store.Condition{Type: "Scheduled", Status: "False", Reason: "NoReadyNode",
		Message: "no node is ready to run sites; add one with `berth node join-token` and berth-agent", LastTransitionTime: now}, nil
}

// validateSiteSpec checks and normalises the user-editable fields of a site.
// validateUptimeCheck checks a site's probe settings.
func validateUptimeCheck(s *store.Site) error {
	if i := s.CheckIntervalSeconds; i != 0 && (i < 10 || i > 3600) {
		return &validate.Error{Field: "site.uptime_check.interval_seconds", Value: fmt.Sprint(i), Msg: "must be 10 to 3600 (0 for the fleet's interval)"}
	}
	if c := s.CheckExpectedStatus; c != 0 && (c < 100 || c > 599) {
		return &validate.Error{Field: "site.uptime_check.expected_status", Value: fmt.Sprint(c), Msg: "must be an HTTP status, 100 to 599 (0 for 200)"}
	}
	if k := s.CheckKeyword; len(k) > 200 || strings.ContainsAny(k, "\r\n\x00") {
		return &validate.Error{Field: "site.uptime_check.keyword", Msg: "must be one line of at most 200 bytes"}
	}
	return nil
}

func validateSiteSpec(s *store.Site) error {
	if err := validateUptimeCheck(s); err != nil {
		return err
	}
	var err error
	if s.PrimaryDomain, err = validate.Domain("site.primary_domain", s.PrimaryDomain); err != nil {
		return err
	}
	if len(s.AliasDomains) > maxAliasDomains {
		return &validate.Error{Field: "site.alias_domains", Msg: fmt.Sprintf("at most %d aliases are allowed, got %d", maxAliasDomains, len(s.AliasDomains))}
	}
	aliases := make([]string, 0, len(s.AliasDomains))
	seen := map[string]bool{s.PrimaryDomain: true}
	for i, a := range s.AliasDomains {
		d, err := validate.Domain(fmt.Sprintf("site.alias_domains[%d]", i), a)
		if err != nil {
			return err
		}
		if seen[d] {
			return &validate.Error{Field: fmt.Sprintf("site.alias_domains[%d]", i), Msg: fmt.Sprintf("%q is listed twice; give each domain once", d)}
		}
		seen[d] = true
		aliases = append(aliases, d)
	}
	s.AliasDomains = aliases
	if err := validate.MemoryMiB("site.resources.memory_mib", s.MemoryMiB); err != nil {
		return err
	}
	if err := validate.CPUMillicores("site.resources.cpu_millicores", s.CPUMillicores); err != nil {
		return err
	}
	if s.Kind != store.SiteKindWordPress {
		return nil
	}
	if err := validate.DisplayName("site.wordpress.title", s.WPTitle); err != nil {
		return err
	}
	s.WPAdminEmail, err = validate.Email("site.wordpress.admin_email", s.WPAdminEmail)
	return err
}

// randomPassword returns a 24-character password for generated credentials.
func randomPassword() string {
	return rand.Text()[:24]
}

func (s siteService) GetSite(ctx context.Context, req *berthv1.GetSiteRequest) (*berthv1.GetSiteResponse, error) {
	site, err := s.getSite(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &berthv1.GetSiteResponse{Site: siteToProto(site)}, nil
}

// getSite reads a site the caller may see; others are NotFound.
func (s siteService) getSite(ctx context.Context, id string) (*store.Site, error) {
	if err := validate.ID("id", "site", id); err != nil {
		return nil, err
	}
	var site *store.Site
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		site, err = tx.GetSite(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	if !auth.FromContext(ctx).MayAccessClient(site.ClientID) {
		return nil, rpc.Deny(ctx, "site", id)
	}
	return site, nil
}

func (s siteService) ListSites(ctx context.Context, req *berthv1.ListSitesRequest) (*berthv1.ListSitesResponse, error) {
	p := auth.FromContext(ctx)
	f := store.SiteFilter{ClientID: req.GetClientId(), NodeID: req.GetNodeId(), Query: strings.TrimSpace(req.GetQuery())}
	if len(f.Query) > 100 || !utf8.ValidString(f.Query) {
		return nil, &validate.Error{Field: "query", Msg: "search for at most 100 characters of valid UTF-8"}
	}
	if f.ClientID != "" {
		if err := validate.ID("client_id", "cl", f.ClientID); err != nil {
			return nil, err
		}
	}
	if f.NodeID != "" {
		if err := validate.ID("node_id", "node", f.NodeID); err != nil {
			return nil, err
		}
	}
	if req.GetState() != berthv1.SiteState_SITE_STATE_UNSPECIFIED {
		st, ok := siteStateFromProto(req.GetState())
		if !ok {
			return nil, &validate.Error{Field: "state", Msg: "unknown site state"}
		}
		f.State = st
	}
	if !p.IsAdmin() {
		if f.ClientID != "" && f.ClientID != p.ClientID {
			return nil, rpc.Deny(ctx, "client", f.ClientID)
		}
		f.ClientID = p.ClientID
		if f.NodeID != "" {
			return nil, &validate.Error{Field: "node_id", Msg: "filtering by node is for agency admins"}
		}
	}
	page, n, err := pageFromRequest(req.GetPageSize(), req.GetPageToken(), "site")
	if err != nil {
		return nil, err
	}
	var list []*store.Site
	err = s.store.View(ctx, func(tx store.ReadTx) (err error) {
		list, err = tx.ListSites(f, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	list, next := pageOf(list, n, func(s *store.Site) string { return s.ID })
	resp := &berthv1.ListSitesResponse{NextPageToken: next}
	for _, site := range list {
		resp.Sites = append(resp.Sites, siteToProto(site))
	}
	return resp, nil
}

func (s siteService) UpdateSite(ctx context.Context, req *berthv1.UpdateSiteRequest) (*berthv1.UpdateSiteResponse, error) {
	in := req.GetSite()
	id := in.GetId()
	if err := validate.ID("site.id", "site", id); err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, &validate.Error{Field: "update_mask", Msg: "name the fields to change: primary_domain, alias_domains, resources, wordpress.title, wordpress.admin_email, hsts, redirect_aliases, uptime_check"}
	}
	var site *store.Site
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if site, err = tx.GetSite(id); err != nil {
			return err
		}
		rpc.SetResource(ctx, id, site.ClientID)
		if site.State == store.SiteStateDeleting {
			return rpc.FailedPrecondition("site %q is being deleted", id)
		}
		before := *site
		for _, p := range paths {
			switch p {
			case "primary_domain":
				site.PrimaryDomain = in.GetPrimaryDomain()
			case "alias_domains":
				site.AliasDomains = in.GetAliasDomains()
			case "uptime_check":
				c := in.GetUptimeCheck()
				site.CheckIntervalSeconds, site.CheckExpectedStatus, site.CheckKeyword = c.GetIntervalSeconds(), c.GetExpectedStatus(), c.GetKeyword()
			case "hsts":
				site.HSTS = in.GetHsts()
			case "redirect_aliases":
				site.RedirectAliases = in.GetRedirectAliases()
			case "resources":
				site.MemoryMiB, site.CPUMillicores = in.GetResources().GetMemoryMib(), in.GetResources().GetCpuMillicores()
			case "resources.memory_mib":
				site.MemoryMiB = in.GetResources().GetMemoryMib()
			case "resources.cpu_millicores":
				site.CPUMillicores = in.GetResources().GetCpuMillicores()
			case "wordpress.title", "wordpress.admin_email", "wordpress":
				if site.Kind != store.SiteKindWordPress {
					return &validate.Error{Field: "update_mask", Msg: fmt.Sprintf("%q applies only to WORDPRESS sites", p)}
				}
				if p != "wordpress.admin_email" {
					site.WPTitle = in.GetWordpress().GetTitle()
				}
				if p != "wordpress.title" {
					site.WPAdminEmail = in.GetWordpress().GetAdminEmail()
				}
			default:
				return &validate.Error{Field: "update_mask", Msg: fmt.Sprintf("cannot update %q; updatable fields are primary_domain, alias_domains, resources, wordpress.title, wordpress.admin_email, hsts, redirect_aliases, uptime_check", p)}
			}
		}
		if err := validateSiteSpec(site); err != nil {
			return err
		}
		if specEqual(&before, site) {
			// Nothing changed: no new generation, nothing for the node to do.
			return s.auditInTx(ctx, tx, id, site.ClientID)
		}
		site.Generation++
		site.UpdateTime = s.now()
		if err := tx.UpdateSite(site); err != nil {
			return err
		}
		return s.auditInTx(ctx, tx, id, site.ClientID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	return &berthv1.UpdateSiteResponse{Site: siteToProto(site)}, nil
}

func specEqual(a, b *store.Site) bool {
	return a.PrimaryDomain == b.PrimaryDomain && slices.Equal(a.AliasDomains, b.AliasDomains) &&
		a.MemoryMiB == b.MemoryMiB && a.CPUMillicores == b.CPUMillicores &&
		a.WPTitle == b.WPTitle && a.WPAdminEmail == b.WPAdminEmail &&
		a.HSTS == b.HSTS && a.RedirectAliases == b.RedirectAliases &&
		a.CheckIntervalSeconds == b.CheckIntervalSeconds && a.CheckExpectedStatus == b.CheckExpectedStatus && a.CheckKeyword == b.CheckKeyword
}

func (s siteService) DeleteSite(ctx context.Context, req *berthv1.DeleteSiteRequest) (*berthv1.DeleteSiteResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "site", id); err != nil {
		return nil, err
	}
	var site *store.Site
	err := s.store.Update(ctx, func(tx store.Tx) (err error) {
		if site, err = tx.GetSite(id); err != nil {
			return err
		}
		rpc.SetResource(ctx, id, site.ClientID)
		if site.NodeID == "" {
			// Never placed: nothing runs anywhere, so it goes at once.
			clientID := site.ClientID
			site = nil
			if err := tx.DeleteSite(id); err != nil {
				return err
			}
			return s.auditInTx(ctx, tx, id, clientID)
		}
		if site.State != store.SiteStateDeleting {
			now := s.now()
			site.State = store.SiteStateDeleting
			site.Generation++
			site.UpdateTime = now
			site.Conditions = store.SetCondition(site.Conditions, store.Condition{Type: "Deleting", Status: "True",
				Reason: "DeletionRequested", Message: "waiting for node " + site.NodeID + " to remove the site", LastTransitionTime: now})
			if err := tx.UpdateSite(site); err != nil {
				return err
			}
		}
		return s.auditInTx(ctx, tx, id, site.ClientID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	resp := &berthv1.DeleteSiteResponse{}
	if site != nil {
		resp.Site = siteToProto(site)
	}
	return resp, nil
}

func (s siteService) WatchSite(req *berthv1.WatchSiteRequest, stream berthv1.SiteService_WatchSiteServer) error {
	ctx := stream.Context()
	id := req.GetId()
	// Subscribe before the first read so that no change between the two is missed.
	ids, cancel := s.store.SubscribeSites()
	defer cancel()
	site, err := s.getSite(ctx, id)
	if err != nil {
		return err
	}
	last := siteToProto(site)
	if err := stream.Send(&berthv1.WatchSiteResponse{Site: last}); err != nil {
		return err
	}
	resync := time.NewTicker(s.watchResync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return rpc.ErrServerClosing
		case changed := <-ids:
			if changed != id {
				continue
			}
		case <-resync.C:
		}
		site, err := s.getSite(ctx, id)
		if err != nil {
			return err
		}
		cur := siteToProto(site)
		if proto.Equal(cur, last) {
			continue
		}
		last = cur
		if err := stream.Send(&berthv1.WatchSiteResponse{Site: cur}); err != nil {
			return err
		}
	}
}

// Keys of Site.Secrets for the WordPress administrator's login.
const (
	secretAdminPassword = "admin_password"
	// secretAdminPasswordShownAt is when GetSiteCredentials showed the
	// password (RFC 3339); it is shown only once.
	secretAdminPasswordShownAt = "admin_password_shown_at"
)

// wordPressAdminUser is the administrator the agent installs WordPress with.
const wordPressAdminUser = "admin"

func (s siteService) GetSiteCredentials(ctx context.Context, req *berthv1.GetSiteCredentialsRequest) (*berthv1.GetSiteCredentialsResponse, error) {
	id := req.GetId()
	if err := validate.ID("id", "site", id); err != nil {
		return nil, err
	}
	var resp *berthv1.GetSiteCredentialsResponse
	err := s.store.Update(ctx, func(tx store.Tx) error {
		site, err := tx.GetSite(id)
		if err != nil {
			return err
		}
		rpc.SetResource(ctx, id, site.ClientID)
		if site.Kind != store.SiteKindWordPress {
			return rpc.FailedPrecondition("site %q is a %s site: only WordPress sites have generated credentials", id, site.Kind)
		}
		if site.State == store.SiteStateDeleting {
			return rpc.FailedPrecondition("site %q is being deleted", id)
		}
		if shown := site.Secrets[secretAdminPasswordShownAt]; shown != "" {
			return rpc.FailedPrecondition("the admin password was shown on %s; reset it from WordPress (Lost your password?) or delete and recreate the site", shown)
		}
		password := site.Secrets[secretAdminPassword]
		if password == "" {
			return rpc.FailedPrecondition("site %q has no generated admin password; delete and recreate the site", id)
		}
		site.Secrets[secretAdminPasswordShownAt] = s.now().Format(time.RFC3339)
		if err := tx.UpdateSite(site); err != nil {
			return err
		}
		resp = &berthv1.GetSiteCredentialsResponse{
			AdminUser:     wordPressAdminUser,
			AdminPassword: password,
			LoginUrl:      "https://" + site.PrimaryDomain + "/wp-admin/",
		}
		return s.auditInTx(ctx, tx, id, site.ClientID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, rpc.NotFound("site", id)
	} else if err != nil {
		return nil, err
	}
	return resp, nil
}
