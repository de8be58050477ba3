package staticserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Site contents. The large ones are past minCompressSize.
var (
	indexR1   = "<!doctype html><h1>release one</h1>\n"
	indexR2   = "<!doctype html><h1>release two</h1>\n"
	aboutPage = "<!doctype html><h1>about</h1>\n"
	docsIndex = "<!doctype html><h1>docs</h1>\n"
	notFound  = "<!doctype html><h1>custom not found</h1>\n"
	secret    = "SECRET outside the release\n"
	small     = "small text\n"
	styleCSS  = strings.Repeat("body { margin: 0; padding: 0; }\n", 64)
	appJS     = strings.Repeat("console.log('identity');\n", 64)
	appJSGz   = "PRECOMPRESSED sibling\n"
	logoPNG   = "\x89PNG\r\n\x1a\n" + strings.Repeat("\x00\x01\x02\x03", 512)
	readme    = "plain words without an extension\n"
)

// newSite lays out a site directory:
//
//	root/secret.txt
//	root/releases/r1/...   (full site, with escaping symlinks)
//	root/releases/r2/index.html
//	root/current -> releases/r1
func newSite(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	r1 := filepath.Join(root, "releases", "r1")
	files := map[string]string{
		"secret.txt":                            secret,
		"releases/r1/index.html":                indexR1,
		"releases/r1/about.html":                aboutPage,
		"releases/r1/docs/index.html":           docsIndex,
		"releases/r1/404.html":                  notFound,
		"releases/r1/README":                    readme,
		"releases/r1/assets/small.txt":          small,
		"releases/r1/assets/style.css":          styleCSS,
		"releases/r1/assets/app.3f2a9c1b.js":    appJS,
		"releases/r1/assets/app.3f2a9c1b.js.gz": gzipped(t, appJSGz),
		"releases/r1/assets/logo.png":           logoPNG,
		"releases/r1/assets/photo-20240101.jpg": "jpeg",
		"releases/r2/index.html":                indexR2,
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"alias.txt":    "assets/small.txt",                      // inside: allowed
		"leak-rel.txt": "../../secret.txt",                      // out of the release
		"leak-abs.txt": filepath.Join(root, "secret.txt"),       // absolute
		"leak-dir":     "../..",                                 // a directory outside
		"sibling.html": "../r2/index.html",                      // another release
		"docs/up.txt":  "../../../releases/r1/assets/small.txt", // out and back in
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(r1, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	switchCurrent(t, root, "releases/r1")
	return root
}

// switchCurrent points root/current at target atomically, as the agent does.
func switchCurrent(t testing.TB, root, target string) {
	t.Helper()
	tmp := filepath.Join(root, "current.tmp")
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(root, "current")); err != nil {
		t.Fatal(err)
	}
}

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func newServer(t *testing.T, root string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(Options{Root: root}))
	t.Cleanup(srv.Close)
	return srv
}

// client does not ask for or undo compression itself, so tests see what the
// server sent.
var client = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableCompression: true},
}

type result struct {
	Status int
	Header map[string]string
	Body   string // decompressed when Content-Encoding is gzip
}

