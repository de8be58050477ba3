package browsertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// proxy is the browser's only way to the network: an HTTP proxy that
// reaches loopback addresses and nothing else, after mapping names by
// Options.Hosts. Chromium sends every request through it, loopback ones
// included (--proxy-bypass-list=<-loopback>), so a test's browser cannot
// reach beyond the machine, and a name the test maps needs no DNS.
type proxy struct {
	hosts map[string]string
	srv   *http.Server
	plain *httputil.ReverseProxy // for plain-HTTP requests

	mu    sync.Mutex
	conns map[net.Conn]struct{} // open tunnels, closed by close
}

// dialTimeout bounds the proxy's connection to a loopback server.
const dialTimeout = 10 * time.Second

func newProxy(hosts map[string]string) *proxy {
	p := &proxy{hosts: hosts, conns: map[net.Conn]struct{}{}}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: dialTimeout,
		ErrorLog:          discardLog,
	}
	p.plain = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return p.dial(ctx, addr) },
		},
		ErrorLog: discardLog,
	}
	return p
}

// serve serves the proxy on ln until close.
func (p *proxy) serve(ln net.Listener) {
	go p.srv.Serve(ln)
}

// close stops the proxy and ends its tunnels and connections.
func (p *proxy) close() {
	p.srv.Close()
	p.plain.Transport.(*http.Transport).CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// dial connects to hostport after mapping its host by Options.Hosts. It
// refuses any address that is not loopback.
func (p *proxy) dial(ctx context.Context, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if to, ok := mapHost(p.hosts, host); ok {
		host = to
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return nil, fmt.Errorf("browsertest: %s is %s, not a loopback address: a test's browser reaches only this machine", hostport, ip)
		}
	}
	d := net.Dialer{Timeout: dialTimeout}
	for _, ip := range ips {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// mapHost returns the address Options.Hosts gives host: its own entry, else
// the entry "*.suffix" of its longest matching suffix.
func mapHost(hosts map[string]string, host string) (string, bool) {
	if to, ok := hosts[host]; ok {
		return to, true
	}
	for i := strings.IndexByte(host, '.'); i >= 0; {
		if to, ok := hosts["*"+host[i:]]; ok {
			return to, true
		}
		j := strings.IndexByte(host[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return "", false
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.forward(w, r)
		return
	}
	upstream, err := p.dial(r.Context(), r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !p.track(client, upstream) {
		return
	}
	defer p.untrack(client, upstream)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(upstream, buf.Reader) // what the browser sent after CONNECT, then the rest
		if cw, ok := upstream.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	io.Copy(client, upstream)
	client.Close()
	<-done
}

// forward proxies a plain-HTTP request, whose URL is absolute.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request) {
	if r.URL.Host == "" {
		http.Error(w, "browsertest: this is a proxy; send absolute URLs or CONNECT", http.StatusBadRequest)
		return
	}
	p.plain.ServeHTTP(w, r)
}

// track records a tunnel's two connections, or closes them and reports
// false once the proxy is closed.
func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

// untrack closes a tunnel's connections and forgets them.
func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// discardLog silences the servers of this package: a browser that hangs up
// is not a test failure.
var discardLog = log.New(io.Discard, "", 0)
