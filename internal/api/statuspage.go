package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/fixaroo/berth/internal/store"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// Limits of a status page's settings.
const (
	maxStatusPageSites = 100
	maxStatusPageLogo  = 64 << 10
	// statusPageDays is how far back a page's incidents and maintenance go.
	statusPageDays = 90
	// maxPublicIncidents and maxPublicMaintenance bound a page's lists.
	maxPublicIncidents   = 50
	maxPublicMaintenance = 100
)

var accentColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func statusPageFromProto(p *berthv1.StatusPage) store.StatusPage {
	return store.StatusPage{Enabled: p.GetEnabled(), SiteIDs: p.GetSiteIds(), AccentColor: p.GetAccentColor(), Logo: p.GetLogo()}
}

func statusPageToProto(sp store.StatusPage) *berthv1.StatusPage {
	return &berthv1.StatusPage{Enabled: sp.Enabled, SiteIds: sp.SiteIDs, AccentColor: sp.AccentColor, Logo: sp.Logo,
		HasLogo: sp.HasLogo || len(sp.Logo) > 0}
}

// checkStatusPage validates a client's status page settings and normalises
// the colour to lower case. With checkSites, every site id must name a
// distinct site of the client; without, ids that no longer do (their sites
// were deleted) are dropped quietly, so that changing another setting does
// not fail on them.
func checkStatusPage(tx store.ReadTx, clientID string, sp *store.StatusPage, checkSites bool) error {
	const field = "client.status_page"
	if sp.AccentColor != "" {
		if !accentColor.MatchString(sp.AccentColor) {
			return &validate.Error{Field: field + ".accent_color", Value: sp.AccentColor, Msg: `must be "#" and six hex digits, e.g. "#1f6feb"`}
		}
		sp.AccentColor = strings.ToLower(sp.AccentColor)
	}
	if n := len(sp.Logo); n > 0 {
		if n > maxStatusPageLogo {
			return &validate.Error{Field: field + ".logo", Msg: fmt.Sprintf("is %d bytes; at most 64 KiB (%d bytes) are allowed", n, maxStatusPageLogo)}
		}
		if ct := http.DetectContentType(sp.Logo); ct != "image/png" && ct != "image/jpeg" {
			return &validate.Error{Field: field + ".logo", Msg: fmt.Sprintf("is %s; upload a PNG or JPEG image", ct)}
		}
	}
	sp.HasLogo = len(sp.Logo) > 0
	if len(sp.SiteIDs) > maxStatusPageSites {
		return &validate.Error{Field: field + ".site_ids", Msg: fmt.Sprintf("names %d sites; a page shows at most %d", len(sp.SiteIDs), maxStatusPageSites)}
	}
	seen := make(map[string]bool, len(sp.SiteIDs))
	kept := sp.SiteIDs[:0:0]
	for _, id := range sp.SiteIDs {
		if checkSites {
			if err := validate.ID(field+".site_ids", "site", id); err != nil {
				return err
			}
		}
		if seen[id] {
			if checkSites {
				return &validate.Error{Field: field + ".site_ids", Value: id, Msg: "is listed twice"}
			}
			continue
		}
		seen[id] = true
		site, err := tx.GetSite(id)
		switch {
		case errors.Is(err, store.ErrNotFound) && checkSites:
			return rpc.NotFound("site", id)
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return err
		case site.ClientID != clientID && checkSites:
			return &validate.Error{Field: field + ".site_ids", Value: id, Msg: "is a site of another client; a page shows only its client's sites"}
		case site.ClientID != clientID:
			continue
		}
		kept = append(kept, id)
	}
	sp.SiteIDs = kept
	return nil
}

type statusPageService struct {
	*API
	berthv1.UnimplementedStatusPageServiceServer
}

// publishedClient returns the client whose status page slug names. An
// unknown slug and a page that is not enabled get the same answer, so that
// the public cannot find out which clients exist.
func publishedClient(tx store.ReadTx, slug string) (*store.Client, error) {
	if validate.Slug("slug", slug) != nil {
		return nil, status.Error(codes.NotFound, "status page not found")
	}
	c, err := tx.GetClientBySlug(slug)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.StatusPage.Enabled) {
		return nil, status.Errorf(codes.NotFound, "status page %q not found", slug)
	}
	return c, err
}

