// Package browsertest runs a real headless Chromium for tests, through
// chromedp, with helpers that make a browser test read like what a person
// does: Navigate, Fill, Click, WaitText, Screenshot.
//
// Each Browser is one Chromium process with a fresh profile, so it is one
// user: Chromium shares cookies between the tabs of a process. A test that
// needs a second user (a second session cookie) starts a second Browser.
//
// The helpers take the *testing.T and fail the test with t.Fatalf, naming
// the page's current URL and an excerpt of its visible text, so a failure
// says what the browser showed. Each waits at most DefaultTimeout, or less
// when ctx has an earlier deadline; none uses a fixed sleep to wait for a
// page.
//
// The browser reaches only loopback addresses, through a proxy of this
// package that also maps the names of Options.Hosts. As root, Chromium runs
// in a network namespace of its own, so that the network changes a Docker
// engine makes on the host do not abort its page loads.
//
// Chromium comes from Debian (`apt-get install chromium fonts-liberation`;
// `make test` installs both when run as root). Without it, New fails the
// test, except under -short outside CI, where it skips.
package browsertest

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fixaroo/berth/internal/testenv"
)

// DefaultTimeout bounds every helper of this package.
const DefaultTimeout = 30 * time.Second

// Options configures a Browser. The zero value is a browser that accepts
// any certificate and resolves names as the system does.
type Options struct {
	// CACertPEM, when set, makes the browser accept a server whose
	// certificate chain has a certificate with the public key of one of
	// these PEM certificates (Chromium's --ignore-certificate-errors-spki-list),
	// and reject every other certificate that does not verify. Since
	// Chromium checks the chain the server presents, a server whose leaf
	// is signed by this CA must send the CA certificate in its chain, or
	// the leaf itself must be listed. Empty means every certificate error
	// is ignored (--ignore-certificate-errors), which is what loopback
	// servers with self-signed certificates need.
	CACertPEM []byte
	// Hosts maps names to addresses: "app.test" → "127.0.0.1" maps that
	// name, "*.test" → "127.0.0.1" every name under test. (The longest
	// match wins.) They apply to every request, so a test can reach a
	// loopback server by the name a page or a cookie expects. Other names
	// resolve as the system resolves them, and only loopback addresses are
	// reachable.
	Hosts map[string]string
	// Width and Height are the window size; 0 means 1280×800.
	Width, Height int
}

// Browser is one headless Chromium process: one user. Its methods and the
// helpers of this package are safe for concurrent use from several tabs.
type Browser struct {
	ctx      context.Context // the browser's first tab; NewTab derives from it
	path     string
	isolated bool // in a network namespace of its own

	mu     sync.Mutex      // guards the field below
	logged map[string]bool // tests whose screenshot directory was logged
}

// browserKey finds the Browser of a tab's context.
type browserKey struct{}

// New starts a headless Chromium with the default Options and stops it when
// the test ends. See Start.
func New(t testing.TB) *Browser {
	t.Helper()
	return Start(t, Options{})
}

