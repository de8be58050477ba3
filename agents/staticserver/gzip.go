package staticserver

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minCompressSize is the smallest body compressed on the fly: below it the
// gzip framing and the CPU cost outweigh the saving.
const minCompressSize = 1 << 10

// acceptsGzip reports whether the Accept-Encoding header of a request allows
// a gzip body (RFC 9110, section 12.5.3): "gzip" or "x-gzip" with a
// non-zero q, or else "*" with a non-zero q.
func acceptsGzip(h http.Header) bool {
	gz, star := -1.0, -1.0 // q values; -1 means not listed
	for _, v := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
					continue
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil || !(f > 0) {
					f = 0 // a malformed q does not grant anything
				}
				q = f
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gz = q
			case "*":
				star = q
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// gzipResponseWriter compresses the body of a 200 response. Other statuses
// (304, 412) pass through untouched.
type gzipResponseWriter struct {
	http.ResponseWriter
	pool *sync.Pool // of *gzip.Writer
	head bool       // a HEAD request: headers only

	wroteHeader bool
	gz          *gzip.Writer // non-nil while compressing
}

func (g *gzipResponseWriter) WriteHeader(code int) {
	if !g.wroteHeader {
		g.wroteHeader = true
		if code == http.StatusOK {
			h := g.Header()
			h.Del("Content-Length")
			h.Del("Accept-Ranges")
			h.Set("Content-Encoding", "gzip")
			if !g.head {
				g.gz = g.pool.Get().(*gzip.Writer)
				g.gz.Reset(g.ResponseWriter)
			}
		}
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipResponseWriter) Write(p []byte) (int, error) {
	if !g.wroteHeader {
		g.WriteHeader(http.StatusOK)
	}
	if g.gz != nil {
		return g.gz.Write(p)
	}
	return g.ResponseWriter.Write(p)
}

// close finishes the gzip stream and returns the writer to the pool.
func (g *gzipResponseWriter) close() {
	if g.gz == nil {
		return
	}
	// An error here means the client went away; the response is over.
	_ = g.gz.Close()
	g.gz.Reset(io.Discard)
	g.pool.Put(g.gz)
	g.gz = nil
}
