package probe_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fixaroo/berth/internal/shared/probe"
	"github.com/fixaroo/berth/internal/shared/probe/probetest"
)

const domain = "site.test"

// newProber returns a prober that trusts ca and may reach loopback.
func newProber(ca *probetest.CA) *probe.Prober {
	return &probe.Prober{Roots: ca.Pool, Guard: probetest.LoopbackGuard()}
}

// serve starts an HTTPS server for domain with handler h and returns its
// address, the prober that trusts it, and the certificate's expiry.
func serve(t *testing.T, h http.Handler) (addr string, p *probe.Prober, notAfter time.Time) {
	t.Helper()
	ca := probetest.NewCA(t)
	notAfter = time.Now().Add(72 * time.Hour).Truncate(time.Second)
	srv := probetest.NewServer(t, ca.Leaf(t, notAfter, domain), h)
	return srv.Listener.Addr().String(), newProber(ca), notAfter
}

func TestProbeOutcomes(t *testing.T) {
	ca := probetest.NewCA(t)
	notAfter := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	good := ca.Leaf(t, notAfter, domain)

	handlers := map[string]http.HandlerFunc{
		"ok": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html>Welcome to the site</html>")
		},
		"503": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		},
		"404": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				t.Errorf("the probe followed a redirect to %s", r.URL.Path)
			}
			http.Redirect(w, r, "/elsewhere", http.StatusMovedPermanently)
		},
		"no answer": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
		"stalled body": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("the beginning"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		},
		"big": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(strings.Repeat("a", probe.MaxBody)))
			w.Write([]byte("Welcome"))
		},
	}
	addrs := map[string]string{}
	for name, h := range handlers {
		addrs[name] = probetest.NewServer(t, good, h).Listener.Addr().String()
	}
	wrongName := probetest.NewServer(t, ca.Leaf(t, notAfter, "other.test"), handlers["ok"]).Listener.Addr().String()
	expiredAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	expired := probetest.NewServer(t, ca.Leaf(t, expiredAt, domain), handlers["ok"]).Listener.Addr().String()
	otherCA := probetest.NewCA(t)
	untrusted := probetest.NewServer(t, otherCA.Leaf(t, notAfter, domain), handlers["ok"]).Listener.Addr().String()
	plain := httptest.NewServer(handlers["ok"])
	t.Cleanup(plain.Close)
	hangUpAfterHandshake := hangUp(t, &tls.Config{Certificates: []tls.Certificate{good}})
	hangUpAtOnce := hangUp(t, nil)

	tests := []struct {
		name         string
		target       probe.Target
		wantOK       bool
		wantStatus   int
		wantClass    string
		wantError    string // a substring of Error
		wantNotAfter time.Time
	}{
		{name: "ok", target: probe.Target{Address: addrs["ok"]}, wantOK: true, wantStatus: 200, wantNotAfter: notAfter},
		{name: "keyword present", target: probe.Target{Address: addrs["ok"], Keyword: "Welcome"}, wantOK: true, wantStatus: 200, wantNotAfter: notAfter},
		{name: "keyword missing", target: probe.Target{Address: addrs["ok"], Keyword: "Goodbye"},
			wantStatus: 200, wantClass: probe.ClassKeywordMissing, wantError: `"Goodbye"`, wantNotAfter: notAfter},
		{name: "keyword after 1 MiB", target: probe.Target{Address: addrs["big"], Keyword: "Welcome"},
			wantStatus: 200, wantClass: probe.ClassKeywordMissing, wantNotAfter: notAfter},
		{name: "503", target: probe.Target{Address: addrs["503"]}, wantStatus: 503, wantClass: probe.ClassHTTP5xx,
			wantError: "status 503 Service Unavailable, want 200", wantNotAfter: notAfter},
		{name: "503 expected", target: probe.Target{Address: addrs["503"], ExpectedStatus: 503}, wantOK: true, wantStatus: 503, wantNotAfter: notAfter},
		{name: "404", target: probe.Target{Address: addrs["404"]}, wantStatus: 404, wantClass: probe.ClassHTTPStatus,
			wantError: "status 404 Not Found", wantNotAfter: notAfter},
		{name: "redirect not followed", target: probe.Target{Address: addrs["redirect"]}, wantStatus: 301, wantClass: probe.ClassHTTPStatus, wantNotAfter: notAfter},
		{name: "redirect expected", target: probe.Target{Address: addrs["redirect"], ExpectedStatus: 301}, wantOK: true, wantStatus: 301, wantNotAfter: notAfter},
		{name: "refused", target: probe.Target{Address: probetest.Closed(t)}, wantClass: probe.ClassRefused, wantError: "connection refused"},
		{name: "timeout", target: probe.Target{Address: probetest.Silent(t), Timeout: 300 * time.Millisecond},
			wantClass: probe.ClassTimeout, wantError: "timeout after 300ms in the TLS handshake"},
		{name: "no answer", target: probe.Target{Address: addrs["no answer"], Timeout: 300 * time.Millisecond},
			wantClass: probe.ClassTimeout, wantError: "timeout after 300ms waiting for the response", wantNotAfter: notAfter},
		{name: "stalled body", target: probe.Target{Address: addrs["stalled body"], Timeout: 300 * time.Millisecond},
			wantStatus: 200, wantClass: probe.ClassTimeout, wantError: "timeout after 300ms reading the body", wantNotAfter: notAfter},
		{name: "hang-up after the handshake", target: probe.Target{Address: hangUpAfterHandshake}, wantClass: probe.ClassOther,
			wantError: "by the edge waiting for the response", wantNotAfter: notAfter}, // closed or reset
		{name: "hang-up before the handshake", target: probe.Target{Address: hangUpAtOnce}, wantClass: probe.ClassTLS, wantError: "TLS handshake failed"},
		{name: "long keyword missing", target: probe.Target{Address: addrs["ok"], Keyword: strings.Repeat("ü", 300)},
			wantStatus: 200, wantClass: probe.ClassKeywordMissing, wantError: "keyword", wantNotAfter: notAfter},
		{name: "wrong name", target: probe.Target{Address: wrongName}, wantClass: probe.ClassTLS,
			wantError: "certificate name mismatch", wantNotAfter: notAfter},
		{name: "untrusted CA", target: probe.Target{Address: untrusted}, wantClass: probe.ClassTLS,
			wantError: "unknown authority", wantNotAfter: notAfter},
		{name: "expired", target: probe.Target{Address: expired}, wantClass: probe.ClassTLS,
			wantError: "expired", wantNotAfter: expiredAt},
		{name: "not TLS", target: probe.Target{Address: plain.Listener.Addr().String()}, wantClass: probe.ClassTLS},
		{name: "invalid domain", target: probe.Target{Domain: "site.test/evil", Address: addrs["ok"]}, wantClass: probe.ClassOther, wantError: "invalid target"},
		{name: "invalid address", target: probe.Target{Address: "127.0.0.1"}, wantClass: probe.ClassOther, wantError: "invalid target"},
		{name: "dns", target: probe.Target{Address: "no-such-edge.invalid:443", Timeout: 3 * time.Second}, wantClass: probe.ClassDNS, wantError: "no-such-edge.invalid"},
	}
	p := newProber(ca)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.target.SiteID = "site_1"
			if tt.target.Domain == "" {
				tt.target.Domain = domain
			}
			if tt.target.Timeout == 0 {
				tt.target.Timeout = 5 * time.Second
			}
			before := time.Now()
			r := p.Probe(context.Background(), tt.target)
			t.Logf("%+v", r)
			if r.SiteID != "site_1" {
				t.Errorf("SiteID = %q", r.SiteID)
			}
			if r.Time.Before(before.Add(-time.Second)) || r.Time.After(time.Now()) {
				t.Errorf("Time = %v, not the probe's start", r.Time)
			}
			if r.OK != tt.wantOK || r.StatusCode != tt.wantStatus || r.ErrorClass != tt.wantClass {
				t.Errorf("OK, StatusCode, ErrorClass = %v, %d, %q; want %v, %d, %q", r.OK, r.StatusCode, r.ErrorClass, tt.wantOK, tt.wantStatus, tt.wantClass)
			}
			if tt.wantOK != (r.Error == "") {
				t.Errorf("Error = %q with OK = %v", r.Error, r.OK)
			}
			if !strings.Contains(r.Error, tt.wantError) {
				t.Errorf("Error = %q, want it to contain %q", r.Error, tt.wantError)
			}
			if len(r.Error) > 256+len("…") || !utf8.ValidString(r.Error) {
				t.Errorf("Error is %d bytes (valid UTF-8: %v), want at most 256 and valid", len(r.Error), utf8.ValidString(r.Error))
			}
			if !r.CertNotAfter.Equal(tt.wantNotAfter) {
				t.Errorf("CertNotAfter = %v, want %v", r.CertNotAfter, tt.wantNotAfter)
			}
			if r.Total <= 0 && tt.wantError != "invalid target" {
				t.Errorf("Total = %v", r.Total)
			}
			if tt.wantClass == probe.ClassTimeout && (r.Total < tt.target.Timeout || r.Total > tt.target.Timeout+5*time.Second) {
				t.Errorf("Total = %v, want about the timeout %v", r.Total, tt.target.Timeout)
			}
		})
	}
}

