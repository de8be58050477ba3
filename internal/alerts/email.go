package alerts

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/smtp"
	"os"
	"slices"
	"strings"
	"time"
)

// implicitTLSPort is the submissions port (RFC 8314): TLS from the first
// byte instead of STARTTLS.
const implicitTLSPort = "465"

// sendMail delivers a through ch's SMTP server. from and to are the
// normalized addresses from checkDelivery.
func (s *Sender) sendMail(ctx context.Context, ch Channel, from string, to []string, a Alert) error {
	where := "smtp " + ch.SMTPAddress
	host, port, err := net.SplitHostPort(ch.SMTPAddress)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err) // checked by checkDelivery
	}
	msg := buildMessage(from, to, a)

	conn, err := s.dial(ctx, ch.SMTPAddress)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	defer conn.Close()
	// net/smtp knows no context: a deadline bounds every read and write,
	// and cancelling ctx moves it into the past to end a blocked one.
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if err := s.converse(ctx, conn, host, port == implicitTLSPort, ch, from, to, msg); err != nil {
		ctxErr := ctx.Err()
		if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			// The conn's deadline is ctx's and may fire before ctx's timer.
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil {
			return fmt.Errorf("%s: %w (%w)", where, err, ctxErr)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

func (s *Sender) dial(ctx context.Context, address string) (net.Conn, error) {
	if s.DialContext != nil {
		return s.DialContext(ctx, "tcp", address)
	}
	return metadataGuardDialer(s.timeout()).DialContext(ctx, "tcp", address)
}

// converse runs the SMTP dialogue on conn. It refuses to go on without TLS
// before AUTH or MAIL, so neither the password nor the alert crosses the
// network in clear unless AllowPlainLoopback allows it for a loopback peer.
func (s *Sender) converse(ctx context.Context, conn net.Conn, host string, implicitTLS bool, ch Channel, from string, to []string, msg []byte) error {
	secure := false
	if implicitTLS {
		tc := tls.Client(conn, s.tlsConfig(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		conn, secure = tc, true
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(s.hostname()); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig(host)); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			secure = true
		} else if !s.AllowPlainLoopback || !isLoopback(conn.RemoteAddr()) {
			return errors.New("the server does not offer STARTTLS; refusing to send the password and the alert unencrypted (use a port with STARTTLS, usually 587, or 465 for TLS)")
		}
	}
	if ch.SMTPUsername != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok || !slices.Contains(strings.Fields(strings.ToUpper(mechs)), "PLAIN") {
			return errors.New("the server does not offer AUTH PLAIN; remove the user name if it needs no login")
		}
		if err := c.Auth(plainAuth{user: ch.SMTPUsername, password: ch.SMTPPassword}); err != nil {
			return fmt.Errorf("auth as %q: %w", ch.SMTPUsername, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from <%s>: %w", from, err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			return fmt.Errorf("rcpt to <%s>: %w", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// Close ends DATA and reads the server's verdict on the message.
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	// The message is accepted; a failed QUIT must not cause a duplicate.
	_ = c.Quit()
	return nil
}

// tlsConfig returns the TLS configuration for the SMTP server host.
func (s *Sender) tlsConfig(host string) *tls.Config {
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// isLoopback reports whether addr, the connection's remote address, is a
// loopback address. It judges the peer actually reached, not the name in
// the channel's settings.
func isLoopback(addr net.Addr) bool {
	if addr == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

// plainAuth is AUTH PLAIN (RFC 4616). Unlike net/smtp.PlainAuth, which
// allows clear text only for the names "localhost", "127.0.0.1" and "::1",
// it leaves the decision to converse, which checks the peer's address.
type plainAuth struct {
	user, password string
}

func (a plainAuth) Start(*smtp.ServerInfo) (string, []byte, error) {
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.password), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected challenge after AUTH PLAIN")
	}
	return nil, nil
}
