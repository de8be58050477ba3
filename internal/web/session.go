package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// A login is an API session token (AuthService.Login) kept in a cookie that
// scripts cannot read (HttpOnly), that only travels over HTTPS (Secure, and
// the __Host- prefix, which also pins it to this host and path /), and that
// other sites' forms do not send (SameSite=Lax). It expires with the token.
//
// Forms carry a CSRF token derived from the session token, so it changes with
// every login and is worthless without the cookie. The login form, which has
// no session yet, pairs a random token in a short-lived cookie with the same
// value in the form (double submit). Cross-origin form posts are also refused
// by net/http's CrossOriginProtection before they reach a handler.

const csrfField = "csrf"

// The cookies: the login session, the login form's token, and the one-time
// message of the last form.
const (
	sessionCookie = "__Host-berth_session"
	loginCookie   = "__Host-berth_login"
	flashCookie   = "__Host-berth_flash"
)

// session is a logged-in viewer.
type session struct {
	token string
	who   *berthv1.WhoAmIResponse
	// flash is the one-time message of the previous form, if any.
	flash string
}

func (s *session) admin() bool { return s != nil && s.who.GetRole() == berthv1.Role_ROLE_ADMIN }

// loggedIn reports whether there is a viewer.
func (s *session) loggedIn() bool { return s != nil && s.who != nil }

// csrf is the session's form token.
func (s *session) csrf() string {
	if s == nil || s.token == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(s.token))
	m.Write([]byte("berth dashboard form"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *session) validCSRF(got string) bool {
	want := s.csrf()
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

var errNoSession = errors.New("no session")

// session returns the viewer of r, checked with the API.
func (s *Server) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, errNoSession
	}
	sess := &session{token: c.Value}
	who, err := s.api.auth.WhoAmI(s.ctx(r, sess), &berthv1.WhoAmIRequest{})
	if err != nil {
		return nil, err
	}
	if who.GetUserId() == "" {
		// Only users log in; an API token pasted into a cookie is refused.
		return nil, errNoSession
	}
	sess.who = who
	if f, err := r.Cookie(flashCookie); err == nil {
		sess.flash, _ = url.QueryUnescape(f.Value)
	}
	return sess, nil
}

// optionalSession is the viewer of a public page, or nil.
func (s *Server) optionalSession(r *http.Request) *session {
	sess, err := s.session(r)
	if err != nil {
		return nil
	}
	return sess
}

// toLogin sends a viewer without a valid session to the login page, back to
// where they were going afterwards. Forms and non-GET requests get a 401
// page rather than a redirect that would drop what they sent.
func (s *Server) toLogin(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, errNoSession) && status.Code(err) != codes.Unauthenticated {
		s.log.Error("dashboard session check failed", "err", err)
		s.errorPage(w, r, nil, http.StatusServiceUnavailable, "Berth is busy", "Try again in a moment.")
		return
	}
	s.clearCookie(w, sessionCookie)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.errorPage(w, r, nil, http.StatusUnauthorized, "Your session has ended", "Log in again, then repeat what you were doing.")
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
}

// setFlash keeps a message for the next page the viewer sees.
func (s *Server) setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	})
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeNext is the local path to go to after login: only paths on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") {
		return "/"
	}
	return next
}

type loginData struct {
	Email, Next, Error, Token string
}

// loginPage shows the login form, also to someone logged in: logging in
// again (perhaps as someone else) replaces their session.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.renderLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, code int, d loginData) {
	// Login forms open in several tabs share one token.
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == len(randomToken()) {
		d.Token = c.Value
	} else {
		d.Token = randomToken()
	}
	s.setCookie(w, loginCookie, d.Token, s.now().Add(time.Hour))
	s.render(w, r, nil, code, "login", "Log in", d)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, nil, http.StatusBadRequest, "The form could not be read", err.Error())
		return
	}
	d := loginData{Email: r.PostForm.Get("email"), Next: safeNext(r.PostForm.Get("next"))}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get(csrfField))) != 1 {
		d.Error = "The login form expired. Please try again."
		s.renderLogin(w, r, http.StatusForbidden, d)
		return
	}
	resp, err := s.api.auth.Login(s.ctx(r, nil), &berthv1.LoginRequest{Email: d.Email, Password: r.PostForm.Get("password")})
	if err != nil {
		code := http.StatusUnauthorized
		switch status.Code(err) {
		case codes.Unauthenticated, codes.InvalidArgument:
			d.Error = "The email or password is wrong."
		case codes.ResourceExhausted:
			code, d.Error = http.StatusTooManyRequests, status.Convert(err).Message()
		default:
			s.apiError(w, r, nil, err)
			return
		}
		s.renderLogin(w, r, code, d)
		return
	}
	// A fresh session on every login; the one this browser had ends.
	if old, err := r.Cookie(sessionCookie); err == nil && old.Value != "" {
		_, _ = s.api.auth.Logout(s.ctx(r, &session{token: old.Value}), &berthv1.LogoutRequest{})
	}
	s.clearCookie(w, loginCookie)
	s.setCookie(w, sessionCookie, resp.GetToken(), resp.GetExpireTime().AsTime())
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := s.api.auth.Logout(s.ctx(r, sess), &berthv1.LogoutRequest{}); err != nil && status.Code(err) != codes.Unauthenticated {
		s.apiError(w, r, sess, err)
		return
	}
	s.clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request, sess *session) {
	if sess.admin() {
		http.Redirect(w, r, "/ops", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
}

type accountData struct {
	Error string
}

func (s *Server) account(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, r, sess, http.StatusOK, "account", "Your account", accountData{})
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, sess *session) {
	f := r.PostForm
	if f.Get("new_password") != f.Get("confirm_password") {
		s.render(w, r, sess, http.StatusBadRequest, "account", "Your account", accountData{Error: "The two new passwords differ."})
		return
	}
	_, err := s.api.auth.ChangePassword(s.ctx(r, sess), &berthv1.ChangePasswordRequest{
		CurrentPassword: f.Get("current_password"), NewPassword: f.Get("new_password"),
	})
	if s.failed(w, r, sess, err, func(msg string) {
		s.render(w, r, sess, http.StatusBadRequest, "account", "Your account", accountData{Error: msg})
	}) {
		return
	}
	s.redirect(w, r, "/account", "Password changed. Your other sessions have been logged out.")
}