// do sends a request and reports the status, the headers named in keep
// ("" when absent) and the body.
func do(t *testing.T, method, url string, reqHeader map[string]string, keep []string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range reqHeader {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body := string(raw)
	if resp.Header.Get("Content-Encoding") == "gzip" && len(raw) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		body = string(plain)
	}
	got := result{Status: resp.StatusCode, Header: map[string]string{}, Body: body}
	for _, k := range keep {
		got.Header[k] = resp.Header.Get(k)
	}
	return got
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

const (
	htmlType  = "text/html; charset=utf-8"
	ccHTML    = "public, max-age=300"
	ccHashed  = "public, max-age=31536000, immutable"
	ccDefault = "public, max-age=3600"
)

func TestServe(t *testing.T) {
	root := newSite(t)
	srv := newServer(t, root)
	gz := map[string]string{"Accept-Encoding": "gzip, deflate, br"}
	custom404 := result{Status: 404, Header: map[string]string{"Content-Type": htmlType}, Body: notFound}

	tests := []struct {
		name   string
		method string // default GET
		path   string
		header map[string]string
		want   result
	}{
		{name: "root index", path: "/", want: result{200, map[string]string{
			"Content-Type": htmlType, "Cache-Control": ccHTML, "Vary": "Accept-Encoding",
			"X-Content-Type-Options": "nosniff", "Content-Length": fmt.Sprint(len(indexR1)),
		}, indexR1}},
		{name: "index by name", path: "/index.html", want: result{200, nil, indexR1}},
		{name: "nested index", path: "/docs/", want: result{200, map[string]string{"Cache-Control": ccHTML}, docsIndex}},
		{name: "nested index without slash", path: "/docs", want: result{200, nil, docsIndex}},
		{name: "html fallback", path: "/about", want: result{200, map[string]string{"Content-Type": htmlType}, aboutPage}},
		{name: "html by name", path: "/about.html", want: result{200, nil, aboutPage}},
		{name: "no directory for a page", path: "/about/", want: custom404},
		{name: "missing", path: "/nope", want: result{404, map[string]string{
			"Content-Type": htmlType, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
		}, notFound}},
		{name: "no listing", path: "/assets/", want: custom404},
		{name: "no listing without slash", path: "/assets", want: custom404},
		{name: "symlink inside release", path: "/alias.txt", want: result{200, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, small}},
		{name: "dot dot", path: "/../secret.txt", want: custom404},
		{name: "encoded dot dot", path: "/%2e%2e/secret.txt", want: custom404},
		{name: "encoded dot dot and slash", path: "/%2e%2e%2fsecret.txt", want: custom404},
		{name: "dot dot in the middle", path: "/docs/../../../secret.txt", want: custom404},
		{name: "dot dot to another release", path: "/../r2/index.html", want: custom404},
		{name: "relative symlink out", path: "/leak-rel.txt", want: custom404},
		{name: "absolute symlink", path: "/leak-abs.txt", want: custom404},
		{name: "directory symlink out", path: "/leak-dir/secret.txt", want: custom404},
		{name: "symlink to another release", path: "/sibling.html", want: custom404},
		{name: "symlink out and back in", path: "/docs/up.txt", want: custom404},
		{name: "precompressed sibling", path: "/assets/app.3f2a9c1b.js", header: gz, want: result{200, map[string]string{
			"Content-Encoding": "gzip", "Content-Type": "text/javascript; charset=utf-8",
			"Cache-Control": ccHashed, "Vary": "Accept-Encoding",
		}, appJSGz}},
		{name: "precompressed sibling not accepted", path: "/assets/app.3f2a9c1b.js", want: result{200, map[string]string{
			"Content-Encoding": "", "Cache-Control": ccHashed, "Content-Length": fmt.Sprint(len(appJS)),
		}, appJS}},
		{name: "gzip refused with q=0", path: "/assets/app.3f2a9c1b.js", header: map[string]string{"Accept-Encoding": "gzip;q=0, *"},
			want: result{200, map[string]string{"Content-Encoding": ""}, appJS}},
		{name: "on the fly gzip", path: "/assets/style.css", header: gz, want: result{200, map[string]string{
			"Content-Encoding": "gzip", "Content-Type": "text/css; charset=utf-8",
			"Cache-Control": ccDefault, "Vary": "Accept-Encoding",
		}, styleCSS}},
		{name: "on the fly gzip ignores ranges", path: "/assets/style.css", header: map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-9"},
			want: result{200, map[string]string{"Content-Encoding": "gzip"}, styleCSS}},
		{name: "identity range", path: "/assets/style.css", header: map[string]string{"Range": "bytes=0-9"},
			want: result{206, map[string]string{"Content-Encoding": ""}, styleCSS[:10]}},
		{name: "identity when not accepted", path: "/assets/style.css", want: result{200, map[string]string{
			"Content-Encoding": "", "Content-Length": fmt.Sprint(len(styleCSS)),
		}, styleCSS}},
		{name: "small text not compressed", path: "/assets/small.txt", header: gz, want: result{200, map[string]string{
			"Content-Encoding": "", "Vary": "Accept-Encoding",
		}, small}},
		{name: "image not compressed", path: "/assets/logo.png", header: gz, want: result{200, map[string]string{
			"Content-Encoding": "", "Content-Type": "image/png", "Cache-Control": ccDefault,
		}, logoPNG}},
		{name: "date is not a hash", path: "/assets/photo-20240101.jpg", want: result{200, map[string]string{"Cache-Control": ccDefault}, "jpeg"}},
		{name: "unknown extension sniffed", path: "/README", want: result{200, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, readme}},
		{name: "head", method: "HEAD", path: "/", want: result{200, map[string]string{
			"Content-Length": fmt.Sprint(len(indexR1)), "Content-Type": htmlType,
		}, ""}},
		{name: "head on the fly gzip", method: "HEAD", path: "/assets/style.css", header: gz, want: result{200, map[string]string{
			"Content-Encoding": "gzip", "Content-Length": "",
		}, ""}},
		{name: "post", method: "POST", path: "/", want: result{405, map[string]string{
			"Allow": "GET, HEAD", "X-Content-Type-Options": "nosniff",
		}, "405 method not allowed\n"}},
		{name: "delete", method: "DELETE", path: "/index.html", want: result{405, map[string]string{"Allow": "GET, HEAD"}, "405 method not allowed\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			if tt.want.Header == nil {
				tt.want.Header = map[string]string{}
			}
			got := do(t, method, srv.URL+tt.path, tt.header, keys(tt.want.Header))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", method, tt.path, diff)
			}
		})
	}
}

