package edge

import (
	"net"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// Route is how the edge serves one site.
type Route struct {
	// SiteID names the site in metrics and logs. Required and unique.
	SiteID string
	// Domains are the host names the site answers to, primary first, then
	// aliases. Case and a trailing dot do not matter. A domain already
	// claimed by an earlier route is ignored (and logged).
	Domains []string
	// Upstream is the site's container on its network. The zero value (or
	// port 0) means the site is not running: its visitors get the branded
	// 503 page.
	Upstream netip.AddrPort
	// RedirectAliases sends requests for an alias to the primary domain
	// with a 308 to https://primary/path?query.
	RedirectAliases bool
	// HSTS adds "Strict-Transport-Security: max-age=31536000" to the
	// site's HTTPS responses, unless the site sets the header itself.
	HSTS bool
}

// site is one route as the edge serves it. It is immutable once published,
// so a request keeps the site it started with whatever SetRoutes does.
type site struct {
	id              string
	primary         string // canonical primary domain
	upstream        netip.AddrPort
	redirectAliases bool
	hsts            bool
	proxy           *httputil.ReverseProxy // nil when the site is not running
	metrics         *siteMetrics
}

func (s *site) running() bool { return s.proxy != nil }

// table is one generation of routes: canonical host → site, and site id →
// site. It is immutable once published.
type table struct {
	hosts map[string]*site
	sites map[string]*site
}

func (t *table) lookup(host string) *site { return t.hosts[host] }

// canonicalHost turns a Host header (or a configured domain) into a table
// key: without the port, lower-case, without a trailing dot, without IPv6
// brackets.
func canonicalHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}
