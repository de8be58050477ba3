package alerts

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/shared/validate"
	"github.com/google/go-cmp/cmp"
)

// webhookToken stands for the secret in a webhook URL's path.
const webhookToken = "T0K3N-s3cr3t-do-not-leak"

// recorded is one request a test receiver got.
type recorded struct {
	Method, Path, ContentType, UserAgent string
	Body                                 []byte
}

// receiver is an httptest server that records requests and answers with
// handle (default: 200 "ok").
type receiver struct {
	*httptest.Server

	mu   sync.Mutex // guards reqs
	reqs []recorded
}

func startReceiver(t *testing.T, handle http.HandlerFunc) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, recorded{
			Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
			UserAgent: r.Header.Get("User-Agent"), Body: body,
		})
		rc.mu.Unlock()
		if handle != nil {
			handle(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

// hookURL is the receiver's address with a token in the path and query,
// as real webhook URLs have.
func (rc *receiver) hookURL() string {
	return rc.URL + "/hooks/" + webhookToken + "?token=" + webhookToken
}

func webhookChannel(url string) Channel {
	return Channel{ID: "ch_1", Name: "Ops hook", Kind: KindWebhook, URL: url}
}

func TestSendWebhook(t *testing.T) {
	rc := startReceiver(t, nil)
	a := Alert{
		Event:   EventIncidentOpened,
		Subject: "DOWN: www.example.com (Acme Ltd)",
		Text:    "www.example.com has not answered since 10:04 UTC.\nStatus: 503",
		Time:    time.Date(2026, 3, 4, 10, 4, 0, 0, time.FixedZone("CET", 3600)),
		Fields:  map[string]string{"site_id": "site_1", "incident_id": "inc_1", "domain": "www.example.com"},
	}
	// The default client: loopback receivers are allowed.
	if err := new(Sender).Send(t.Context(), webhookChannel(rc.hookURL()), a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if diff := cmp.Diff(recorded{
		Method: "POST", Path: "/hooks/" + webhookToken,
		ContentType: "application/json", UserAgent: "Berth-Alerts/1",
	}, r, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Body" }, cmp.Ignore())); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	want := map[string]any{
		"event":   "incident.opened",
		"subject": "DOWN: www.example.com (Acme Ltd)",
		"text":    "www.example.com has not answered since 10:04 UTC.\nStatus: 503",
		"time":    "2026-03-04T09:04:00Z",
		"fields":  map[string]any{"site_id": "site_1", "incident_id": "inc_1", "domain": "www.example.com"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON body (-want +got):\n%s", diff)
	}
}

func TestSendWebhookNilFields(t *testing.T) {
	rc := startReceiver(t, nil)
	a := Alert{Event: EventTest, Subject: "Test", Time: time.Unix(0, 0)}
	if err := new(Sender).Send(t.Context(), webhookChannel(rc.hookURL()), a); err != nil {
		t.Fatal(err)
	}
	if got, want := string(rc.requests()[0].Body), `{"event":"test","subject":"Test","text":"","time":"1970-01-01T00:00:00Z","fields":{}}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestSendSlack(t *testing.T) {
	rc := startReceiver(t, nil)
	ch := Channel{Name: "Slack", Kind: KindSlack, URL: rc.hookURL()}
	a := Alert{Event: EventIncidentResolved, Subject: "UP: www.example.com", Text: "Down for 4m 10s.", Fields: map[string]string{"x": "y"}}
	if err := new(Sender).Send(t.Context(), ch, a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := rc.requests()[0]
	if r.ContentType != "application/json" || r.UserAgent != "Berth-Alerts/1" {
		t.Errorf("Content-Type %q, User-Agent %q", r.ContentType, r.UserAgent)
	}
	if got, want := string(r.Body), `{"text":"UP: www.example.com\nDown for 4m 10s."}`; got != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestSendWebhookFailures(t *testing.T) {
	tests := []struct {
		name    string
		handle  http.HandlerFunc
		wantErr []string
	}{
		{
			name: "500 with body",
			handle: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "database\n\tis down\x1b[31m "+strings.Repeat("x", 1000))
			},
			wantErr: []string{"status 500 Internal Server Error", `"database is down [31m xxx`, "…"},
		},
		{
			name:    "404 without body",
			handle:  func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
			wantErr: []string{"status 404 Not Found"},
		},
		{
			name: "redirect is not followed",
			handle: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/hooks/"+webhookToken, http.StatusFound)
			},
			wantErr: []string{"status 302 Found", "redirects are not followed", "it points to https://elsewhere.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := startReceiver(t, tt.handle)
			err := new(Sender).Send(t.Context(), webhookChannel(rc.hookURL()), Alert{Subject: "x"})
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			for _, want := range append(tt.wantErr, "webhook "+rc.URL+":") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			checkNoSecret(t, err)
			if n := len(rc.requests()); n != 1 {
				t.Errorf("receiver got %d requests, want exactly 1", n)
			}
		})
	}
}

// TestSendWebhookNoRedirectWithCallersClient: a caller's client that would
// follow redirects still does not.
func TestSendWebhookNoRedirectWithCallersClient(t *testing.T) {
	target := startReceiver(t, nil)
	rc := startReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	s := &Sender{HTTPClient: &http.Client{Timeout: 5 * time.Second}}
	err := s.Send(t.Context(), webhookChannel(rc.hookURL()), Alert{Subject: "x"})
	if err == nil || !strings.Contains(err.Error(), "status 307") {
		t.Fatalf("Send = %v, want a 307 error", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect target got %d requests, want 0", n)
	}
	if s.HTTPClient.CheckRedirect != nil {
		t.Error("Send changed the caller's client")
	}
}

func TestSendWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	rc := startReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release) // before rc.Close, which waits for handlers

	for _, s := range []*Sender{
		{Timeout: 200 * time.Millisecond},
		{Timeout: 200 * time.Millisecond, HTTPClient: &http.Client{}}, // caller's client without a timeout
	} {
		start := time.Now()
		err := s.Send(t.Context(), webhookChannel(rc.hookURL()), Alert{Subject: "x"})
		if err == nil {
			t.Fatal("Send succeeded, want a timeout")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v, want about 200ms", d)
		}
		if !strings.Contains(err.Error(), "webhook "+rc.URL+": ") {
			t.Errorf("error %q does not name the receiver as scheme://host", err)
		}
		checkNoSecret(t, err)
	}
}

