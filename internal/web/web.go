// Package web is Berth's dashboard: the ops console, the client portal, the
// public status pages and the printable SLA reports, served by berthd on its
// one TLS port.
//
// The dashboard holds no authority of its own. Every page reads and writes
// through the v1 API over berthd's in-process gRPC connection, with the
// viewer's login session as the bearer token, so a page can show or change
// nothing the viewer could not through the CLI or REST, and every change is
// authorized and audited by the same interceptors.
//
// Pages are html/template with embedded assets, charts are SVG rendered on
// the server, and the one small script only enhances: every page works
// without it and prints well.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures a Server. Conn is required.
type Options struct {
	// Conn reaches the v1 API; berthd passes its in-process connection.
	Conn grpc.ClientConnInterface
	// Logger receives errors the viewer only sees as "something went wrong".
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// StatusCacheTTL is how long a public status page is served from memory
	// and may be cached by browsers and proxies (default 30 s).
	StatusCacheTTL time.Duration
}

// Server serves the dashboard. Create it with New.
type Server struct {
	api    apiClients
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	status *statusCache
	mux    *http.ServeMux
	routes []Route
}

// apiClients are the v1 services the pages use.
type apiClients struct {
	auth     berthv1.AuthServiceClient
	clients  berthv1.ClientServiceClient
	sites    berthv1.SiteServiceClient
	nodes    berthv1.NodeServiceClient
	users    berthv1.UserServiceClient
	audit    berthv1.AuditServiceClient
	releases berthv1.ReleaseServiceClient
	logs     berthv1.LogServiceClient
	uptime   berthv1.UptimeServiceClient
	alerts   berthv1.AlertServiceClient
	status   berthv1.StatusPageServiceClient
}

// New returns a Server.
func New(o Options) (*Server, error) {
	if o.Conn == nil {
		return nil, errors.New("web: Options.Conn is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StatusCacheTTL <= 0 {
		o.StatusCacheTTL = 30 * time.Second
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := o.Conn
	s := &Server{
		api: apiClients{
			auth:     berthv1.NewAuthServiceClient(c),
			clients:  berthv1.NewClientServiceClient(c),
			sites:    berthv1.NewSiteServiceClient(c),
			nodes:    berthv1.NewNodeServiceClient(c),
			users:    berthv1.NewUserServiceClient(c),
			audit:    berthv1.NewAuditServiceClient(c),
			releases: berthv1.NewReleaseServiceClient(c),
			logs:     berthv1.NewLogServiceClient(c),
			uptime:   berthv1.NewUptimeServiceClient(c),
			alerts:   berthv1.NewAlertServiceClient(c),
			status:   berthv1.NewStatusPageServiceClient(c),
		},
		log:   o.Logger,
		now:   o.Now,
		pages: pages,
	}
	s.status = newStatusCache(o.StatusCacheTTL, o.Now)
	s.routes = s.routeTable()
	s.mux = http.NewServeMux()
	for _, rt := range s.routes {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.notFound(w, r, s.optionalSession(r))
	})
	return s, nil
}

// Handler returns the dashboard's handler, with the security headers and
// cross-origin protection on every response.
func (s *Server) Handler() http.Handler {
	return SecurityHeaders(http.NewCrossOriginProtection().Handler(s.mux))
}

// Access is who may use a route.
type Access int

const (
	// Public routes need no login.
	Public Access = iota
	// Anyone is any logged-in user, admin or client.
	Anyone
	// Admin routes are the ops console: client users get 404.
	Admin
)

// Route is one page or form of the dashboard.
type Route struct {
	Method  string
	Pattern string
	Access  Access
	// NoCSRF marks a POST that checks its CSRF token itself (a streamed
	// upload) or needs none (login has its own).
	NoCSRF  bool
	handler func(w http.ResponseWriter, r *http.Request, sess *session)
}

// Routes lists the dashboard's routes, for tests that cover each of them.
func (s *Server) Routes() []Route { return s.routes }

// guard wraps a route's handler with its access rule and, for forms, the
// CSRF check.
func (s *Server) guard(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		switch rt.Access {
		case Public:
			sess = s.optionalSession(r)
		default:
			var err error
			sess, err = s.session(r)
			if err != nil {
				s.toLogin(w, r, err)
				return
			}
			if rt.Access == Admin && !sess.admin() {
				// A client user cannot tell an ops page from a missing one.
				s.notFound(w, r, sess)
				return
			}
		}
		if r.Method == http.MethodPost && !rt.NoCSRF {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, sess, http.StatusBadRequest, "The form could not be read", err.Error())
				return
			}
			if !sess.validCSRF(r.PostForm.Get(csrfField)) {
				s.errorPage(w, r, sess, http.StatusForbidden, "The form has expired",
					"Go back, reload the page and submit the form again.")
				return
			}
		}
		rt.handler(w, r, sess)
	})
}

