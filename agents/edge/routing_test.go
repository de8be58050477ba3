package edge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRouting(t *testing.T) {
	a := newUpstream(t, "A", nil)
	b := newUpstream(t, "B", nil)
	te := startEdge(t, Options{},
		Route{SiteID: "a", Domains: []string{"a.test", "www.a.test"}, Upstream: a.addr},
		Route{SiteID: "b", Domains: []string{"B.Test."}, Upstream: b.addr},
	)
	for _, h2 := range []bool{false, true} {
		c := te.client(t, h2)
		tests := []struct {
			url, host string // host overrides the Host header when set
			want      string
		}{
			{te.url(true, "a.test", "/x?y=1"), "", "site A: GET /x?y=1"},
			{te.url(true, "www.a.test", "/"), "", "site A: GET /"},
			{te.url(true, "b.test", "/p"), "", "site B: GET /p"},
			{te.url(true, "a.test", "/"), "A.TEST.", "site A: GET /"},
			{te.url(true, "a.test", "/semi?a=1;b=2&c=%zz"), "", "site A: GET /semi?a=1;b=2&c=%zz"},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("h2=%v %s host=%s", h2, tc.url, tc.host), func(t *testing.T) {
				resp, body := get(t, c, tc.url, "Host", tc.host)
				if resp.StatusCode != http.StatusOK || body != tc.want {
					t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, tc.want)
				}
				if wantMajor := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != wantMajor {
					t.Errorf("protocol HTTP/%d, want HTTP/%d", resp.ProtoMajor, wantMajor)
				}
			})
		}
	}
}

func TestUnknownHost(t *testing.T) {
	a := newUpstream(t, "A", nil)
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr})
	for _, https := range []bool{true, false} {
		t.Run(fmt.Sprintf("https=%v", https), func(t *testing.T) {
			resp, body := get(t, te.client(t, true), te.url(https, "nothere.test", "/wp-login.php"))
			assertPage(t, resp, body, http.StatusNotFound, "This site is not hosted here", "nothere.test")
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS on a host the edge does not serve")
			}
		})
	}
	if n := a.hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests for an unknown host", n)
	}
}

func TestSiteDown(t *testing.T) {
	closed := newUpstream(t, "closed", nil)
	closed.Close() // its port now refuses connections
	te := startEdge(t, Options{},
		Route{SiteID: "stopped", Domains: []string{"a.test"}},
		Route{SiteID: "crashed", Domains: []string{"b.test"}, Upstream: closed.addr, HSTS: true},
	)
	c := te.client(t, true)
	for _, host := range []string{"a.test", "b.test"} {
		t.Run(host, func(t *testing.T) {
			resp, body := get(t, c, te.url(true, host, "/"))
			assertPage(t, resp, body, http.StatusServiceUnavailable, "This site is temporarily unavailable", host)
			if ra := resp.Header.Get("Retry-After"); ra != retryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, retryAfter)
			}
		})
	}
	if got := counterValue(t, te.reg, "berth_edge_upstream_errors_total", "site", "crashed"); got != 1 {
		t.Errorf("upstream errors of the crashed site = %v, want 1", got)
	}
	if got := counterValue(t, te.reg, "berth_edge_upstream_errors_total", "site", "stopped"); got != 0 {
		t.Errorf("upstream errors of the stopped site = %v, want 0 (nothing to contact)", got)
	}
}

func TestUpstreamHeaderTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := newUpstream(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	te := startEdge(t, Options{UpstreamHeaderTimeout: 200 * time.Millisecond},
		Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: slow.addr})
	resp, body := get(t, te.client(t, false), te.url(true, "a.test", "/"))
	assertPage(t, resp, body, http.StatusServiceUnavailable, "This site is temporarily unavailable", "a.test")
}

func TestHTTPRedirect(t *testing.T) {
	a := newUpstream(t, "A", nil)
	challenge := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token, ok := strings.CutPrefix(r.URL.Path, "/.well-known/acme-challenge/"); ok {
				fmt.Fprintf(w, "%s.key", token)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	te := startEdge(t, Options{HTTPChallenge: challenge},
		Route{SiteID: "a", Domains: []string{"a.test", "www.a.test"}, Upstream: a.addr, RedirectAliases: true, HSTS: true})
	c := te.client(t, false)

	tests := []struct {
		name, host, path string
		status           int
		location, body   string
	}{
		{"path and query kept", "a.test", "/blog/post?id=7&x=%2F", 308, "https://a.test:" + te.httpsPort + "/blog/post?id=7&x=%2F", ""},
		{"same host, even an alias", "WWW.a.test", "/", 308, "https://www.a.test:" + te.httpsPort + "/", ""},
		{"ACME challenge answered", "a.test", "/.well-known/acme-challenge/tok3n", 200, "", "tok3n.key"},
		{"ACME challenge for any host", "nothere.test", "/.well-known/acme-challenge/t", 200, "", "t.key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, c, te.url(false, tc.host, tc.path))
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS header on plain HTTP")
			}
		})
	}
	t.Run("POST keeps its method", func(t *testing.T) {
		resp, err := c.Post(te.url(false, "a.test", "/form"), "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect {
			t.Errorf("status = %d, want 308", resp.StatusCode)
		}
	})
	if n := a.hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests over plain HTTP", n)
	}
}

