package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// smugglingCase is a request that frames its body ambiguously.
type smugglingCase struct {
	name string
	raw  string
	// goRefuses: net/http answers the request itself and closes the
	// connection; no handler runs. Otherwise net/http hands it to the
	// handler, and the edge's own checks must refuse it.
	goRefuses bool
	status    int // what the client gets from the edge
}

const smuggledGET = "GET /admin HTTP/1.1\r\nHost: a.test\r\n\r\n"

var smugglingCases = []smugglingCase{
	{"TE and CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", false, 400},
	{"CL and TE", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", false, 400},
	{"TE and CL hiding a request", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggledGET, false, 400},
	{"TE folded onto a second line", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", false, 400},
	{"folded header", "POST / HTTP/1.1\r\nHost: a.test\r\nX-Note: a\r\n b\r\nContent-Length: 1\r\n\r\nX", false, 400},
	{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", false, 400},
	{"TE on HTTP/1.0 without CL", "POST / HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, 400},
	{"Transfer_Encoding", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", false, 400},
	{"Content_Length", "POST / HTTP/1.1\r\nHost: a.test\r\nContent_Length: 40\r\nContent-Length: 1\r\n\r\nX", false, 400},
	{"differing CLs", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", true, 400},
	{"CL list", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 6\r\n\r\nhello!", true, 400},
	{"signed CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +5\r\n\r\nhello", true, 400},
	{"TE chunked, identity", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", true, 501},
	{"TE identity", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", true, 501},
	{"two TE fields", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", true, 501},
	{"TE xchunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", true, 501},
	{"space before colon", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", true, 400},
	{"vertical tab in TE", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", true, 400},
}

// wellFramed are requests that must pass, so that the tests above can fail.
var wellFramed = []struct{ name, raw string }{
	{"chunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer-X: y\r\n\r\n"},
	{"content-length", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello"},
	{"equal CLs", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
	{"TE in any case", "POST / HTTP/1.1\r\nHost: a.test\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
}

// TestNetHTTPFraming records which of the smuggling attempts net/http
// refuses on its own, with a bare http.Server. If it fails after a Go
// upgrade, revisit framer and Edge.refusal.
func TestNetHTTPFraming(t *testing.T) {
	for _, tc := range smugglingCases {
		t.Run(tc.name, func(t *testing.T) {
			// A server per case: a request pipelined behind an earlier
			// case's body may reach its handler late, and must not be
			// counted against this one.
			var reached atomic.Int64
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					reached.Add(1)
					_, _ = io.Copy(io.Discard, r.Body)
				}),
				ReadHeaderTimeout: 10 * time.Second,
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()

			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(c, tc.raw); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := reached.Load() > 0; got == tc.goRefuses {
				t.Errorf("net/http handed the request to the handler: %v; this test expects %v", got, !tc.goRefuses)
			}
			if tc.goRefuses && resp.StatusCode != tc.status {
				t.Errorf("net/http answered %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestSmuggling(t *testing.T) {
	rec := newBodyRecorder()
	up := newUpstream(t, "up", rec.handle)
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr})
	for _, https := range []bool{true, false} {
		port := map[bool]string{true: "https", false: "http"}[https]
		for _, tc := range smugglingCases {
			t.Run(port+"/"+tc.name, func(t *testing.T) {
				before := up.hits.Load()
				resp, body, closed := te.rawRoundTrip(t, https, tc.raw, true)
				if resp.StatusCode != tc.status {
					t.Errorf("status = %d, want %d; body:\n%s", resp.StatusCode, tc.status, body)
				}
				if !closed {
					t.Error("connection kept open: what follows could be read as another request")
				}
				if n := up.hits.Load() - before; n != 0 {
					t.Errorf("upstream got %d requests", n)
				}
				if !tc.goRefuses {
					assertPage(t, resp, body, tc.status, "Bad request", "")
				}
			})
		}
		t.Run(port+"/malformed chunk", func(t *testing.T) {
			// Well framed up to the chunk, so the request is on its way to
			// the site when the body breaks: the site gets a broken body,
			// never a complete one, and the client a 400.
			completeBefore, _ := rec.stats()
			resp, body, closed := te.rawRoundTrip(t, https, "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", true)
			if !https {
				if resp.StatusCode != http.StatusPermanentRedirect {
					t.Errorf("status = %d, want 308", resp.StatusCode)
				}
				return // port 80 never reads the body
			}
			assertPage(t, resp, body, http.StatusBadRequest, "Bad request", "a.test")
			if !closed {
				t.Error("connection kept open after a malformed body")
			}
			if complete, _ := rec.stats(); complete != completeBefore {
				t.Error("upstream read a complete body")
			}
		})
		for _, tc := range wellFramed {
			t.Run(port+"/passes/"+tc.name, func(t *testing.T) {
				resp, body, _ := te.rawRoundTrip(t, https, tc.raw, false)
				if https && (resp.StatusCode != http.StatusOK || body != "got 5 bytes") {
					t.Errorf("got %d %q, want 200 got 5 bytes", resp.StatusCode, body)
				}
				if !https && resp.StatusCode != http.StatusPermanentRedirect {
					t.Errorf("status = %d, want 308", resp.StatusCode)
				}
			})
		}
	}
}

// TestSmugglingAfterGoodRequest sends a well-framed request and, on the same
// connection, a smuggling attempt: the first is served, the second refused.
func TestSmugglingAfterGoodRequest(t *testing.T) {
	rec := newBodyRecorder()
	up := newUpstream(t, "up", rec.handle)
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr})
	c := te.dialRaw(t, true, "a.test")
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// Pipelined: both heads arrive before the first is answered.
	raw := wellFramed[1].raw + smugglingCases[2].raw
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var got []int
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got = append(got, resp.StatusCode)
	}
	if len(got) != 2 || got[0] != 200 || got[1] != 400 {
		t.Errorf("statuses %v, want [200 400] and the connection closed", got)
	}
	if n := up.hits.Load(); n != 1 {
		t.Errorf("upstream got %d requests, want 1", n)
	}
}

// TestH2Framing checks that HTTP/2 requests are not held to HTTP/1's
// framing rules while their header names still are.
func TestH2Framing(t *testing.T) {
	rec := newBodyRecorder()
	up := newUpstream(t, "up", rec.handle)
	te := startEdge(t, Options{}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr})
	c := te.client(t, true)
	for range 3 {
		resp, body := do(t, c, mustRequest(t, te.url(true, "a.test", "/"), strings.NewReader("hello")))
		if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "got 5 bytes" {
			t.Fatalf("got HTTP/%d %d %q", resp.ProtoMajor, resp.StatusCode, body)
		}
	}
	req := mustRequest(t, te.url(true, "a.test", "/"), strings.NewReader("hello"))
	req.Header.Set("Transfer_Encoding", "chunked")
	resp, body := do(t, c, req)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Transfer_Encoding over HTTP/2: %d %q, want 400", resp.StatusCode, body)
	}
}
