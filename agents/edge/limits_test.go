package edge

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowloris sends a request head (or a TLS ClientHello) one byte every
// 50 ms, so it takes far longer than ReadHeaderTimeout, and checks that the
// edge hangs up soon after the timeout although bytes keep coming.
func TestSlowloris(t *testing.T) {
	const timeout = 300 * time.Millisecond
	a := newUpstream(t, "A", nil)
	te := startEdge(t, Options{ReadHeaderTimeout: timeout}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: a.addr})
	head := "GET / HTTP/1.1\r\nHost: a.test\r\nUser-Agent: " + strings.Repeat("s", 200) + "\r\n\r\n"
	clientHello := "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 200)
	tests := []struct {
		name    string
		dial    func() net.Conn
		payload string
	}{
		{"http head", func() net.Conn { return te.dialRaw(t, false, "a.test") }, head},
		{"https head", func() net.Conn { return te.dialRaw(t, true, "a.test") }, head},
		{"tls handshake", func() net.Conn {
			c, err := net.Dial("tcp", "127.0.0.1:"+te.httpsPort)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}, clientHello},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.dial()
			start := time.Now()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			defer wg.Wait()
			defer close(stop)
			wg.Go(func() {
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for i := range len(tc.payload) {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte{tc.payload[i]}); err != nil {
						return
					}
				}
			})
			if err := c.SetReadDeadline(time.Now().Add(timeout + 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			elapsed := time.Since(start)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("connection still open %v after the head started", elapsed)
			}
			if len(got) > 0 && bytes.HasPrefix(got, []byte("HTTP/1.1 2")) {
				t.Errorf("a slow head was answered: %q", got)
			}
			if elapsed < timeout-50*time.Millisecond {
				t.Errorf("closed after %v, before the %v timeout", elapsed, timeout)
			}
		})
	}
	if n := a.hits.Load(); n != 0 {
		t.Errorf("upstream got %d requests", n)
	}
}

// bodyRecorder is an upstream that reads whole bodies and remembers how
// much of each it got and whether it got all of it.
type bodyRecorder struct {
	mu       sync.Mutex
	complete int   // bodies read to their end
	maxBytes int64 // the most bytes of any one body
	failed   chan error
}

func newBodyRecorder() *bodyRecorder { return &bodyRecorder{failed: make(chan error, 16)} }

func (rec *bodyRecorder) handle(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	rec.mu.Lock()
	rec.maxBytes = max(rec.maxBytes, n)
	if err == nil {
		rec.complete++
	}
	rec.mu.Unlock()
	if err != nil {
		rec.failed <- err
		return
	}
	fmt.Fprintf(w, "got %d bytes", n)
}

func (rec *bodyRecorder) stats() (complete int, maxBytes int64) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.complete, rec.maxBytes
}

// unsized hides the length of a reader, so the client streams it (chunked
// on HTTP/1.1, DATA frames without content-length on HTTP/2).
type unsized struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	const limit = 1024
	rec := newBodyRecorder()
	up := newUpstream(t, "up", rec.handle)
	te := startEdge(t, Options{MaxBodyBytes: limit}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr})
	big := strings.Repeat("x", 4*limit)

	for _, h2 := range []bool{false, true} {
		c := te.client(t, h2)
		t.Run(fmt.Sprintf("h2=%v/content-length", h2), func(t *testing.T) {
			before := up.hits.Load()
			resp, body := do(t, c, mustRequest(t, te.url(true, "a.test", "/upload"), strings.NewReader(big)))
			assertPage(t, resp, body, http.StatusRequestEntityTooLarge, "Request too large", "a.test")
			if n := up.hits.Load() - before; n != 0 {
				t.Errorf("upstream got %d requests with an oversized Content-Length", n)
			}
		})
		t.Run(fmt.Sprintf("h2=%v/streamed", h2), func(t *testing.T) {
			resp, body := do(t, c, mustRequest(t, te.url(true, "a.test", "/upload"), unsized{strings.NewReader(big)}))
			assertPage(t, resp, body, http.StatusRequestEntityTooLarge, "Request too large", "a.test")
		})
		t.Run(fmt.Sprintf("h2=%v/within the limit", h2), func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(big[:limit]), unsized{strings.NewReader(big[:limit])}} {
				resp, body := do(t, c, mustRequest(t, te.url(true, "a.test", "/upload"), r))
				if resp.StatusCode != http.StatusOK || body != fmt.Sprintf("got %d bytes", limit) {
					t.Errorf("got %d %q, want 200 with all %d bytes", resp.StatusCode, body, limit)
				}
			}
		})
	}
	t.Run("raw chunked", func(t *testing.T) {
		var chunked strings.Builder
		for range 8 {
			fmt.Fprintf(&chunked, "200\r\n%s\r\n", big[:512])
		}
		chunked.WriteString("0\r\n\r\n")
		resp, body, closed := te.rawRoundTrip(t, true, "POST /upload HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"+chunked.String(), true)
		assertPage(t, resp, body, http.StatusRequestEntityTooLarge, "Request too large", "a.test")
		if !closed {
			t.Error("connection kept open after an oversized body")
		}
	})

	// Within the limit: 2 × h2 settings × 1 body each of the two kinds.
	complete, maxBytes := rec.stats()
	if complete != 4 {
		t.Errorf("upstream read %d complete bodies, want only the 4 within the limit", complete)
	}
	if maxBytes > limit {
		t.Errorf("upstream received %d bytes of one body, more than the %d limit", maxBytes, limit)
	}
}