func TestProbeRequestAndPhases(t *testing.T) {
	var (
		mu      sync.Mutex
		remotes = map[string]bool{}
	)
	addr, p, notAfter := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		checks := []struct{ name, got, want string }{
			{"method", r.Method, http.MethodGet},
			{"path", r.URL.RequestURI(), "/"},
			{"proto", r.Proto, "HTTP/1.1"},
			{"host", r.Host, domain},
			{"sni", r.TLS.ServerName, domain},
			{"user agent", r.UserAgent(), probe.UserAgent},
			{"connection", r.Header.Get("Connection"), "close"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("request %s = %q, want %q", c.name, c.got, c.want)
			}
		}
		time.Sleep(30 * time.Millisecond) // think time, so that FirstByte has something to measure
		fmt.Fprint(w, "ok")
	}))
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	p.Now = func() time.Time { return now }
	const probes = 3
	for range probes {
		r := p.Probe(context.Background(), probe.Target{SiteID: "s", Domain: domain, Address: addr, Timeout: 5 * time.Second})
		if !r.OK {
			t.Fatalf("probe failed: %+v", r)
		}
		if !r.Time.Equal(now) {
			t.Errorf("Time = %v, want the Prober's clock %v", r.Time, now)
		}
		if r.Connect <= 0 || r.TLS <= 0 || r.FirstByte < 30*time.Millisecond {
			t.Errorf("Connect, TLS, FirstByte = %v, %v, %v; want all > 0 and FirstByte >= 30ms", r.Connect, r.TLS, r.FirstByte)
		}
		if sum := r.Connect + r.TLS + r.FirstByte; r.Total < sum {
			t.Errorf("Total %v < Connect + TLS + FirstByte = %v", r.Total, sum)
		}
		if !r.CertNotAfter.Equal(notAfter) {
			t.Errorf("CertNotAfter = %v, want %v", r.CertNotAfter, notAfter)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != probes {
		t.Errorf("%d probes came over %d connections, want a fresh connection each", probes, len(remotes))
	}
}

func TestProbeGuard(t *testing.T) {
	addr, p, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a refused probe reached the server")
	}))
	tests := []struct {
		name    string
		guard   probe.Guard
		address string
		want    string
	}{
		{"loopback not allowed", probe.Guard{}, addr, "is loopback"},
		{"metadata even if all allowed", probe.Guard{AllowPrivate: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, "169.254.169.254:443", "link-local"},
		{"private outside AllowPrivate", probetest.LoopbackGuard(), "10.1.2.3:443", "10.1.2.3 is private"},
		{"localhost by name", probe.Guard{}, "localhost:443", "is loopback (resolved from localhost)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := *p
			q.Guard = tt.guard
			r := q.Probe(context.Background(), probe.Target{SiteID: "s", Domain: domain, Address: tt.address, Timeout: 5 * time.Second})
			if r.OK || r.ErrorClass != probe.ClassOther || !strings.Contains(r.Error, tt.want) {
				t.Errorf("result %+v, want class other with %q", r, tt.want)
			}
			if r.Connect != 0 || r.Total > time.Second {
				t.Errorf("Connect = %v, Total = %v: the guard should refuse before connecting", r.Connect, r.Total)
			}
		})
	}
}

func TestProbeCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr := probetest.Silent(t)
	done := make(chan probe.Result)
	p := &probe.Prober{Guard: probetest.LoopbackGuard()}
	go func() { done <- p.Probe(ctx, probe.Target{Domain: domain, Address: addr, Timeout: time.Minute}) }()
	cancel()
	select {
	case r := <-done:
		if r.ErrorClass != probe.ClassOther || r.Error != "probe canceled" {
			t.Errorf("result %+v, want other/probe canceled", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Probe did not return after its context was canceled")
	}
}

// hangUp listens on loopback and closes every connection it accepts: at
// once if cfg is nil, else right after a TLS handshake with cfg. It
// returns the address.
func hangUp(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if cfg != nil {
				tc := tls.Server(c, cfg)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				tc.Handshake()
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}
