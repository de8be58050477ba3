package agent

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/edge"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// routes keeps the edge's routes and the certificate manager's domains in
// step with the node's sites: their domains and edge options from the
// desired state, and where each answers from the reconciler, which is the
// one record of that.
type routes struct {
	wake chan struct{} // cap 1: routes or domains need recomputing

	mu    sync.Mutex // guards sites
	sites map[string]*agentv1.SiteAssignment
}

func newRoutes() *routes {
	return &routes{wake: make(chan struct{}, 1), sites: map[string]*agentv1.SiteAssignment{}}
}

// setSites records the sites of a desired state that are not being deleted.
func (r *routes) setSites(ds *agentv1.DesiredState) {
	sites := make(map[string]*agentv1.SiteAssignment, len(ds.GetSites()))
	for _, s := range ds.GetSites() {
		if !s.GetDeleting() {
			sites[s.GetSiteId()] = s
		}
	}
	r.mu.Lock()
	r.sites = sites
	r.mu.Unlock()
	r.changed()
}

// site returns the assignment of a site, nil if the node serves no such site.
func (r *routes) site(siteID string) *agentv1.SiteAssignment {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sites[siteID]
}

// changed says that the sites, or where one answers, changed. It never
// blocks.
func (r *routes) changed() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run keeps e's routes and m's domains in step with the sites, with each
// site's upstream as upstream (Reconciler.Upstream) says, once the edge
// listens (the manager needs it for the ACME challenges), until ctx ends.
func (r *routes) run(ctx context.Context, e *edge.Edge, m *certs.Manager, upstream func(siteID string) netip.AddrPort) {
	select {
	case <-e.Ready():
	case <-ctx.Done():
		return
	}
	for {
		r.mu.Lock()
		routes := make([]edge.Route, 0, len(r.sites))
		var domains []string
		for _, id := range slices.Sorted(maps.Keys(r.sites)) {
			s := r.sites[id]
			routes = append(routes, edge.Route{SiteID: id, Domains: s.GetDomains(), Upstream: upstream(id),
				RedirectAliases: s.GetRedirectAliases(), HSTS: s.GetHsts()})
			domains = append(domains, s.GetDomains()...)
		}
		r.mu.Unlock()
		e.SetRoutes(routes)
		m.SetDomains(ctx, domains)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
	}
}
