package edge

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"strconv"
)

// The pages the edge answers with itself. They name no Go error, node or
// container: the reason stays in the log.
//
//go:embed pages/page.html
var pageSource string

var pageTemplate = template.Must(template.New("page").Parse(pageSource))

type pageText struct{ title, message string }

var pageTexts = map[int]pageText{
	http.StatusBadRequest: {
		"Bad request",
		"This server could not understand the request.",
	},
	http.StatusNotFound: {
		"This site is not hosted here",
		"There is no website at this address on this server. If this is your domain, check that its DNS records point to the right server.",
	},
	http.StatusRequestTimeout: {
		"Request timed out",
		"The request took too long to arrive. Please try again.",
	},
	http.StatusRequestEntityTooLarge: {
		"Request too large",
		"The request is larger than this server accepts.",
	},
	http.StatusServiceUnavailable: {
		"This site is temporarily unavailable",
		"The website is not responding right now. Please try again in a few moments.",
	},
}

// maxShownHost caps the host echoed on a page; DNS names are at most 253.
const maxShownHost = 253

// renderPage returns the branded page for status, naming host (escaped by
// html/template) when it is not empty.
func renderPage(status int, host string) []byte {
	text, ok := pageTexts[status]
	if !ok {
		text = pageTexts[http.StatusBadRequest]
	}
	if len(host) > maxShownHost {
		host = host[:maxShownHost]
	}
	var b bytes.Buffer
	err := pageTemplate.Execute(&b, struct {
		Status         int
		Title, Message string
		Host           string
	}{status, text.title, text.message, host})
	if err != nil {
		// The template is fixed and its data are plain strings: a failure is
		// a bug in this package, caught by the tests.
		panic("edge: render page: " + err.Error())
	}
	return b.Bytes()
}

// writePage answers r with the branded page for status. Pages are never
// cached: the site may be up again in a moment, or hosted here tomorrow.
func writePage(w http.ResponseWriter, r *http.Request, status int, host string) {
	body := renderPage(status, host)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body) // a failed write means the client left
	}
}