// TestTraversalRequestLine sends request targets exactly as written, past
// any client-side cleaning, through the server's own request parsing.
func TestTraversalRequestLine(t *testing.T) {
	h := New(Options{Root: newSite(t)})
	for _, target := range []string{
		"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/..%2f..%2fsecret.txt",
		"/./../../secret.txt", "//../secret.txt", "/assets/..%2f..%2f..%2fsecret.txt",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "SECRET") {
			t.Errorf("GET %s = %d %q, want 404 with the release's 404.html", target, rec.Code, rec.Body.String())
		}
	}
}

func TestPlainNotFound(t *testing.T) {
	root := newSite(t)
	switchCurrent(t, root, "releases/r2") // has no 404.html
	srv := newServer(t, root)
	got := do(t, http.MethodGet, srv.URL+"/nope", nil, []string{"Content-Type"})
	want := result{404, map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "404 page not found\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /nope (-want +got):\n%s", diff)
	}
}

func TestNoRelease(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, root string)
	}{
		{"no current", func(*testing.T, string) {}},
		{"dangling current", func(t *testing.T, root string) { switchCurrent(t, root, "releases/gone") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(t, root)
			srv := newServer(t, root)
			got := do(t, http.MethodGet, srv.URL+"/", nil, []string{"Content-Type", "Cache-Control"})
			if got.Status != http.StatusServiceUnavailable || !strings.Contains(got.Body, "This site has no release yet") {
				t.Errorf("GET / = %d %q, want 503 saying there is no release yet", got.Status, got.Body)
			}
			if diff := cmp.Diff(map[string]string{"Content-Type": htmlType, "Cache-Control": "no-store"}, got.Header); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConditional(t *testing.T) {
	srv := newServer(t, newSite(t))
	for _, tt := range []struct {
		name, path string
		header     map[string]string
	}{
		{"identity", "/", nil},
		{"precompressed", "/assets/app.3f2a9c1b.js", map[string]string{"Accept-Encoding": "gzip"}},
		{"on the fly", "/assets/style.css", map[string]string{"Accept-Encoding": "gzip"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first := do(t, http.MethodGet, srv.URL+tt.path, tt.header, []string{"ETag", "Last-Modified", "Cache-Control"})
			if first.Status != 200 || first.Header["ETag"] == "" || first.Header["Last-Modified"] == "" {
				t.Fatalf("GET %s = %d %v, want 200 with ETag and Last-Modified", tt.path, first.Status, first.Header)
			}
			for _, cond := range []map[string]string{
				{"If-None-Match": first.Header["ETag"]},
				{"If-Modified-Since": first.Header["Last-Modified"]},
			} {
				h := map[string]string{}
				for k, v := range tt.header {
					h[k] = v
				}
				for k, v := range cond {
					h[k] = v
				}
				got := do(t, http.MethodGet, srv.URL+tt.path, h, []string{"ETag", "Cache-Control", "Content-Encoding"})
				want := result{304, map[string]string{"ETag": first.Header["ETag"], "Cache-Control": first.Header["Cache-Control"], "Content-Encoding": ""}, ""}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("GET %s with %v (-want +got):\n%s", tt.path, cond, diff)
				}
			}
		})
	}

	// An encoded body must not match the identity body's validator.
	plainTag := do(t, http.MethodGet, srv.URL+"/assets/style.css", nil, []string{"ETag"}).Header["ETag"]
	got := do(t, http.MethodGet, srv.URL+"/assets/style.css", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": plainTag}, nil)
	if got.Status != http.StatusOK {
		t.Errorf("gzip GET with the identity ETag = %d, want 200", got.Status)
	}
}

func TestCacheControl(t *testing.T) {
	tests := []struct {
		name, ctype, want string
	}{
		{"index.html", htmlType, ccHTML},
		{"docs/index.html", htmlType, ccHTML},
		{"page.3f2a9c1b.html", htmlType, ccHTML},
		{"assets/app.3f2a9c1b.js", "text/javascript", ccHashed},
		{"main-3F2A9C1B77.css", "text/css", ccHashed},
		{"chunk_0a1b2c3d4e5f.woff2", "font/woff2", ccHashed},
		{"app.3f2a9c1.js", "text/javascript", ccDefault},  // 7 hex digits
		{"app.3f2a9c1g.js", "text/javascript", ccDefault}, // not hex
		{"photo-20240101.jpg", "image/jpeg", ccDefault},   // digits only: a date
		{"deadbeefcafe.png", "image/png", ccDefault},      // letters only: a word
		{"3f2a9c1b/app.js", "text/javascript", ccDefault}, // only the name counts
		{"logo.png", "image/png", ccDefault},
	}
	for _, tt := range tests {
		if got := cacheControl(tt.name, tt.ctype); got != tt.want {
			t.Errorf("cacheControl(%q, %q) = %q, want %q", tt.name, tt.ctype, got, tt.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"deflate, gzip;q=0.5, br"}, true},
		{[]string{"br", "gzip"}, true},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000"}, false},
		{[]string{"gzip;q=bogus"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"identity"}, false},
		{[]string{"br, deflate"}, false},
		{[]string{"gzipx"}, false},
	}
	for _, tt := range tests {
		h := http.Header{"Accept-Encoding": tt.header}
		if got := acceptsGzip(h); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*;q=0.5", "deflate, gzip;q=0.5", "x-gzip; Q=1", "gzip;q=NaN", ",;=,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := acceptsGzip(http.Header{"Accept-Encoding": {v}})
		lv := strings.ToLower(v)
		if got && !strings.Contains(lv, "gzip") && !strings.Contains(lv, "*") {
			t.Errorf("acceptsGzip(%q) = true without gzip or *", v)
		}
	})
}

func TestCandidates(t *testing.T) {
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"index.html"}},
		{"", []string{"index.html"}},
		{"/docs/", []string{"docs/index.html"}},
		{"/about", []string{"about", "about.html", "about/index.html"}},
		{"/a/b.css", []string{"a/b.css", "a/b.css.html", "a/b.css/index.html"}},
		{"/../etc/passwd", []string{"etc/passwd", "etc/passwd.html", "etc/passwd/index.html"}},
		{"/a/../../", []string{"index.html"}},
		{"//x//y/./", []string{"x/y/index.html"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, candidates(tt.path)); diff != "" {
			t.Errorf("candidates(%q) (-want +got):\n%s", tt.path, diff)
		}
	}
}