// maxFormBytes bounds form bodies other than release uploads.
const maxFormBytes = 256 << 10

// ctx returns the context for API calls on behalf of the viewer: their
// session token and their address, as the REST gateway would send them.
func (s *Server) ctx(r *http.Request, sess *session) context.Context {
	md := metadata.MD{}
	if sess != nil && sess.token != "" {
		md.Set("authorization", "Bearer "+sess.token)
	}
	md.Set("x-forwarded-for", clientIP(r))
	return metadata.NewOutgoingContext(r.Context(), md)
}

func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// apiError renders the page for an API error: NotFound (and PermissionDenied,
// which a client user must not tell from it) as 404, a lost session as the
// login page, bad input with the API's message, anything else as a 500 with
// details only in the log.
func (s *Server) apiError(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound, codes.PermissionDenied:
		s.notFound(w, r, sess)
	case codes.Unauthenticated:
		s.toLogin(w, r, err)
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange:
		s.errorPage(w, r, sess, http.StatusBadRequest, "That did not work", st.Message())
	case codes.ResourceExhausted:
		s.errorPage(w, r, sess, http.StatusTooManyRequests, "Too many attempts", st.Message())
	case codes.Unavailable, codes.DeadlineExceeded:
		s.errorPage(w, r, sess, http.StatusServiceUnavailable, "Berth is busy", "Try again in a moment.")
	default:
		s.log.Error("dashboard page failed", "path", r.URL.Path, "err", err)
		s.errorPage(w, r, sess, http.StatusInternalServerError, "Something went wrong",
			"The error is in berthd's log. Try again, and tell the agency if it keeps happening.")
	}
}

// failed handles the error of a form's API call: bad input shows the form
// again through retry, with the API's message; any other error gets its
// page. It reports whether there was an error.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, sess *session, err error, retry func(msg string)) bool {
	if err == nil {
		return false
	}
	if msg := formMessage(err); msg != "" {
		retry(msg)
		return true
	}
	s.apiError(w, r, sess, err)
	return true
}

// formMessage is the text of an API error to show beside a form, or "" when
// the error is not about the input.
func formMessage(err error) string {
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.OutOfRange, codes.ResourceExhausted:
		return st.Message()
	}
	return ""
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request, sess *session) {
	s.errorPage(w, r, sess, http.StatusNotFound, "Not found",
		"There is nothing here, or it is not yours to see. Check the address, or start from the home page.")
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, sess *session, code int, title, detail string) {
	s.render(w, r, sess, code, "error", title, struct{ Detail string }{detail})
}

// redirect sends the browser to path after a form, with a one-time message.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, path, flash string) {
	if flash != "" {
		s.setFlash(w, flash)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// staticHandler serves the embedded assets, cacheable for a day.
func staticHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}

// SecurityHeaders sets the headers every dashboard response carries: a strict
// Content-Security-Policy (scripts and styles only from this origin, no
// inline code, no framing), nosniff, a same-origin Referrer-Policy and no
// caching of personal pages unless the handler says otherwise.
func SecurityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		h.ServeHTTP(w, r)
	})
}

const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
