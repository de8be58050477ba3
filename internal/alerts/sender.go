package alerts

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout bounds one Send when Sender.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Sender delivers one alert to one channel, once: it does not retry, queue
// or deduplicate; the caller does, with NextAttempt. The zero value is
// ready to use. A Sender is safe for concurrent use once its fields are set,
// and keeps no state between calls.
type Sender struct {
	// HTTPClient posts webhook and Slack alerts. The control plane passes a
	// client built on the probe guard's dialer. Whatever its CheckRedirect
	// says, redirects are not followed: a 3xx is a failed delivery. Nil: a
	// client bounded by Timeout, with no proxy and no keep-alive, whose
	// dialer refuses link-local and cloud metadata addresses.
	HTTPClient *http.Client

	// DialContext connects to SMTP servers. Nil: a net.Dialer that refuses
	// link-local and cloud metadata addresses.
	DialContext func(ctx context.Context, network, address string) (net.Conn, error)

	// Timeout bounds one Send, from dialing to the server's last answer, on
	// top of any deadline ctx has. Zero: DefaultTimeout.
	Timeout time.Duration

	// Hostname is the name given in SMTP EHLO, ideally the control plane's
	// public host name: some servers reject a bare "localhost". Empty:
	// "localhost".
	Hostname string

	// TLSConfig is the base of the TLS configuration for SMTP (STARTTLS or
	// port 465), e.g. RootCAs for a private CA. It is cloned; ServerName
	// defaults to the host of the channel's SMTPAddress. Nil: the system
	// roots, TLS 1.2 or newer.
	TLSConfig *tls.Config

	// AllowPlainLoopback lets e-mail go without TLS, AUTH PLAIN included,
	// when the SMTP server does not offer STARTTLS and the connection's
	// remote address is loopback (a local relay such as Postfix on
	// 127.0.0.1:25). Otherwise such a server is refused before AUTH or
	// MAIL. A server that offers STARTTLS always gets it, with the
	// certificate verified, loopback or not. False by default so that a
	// zero Sender never sends in clear; berthd sets it, as AlertService
	// documents plain SMTP on loopback.
	AllowPlainLoopback bool
}

// Send delivers a to ch once. It first checks ch's delivery settings (the
// error is then a *validate.Error, which retrying will not fix), then posts
// the webhook or sends the mail. It returns nil only when the receiver has
// accepted the alert: a 2xx answer, or the SMTP server's 250 after DATA.
//
// Send returns when ctx is done or Timeout has passed, whichever is first.
// Errors name the channel's host (a URL as scheme://host only) and never
// contain the webhook URL's path or query or the SMTP password.
func (s *Sender) Send(ctx context.Context, ch Channel, a Alert) error {
	from, to, err := checkDelivery(ch)
	if err != nil {
		return err
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	switch ch.Kind {
	case KindWebhook:
		body, err := webhookBody(a)
		if err != nil {
			return fmt.Errorf("encode webhook alert: %w", err)
		}
		return s.postJSON(ctx, ch.URL, body)
	case KindSlack:
		body, err := slackBody(a)
		if err != nil {
			return fmt.Errorf("encode slack alert: %w", err)
		}
		return s.postJSON(ctx, ch.URL, body)
	case KindEmail:
		return s.sendMail(ctx, ch, from, to, a)
	}
	// Unreachable: checkDelivery accepts the kinds above only.
	return fmt.Errorf("alerts: unknown channel kind %q", ch.Kind)
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s *Sender) hostname() string {
	if s.Hostname != "" {
		return s.Hostname
	}
	return "localhost"
}
