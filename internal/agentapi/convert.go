package agentapi

import (
	"slices"
	"strings"

	"github.com/fixaroo/berth/internal/store"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// This file converts between the store's types and the node contract's
// (berth.agent.v1), in both directions. The public API's conversions are in
// package api; the two contracts share no Go types.

var agentSiteKinds = map[store.SiteKind]agentv1.SiteKind{
	store.SiteKindWordPress: agentv1.SiteKind_SITE_KIND_WORDPRESS,
	store.SiteKindStatic:    agentv1.SiteKind_SITE_KIND_STATIC,
}

// nodeSiteStates are the states a node may report; PENDING and DELETING
// are the control plane's to set.
var nodeSiteStates = map[agentv1.SiteState]store.SiteState{
	agentv1.SiteState_SITE_STATE_PROVISIONING: store.SiteStateProvisioning,
	agentv1.SiteState_SITE_STATE_RUNNING:      store.SiteStateRunning,
	agentv1.SiteState_SITE_STATE_FAILED:       store.SiteStateFailed,
}

// siteStateFromAgent is the state a node's report sets, if it sets one.
func siteStateFromAgent(s agentv1.SiteState) (store.SiteState, bool) {
	state, ok := nodeSiteStates[s]
	return state, ok
}

// conditionFromAgent is a condition a node reported, cut to the store's
// limits.
func conditionFromAgent(c *agentv1.Condition) store.Condition {
	return store.Condition{Type: truncate(c.GetType(), 64), Status: truncate(c.GetStatus(), 16),
		Reason: truncate(c.GetReason(), 64), Message: truncate(c.GetMessage(), 1024),
		LastTransitionTime: c.GetLastTransitionTime().AsTime()}
}

// certificateStatuses converts a node's report to the store's form, keeping
// only the site's own domains.
func certificateStatuses(site *store.Site, in []*agentv1.CertificateStatus) []store.CertificateStatus {
	var out []store.CertificateStatus
	for _, c := range in {
		if !slices.Contains(site.Domains(), c.GetDomain()) {
			continue
		}
		cs := store.CertificateStatus{Domain: c.GetDomain(), Issuer: truncate(c.GetIssuer(), 128),
			LastError: truncate(c.GetLastError(), 1024), Managed: c.GetManaged()}
		if c.GetNotAfter() != nil {
			cs.NotAfter = c.GetNotAfter().AsTime()
		}
		if c.GetLastAttemptTime() != nil {
			cs.LastAttempt = c.GetLastAttemptTime().AsTime()
		}
		out = append(out, cs)
	}
	slices.SortFunc(out, func(a, b store.CertificateStatus) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// nodeSecrets are the secrets a node needs to run a site; bookkeeping such
// as when the admin password was shown stays in the control plane.
func nodeSecrets(all map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"db_password", "admin_password"} {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	return out
}

// assignment is what a node needs to run site s; rel is the release the
// site serves (nil for none).
func assignment(s *store.Site, rel *store.Release) *agentv1.SiteAssignment {
	a := &agentv1.SiteAssignment{
		SiteId: s.ID, ClientId: s.ClientID, Name: s.Name, Kind: agentSiteKinds[s.Kind], Generation: s.Generation,
		Domains:   s.Domains(),
		Resources: &agentv1.Resources{MemoryMib: s.MemoryMiB, CpuMillicores: s.CPUMillicores},
		Secrets:   nodeSecrets(s.Secrets),
		Deleting:  s.State == store.SiteStateDeleting,
		Hsts:      s.HSTS, RedirectAliases: s.RedirectAliases,
	}
	if s.Kind == store.SiteKindWordPress {
		a.Wordpress = &agentv1.WordPressSpec{Title: s.WPTitle, AdminEmail: s.WPAdminEmail}
	}
	if rel != nil {
		a.ReleaseId, a.ReleaseDigest = rel.ID, rel.Digest
	}
	return a
}
