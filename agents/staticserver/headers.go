package staticserver

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
)

// contentTypes maps extensions to media types. It is deliberately our own
// table: mime.TypeByExtension also reads /etc/mime.types, which the
// FROM-scratch image lacks, so a test on a workstation would see other
// types than production.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".xml":         "application/xml",
	".rss":         "application/rss+xml",
	".atom":        "application/atom+xml",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".wasm":        "application/wasm",
	".pdf":         "application/pdf",
	".zip":         "application/zip",
	".gz":          "application/gzip",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".mp4":         "video/mp4",
	".webm":        "video/webm",
	".mp3":         "audio/mpeg",
	".ogg":         "audio/ogg",
	".wav":         "audio/wav",
}

// contentType returns the media type of the file name, sniffing the first
// bytes of f when the extension is unknown (and rewinding f).
func contentType(name string, f io.ReadSeeker) (string, error) {
	if t, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return t, nil
	}
	var buf [512]byte
	n, err := io.ReadFull(f, buf[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", fmt.Errorf("sniff %s: %w", name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("sniff %s: %w", name, err)
	}
	return http.DetectContentType(buf[:n]), nil
}

// compressible reports whether a body of media type ctype is worth
// compressing on the fly: text, not already compressed images or fonts.
func compressible(ctype string) bool {
	mt, _, _ := strings.Cut(ctype, ";")
	mt = strings.TrimSpace(mt)
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/javascript", mt == "application/json",
		mt == "application/xml", mt == "image/svg+xml",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// cacheControl chooses how long clients and proxies may keep a file. HTML
// names are stable URLs whose content changes with each release; a name
// with a content hash never changes content, so it may be kept for a year.
func cacheControl(name, ctype string) string {
	switch {
	case strings.HasPrefix(ctype, "text/html"):
		return "public, max-age=300"
	case hasHashSegment(path.Base(name)):
		return "public, max-age=31536000, immutable"
	default:
		return "public, max-age=3600"
	}
}

// hasHashSegment reports whether a segment of base, split at '.', '-' and
// '_', looks like a content hash: at least 8 hex digits. A segment must mix
// digits and letters, so that dates and numbers (photo-20240101.jpg) are
// not mistaken for hashes: being wrong that way only shortens caching.
func hasHashSegment(base string) bool {
	for seg := range strings.FieldsFuncSeq(base, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		if len(seg) < 8 {
			continue
		}
		digits, letters := 0, 0
		for _, c := range []byte(seg) {
			switch {
			case '0' <= c && c <= '9':
				digits++
			case 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
				letters++
			}
		}
		if digits > 0 && letters > 0 && digits+letters == len(seg) {
			return true
		}
	}
	return false
}
