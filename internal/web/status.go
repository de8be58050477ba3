package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// A public status page is the same for every visitor, so it is rendered at
// most once per TTL per client and served from memory in between: a burst of
// visitors costs the API one GetStatusPage call, and concurrent misses share
// it. Once a page is older than the TTL, visitors still get it while one
// rebuild runs in the background (up to maxStale), so nobody waits for the
// 90 days of minutes a rebuild reads. Browsers and proxies may cache it for
// the same TTL.

// statusCache holds rendered status pages by slug.
type statusCache struct {
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu      sync.Mutex // guards entries
	entries map[string]*statusEntry
}

type statusEntry struct {
	code    int
	body    []byte
	gzipped []byte // body, compressed once for every visitor that takes gzip
	theme   []byte
	logo    []byte
	logoCT  string
	expires time.Time
}

// maxCachedPages bounds the cache; slugs that do not exist are cached too
// (as 404s), so a scan of random slugs cannot grow it without limit.
const maxCachedPages = 10_000

func newStatusCache(ttl time.Duration, now func() time.Time) *statusCache {
	return &statusCache{ttl: ttl, now: now, entries: map[string]*statusEntry{}}
}

// maxStale is how long past its TTL a page is still served while it is
// rebuilt; after that, visitors wait for the rebuild.
const maxStale = 5 * time.Minute

// get returns the cached page of slug, and whether it is past its TTL.
func (c *statusCache) get(slug string) (e *statusEntry, stale bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e = c.entries[slug]
	now := c.now()
	switch {
	case e == nil || now.After(e.expires.Add(maxStale)):
		return nil, false
	case now.After(e.expires):
		return e, true
	}
	return e, false
}

func (c *statusCache) put(slug string, e *statusEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedPages {
		now := c.now()
		for k, v := range c.entries {
			if now.After(v.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedPages {
			clear(c.entries)
		}
	}
	c.entries[slug] = e
}

// forget drops every cached page, after an ops change to a status page.
func (c *statusCache) forget() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

type statusData struct {
	Page    *berthv1.PublicStatusPage
	Overall string
	Class   string
	Slug    string
	TTL     int
}

func (d statusData) theme() string {
	if d.Page.GetAccentColor() == "" {
		return ""
	}
	return "/status/" + d.Slug + "/theme.css"
}

// entry returns the cached page of slug, building it when missing.
func (s *Server) statusEntry(r *http.Request, slug string) (*statusEntry, error) {
	if !slugRE.MatchString(slug) {
		return &statusEntry{code: http.StatusNotFound}, nil
	}
	e, stale := s.status.get(slug)
	if e != nil && !stale {
		return e, nil
	}
	build := func() (any, error) {
		if e, stale := s.status.get(slug); e != nil && !stale {
			return e, nil
		}
		e, err := s.buildStatus(r, slug)
		if err != nil {
			return nil, err
		}
		s.status.put(slug, e)
		return e, nil
	}
	if e != nil {
		// Rebuild in the background; a failed rebuild leaves the old page
		// until maxStale, and is logged.
		ch := s.status.group.DoChan(slug, build)
		go func() {
			if res := <-ch; res.Err != nil {
				s.log.Warn("rebuild status page", "slug", slug, "err", res.Err)
			}
		}()
		return e, nil
	}
	v, err, _ := s.status.group.Do(slug, build)
	if err != nil {
		return nil, err
	}
	return v.(*statusEntry), nil
}

func (s *Server) buildStatus(r *http.Request, slug string) (*statusEntry, error) {
	// Public data only: the call carries no session, whoever is viewing.
	// Every visitor waiting on this build shares it, so it does not end
	// when the first one goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx(r, nil)), 30*time.Second)
	defer cancel()
	e := &statusEntry{expires: s.now().Add(s.status.ttl)}
	resp, err := s.api.status.GetStatusPage(ctx, &berthv1.GetStatusPageRequest{Slug: slug})
	if status.Code(err) == codes.NotFound {
		e.code = http.StatusNotFound
		return e, nil
	} else if err != nil {
		return nil, err
	}
	p := resp.GetPage()
	d := statusData{Page: p, Slug: slug, TTL: int(s.status.ttl / time.Second)}
	d.Overall, d.Class = "All systems operational", "st-up"
	for _, site := range p.GetSites() {
		switch site.GetStatus() {
		case berthv1.MinuteStatus_MINUTE_STATUS_DOWN:
			d.Overall, d.Class = "Some sites are down", "st-down"
		case berthv1.MinuteStatus_MINUTE_STATUS_DEGRADED:
			if d.Class != "st-down" {
				d.Overall, d.Class = "Some sites are degraded", "st-degraded"
			}
		}
	}
	if len(p.GetSites()) == 0 {
		d.Overall, d.Class = "No sites are listed yet", "st-nodata"
	}
	var buf bytes.Buffer
	t := s.pages["status"]
	pg := page{Title: p.GetTitle() + " status", Data: d, Path: "/status/" + slug, Theme: d.theme()}
	if err := t.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("render status page: %w", err)
	}
	e.code, e.body = http.StatusOK, buf.Bytes()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(e.body)
	if err := zw.Close(); err == nil {
		e.gzipped = gz.Bytes()
	}
	if c := p.GetAccentColor(); colorRE.MatchString(c) {
		e.theme = []byte(":root{--accent:" + c + "}\n")
	}
	if p.GetHasLogo() {
		logo, err := s.api.status.GetStatusPageLogo(ctx, &berthv1.GetStatusPageLogoRequest{Slug: slug})
		if err != nil && status.Code(err) != codes.NotFound {
			return nil, err
		}
		e.logo, e.logoCT = logo.GetData(), logo.GetContentType()
	}
	return e, nil
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (with no q-value, or one above zero).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (s *Server) cacheHeaders(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.status.ttl/time.Second)))
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, _ *session) {
	e, err := s.statusEntry(r, r.PathValue("slug"))
	if err != nil {
		s.apiError(w, r, nil, err)
		return
	}
	if e.code != http.StatusOK {
		s.errorPage(w, r, nil, http.StatusNotFound, "No such status page",
			"Check the address. The page may also not be published yet.")
		return
	}
	s.cacheHeaders(w)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Vary", "Accept-Encoding")
	if e.gzipped != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		w.Write(e.gzipped)
		return
	}
	w.Write(e.body)
}

func (s *Server) statusTheme(w http.ResponseWriter, r *http.Request, _ *session) {
	e, err := s.statusEntry(r, r.PathValue("slug"))
	if err != nil || e.code != http.StatusOK || e.theme == nil {
		http.NotFound(w, r)
		return
	}
	s.cacheHeaders(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Write(e.theme)
}

func (s *Server) statusLogo(w http.ResponseWriter, r *http.Request, _ *session) {
	e, err := s.statusEntry(r, r.PathValue("slug"))
	if err != nil || e.code != http.StatusOK || e.logo == nil {
		http.NotFound(w, r)
		return
	}
	s.cacheHeaders(w)
	// Only PNG and JPEG are accepted by the API; say so, never sniff.
	w.Header().Set("Content-Type", e.logoCT)
	w.Write(e.logo)
}
