package browsertest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fixaroo/berth/internal/testenv"
)

// TestIsolated checks that, as root, Chromium runs in a network namespace
// of its own and still reaches loopback servers through the proxy, by
// address and by the names of Options.Hosts, over HTTPS and plain HTTP.
func TestIsolated(t *testing.T) {
	if !canIsolate() {
		// As Start does for a missing Chromium: a skip only in a quick
		// local loop (-short, outside CI).
		testenv.Missing(t, "the browser cannot get a network namespace of its own: run the tests as root, as CI does")
	}
	tlsSrv := httptest.NewTLSServer(formPage())
	defer tlsSrv.Close()
	plain := httptest.NewServer(formPage())
	defer plain.Close()
	b := Start(t, Options{Hosts: map[string]string{"plain.test": "127.0.0.1"}})
	if !b.isolated {
		t.Fatal("the browser is not isolated")
	}
	pid := chromedp.FromContext(b.ctx).Browser.Process().Pid
	mine, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	its, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if its == mine {
		t.Fatalf("Chromium (pid %d) shares the test's network namespace %s", pid, mine)
	}

	ctx := b.NewTab(t)
	Navigate(t, ctx, tlsSrv.URL+"/")
	WaitText(t, ctx, "h1", "Sign in")
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	Navigate(t, ctx, "http://plain.test:"+port+"/")
	WaitText(t, ctx, "h1", "Sign in")
	Fill(t, ctx, "#name", "Ada")
	Click(t, ctx, "#go")
	WaitText(t, ctx, "#greeting", "Hello, Ada")
}

// TestProxyLoopbackOnly checks that the proxy maps names and refuses every
// address that is not loopback, before it dials.
func TestProxyLoopbackOnly(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p := newProxy(map[string]string{"*.test": "127.0.0.1", "far.app.test": "192.0.2.1"})
	defer p.close()
	ctx := context.Background()
	for _, host := range []string{"localhost", "127.0.0.1", "app.test", "a.b.test", "APP.TEST."} {
		c, err := p.dial(ctx, net.JoinHostPort(host, port))
		if err != nil {
			t.Errorf("dial %s: %v", host, err)
			continue
		}
		c.Close()
	}
	for _, host := range []string{"192.0.2.1", "far.app.test", "10.0.0.1", "::ffff:192.0.2.1"} {
		c, err := p.dial(ctx, net.JoinHostPort(host, "443"))
		if err == nil {
			c.Close()
			t.Errorf("dial %s: connected, want a refusal", host)
		} else if !strings.Contains(err.Error(), "not a loopback address") {
			t.Errorf("dial %s: %v, want a loopback-only refusal", host, err)
		}
	}
}

func TestMapHost(t *testing.T) {
	hosts := map[string]string{"app.test": "127.0.0.2", "*.test": "127.0.0.1", "*.b.test": "127.0.0.3"}
	for host, want := range map[string]string{
		"app.test": "127.0.0.2", "x.test": "127.0.0.1", "a.b.test": "127.0.0.3", "x.a.b.test": "127.0.0.3",
		"b.test": "127.0.0.1", "test": "", "example.com": "",
	} {
		got, ok := mapHost(hosts, host)
		if got != want || ok != (want != "") {
			t.Errorf("mapHost(%q) = %q, %v; want %q", host, got, ok, want)
		}
	}
}
