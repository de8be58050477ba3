package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

const (
	userAgent  = "Berth-Alerts/1"
	maxExcerpt = 200      // bytes of a failed response's body quoted in the error
	maxDrain   = 64 << 10 // bytes read from a response so the connection can be reused
)

// webhookPayload is the generic webhook's JSON body.
type webhookPayload struct {
	Event   string            `json:"event"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	Time    string            `json:"time"` // RFC 3339, UTC
	Fields  map[string]string `json:"fields"`
}

// slackPayload is the body Slack's incoming webhooks (and Mattermost's,
// Rocket.Chat's, Discord's /slack endpoint) accept.
type slackPayload struct {
	Text string `json:"text"`
}

// webhookBody returns the generic webhook's JSON. Strings and a map of
// strings always marshal (invalid UTF-8 becomes U+FFFD).
func webhookBody(a Alert) ([]byte, error) {
	fields := a.Fields
	if fields == nil {
		fields = map[string]string{} // {} rather than null for receivers
	}
	return json.Marshal(webhookPayload{
		Event:   a.Event,
		Subject: a.Subject,
		Text:    a.Text,
		Time:    a.Time.UTC().Format(time.RFC3339),
		Fields:  fields,
	})
}

// slackBody returns {"text": subject + "\n" + text}.
func slackBody(a Alert) ([]byte, error) {
	text := a.Subject
	if a.Text != "" {
		text += "\n" + a.Text
	}
	return json.Marshal(slackPayload{Text: text})
}

// postJSON posts body to rawURL and succeeds on a 2xx answer.
func (s *Sender) postJSON(ctx context.Context, rawURL string, body []byte) error {
	where := "webhook " + redactRawURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", where, withoutURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)

	resp, err := s.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", where, withoutURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return nil
	}
	msg := fmt.Sprintf("%s: status %s", where, resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		msg += " (redirects are not followed"
		if loc, err := resp.Location(); err == nil {
			msg += "; it points to " + redactURL(loc)
		}
		msg += ": use the final address)"
	}
	if ex := excerpt(resp.Body); ex != "" {
		msg += fmt.Sprintf(": %q", ex)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return errors.New(msg)
}

// httpClient returns the client for one Send: the caller's with redirects
// turned off, or the guarded default.
func (s *Sender) httpClient() *http.Client {
	if s.HTTPClient == nil {
		return defaultHTTPClient(s.timeout())
	}
	c := *s.HTTPClient
	c.CheckRedirect = noRedirect
	return &c
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// defaultHTTPClient ignores proxy settings from the environment: through a
// proxy the dialer's address check would see the proxy, not the receiver.
// Alerts are rare, so it does not keep connections alive and is built per
// Send rather than shared.
func defaultHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            metadataGuardDialer(timeout).DialContext,
			ForceAttemptHTTP2:      true,
			DisableKeepAlives:      true,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: noRedirect,
	}
}

// withoutURL unwraps the *url.Error that net/http returns, whose message
// repeats the full URL and with it the webhook's token.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// excerpt reads the start of a failed response's body as one printable
// line of at most maxExcerpt bytes.
func excerpt(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 2*maxExcerpt))
	s := strings.ToValidUTF8(string(b), "�")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	return cut(s, maxExcerpt)
}