func (s statusPageService) GetStatusPage(ctx context.Context, req *berthv1.GetStatusPageRequest) (*berthv1.GetStatusPageResponse, error) {
	now := s.now()
	var page *berthv1.PublicStatusPage
	err := s.store.View(ctx, func(tx store.ReadTx) error {
		c, err := publishedClient(tx, req.GetSlug())
		if err != nil {
			return err
		}
		if page = s.statusPages.get(c, now); page != nil {
			return nil
		}
		if page, err = publicStatusPage(tx, c, now); err != nil {
			return err
		}
		s.statusPages.put(c, now, page)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &berthv1.GetStatusPageResponse{Page: page}, nil
}

func (s statusPageService) GetStatusPageLogo(ctx context.Context, req *berthv1.GetStatusPageLogoRequest) (*berthv1.GetStatusPageLogoResponse, error) {
	var c *store.Client
	err := s.store.View(ctx, func(tx store.ReadTx) (err error) {
		c, err = publishedClient(tx, req.GetSlug())
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(c.StatusPage.Logo) == 0 {
		return nil, status.Errorf(codes.NotFound, "status page %q has no logo", req.GetSlug())
	}
	return &berthv1.GetStatusPageLogoResponse{ContentType: http.DetectContentType(c.StatusPage.Logo), Data: c.StatusPage.Logo}, nil
}

// publicStatusPage builds a client's page at now. It copies into the public
// messages only what the client's customers may see: names, domains,
// statuses and times; never ids, nodes, vantage points, error classes or
// maintenance reasons.
func publicStatusPage(tx store.ReadTx, c *store.Client, now time.Time) (*berthv1.PublicStatusPage, error) {
	minute := now.Truncate(time.Minute)
	from := minute.AddDate(0, 0, -statusPageDays)
	page := &berthv1.PublicStatusPage{Slug: c.Slug, Title: c.DisplayName, AccentColor: c.StatusPage.AccentColor,
		HasLogo: c.StatusPage.HasLogo, GenerateTime: timestamppb.New(now)}
	var sites []*store.Site
	for _, id := range c.StatusPage.SiteIDs {
		site, err := tx.GetSite(id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since it was put on the page
		} else if err != nil {
			return nil, err
		}
		if site.ClientID != c.ID || slices.ContainsFunc(sites, func(s *store.Site) bool { return s.ID == id }) {
			continue
		}
		sites = append(sites, site)
	}
	type incident struct {
		site string
		inc  *store.Incident
	}
	var incidents []incident
	for _, site := range sites {
		u, err := siteUptime(tx, site, minute)
		if err != nil {
			return nil, err
		}
		ps := &berthv1.PublicSite{Name: site.Name, PrimaryDomain: site.PrimaryDomain, Status: u.Status, Daily: u.Daily}
		for _, w := range u.Windows {
			if w.Name == "90d" {
				ps.UptimeRatio_90D = w.UptimeRatio
			}
		}
		page.Sites = append(page.Sites, ps)

		is, err := tx.ListIncidents(store.IncidentFilter{SiteID: site.ID, From: from}, store.Page{Limit: maxPublicIncidents})
		if err != nil {
			return nil, err
		}
		for _, i := range is {
			incidents = append(incidents, incident{site.Name, i})
		}
		ws, err := tx.ListMaintenanceWindows("", site.ID, from, time.Time{})
		if err != nil {
			return nil, err
		}
		for _, w := range ws {
			page.Maintenance = append(page.Maintenance, publicMaintenance(site.Name, w))
		}
	}
	// Windows over all of the client's sites.
	ws, err := tx.ListMaintenanceWindows(c.ID, "", from, time.Time{})
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		page.Maintenance = append(page.Maintenance, publicMaintenance("", w))
	}
	slices.SortStableFunc(page.Maintenance, func(a, b *berthv1.PublicMaintenance) int {
		return a.StartTime.AsTime().Compare(b.StartTime.AsTime())
	})
	if n := len(page.Maintenance); n > maxPublicMaintenance {
		page.Maintenance = page.Maintenance[n-maxPublicMaintenance:] // keep the latest and the upcoming
	}

	slices.SortStableFunc(incidents, func(a, b incident) int { return b.inc.Start.Compare(a.inc.Start) })
	if len(incidents) > maxPublicIncidents {
		incidents = incidents[:maxPublicIncidents]
	}
	for _, i := range incidents {
		pi := &berthv1.PublicIncident{SiteName: i.site, StartTime: timestamppb.New(i.inc.Start), Open: i.inc.End.IsZero()}
		end := now
		if !i.inc.End.IsZero() {
			pi.EndTime, end = timestamppb.New(i.inc.End), i.inc.End
		}
		pi.DurationSeconds = int64(end.Sub(i.inc.Start) / time.Second)
		page.Incidents = append(page.Incidents, pi)
	}
	return page, nil
}

func publicMaintenance(siteName string, w *store.MaintenanceWindow) *berthv1.PublicMaintenance {
	return &berthv1.PublicMaintenance{SiteName: siteName, StartTime: timestamppb.New(w.Start), EndTime: timestamppb.New(w.End)}
}

// statusPageCache keeps each client's page for the rest of the minute it was
// built in: the page's numbers change once a minute, and anyone may ask for
// it, as often as they like. A change to the client's settings (its update
// time) makes a new page at once; other changes (incidents, renamed or
// deleted sites) show within the minute.
type statusPageCache struct {
	mu      sync.Mutex // guards entries
	entries map[string]statusPageEntry
}

type statusPageEntry struct {
	updateTime, minute time.Time
	page               *berthv1.PublicStatusPage
}

// maxCachedStatusPages bounds the cache; when full it starts over.
const maxCachedStatusPages = 1000

func newStatusPageCache() *statusPageCache {
	return &statusPageCache{entries: map[string]statusPageEntry{}}
}

// get returns a copy of c's page built in now's minute, or nil.
func (pc *statusPageCache) get(c *store.Client, now time.Time) *berthv1.PublicStatusPage {
	pc.mu.Lock()
	e, ok := pc.entries[c.ID]
	pc.mu.Unlock()
	if !ok || !e.updateTime.Equal(c.UpdateTime) || !e.minute.Equal(now.Truncate(time.Minute)) {
		return nil
	}
	return proto.CloneOf(e.page)
}

// put keeps a copy of c's page built at now.
func (pc *statusPageCache) put(c *store.Client, now time.Time, page *berthv1.PublicStatusPage) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if _, ok := pc.entries[c.ID]; !ok && len(pc.entries) >= maxCachedStatusPages {
		clear(pc.entries)
	}
	pc.entries[c.ID] = statusPageEntry{updateTime: c.UpdateTime, minute: now.Truncate(time.Minute), page: proto.CloneOf(page)}
}