func TestSendWebhookConnectionRefused(t *testing.T) {
	rc := startReceiver(t, nil)
	url := rc.hookURL()
	rc.Close()
	err := new(Sender).Send(t.Context(), webhookChannel(url), Alert{Subject: "x"})
	if err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Send = %v, want a connection error", err)
	}
	checkNoSecret(t, err)
}

func TestSendRejectsInvalidChannel(t *testing.T) {
	for _, ch := range []Channel{
		{Kind: KindWebhook, URL: "ftp://hooks.example.com/" + webhookToken},
		{Kind: KindSlack, URL: "http://169.254.169.254/latest/meta-data/?" + webhookToken},
		{Kind: KindEmail, SMTPAddress: "[fe80::1]:25", EmailFrom: "a@example.com", EmailTo: []string{"b@example.com"}},
		{Kind: "pager"},
	} {
		err := new(Sender).Send(t.Context(), ch, Alert{Subject: "x"})
		var ve *validate.Error
		if !errors.As(err, &ve) {
			t.Errorf("Send(%+v) = %v, want a *validate.Error", ch, err)
			continue
		}
		checkNoSecret(t, err)
	}
}

func TestDefaultClientRefusesMetadata(t *testing.T) {
	// The check runs in the dialer's Control hook, after DNS resolution and
	// before connect; call it directly so no packet leaves the machine.
	for _, addr := range []string{
		"169.254.169.254:80", "[fe80::1]:80", "[::ffff:169.254.169.254]:80",
		"[fd00:ec2::254]:80", "100.100.100.200:80", "0.0.0.0:80", "224.0.0.1:80",
	} {
		if err := refuseMetadataControl("tcp", addr, nil); err == nil || !strings.Contains(err.Error(), "refusing to connect") {
			t.Errorf("refuseMetadataControl(%s) = %v, want a refusal", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:80", "[::1]:25", "10.0.0.5:443", "192.168.1.2:587", "93.184.215.14:443", "[2001:db8::1]:443"} {
		if err := refuseMetadataControl("tcp", addr, nil); err != nil {
			t.Errorf("refuseMetadataControl(%s) = %v, want nil", addr, err)
		}
	}
	c := defaultHTTPClient(time.Second)
	if tr := c.Transport.(*http.Transport); tr.Proxy != nil || !tr.DisableKeepAlives {
		t.Error("default transport uses a proxy or keeps connections alive")
	}
	if c.Timeout != time.Second || c.CheckRedirect == nil {
		t.Errorf("default client: Timeout %v, CheckRedirect set %v", c.Timeout, c.CheckRedirect != nil)
	}
}