func mustRequest(t testing.TB, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestBodyReadTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	rec := newBodyRecorder()
	up := newUpstream(t, "up", rec.handle)
	te := startEdge(t, Options{BodyReadTimeout: timeout}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: up.addr})

	t.Run("stalled", func(t *testing.T) {
		start := time.Now()
		// 10 of 100 bytes, then silence.
		resp, body, closed := te.rawRoundTrip(t, true, "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100\r\n\r\n0123456789", true)
		assertPage(t, resp, body, http.StatusRequestTimeout, "Request timed out", "a.test")
		if !closed {
			t.Error("connection kept open after a body timeout")
		}
		if elapsed := time.Since(start); elapsed < timeout {
			t.Errorf("answered after %v, before the %v timeout", elapsed, timeout)
		}
		select {
		case <-rec.failed:
		case <-time.After(10 * time.Second):
			t.Error("the upstream's body read did not fail")
		}
	})

	t.Run("slow but moving", func(t *testing.T) {
		// 6 pieces 100 ms apart: 500 ms in all, longer than the timeout,
		// but no wait is.
		c := te.dialRaw(t, true, "a.test")
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: a.test\r\nContent-Length: 60\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		tick := time.NewTicker(timeout / 3)
		defer tick.Stop()
		for range 6 {
			<-tick.C
			if _, err := io.WriteString(c, "0123456789"); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "got 60 bytes" {
			t.Errorf("got %d %q, want 200 with 60 bytes", resp.StatusCode, b)
		}
	})

	t.Run("slow upstream after the body", func(t *testing.T) {
		// The body deadline must not linger on the connection while the
		// container takes longer than BodyReadTimeout to answer.
		release := make(chan struct{})
		slow := newUpstream(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			<-release
			fmt.Fprintf(w, "got %d bytes", n)
		})
		te.SetRoutes([]Route{{SiteID: "a", Domains: []string{"a.test"}, Upstream: slow.addr}})
		done := make(chan string, 1)
		go func() {
			resp, err := te.client(t, false).Post(te.url(true, "a.test", "/"), "text/plain", strings.NewReader("hello"))
			if err != nil {
				done <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- fmt.Sprintf("%d %s", resp.StatusCode, b)
		}()
		time.AfterFunc(3*timeout, func() { close(release) })
		if got := <-done; got != "200 got 5 bytes" {
			t.Errorf("got %q, want 200 got 5 bytes", got)
		}
	})
}

// TestSendTimeout checks that a client that stops reading a response is
// disconnected, and the request to the container cancelled.
func TestSendTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	upstreamDone := make(chan error, 1)
	endless := newUpstream(t, "endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				upstreamDone <- err
				return
			}
		}
	})
	te := startEdge(t, Options{SendTimeout: timeout}, Route{SiteID: "a", Domains: []string{"a.test"}, Upstream: endless.addr})

	c, err := tls.Dial("tcp", "127.0.0.1:"+te.httpsPort, &tls.Config{RootCAs: te.pool, ServerName: "a.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Read nothing until the edge has given up on us.
	select {
	case <-upstreamDone:
	case <-time.After(20 * time.Second):
		t.Fatal("the edge still sends to a client that reads nothing")
	}
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %d bytes", n)
	}
}
