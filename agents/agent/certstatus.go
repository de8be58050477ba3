package agent

import (
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/agents/certs"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// certStatus adds, to each site status the reconciler reports, the status
// of the certificates of the site's domains, and re-sends the statuses of
// the sites when certificates change.
type certStatus struct {
	routes *routes // the sites' domains
	certs  *certs.Manager
	report func(*agentv1.SiteStatus) // to berthd

	mu       sync.Mutex                     // guards statuses
	statuses map[string]*agentv1.SiteStatus // last reconciler status, without certificates
}

// newCertStatus returns a certStatus; its certs must be set before the
// first report.
func newCertStatus(r *routes, report func(*agentv1.SiteStatus)) *certStatus {
	return &certStatus{routes: r, report: report, statuses: map[string]*agentv1.SiteStatus{}}
}

// siteStatus sends a reconciler status on with the site's certificates
// (reconciler.Options.Report).
func (c *certStatus) siteStatus(st *agentv1.SiteStatus) {
	c.mu.Lock()
	if st.GetRemoved() {
		delete(c.statuses, st.GetSiteId())
	} else {
		c.statuses[st.GetSiteId()] = st
	}
	c.mu.Unlock()
	c.report(c.withCertificates(st, c.certs.Status()))
}

// certificatesChanged re-sends the status of every site
// (certs.Options.OnChange).
func (c *certStatus) certificatesChanged() {
	all := c.certs.Status()
	c.mu.Lock()
	sts := make([]*agentv1.SiteStatus, 0, len(c.statuses))
	for _, st := range c.statuses {
		sts = append(sts, st)
	}
	c.mu.Unlock()
	for _, st := range sts {
		c.report(c.withCertificates(st, all))
	}
}

// withCertificates returns a copy of st with the certificate status of the
// site's domains.
func (c *certStatus) withCertificates(st *agentv1.SiteStatus, all []certs.DomainStatus) *agentv1.SiteStatus {
	site := c.routes.site(st.GetSiteId())
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
