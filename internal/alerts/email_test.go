package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	smtpUser     = "alerts@berth.test"
	smtpPassword = "pw-7f3a9c1e-do-not-leak"
)

func emailChannel(addr string) Channel {
	return Channel{
		ID:           "ch_1",
		Name:         "Ops mail",
		Kind:         KindEmail,
		SMTPAddress:  addr,
		SMTPUsername: smtpUser,
		SMTPPassword: smtpPassword,
		EmailFrom:    "alerts@berth.test",
		EmailTo:      []string{"ops@acme.test", "Dev@Acme.TEST"},
	}
}

// testAlert has a non-ASCII subject, a line that is a lone dot (which ends
// DATA unless it is dot-stuffed), a line starting with a dot, a "=" (QP's
// escape) and a line longer than QP's 76 characters.
func testAlert() Alert {
	return Alert{
		Event:   EventIncidentOpened,
		Subject: "DOWN: bücher.example — Acme Ltd",
		Text: "bücher.example is not answering.\n" +
			".\n" +
			".well-known checks fail too\r\n" +
			"status=503\n" +
			strings.Repeat("long line ", 12) + "end",
		Time:   time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Fields: map[string]string{"site": "bücher"},
	}
}

func TestSendEmailSTARTTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startMailServer(t, mailServerOptions{
		TLS:  &tls.Config{Certificates: []tls.Certificate{pki.server}},
		User: smtpUser, Password: smtpPassword,
	})
	s := &Sender{TLSConfig: &tls.Config{RootCAs: pki.roots}, Hostname: "berth.example"}
	a := testAlert()
	if err := s.Send(t.Context(), emailChannel(srv.Addr), a); err != nil {
		t.Fatalf("Send: %v", err)
	}

	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if !got.TLS {
		t.Error("message did not come over TLS")
	}
	if got.User != smtpUser {
		t.Errorf("authenticated user = %q, want %q", got.User, smtpUser)
	}
	if got.Helo != "berth.example" {
		t.Errorf("EHLO name = %q, want %q", got.Helo, "berth.example")
	}
	if got.From != "alerts@berth.test" {
		t.Errorf("MAIL FROM = %q, want alerts@berth.test", got.From)
	}
	// The recipient's domain is normalized to lower case, its local part kept.
	if diff := cmp.Diff([]string{"ops@acme.test", "Dev@acme.test"}, got.To); diff != "" {
		t.Errorf("RCPT TO (-want +got):\n%s", diff)
	}
	checkMessage(t, got.Data, a)
}