func TestAliasRedirectAndHSTS(t *testing.T) {
	a := newUpstream(t, "A", nil)
	b := newUpstream(t, "B", nil)
	own := newUpstream(t, "own", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=60; includeSubDomains")
	})
	te := startEdge(t, Options{},
		Route{SiteID: "a", Domains: []string{"a.test", "www.a.test"}, Upstream: a.addr, RedirectAliases: true, HSTS: true},
		Route{SiteID: "b", Domains: []string{"b.test", "alias.a.test"}, Upstream: b.addr},
		Route{SiteID: "c", Domains: []string{"c.test"}, Upstream: own.addr, HSTS: true},
		Route{SiteID: "d", Domains: []string{"d.test"}, HSTS: true},
	)
	c := te.client(t, true)
	tests := []struct {
		name, url string
		status    int
		location  string
		hsts      []string
	}{
		{"alias to primary", te.url(true, "www.a.test", "/p/q?r=1"), 308, "https://a.test:" + te.httpsPort + "/p/q?r=1", []string{hstsValue}},
		{"primary served", te.url(true, "a.test", "/"), 200, "", []string{hstsValue}},
		{"alias without redirect", te.url(true, "alias.a.test", "/"), 200, "", nil},
		{"no HSTS unless set", te.url(true, "b.test", "/"), 200, "", nil},
		{"site's own HSTS kept", te.url(true, "c.test", "/"), 200, "", []string{"max-age=60; includeSubDomains"}},
		{"HSTS on the 503 page", te.url(true, "d.test", "/"), 503, "", []string{hstsValue}},
		{"no HSTS over HTTP", te.url(false, "a.test", "/"), 308, "https://a.test:" + te.httpsPort + "/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := get(t, c, tc.url)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Location"); got != tc.location {
				t.Errorf("Location = %q, want %q", got, tc.location)
			}
			if diff := cmp.Diff(tc.hsts, resp.Header.Values("Strict-Transport-Security")); diff != "" {
				t.Errorf("Strict-Transport-Security (-want +got):\n%s", diff)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	type seen struct {
		Host, Proto                string
		XFF, XFH, XFP, XFPort, XRI []string
		Forwarded                  []string
		Custom                     string
	}
	echo := newUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(seen{
			Host:      r.Host,
			Proto:     r.Proto,
			XFF:       r.Header.Values("X-Forwarded-For"),
			XFH:       r.Header.Values("X-Forwarded-Host"),
			XFP:       r.Header.Values("X-Forwarded-Proto"),
			XFPort:    r.Header.Values("X-Forwarded-Port"),
			XRI:       r.Header.Values("X-Real-Ip"),
			Forwarded: r.Header.Values("Forwarded"),
			Custom:    r.Header.Get("X-Custom"),
		})
	})
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: echo.addr})
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			resp, body := get(t, te.client(t, h2), te.url(true, "a.test", "/"),
				"X-Forwarded-For", "6.6.6.6",
				"X-Forwarded-For", "7.7.7.7",
				"X-Forwarded-Host", "evil.test",
				"X-Forwarded-Proto", "http",
				"X-Forwarded-Port", "8080",
				"X-Real-IP", "6.6.6.6",
				"Forwarded", "for=6.6.6.6;proto=http",
				"X-Custom", "kept",
			)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got seen
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			host := "a.test:" + te.httpsPort
			want := seen{
				Host:   host, // as the client sent it
				Proto:  "HTTP/1.1",
				XFF:    []string{"127.0.0.1"},
				XFH:    []string{host},
				XFP:    []string{"https"},
				XRI:    []string{"127.0.0.1"},
				Custom: "kept",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("upstream saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreaming(t *testing.T) {
	next := make(chan struct{})
	sse := newUpstream(t, "sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			// The next event only after the client has seen this one: a
			// proxy that buffers would deadlock here.
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: sse.addr})
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			resp, err := te.client(t, h2).Get(te.url(true, "a.test", "/events"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if want := fmt.Sprintf("data: %d\n", i); line != want {
					t.Fatalf("event %d = %q, want %q", i, line, want)
				}
				if _, err := br.ReadString('\n'); err != nil {
					t.Fatal(err)
				}
				next <- struct{}{}
			}
		})
	}
}

