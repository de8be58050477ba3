package certs_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/certs"
	"github.com/fixaroo/berth/agents/certs/certstest"
	"github.com/fixaroo/berth/internal/pebbletest"
)

// acmeEnv is a Pebble with the two loopback listeners it validates
// challenges on, for a Manager's handlers to serve.
type acmeEnv struct {
	pebble          *pebbletest.Pebble
	httpLn, tlsLn   net.Listener
	httpPort, tlsPt int
}

// newACMEEnv binds the challenge ports first, then starts Pebble on them,
// so no other process can take them in between.
func newACMEEnv(t *testing.T) *acmeEnv {
	t.Helper()
	e := &acmeEnv{httpLn: listen(t), tlsLn: listen(t)}
	e.httpPort = e.httpLn.Addr().(*net.TCPAddr).Port
	e.tlsPt = e.tlsLn.Addr().(*net.TCPAddr).Port
	e.pebble = pebbletest.Start(t, pebbletest.Options{HTTPPort: e.httpPort, TLSPort: e.tlsPt})
	return e
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// options returns the Options of a Manager that gets certificates from
// e's Pebble, for the edge serving on e's listeners.
func (e *acmeEnv) options(t *testing.T, remote certs.Remote) certs.Options {
	return certs.Options{
		DataDir:        t.TempDir(),
		Remote:         remote,
		ACMEDirectory:  e.pebble.DirectoryURL(),
		ACMEEmail:      "ops@berth.test",
		ACMERoots:      e.pebble.Roots(),
		AltHTTPPort:    e.httpPort,
		AltTLSALPNPort: e.tlsPt,
	}
}

// harness is a running Manager and the channel its OnChange signals.
type harness struct {
	*certs.Manager
	changed chan struct{}
	stop    func() // ends Run and waits for it
}

// start makes a Manager from o and runs it until the test ends (or stop).
func start(t *testing.T, o certs.Options) *harness {
	t.Helper()
	h := &harness{changed: make(chan struct{}, 1)}
	o.OnChange = func() {
		select {
		case h.changed <- struct{}{}:
		default:
		}
	}
	o.Logger = testLogger(t)
	m, err := certs.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.Manager = m
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// serve runs, until the test ends, what the edge would: HTTP on httpLn
// through HTTPChallengeHandler and HTTPS on tlsLn with TLSConfig.
func serve(t *testing.T, m *certs.Manager, httpLn, tlsLn net.Listener) {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("site\n")) })
	var servers []*http.Server
	if httpLn != nil {
		s := &http.Server{Handler: m.HTTPChallengeHandler(http.NotFoundHandler()), ErrorLog: quiet}
		go s.Serve(httpLn)
		servers = append(servers, s)
	}
	if tlsLn != nil {
		s := &http.Server{Handler: ok, TLSConfig: m.TLSConfig(), ErrorLog: quiet}
		go s.ServeTLS(tlsLn, "", "")
		servers = append(servers, s)
	}
	t.Cleanup(func() {
		for _, s := range servers {
			s.Close()
		}
	})
}

// waitStatus waits until the status of domain satisfies cond and returns it.
func waitStatus(t *testing.T, h *harness, domain string, timeout time.Duration, cond func(certs.DomainStatus) bool) certs.DomainStatus {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		st, ok := statusOf(h.Manager, domain)
		if ok && cond(st) {
			return st
		}
		select {
		case <-h.changed:
		case <-deadline.C:
			t.Fatalf("status of %s after %s: %+v (found %v)", domain, timeout, st, ok)
		}
	}
}

func statusOf(m *certs.Manager, domain string) (certs.DomainStatus, bool) {
	for _, st := range m.Status() {
		if st.Domain == domain {
			return st, true
		}
	}
	return certs.DomainStatus{}, false
}

func hasCert(st certs.DomainStatus) bool { return !st.NotAfter.IsZero() }

// handshake connects to addr with SNI name, verifying the certificate
// against roots, and returns the leaf the server sent. With roots nil it
// accepts any certificate: only the server can make it fail.
func handshake(addr, name string, roots *x509.CertPool, protos ...string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, RootCAs: roots, InsecureSkipVerify: roots == nil, NextProtos: protos})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// storedCert returns the storage key and the local bytes of the
// certificate certmagic stored for domain in the Manager's data directory.
func storedCert(t *testing.T, dataDir, domain string) (key string, value []byte) {
	t.Helper()
	root := filepath.Join(dataDir, "certs", "store")
	var found []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil && p != root && errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking (a lock, say)
		} else if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Base(p) == domain+".crt" {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("certificate files for %s under %s: %v, want one", domain, root, found)
	}
	value, err = os.ReadFile(found[0])
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, found[0])
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel), value
}

// newRemote returns shared in-memory storage and the view of node "a".
func newRemote() (*certstest.MemRemote, certs.Remote) {
	r := certstest.NewMemRemote()
	return r, r.Node("a")
}

// testLogger collects logs in memory and prints them if the test fails.
// (Logging to t after the test ends would panic, and certmagic's
// goroutines may log late.)
func testLogger(t *testing.T) *slog.Logger {
	w := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// quiet drops the servers' own error logs (handshakes refused on purpose).
var quiet = log.New(io.Discard, "", 0)