// checkMessage checks the headers and body of a message built from a.
func checkMessage(t *testing.T, data []byte, a Alert) {
	t.Helper()
	if n, crlf := bytes.Count(data, []byte("\n")), bytes.Count(data, []byte("\r\n")); n != crlf {
		t.Errorf("message has %d line feeds but %d CRLFs: every line must end in CRLF\n%s", n, crlf, data)
	}
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d is %d bytes long, want at most 78: %q", i+1, len(line), line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, data)
	}
	h := msg.Header
	if got := h.Get("From"); got != "alerts@berth.test" {
		t.Errorf("From = %q, want alerts@berth.test", got)
	}
	to, err := h.AddressList("To")
	if err != nil {
		t.Errorf("To: %v", err)
	}
	var toAddrs []string
	for _, addr := range to {
		toAddrs = append(toAddrs, addr.Address)
	}
	if diff := cmp.Diff([]string{"ops@acme.test", "Dev@acme.test"}, toAddrs); diff != "" {
		t.Errorf("To (-want +got):\n%s", diff)
	}
	rawSubject := h.Get("Subject")
	if !strings.HasPrefix(rawSubject, "=?utf-8?q?") {
		t.Errorf("Subject = %q, want RFC 2047 Q-encoding", rawSubject)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(rawSubject)
	if err != nil || subject != a.Subject {
		t.Errorf("decoded Subject = %q, %v; want %q", subject, err, a.Subject)
	}
	date, err := h.Date()
	if err != nil || !date.Equal(a.Time) {
		t.Errorf("Date = %v, %v; want %v", date, err, a.Time)
	}
	if id := h.Get("Message-ID"); !regexp.MustCompile(`^<[A-Z2-7]{26}@berth\.test>$`).MatchString(id) {
		t.Errorf("Message-ID = %q, want <random@berth.test>", id)
	}
	for name, want := range map[string]string{
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
		"X-Berth-Event":             a.Event,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(a.Text, "\r\n", "\n"), "\n", "\r\n") + "\r\n"
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestSendEmailImplicitTLS(t *testing.T) {
	pki := newTestPKI(t)
	srv := startMailServer(t, mailServerOptions{
		TLS:         &tls.Config{Certificates: []tls.Certificate{pki.server}},
		ImplicitTLS: true,
		User:        smtpUser, Password: smtpPassword,
	})
	s := &Sender{TLSConfig: &tls.Config{RootCAs: pki.roots}}
	ch := emailChannel(srv.Addr)
	// Port 465 selects implicit TLS; the test server has a random port, so
	// call the dialogue directly.
	from, to, err := checkDelivery(ch)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	a := testAlert()
	if err := s.converse(t.Context(), conn, "127.0.0.1", true, ch, from, to, buildMessage(from, to, a)); err != nil {
		t.Fatalf("converse over implicit TLS: %v", err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != smtpUser {
		t.Fatalf("server received %+v, want one message over TLS from %s", msgs, smtpUser)
	}
	checkMessage(t, msgs[0].Data, a)
}

func TestSendEmailRefusesPlainServer(t *testing.T) {
	// A server without STARTTLS that would even take AUTH in clear text.
	srv := startMailServer(t, mailServerOptions{
		User: smtpUser, Password: smtpPassword, AllowInsecureAuth: true,
	})
	s := &Sender{} // AllowPlainLoopback false: loopback gets no exception
	err := s.Send(t.Context(), emailChannel(srv.Addr), testAlert())
	if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Fatalf("Send = %v, want a refusal naming STARTTLS", err)
	}
	if !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("error %q does not name the server %s", err, srv.Addr)
	}
	checkNoSecret(t, err)
	if n := srv.auths(); n != 0 {
		t.Errorf("server saw %d AUTH attempts, want none before TLS", n)
	}
	if msgs := srv.messages(); len(msgs) != 0 {
		t.Errorf("server received %d messages, want none", len(msgs))
	}
}

func TestSendEmailPlainLoopbackAllowed(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{
		User: smtpUser, Password: smtpPassword, AllowInsecureAuth: true,
	})
	s := &Sender{AllowPlainLoopback: true}
	a := testAlert()
	if err := s.Send(t.Context(), emailChannel(srv.Addr), a); err != nil {
		t.Fatalf("Send to a plain server on loopback with AllowPlainLoopback: %v", err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || msgs[0].TLS || msgs[0].User != smtpUser {
		t.Fatalf("server received %+v, want one plain message from %s", msgs, smtpUser)
	}
	checkMessage(t, msgs[0].Data, a)
}

func TestSendEmailNoAuth(t *testing.T) {
	// A local relay that needs no login: no AUTH is sent at all.
	srv := startMailServer(t, mailServerOptions{})
	ch := emailChannel(srv.Addr)
	ch.SMTPUsername, ch.SMTPPassword = "", ""
	s := &Sender{AllowPlainLoopback: true}
	if err := s.Send(t.Context(), ch, testAlert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := srv.auths(); n != 0 {
		t.Errorf("server saw %d AUTH attempts, want none", n)
	}
	if msgs := srv.messages(); len(msgs) != 1 || msgs[0].User != "" {
		t.Errorf("server received %+v, want one message without login", msgs)
	}
}

func TestSendEmailFailures(t *testing.T) {
	pki := newTestPKI(t)
	tlsServer := &tls.Config{Certificates: []tls.Certificate{pki.server}}
	trusting := &tls.Config{RootCAs: pki.roots}
	tests := []struct {
		name    string
		server  mailServerOptions
		sender  Sender
		edit    func(*Channel)
		wantErr string
	}{
		{
			name:    "untrusted certificate",
			server:  mailServerOptions{TLS: tlsServer, User: smtpUser, Password: smtpPassword},
			sender:  Sender{}, // system roots do not know the test CA
			wantErr: "starttls: tls: failed to verify certificate",
		},
		{
			name:    "certificate for another name",
			server:  mailServerOptions{TLS: tlsServer, User: smtpUser, Password: smtpPassword},
			sender:  Sender{TLSConfig: &tls.Config{RootCAs: pki.roots, ServerName: "mail.example.com"}},
			wantErr: "not mail.example.com",
		},
		{
			name:    "wrong password",
			server:  mailServerOptions{TLS: tlsServer, User: smtpUser, Password: "another password"},
			sender:  Sender{TLSConfig: trusting},
			wantErr: `auth as "alerts@berth.test": 535`,
		},
		{
			name:    "login required",
			server:  mailServerOptions{TLS: tlsServer, User: smtpUser, Password: smtpPassword},
			sender:  Sender{TLSConfig: trusting},
			edit:    func(ch *Channel) { ch.SMTPUsername, ch.SMTPPassword = "", "" },
			wantErr: "mail from <alerts@berth.test>: 502",
		},
		{
			name:    "no AUTH PLAIN offered",
			server:  mailServerOptions{}, // plain, and AUTH only after TLS
			sender:  Sender{AllowPlainLoopback: true},
			wantErr: "does not offer AUTH PLAIN",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startMailServer(t, tt.server)
			ch := emailChannel(srv.Addr)
			if tt.edit != nil {
				tt.edit(&ch)
			}
			err := tt.sender.Send(t.Context(), ch, testAlert())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Send = %v, want an error containing %q", err, tt.wantErr)
			}
			checkNoSecret(t, err)
			if msgs := srv.messages(); len(msgs) != 0 {
				t.Errorf("server received %d messages, want none", len(msgs))
			}
		})
	}
}

// TestSendEmailTimeout talks to a server that accepts the connection and
// never greets: Send must give up after Timeout.
func TestSendEmailTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn // held open, silent, until the listener closes
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})

	s := &Sender{Timeout: 200 * time.Millisecond}
	start := time.Now()
	err = s.Send(t.Context(), emailChannel(l.Addr().String()), testAlert())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send took %v, want about 200ms", d)
	}

	// Cancelling ctx ends a blocked conversation too.
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	s = &Sender{Timeout: time.Minute}
	start = time.Now()
	err = s.Send(ctx, emailChannel(l.Addr().String()), testAlert())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send with cancelled ctx = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Send with cancelled ctx took %v, want about 100ms", d)
	}
}

