package staticserver

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Options configures the handler returned by New.
type Options struct {
	// Root is the site directory. The server serves Root/current/..., where
	// current is normally a symlink to a release directory; it is resolved
	// on every request. A missing current means "no release yet" (503).
	Root string
	// Logger receives unexpected failures (for example an unreadable
	// release). Nil discards them.
	Logger *slog.Logger
}

// New returns a handler that serves the current release under o.Root. It is
// safe for concurrent use; see the package doc for the URL mapping and the
// headers it sets.
func New(o Options) http.Handler {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &handler{
		current: filepath.Join(o.Root, "current"),
		logger:  logger.With("component", "staticserver"),
		gzips: sync.Pool{New: func() any {
			return gzip.NewWriter(io.Discard)
		}},
	}
}

type handler struct {
	current string
	logger  *slog.Logger
	gzips   sync.Pool // of *gzip.Writer, for on-the-fly compression
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, r, http.StatusMethodNotAllowed, "405 method not allowed\n")
		return
	}
	// Opening current pins one release for the whole request: a concurrent
	// switch of the symlink affects only later requests.
	release, err := os.OpenRoot(h.current)
	if errors.Is(err, fs.ErrNotExist) {
		h.noRelease(w, r)
		return
	} else if err != nil {
		h.logger.Error("open current release", "path", h.current, "err", err)
		plain(w, r, http.StatusInternalServerError, "500 internal server error\n")
		return
	}
	defer release.Close()

	for _, name := range candidates(r.URL.Path) {
		f, fi, err := openRegular(release, name)
		if err != nil {
			continue
		}
		defer f.Close()
		h.serveFile(w, r, release, name, f, fi)
		return
	}
	h.notFound(w, r, release)
}

// candidates returns the release-relative names that may answer urlPath, in
// order of preference. Every name is local: cleaning against "/" drops any
// ".." that would climb out, and os.Root enforces it again.
func candidates(urlPath string) []string {
	if !strings.HasPrefix(urlPath, "/") {
		urlPath = "/" + urlPath
	}
	rel := strings.TrimPrefix(path.Clean(urlPath), "/")
	if rel == "" || strings.HasSuffix(urlPath, "/") {
		return []string{path.Join(rel, "index.html")}
	}
	return []string{rel, rel + ".html", rel + "/index.html"}
}

// openRegular opens name inside release and returns it only if it is a
// regular file. O_NONBLOCK keeps a FIFO planted in a release from blocking
// the open; it changes nothing for regular files.
func openRegular(release *os.Root, name string) (*os.File, fs.FileInfo, error) {
	f, err := release.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file", name)
	}
	return f, fi, nil
}

// serveFile answers with f (or its precompressed sibling), letting
// http.ServeContent handle conditional and range requests.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, release *os.Root, name string, f *os.File, fi fs.FileInfo) {
	ctype, err := contentType(name, f)
	if err != nil {
		h.logger.Error("read file", "name", name, "err", err)
		plain(w, r, http.StatusInternalServerError, "500 internal server error\n")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Cache-Control", cacheControl(name, ctype))
	hdr.Add("Vary", "Accept-Encoding")

	var body io.ReadSeeker = f
	encoding := "" // of the body: "", "gz" (precompressed sibling) or "gzip" (on the fly)
	if acceptsGzip(r.Header) {
		if gz, gzi, err := openRegular(release, name+".gz"); err == nil {
			defer gz.Close()
			body, fi, encoding = gz, gzi, "gz"
			hdr.Set("Content-Encoding", "gzip")
		} else if compressible(ctype) && fi.Size() >= minCompressSize {
			encoding = "gzip"
			gw := &gzipResponseWriter{ResponseWriter: w, pool: &h.gzips, head: r.Method == http.MethodHead}
			defer gw.close()
			w = gw
			// The compressed body is produced as a stream, so byte ranges
			// of it cannot be served: range requests get the whole body.
			r = r.Clone(r.Context())
			r.Header.Del("Range")
			r.Header.Del("If-Range")
		}
	}
	hdr.Set("ETag", etag(fi, encoding))
	http.ServeContent(w, r, name, fi.ModTime(), body)
}

// etag is a strong validator from size and modification time, as nginx
// does; encoded representations get their own tag.
func etag(fi fs.FileInfo, suffix string) string {
	tag := strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16)
	if suffix != "" {
		tag += "-" + suffix
	}
	return `"` + tag + `"`
}

// notFound answers 404 with the release's 404.html if it has one.
func (h *handler) notFound(w http.ResponseWriter, r *http.Request, release *os.Root) {
	f, fi, err := openRegular(release, "404.html")
	if err != nil {
		plain(w, r, http.StatusNotFound, "404 page not found\n")
		return
	}
	defer f.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	if r.Method != http.MethodHead {
		// The client has gone or the release changed under us; nothing
		// more can be said on this response.
		_, _ = io.CopyN(w, f, fi.Size())
	}
}

const noReleasePage = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>No release yet</title>
<p>This site has no release yet.</p>
</html>
`

func (h *handler) noRelease(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(noReleasePage)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, noReleasePage)
	}
}

// plain writes a short text/plain response.
func plain(w http.ResponseWriter, r *http.Request, code int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(msg)))
	hdr.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, msg)
	}
}
