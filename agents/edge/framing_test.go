package edge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestFramer(t *testing.T) {
	const (
		get  = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
		none = math.MaxInt64
	)
	tests := []struct {
		name    string
		stream  string
		heads   int64
		badFrom int64
		off     bool // stopped following
	}{
		{"one GET", get, 1, none, false},
		{"pipelined", get + get + get, 3, none, false},
		{"CRLF after a POST", "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n" + get, 2, none, false},
		{"CRLF after a GET", get + "\r\n" + get, 1, 1, true},
		{"bare LF lines", "GET / HTTP/1.1\nHost: a\n\n" + get, 2, none, false},
		// Bodies that look like requests are skipped.
		{"content-length body", fmt.Sprintf("POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", len(get), get) + get, 2, none, false},
		{"chunked body", fmt.Sprintf("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x;x=y\r\n%s\r\n1\r\n\n\r\n0\r\n\r\n", len(get), get) + get, 2, none, false},
		{"chunked with trailers", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n" + get, 2, none, false},
		{"TE and CL", get + "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + get, 2, 1, true},
		{"TE and CL, other case", "POST / HTTP/1.1\r\ncontent-LENGTH: 5\r\ntransfer-encoding: chunked\r\n\r\n", 1, 0, true},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 0, true},
		{"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 1, 0, true},
		{"too long a line", "GET /" + strings.Repeat("a", 100) + " HTTP/1.1\r\n\r\n", 0, 0, true},
		// Where net/http gives up on the connection, the framer stops and
		// fails closed.
		{"unsupported TE", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + get, 1, 1, true},
		{"differing CLs", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n" + get, 1, 1, true},
		{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + get, 1, 1, true},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + get, 0, 0, true},
		{"malformed request line", "GET/HTTP/1.1\r\n\r\n" + get, 0, 0, true},
		{"incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", 0, none, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// All at once, and a byte at a time: the result must not depend
			// on how reads split the stream.
			for _, step := range []int{len(tc.stream), 1} {
				f := newFramer(64)
				for i := 0; i < len(tc.stream); i += step {
					f.feed([]byte(tc.stream[i:min(i+step, len(tc.stream))]))
				}
				if f.heads != tc.heads || f.badFrom != tc.badFrom || (f.state == stateOff) != tc.off {
					t.Errorf("step %d: heads %d, badFrom %d, off %v; want %d, %d, %v",
						step, f.heads, f.badFrom, f.state == stateOff, tc.heads, tc.badFrom, tc.off)
				}
			}
		})
	}
}

// FuzzFramer checks the framer against net/http's own request parser: for
// every request net/http reads off a stream (until it would close the
// connection, or the framer refuses a head), the framer must count that
// request's head exactly when its last byte arrives.
func FuzzFramer(f *testing.F) {
	for _, c := range smugglingCases {
		f.Add([]byte(c.raw))
	}
	for _, c := range wellFramed {
		f.Add([]byte(c.raw + c.raw))
	}
	f.Add([]byte("GET / HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\nT: 1\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\nHost: a\r\n\r\n"))

	f.Fuzz(func(t *testing.T, stream []byte) {
		ends := netHTTPHeadEnds(stream)
		fr := newFramer(1 << 20)
		fed := int64(0)
		for i, end := range ends {
			fr.feed(stream[fed : end-1])
			if fr.heads != int64(i) {
				t.Fatalf("request %d: framer counted %d heads before the end of its head at %d", i, fr.heads, end)
			}
			fr.feed(stream[end-1 : end])
			if fr.heads != int64(i+1) {
				t.Fatalf("request %d: framer counted %d heads at the end of its head at %d", i, fr.heads, end)
			}
			fed = end
			if fr.badFrom <= int64(i) {
				return // refused: the edge closes the connection here
			}
		}
	})
}

// netHTTPHeadEnds returns the offsets at which the heads of the requests
// that an http.Server would serve from stream end.
func netHTTPHeadEnds(stream []byte) []int64 {
	cr := &countingReader{r: bytes.NewReader(stream)}
	br := bufio.NewReader(cr)
	var ends []int64
	lastMethod := ""
	for {
		if lastMethod == http.MethodPost {
			// As conn.readRequest does.
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			_, _ = br.Discard(n)
		}
		req, err := http.ReadRequest(br)
		if err != nil || req.ProtoMajor != 1 {
			// A "PRI * HTTP/2.0" request reaches the handler (as HTTP/2,
			// which the framer does not count); the connection closes
			// after it.
			return ends
		}
		lastMethod = req.Method
		ends = append(ends, cr.n-int64(br.Buffered()))
		if serverCloses(req) {
			return ends
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return ends
		}
	}
}

// serverCloses reports whether an http.Server refuses req or closes the
// connection after answering it (see net/http's conn.readRequest and
// conn.serve).
func serverCloses(req *http.Request) bool {
	if req.Close {
		return true
	}
	if req.ProtoMinor >= 1 && req.Host == "" && req.Method != http.MethodConnect {
		return true
	}
	if req.Host != "" && !httpguts.ValidHostHeader(req.Host) {
		return true
	}
	if e := req.Header.Get("Expect"); e != "" && !strings.EqualFold(e, "100-continue") {
		return true
	}
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return true
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return true
			}
		}
	}
	return false
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