func TestSendEmailCustomDialer(t *testing.T) {
	srv := startMailServer(t, mailServerOptions{})
	var dialed string
	s := &Sender{
		AllowPlainLoopback: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed = addr
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Addr)
		},
	}
	ch := emailChannel("smtp.acme.test:587")
	ch.SMTPUsername, ch.SMTPPassword = "", ""
	if err := s.Send(t.Context(), ch, testAlert()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if dialed != "smtp.acme.test:587" {
		t.Errorf("DialContext got %q, want the channel's address", dialed)
	}
	if n := len(srv.messages()); n != 1 {
		t.Errorf("server received %d messages, want 1", n)
	}
}

// TestBuildMessageHeaderInjection: a subject with line breaks stays one
// header and adds none.
func TestBuildMessageHeaderInjection(t *testing.T) {
	a := Alert{
		Event:   "test\r\nBcc: x@evil.test",
		Subject: "DOWN\r\nBcc: victim@evil.test\n\nbody",
		Text:    "hi",
		Time:    time.Now(),
	}
	data := buildMessage("alerts@berth.test", []string{"ops@acme.test"}, a)
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if bcc := msg.Header.Get("Bcc"); bcc != "" {
		t.Errorf("message has a Bcc header %q:\n%s", bcc, data)
	}
	if got, want := msg.Header.Get("Subject"), "DOWN Bcc: victim@evil.test body"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := msg.Header.Get("X-Berth-Event"), "test Bcc: x@evil.test"; got != want {
		t.Errorf("X-Berth-Event = %q, want %q", got, want)
	}
}

// checkNoSecret fails if err mentions the SMTP password or a webhook token.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{smtpPassword, webhookToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}
