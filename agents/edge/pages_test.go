package edge

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestPages(t *testing.T) {
	for status := range pageTexts {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				w := httptest.NewRecorder()
				writePage(w, httptest.NewRequest(method, "/", nil), status, `evil.test"><script>alert(1)</script>`)
				body := w.Body.String()
				if w.Code != status {
					t.Errorf("%s: status %d, want %d", method, w.Code, status)
				}
				if method == http.MethodHead {
					if body != "" {
						t.Errorf("HEAD: body of %d bytes", len(body))
					}
					continue
				}
				if got, want := w.Header().Get("Content-Length"), strconv.Itoa(len(body)); got != want {
					t.Errorf("Content-Length %s, body %s bytes", got, want)
				}
				if strings.Contains(body, "<script>") || !strings.Contains(body, "evil.test&#34;&gt;&lt;script&gt;") {
					t.Errorf("host not escaped:\n%s", body)
				}
				if !strings.Contains(body, pageTexts[status].title) {
					t.Errorf("page lacks its title %q", pageTexts[status].title)
				}
			}
		})
	}
	body := string(renderPage(http.StatusNotFound, strings.Repeat("a", 1000)))
	if !strings.Contains(body, strings.Repeat("a", maxShownHost)) || strings.Contains(body, strings.Repeat("a", maxShownHost+1)) {
		t.Errorf("a 1000-byte host is not cut to %d bytes", maxShownHost)
	}
}