func FuzzCandidates(f *testing.F) {
	for _, s := range []string{"/", "/docs/", "/about", "/../x", "..", "/a/../../b/", "//x/./y", "/\x00", `/..\..\x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		cs := candidates(p)
		if len(cs) == 0 {
			t.Fatalf("candidates(%q) is empty", p)
		}
		for _, c := range cs {
			if !filepath.IsLocal(c) {
				t.Errorf("candidates(%q) has %q, which is not local", p, c)
			}
		}
	})
}

// TestSwitchRelease flips current between two releases while clients loop
// GET /: every response is a whole page of one release or the other, and a
// request made between two switches gets the release then current. Every
// fifth switch waits for such a request, so both releases are served.
func TestSwitchRelease(t *testing.T) {
	root := newSite(t)
	srv := newServer(t, root)
	pages := [2]string{indexR1, indexR2} // after switch k, pages[k%2] is current

	// begun and done count the switches begun and done. A request that
	// starts once switch k is done and ends before switch k+1 begins is
	// settled: it must get pages[k%2].
	var begun, done atomic.Int64
	settled := make(chan int64, 64) // k of each settled request; dropped when full

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var mu sync.Mutex // guards the fields below
	var requests int
	var failures []string
	served := map[string]int{}
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := done.Load()
				resp, err := client.Get(srv.URL + "/")
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				isSettled := begun.Load() == k
				mu.Lock()
				requests++
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case resp.StatusCode != 200 || (string(body) != indexR1 && string(body) != indexR2):
					failures = append(failures, fmt.Sprintf("%d %q", resp.StatusCode, body))
				case isSettled && string(body) != pages[k%2]:
					failures = append(failures, fmt.Sprintf("after switch %d: %q, want %q", k, body, pages[k%2]))
				default:
					served[string(body)]++
				}
				mu.Unlock()
				if isSettled {
					select {
					case settled <- k:
					default:
					}
				}
			}
		})
	}
	stop := func() {
		cancel()
		wg.Wait()
	}
	for k := int64(1); k <= 300; k++ {
		begun.Add(1)
		switchCurrent(t, root, fmt.Sprintf("releases/r%d", k%2+1))
		done.Add(1)
		if k%5 != 0 {
			continue
		}
		timeout := time.After(10 * time.Second)
		for waiting := true; waiting; {
			select {
			case got := <-settled:
				waiting = got != k
			case <-timeout:
				stop()
				t.Fatalf("no request was answered in 10 s after switch %d", k)
			}
		}
	}
	stop()
	t.Logf("%d requests: %d of release one, %d of release two", requests, served[indexR1], served[indexR2])
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during switches, first: %s", len(failures), requests, failures[0])
	}
	if served[indexR1] == 0 || served[indexR2] == 0 {
		t.Errorf("served release one %d times and release two %d times, want both", served[indexR1], served[indexR2])
	}

	switchCurrent(t, root, "releases/r2")
	if got := do(t, http.MethodGet, srv.URL+"/", nil, nil).Body; got != indexR2 {
		t.Errorf("after switching to r2, GET / = %q, want %q", got, indexR2)
	}
}

func TestRun(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	var slowDone atomic.Bool // the /slow handler has written its answer
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
			defer slowDone.Store(true)
		}
		io.WriteString(w, "ok")
	})
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// Run's result, and whether the in-flight request had been answered
	// by the time Run returned.
	type result struct {
		err      error
		answered bool
	}
	done := make(chan result, 1)
	go func() {
		err := Run(ctx, addr, h)
		done <- result{err, slowDone.Load()}
	}()

	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s never answered: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A request in flight when ctx ends still completes.
	slow := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			slow <- err.Error()
			return
		}
		slow <- string(b)
	}()
	<-entered
	cancel()
	// Run may not return while the request is in flight: not within a
	// moment of ctx ending (below), nor before the answer (result.answered).
	select {
	case res := <-done:
		t.Fatalf("Run returned %v with a request in flight", res.err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got := <-slow; got != "ok" {
		t.Errorf("in-flight request got %q, want ok", got)
	}
	select {
	case res := <-done:
		if res.err != nil {
			t.Errorf("Run = %v, want nil after ctx ends", res.err)
		}
		if !res.answered {
			t.Error("Run returned before the in-flight request was answered")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}

	if err := Run(t.Context(), "127.0.0.1:-1", h); err == nil {
		t.Error("Run on a bad address = nil, want an error")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
