package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned (wrapped) when a Guard refuses an address.
var ErrForbiddenAddress = errors.New("probe: address not allowed")

// Guard decides which addresses outbound requests made on behalf of users
// (probes, alert webhooks) may reach, so that a site or webhook URL cannot
// turn berthd or an agent into a proxy to the cloud metadata service or the
// operator's private network (SSRF).
//
// Always refused, whatever AllowPrivate says: unspecified addresses and
// 0.0.0.0/8, link-local unicast (169.254.0.0/16, fe80::/10, where cloud
// metadata services live), the metadata addresses outside link-local
// (fd00:ec2::254, 100.100.100.200), multicast, 240.0.0.0/4 and the
// broadcast address. IPv4-mapped IPv6 addresses and the NAT64 prefix
// 64:ff9b::/96 are judged by the IPv4 address inside them.
//
// Refused unless within AllowPrivate: loopback, private (RFC 1918, fc00::/7),
// shared (100.64.0.0/10), and the other special-purpose ranges that are not
// publicly routable (benchmarking, documentation, IETF protocol
// assignments). Everything else, the public internet, is allowed.
//
// The zero Guard allows public addresses only. A Guard is a value; its
// methods are safe for concurrent use as long as AllowPrivate is not
// modified.
type Guard struct {
	// AllowPrivate are the non-public ranges that may be reached anyway:
	// the fleet's own nodes (tests on one machine pass 127.0.0.0/8).
	AllowPrivate []netip.Prefix
	// Source, if valid, is the local address connections to addresses of
	// its family are made from: a node probes from the address its peers
	// know it by, so their firewalls see who is asking.
	Source netip.Addr
}

// FleetRanges are the private and loopback ranges a fleet's nodes may be
// on. Probe targets are the edge addresses the fleet's own nodes announce,
// so both berthd and the agents allow these; link-local and metadata
// addresses stay refused.
func FleetRanges() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "fc00::/7", "::1/128"} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// alwaysDenied are refused even when AllowPrivate covers them.
var alwaysDenied = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this network)"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("100.100.100.200/32"), "a cloud metadata address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("fe80::/10"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a cloud metadata address"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// nonPublic are refused unless AllowPrivate covers them.
var nonPublic = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved for IETF protocol assignments"},
	{netip.MustParsePrefix("192.0.2.0/24"), "reserved for documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved for benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "reserved for documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "reserved for documentation"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "private (unique local)"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("100::/64"), "reserved (discard only)"},
	{netip.MustParsePrefix("2001:db8::/32"), "reserved for documentation"},
}

var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckAddr returns nil if a may be reached, and otherwise an error wrapping
// ErrForbiddenAddress that says why not.
func (g Guard) CheckAddr(a netip.Addr) error {
	if !a.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	a = a.WithZone("")
	judged := a.Unmap()
	if nat64.Contains(judged) {
		b := judged.As16()
		judged = netip.AddrFrom4([4]byte(b[12:]))
	}
	for _, d := range alwaysDenied {
		if d.prefix.Contains(judged) {
			return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, a, d.why)
		}
	}
	for _, p := range nonPublic {
		if !p.prefix.Contains(judged) {
			continue
		}
		for _, allowed := range g.AllowPrivate {
			if allowed.Contains(judged) || allowed.Contains(a) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is %s", ErrForbiddenAddress, a, p.why)
	}
	return nil
}

// Control checks, at connect time, the address a socket is about to
// connect to; it has the signature of net.Dialer.Control. A dialer with
// it cannot be steered to a forbidden address by a DNS answer that changed
// after an earlier check (DNS rebinding).
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return fmt.Errorf("%w: network %s", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrForbiddenAddress, address, err)
	}
	return g.CheckAddr(ap.Addr())
}

// DialContext connects to address ("host:port", TCP only) if every address
// the host resolves to is allowed; it has the signature of
// http.Transport.DialContext, so a webhook sender can use it as-is. The
// addresses are tried in the resolver's order, each with a share of the
// time left before ctx's deadline, and each is checked again by Control as
// the socket connects. Resolution errors are *net.DNSError (wrapped).
func (g Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	ipNet := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[network]
	if ipNet == "" {
		return nil, fmt.Errorf("dial %s %s: %w", network, address, net.UnknownNetworkError(network))
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	addrs, err := g.resolve(ctx, ipNet, host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var firstErr error
	for i, a := range addrs {
		d := net.Dialer{Control: g.Control}
		if g.Source.IsValid() && g.Source.Is4() == a.Unmap().Is4() {
			d.LocalAddr = &net.TCPAddr{IP: g.Source.AsSlice()}
		}
		attemptCtx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && i < len(addrs)-1 {
			// As net.Dialer does for several addresses: an unreachable
			// first address must not use up the whole budget.
			share := time.Until(deadline) / time.Duration(len(addrs)-i)
			attemptCtx, cancel = context.WithTimeout(ctx, max(share, 2*time.Second))
		}
		conn, err := d.DialContext(attemptCtx, network, net.JoinHostPort(a.String(), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// resolve returns the addresses of host (an IP literal or a name), all of
// them allowed, or an error if any is not.
func (g Guard) resolve(ctx context.Context, ipNet, host string) ([]netip.Addr, error) {
	return g.resolveWith(ctx, ipNet, host, net.DefaultResolver.LookupNetIP)
}

// lookupFunc has the signature of net.Resolver.LookupNetIP.
type lookupFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (g Guard) resolveWith(ctx context.Context, ipNet, host string, lookup lookupFunc) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = lookup(ctx, ipNet, host)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
	}
	for i, a := range addrs {
		a = a.Unmap()
		addrs[i] = a
		if err := g.CheckAddr(a); err != nil {
			if a.String() != host {
				return nil, fmt.Errorf("%w (resolved from %s)", err, host)
			}
			return nil, err
		}
	}
	return addrs, nil
}

// checkURLTimeout bounds CheckURL's name resolution.
const checkURLTimeout = 5 * time.Second

// CheckURL returns nil if u may be used as a webhook URL: an absolute http
// or https URL whose host is an allowed address or a name all of whose
// addresses are allowed (resolution takes at most 5 s). It is a check at
// configuration time; the request itself must still go through
// g.DialContext (or a dialer with g.Control), since the name may resolve
// differently later.
func CheckURL(u string, g Guard) error {
	ctx, cancel := context.WithTimeout(context.Background(), checkURLTimeout)
	defer cancel()
	return checkURL(ctx, u, g, net.DefaultResolver.LookupNetIP)
}

func checkURL(ctx context.Context, raw string, g Guard, lookup lookupFunc) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return fmt.Errorf("url %q: an absolute http:// or https:// URL is required", raw)
	default:
		return fmt.Errorf("url %q: scheme %q is not allowed; use http or https", raw, u.Scheme)
	}
	if u.Opaque != "" {
		return fmt.Errorf("url %q: an absolute http:// or https:// URL is required", raw)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url %q: the host is missing", raw)
	}
	if _, err := g.resolveWith(ctx, "ip", host, lookup); err != nil {
		return fmt.Errorf("url %q: %w", raw, err)
	}
	return nil
}