func TestUpgrade(t *testing.T) {
	echo := newUpstream(t, "echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		_, _ = io.Copy(c, brw)
	})
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: echo.addr})
	c := te.dialRaw(t, true, "a.test")
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", resp.StatusCode)
	}
	// After the switch the bytes are the new protocol's: even what looks
	// like a smuggled HTTP request passes through untouched.
	msg := "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Errorf("echo = %q, want %q", got, msg)
	}
}

func TestSetRoutesInFlight(t *testing.T) {
	tests := []struct {
		name      string
		next      func(b netip.AddrPort) []Route
		afterCode int
		afterBody string
	}{
		{"site removed", func(netip.AddrPort) []Route { return nil }, http.StatusNotFound, ""},
		{"upstream moved", func(b netip.AddrPort) []Route {
			return []Route{{SiteID: "a", Domains: []string{"a.test"}, Upstream: b}}
		}, http.StatusOK, "site B: GET /"},
		{"site stopped", func(netip.AddrPort) []Route {
			return []Route{{SiteID: "a", Domains: []string{"a.test"}}}
		}, http.StatusServiceUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			a := newUpstream(t, "A", func(w http.ResponseWriter, r *http.Request) {
				close(started)
				<-release
				io.WriteString(w, "slow answer from A")
			})
			b := newUpstream(t, "B", nil)
			te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr})
			c := te.client(t, true)

			type result struct {
				code int
				body string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				resp, err := c.Get(te.url(true, "a.test", "/slow"))
				if err != nil {
					done <- result{err: err}
					return
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				done <- result{resp.StatusCode, string(body), err}
			}()
			select {
			case <-started:
			case r := <-done:
				t.Fatalf("request ended before reaching the upstream: %d %q %v", r.code, r.body, r.err)
			}
			te.SetRoutes(tc.next(b.addr))
			close(release)
			r := <-done
			if r.err != nil || r.code != http.StatusOK || r.body != "slow answer from A" {
				t.Errorf("in-flight request: %d %q %v, want 200 from A", r.code, r.body, r.err)
			}

			resp, body := get(t, c, te.url(true, "a.test", "/"))
			if resp.StatusCode != tc.afterCode || tc.afterBody != "" && body != tc.afterBody {
				t.Errorf("next request: %d %q, want %d %q", resp.StatusCode, body, tc.afterCode, tc.afterBody)
			}
		})
	}
}

func TestSetRoutesConflicts(t *testing.T) {
	a := newUpstream(t, "A", nil)
	b := newUpstream(t, "B", nil)
	te := startEdge(t, Options{},
		Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr},
		Route{SiteID: "b", Domains: []string{"A.test", "b.test"}, Upstream: b.addr}, // a.test taken
		Route{SiteID: "a", Domains: []string{"c.test"}, Upstream: b.addr},           // id taken
		Route{SiteID: "", Domains: []string{"d.test"}, Upstream: b.addr},            // no id
		Route{SiteID: "e", Upstream: b.addr},                                        // no domain
	)
	c := te.client(t, false)
	want := map[string]string{"a.test": "site A: GET /", "b.test": "site B: GET /", "c.test": "404", "d.test": "404"}
	for host, w := range want {
		resp, body := get(t, c, te.url(true, host, "/"))
		got := body
		if resp.StatusCode != http.StatusOK {
			got = fmt.Sprint(resp.StatusCode)
		}
		if got != w {
			t.Errorf("%s: got %q, want %q", host, got, w)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	a := newUpstream(t, "A", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr})
	c := te.client(t, false)
	done := make(chan string, 1)
	go func() {
		resp, err := c.Get(te.url(true, "a.test", "/"))
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- te.stop() }()
	// Run must wait for the request in flight.
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-done; got != "200 finished" {
		t.Errorf("in-flight request during shutdown: %q, want 200 finished", got)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Run: %v", err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+te.httpsPort, time.Second); err == nil {
		c.Close()
		t.Error("HTTPS port still accepts connections after Run returned")
	}
}

func TestShutdownTimeoutCancelsRequests(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	a := newUpstream(t, "A", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(cancelled)
	})
	te := startEdge(t, Options{ShutdownTimeout: 200 * time.Millisecond},
		Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr})
	c := te.client(t, true)
	go func() {
		if resp, err := c.Get(te.url(true, "a.test", "/")); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	if err := te.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the upstream request outlived Run")
	}
}

func TestCanonicalHost(t *testing.T) {
	tests := map[string]string{
		"a.test":          "a.test",
		"A.Test":          "a.test",
		"a.test.":         "a.test",
		"a.test:8443":     "a.test",
		"A.TEST.:443":     "a.test",
		"[::1]:443":       "::1",
		"[::1]":           "::1",
		"":                "",
		"xn--bcher-kva.t": "xn--bcher-kva.t",
	}
	for in, want := range tests {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}
