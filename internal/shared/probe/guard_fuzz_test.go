package probe

import (
	"context"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckURL checks that whatever CheckURL accepts is an http(s) URL
// with a host, and never one naming a forbidden address. Names resolve, in
// the fuzzer, to one public address, so that no lookup leaves the machine.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook", "http://93.184.216.34:8080/x?y=z", "http://169.254.169.254/",
		"http://[::ffff:a9fe:a9fe]/", "ftp://example.com/", "http://[fe80::1%25eth0]/", "http://0x7f.1/",
		"http://user:pass@10.0.0.1/", "https:///nohost", "javascript:alert(1)", "HTTP://EXAMPLE.COM",
	} {
		f.Add(s)
	}
	public := func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := checkURL(context.Background(), raw, Guard{}, public); err != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
		if u.Hostname() == "" {
			t.Fatalf("accepted %q without a host", raw)
		}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if err := (Guard{}).CheckAddr(a); err != nil {
				t.Fatalf("accepted %q, whose address is forbidden: %v", raw, err)
			}
		}
	})
}
