package probe_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/probe/probetest"
)

func TestGuardCheckAddr(t *testing.T) {
	all := probe.Guard{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
	fleet := probe.Guard{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("127.0.0.0/8")}}
	tests := []struct {
		addr         string
		zero         bool // allowed by the zero Guard
		allowedAll   bool // allowed when AllowPrivate covers everything
		allowedFleet bool
	}{
		{"93.184.216.34", true, true, true},
		{"2606:4700::1111", true, true, true},
		{"127.0.0.1", false, true, true},
		{"::1", false, true, false},
		{"::ffff:127.0.0.1", false, true, true},
		{"10.20.1.2", false, true, true},
		{"10.21.1.2", false, true, false},
		{"172.16.0.1", false, true, false},
		{"192.168.1.1", false, true, false},
		{"100.64.0.1", false, true, false},
		{"fd12:3456::1", false, true, false},
		{"198.51.100.7", false, true, false},
		// Never allowed.
		{"169.254.169.254", false, false, false},
		{"::ffff:169.254.169.254", false, false, false},
		{"64:ff9b::a9fe:a9fe", false, false, false}, // NAT64 of 169.254.169.254
		{"fe80::1", false, false, false},
		{"fe80::1%eth0", false, false, false},
		{"fd00:ec2::254", false, false, false},
		{"100.100.100.200", false, false, false},
		{"0.0.0.0", false, false, false},
		{"0.1.2.3", false, false, false},
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
		{"ff02::1", false, false, false},
		{"255.255.255.255", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			for _, c := range []struct {
				name  string
				g     probe.Guard
				allow bool
			}{{"zero", probe.Guard{}, tt.zero}, {"all", all, tt.allowedAll}, {"fleet", fleet, tt.allowedFleet}} {
				err := c.g.CheckAddr(a)
				if (err == nil) != c.allow {
					t.Errorf("%s guard: CheckAddr = %v, want allowed %v", c.name, err, c.allow)
				}
				if err != nil && !errors.Is(err, probe.ErrForbiddenAddress) {
					t.Errorf("%s guard: error %v does not wrap ErrForbiddenAddress", c.name, err)
				}
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	loopback := probetest.LoopbackGuard()
	tests := []struct {
		url   string
		guard probe.Guard
		want  string // "" for allowed, else a substring of the error
	}{
		{"https://93.184.216.34/hook", probe.Guard{}, ""},
		{"http://user:pw@93.184.216.34:8080/hook?x=1", probe.Guard{}, ""},
		{"HTTPS://93.184.216.34/", probe.Guard{}, ""},
		{"http://localhost:9000/hook", loopback, ""},
		{"http://localhost:9000/hook", probe.Guard{}, "loopback"},
		{"http://127.0.0.1/", probe.Guard{}, "loopback"},
		{"ftp://93.184.216.34/file", probe.Guard{}, `scheme "ftp" is not allowed`},
		{"file:///etc/passwd", probe.Guard{}, `scheme "file" is not allowed`},
		{"javascript:alert(1)", probe.Guard{}, "not allowed"},
		{"http://169.254.169.254/latest/meta-data/", loopback, "link-local"},
		{"http://[fe80::1%25eth0]/", loopback, "link-local"},
		{"http://[::ffff:169.254.169.254]/", loopback, "link-local"},
		{"http://10.0.0.1/", loopback, "private"},
		{"http:93.184.216.34", probe.Guard{}, "absolute"},
		{"/relative", probe.Guard{}, "absolute"},
		{"https:///path", probe.Guard{}, "host is missing"},
		{"http://no-such-host.invalid/", probe.Guard{}, "no-such-host.invalid"},
		{"http://[::1", probe.Guard{}, "missing ']'"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := probe.CheckURL(tt.url, tt.guard)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckURL = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckURL = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestGuardWebhookTransport uses the guard as an alert sender would: as the
// dialer of an http.Transport, and as the Control of a net.Dialer.
func TestGuardWebhookTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	get := func(g probe.Guard, url string) error {
		tr := &http.Transport{DialContext: g.DialContext, Proxy: nil}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(probetest.LoopbackGuard(), "http://localhost:"+port+"/"); err != nil {
		t.Errorf("allowed webhook: %v", err)
	}
	for _, url := range []string{"http://localhost:" + port + "/", "http://127.0.0.1:" + port + "/"} {
		if err := get(probe.Guard{}, url); !errors.Is(err, probe.ErrForbiddenAddress) {
			t.Errorf("GET %s with the zero guard: %v, want ErrForbiddenAddress", url, err)
		}
	}

	// Control alone catches what a resolver hands a plain dialer.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := net.Dialer{Control: probe.Guard{}.Control}
	if c, err := d.DialContext(ctx, "tcp", "localhost:"+port); !errors.Is(err, probe.ErrForbiddenAddress) {
		if c != nil {
			c.Close()
		}
		t.Errorf("dial with Control of the zero guard: %v, want ErrForbiddenAddress", err)
	}
	d = net.Dialer{Control: probetest.LoopbackGuard().Control}
	c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("dial with Control of the loopback guard: %v", err)
	}
	c.Close()
}
