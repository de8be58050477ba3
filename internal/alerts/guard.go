package alerts

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// metadataAddrs are cloud instance-metadata endpoints outside the
// link-local ranges (169.254.169.254 and fe80::/10 are refused as
// link-local): AWS's IPv6 endpoint and Alibaba Cloud's.
var metadataAddrs = [...]netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// metadataRefusal returns why alerts must not connect to ip, or "" if they may.
// Loopback and private addresses are allowed: an agency may run its webhook
// receiver or mail relay next to berthd.
//
// This is the guard of a zero Sender, and of checking a channel's address
// when it is saved; it differs from probe.Guard, Berth's guard for
// connections to addresses that anyone may set, which allows public
// addresses only. berthd sends alerts through probe.Guard (public addresses
// plus --alert-allow-private); this one keeps a Sender used on its own from
// reaching the cloud metadata service, whatever it is pointed at.
func metadataRefusal(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid():
		return "not an IP address"
	case ip.IsUnspecified():
		return "the unspecified address is not allowed"
	case ip.IsLinkLocalUnicast():
		return "link-local addresses (such as the cloud metadata service) are not allowed"
	case ip.IsMulticast():
		return "multicast addresses are not allowed"
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return "the cloud metadata service is not allowed"
		}
	}
	return ""
}

// refuseMetadataControl is a net.Dialer Control function: it refuses a connection to
// a refused address after DNS resolution and before connect, so a host name
// that resolves (or rebinds) to the metadata service is caught too.
func refuseMetadataControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("alerts: refusing to connect to %s: not an IP address and port", address)
	}
	if why := metadataRefusal(ap.Addr()); why != "" {
		return fmt.Errorf("alerts: refusing to connect to %s: %s", ap.Addr(), why)
	}
	return nil
}

// metadataGuardDialer returns the dialer used when the caller supplies none.
func metadataGuardDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: refuseMetadataControl}
}