// Start starts a headless Chromium for the test and kills it when the test
// ends. The browser is found as $BERTH_CHROMIUM, else chromium,
// chromium-browser or google-chrome on PATH. Without one, Start fails the
// test, except that it skips under -short when $CI is empty.
func Start(t testing.TB, opts Options) *Browser {
	t.Helper()
	testenv.Require(t, testenv.Chromium)
	path, err := testenv.ChromiumPath()
	if err != nil {
		t.Fatal(err)
	}
	w, h := opts.Width, opts.Height
	if w <= 0 || h <= 0 {
		w, h = 1280, 800
	}
	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		// chromedp makes a fresh --user-data-dir per process and removes
		// it after killing the processes Chromium left behind; a
		// t.TempDir would race those leftovers when the test removes it.
		chromedp.Headless,
		chromedp.NoSandbox, // as root, in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.WindowSize(w, h),
	}
	if len(opts.CACertPEM) > 0 {
		spki, err := spkiList(opts.CACertPEM)
		if err != nil {
			t.Fatalf("browsertest: CACertPEM: %v", err)
		}
		allocOpts = append(allocOpts, chromedp.Flag("ignore-certificate-errors-spki-list", spki))
	} else {
		allocOpts = append(allocOpts, chromedp.IgnoreCertErrors)
	}
	// Every request goes through the proxy; see proxy and netns_linux.go.
	p := newProxy(opts.Hosts)
	t.Cleanup(p.close)
	isolated := canIsolate()
	proxyAddr := isolatedProxyAddr
	if isolated {
		allocOpts = append(allocOpts, chromedp.ModifyCmdFunc(isolateCmd))
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("browsertest: proxy: %v", err)
		}
		p.serve(ln)
		proxyAddr = ln.Addr().String()
		t.Logf("browsertest: Chromium shares this machine's network (creating a network namespace needs root): " +
			"a Docker network change can abort a page load with ERR_NETWORK_CHANGED")
	}
	allocOpts = append(allocOpts,
		chromedp.Flag("proxy-server", "http://"+proxyAddr),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
	)
	var out strings.Builder
	var outMu sync.Mutex
	allocOpts = append(allocOpts, chromedp.CombinedOutput(lockedWriter{&outMu, &out}))

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	var done atomic.Bool // no t.Logf once the test is over
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		if !done.Load() {
			t.Logf("chromium: "+format, args...)
		}
	}))
	b := &Browser{path: path, isolated: isolated, logged: map[string]bool{}}
	b.ctx = context.WithValue(ctx, browserKey{}, b)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // kills Chromium and waits for it
		done.Store(true)
	})
	if err := start(b.ctx, cancel); err != nil {
		outMu.Lock()
		defer outMu.Unlock()
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	if isolated {
		ln, err := listenIn(chromedp.FromContext(b.ctx).Browser.Process().Pid, proxyAddr)
		if err != nil {
			t.Fatalf("browsertest: proxy: %v", err)
		}
		p.serve(ln)
	}
	return b
}

// isolatedProxyAddr is where the proxy listens in the browser's own network
// namespace, which has nothing else: any port is free there.
const isolatedProxyAddr = "127.0.0.1:3128"

// lockedWriter serialises Chromium's stdout and stderr into one buffer.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w.Len() > 64<<10 { // enough to explain a failed start
		return len(p), nil
	}
	return l.w.Write(p)
}

// spkiList returns the base64 SHA-256 hashes of the public keys of the PEM
// certificates, comma-separated, as --ignore-certificate-errors-spki-list
// wants them.
func spkiList(pemCerts []byte) (string, error) {
	var hashes []string
	for rest := pemCerts; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("parse certificate: %w", err)
		}
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		hashes = append(hashes, base64.StdEncoding.EncodeToString(sum[:]))
	}
	if len(hashes) == 0 {
		return "", errors.New("no PEM certificate")
	}
	return strings.Join(hashes, ","), nil
}

// NewTab opens a tab, closed when the test ends, and returns its context
// for the helpers of this package. Tabs of one Browser share cookies and
// storage: start another Browser for another user.
func (b *Browser) NewTab(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := start(ctx, cancel); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// start opens the browser or the tab of ctx. The first action on a chromedp
// context ties the tab to the context it runs with, so it cannot run with a
// deadline of its own: instead, cancel ends the tab when it takes longer
// than DefaultTimeout.
func start(ctx context.Context, cancel context.CancelFunc) error {
	timer := time.AfterFunc(DefaultTimeout, cancel)
	err := chromedp.Do(ctx)
	if !timer.Stop() {
		return fmt.Errorf("not ready after %v: %w", DefaultTimeout, err)
	}
	return err
}

// browserOf returns the Browser of a tab context, or nil.
func browserOf(ctx context.Context) *Browser {
	b, _ := ctx.Value(browserKey{}).(*Browser)
	return b
}
