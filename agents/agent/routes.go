package agent

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/edge"
	"github.com/fixaroo/berth/agents/prober"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// front joins the node's three views of a site: the desired state (its
// domains and edge options), the reconciler (where its container answers)
// and the certificate manager (its certificates). It keeps the edge's
// routes and the manager's domains current, and adds each domain's
// certificate status to the site status sent to berthd.
type front struct {
	next   Applier // the reconciler
	edge   *edge.Edge
	certs  *certs.Manager
	probes *prober.Scheduler // the node's probes of its own and its peers' sites
	report func(*agentv1.SiteStatus)

	changed chan struct{} // cap 1: routes or domains need recomputing

	mu        sync.Mutex // guards the fields below
	sites     map[string]*agentv1.SiteAssignment
	upstreams map[string]netip.AddrPort
	statuses  map[string]*agentv1.SiteStatus // last reconciler status, without certificates
}

func newFront(next Applier, e *edge.Edge, m *certs.Manager, report func(*agentv1.SiteStatus)) *front {
	return &front{next: next, edge: e, certs: m, report: report, changed: make(chan struct{}, 1),
		sites: map[string]*agentv1.SiteAssignment{}, upstreams: map[string]netip.AddrPort{}, statuses: map[string]*agentv1.SiteStatus{}}
}

// Apply records the sites' domains and options and passes the state on.
func (f *front) Apply(ctx context.Context, ds *agentv1.DesiredState) {
	sites := make(map[string]*agentv1.SiteAssignment, len(ds.GetSites()))
	for _, s := range ds.GetSites() {
		if !s.GetDeleting() {
			sites[s.GetSiteId()] = s
		}
	}
	f.mu.Lock()
	f.sites = sites
	f.mu.Unlock()
	f.signal()
	if f.probes != nil {
		f.probes.SetAssignments(ds.GetProbes())
	}
	f.next.Apply(ctx, ds)
}

// upstream records where a site's container answers (reconciler.Options.Upstream).
func (f *front) upstream(siteID string, addr netip.AddrPort) {
	f.mu.Lock()
	if addr.IsValid() {
		f.upstreams[siteID] = addr
	} else {
		delete(f.upstreams, siteID)
	}
	f.mu.Unlock()
	f.signal()
}

// siteStatus sends a reconciler status on with the site's certificates
// (reconciler.Options.Report).
func (f *front) siteStatus(st *agentv1.SiteStatus) {
	f.mu.Lock()
	if st.GetRemoved() {
		delete(f.statuses, st.GetSiteId())
	} else {
		f.statuses[st.GetSiteId()] = st
	}
	f.mu.Unlock()
	f.report(f.withCertificates(st, f.certs.Status()))
}

// certificatesChanged re-sends the status of every site whose domains'
// certificates changed (certs.Options.OnChange).
func (f *front) certificatesChanged() {
	all := f.certs.Status()
	f.mu.Lock()
	sts := make([]*agentv1.SiteStatus, 0, len(f.statuses))
	for _, st := range f.statuses {
		sts = append(sts, st)
	}
	f.mu.Unlock()
	for _, st := range sts {
		f.report(f.withCertificates(st, all))
	}
}

// withCertificates returns a copy of st with the certificate status of the
// site's domains.
func (f *front) withCertificates(st *agentv1.SiteStatus, all []certs.DomainStatus) *agentv1.SiteStatus {
	f.mu.Lock()
	site := f.sites[st.GetSiteId()]
	f.mu.Unlock()
	out := proto.Clone(st).(*agentv1.SiteStatus)
	if site == nil || st.GetRemoved() {
		return out
	}
	for _, d := range all {
		if !slices.Contains(site.GetDomains(), d.Domain) {
			continue
		}
		cs := &agentv1.CertificateStatus{Domain: d.Domain, Issuer: d.Issuer, LastError: d.LastError, Managed: d.Managed}
		if !d.NotAfter.IsZero() {
			cs.NotAfter = timestamppb.New(d.NotAfter)
		}
		if !d.LastAttempt.IsZero() {
			cs.LastAttemptTime = timestamppb.New(d.LastAttempt)
		}
		out.Certificates = append(out.Certificates, cs)
	}
	return out
}

func (f *front) signal() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// run keeps the edge's routes and the certificate manager's domains in
// step with the sites, once the edge listens (the manager needs it for
// the ACME challenges), until ctx ends.
func (f *front) run(ctx context.Context) {
	select {
	case <-f.edge.Ready():
	case <-ctx.Done():
		return
	}
	for {
		f.mu.Lock()
		routes := make([]edge.Route, 0, len(f.sites))
		var domains []string
		for _, id := range slices.Sorted(maps.Keys(f.sites)) {
			s := f.sites[id]
			routes = append(routes, edge.Route{SiteID: id, Domains: s.GetDomains(), Upstream: f.upstreams[id],
				RedirectAliases: s.GetRedirectAliases(), HSTS: s.GetHsts()})
			domains = append(domains, s.GetDomains()...)
		}
		f.mu.Unlock()
		f.edge.SetRoutes(routes)
		f.certs.SetDomains(ctx, domains)
		select {
		case <-ctx.Done():
			return
		case <-f.changed:
		}
	}
}
