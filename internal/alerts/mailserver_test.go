package alerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testPKI is a throw-away CA and a server certificate it signed for
// 127.0.0.1, ::1 and localhost.
type testPKI struct {
	roots  *x509.CertPool  // trusts the CA
	server tls.Certificate // leaf + key
	caCert *x509.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "alerts test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	return testPKI{
		roots:  roots,
		server: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key},
		caCert: caCert,
	}
}

// mailServerOptions configures startMailServer.
type mailServerOptions struct {
	TLS         *tls.Config // nil: no STARTTLS
	ImplicitTLS bool        // serve TLS from the first byte (port 465 style)
	// User and Password are the only accepted credentials; with User set,
	// MAIL is refused before AUTH.
	User, Password string
	// AllowInsecureAuth offers AUTH without TLS.
	AllowInsecureAuth bool
}

// receivedMail is one message the test server accepted.
type receivedMail struct {
	Helo string
	From string
	To   []string
	Data []byte
	TLS  bool   // the message came over TLS
	User string // the authenticated user, "" for none
}

// mailServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// records what it receives.
type mailServer struct {
	Addr string
	opts mailServerOptions

	mu           sync.Mutex // guards the fields below
	msgs         []receivedMail
	authAttempts int
	sessions     int
}

func startMailServer(t *testing.T, o mailServerOptions) *mailServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ms := &mailServer{Addr: l.Addr().String(), opts: o}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ms.mu.Lock()
		ms.sessions++
		ms.mu.Unlock()
		return &mailSession{srv: ms, conn: c}, nil
	}))
	srv.Domain = "mail.test"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.AllowInsecureAuth = o.AllowInsecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if o.ImplicitTLS {
		l = tls.NewListener(l, o.TLS)
	} else {
		srv.TLSConfig = o.TLS
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ms
}

// messages returns what the server has accepted so far.
func (ms *mailServer) messages() []receivedMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]receivedMail(nil), ms.msgs...)
}

func (ms *mailServer) auths() int {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.authAttempts
}

type mailSession struct {
	srv  *mailServer
	conn *smtp.Conn
	user string
	msg  receivedMail
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		s.srv.mu.Lock()
		s.srv.authAttempts++
		s.srv.mu.Unlock()
		if s.srv.opts.User == "" || user != s.srv.opts.User || password != s.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.user = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.User != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.msg = receivedMail{Helo: s.conn.Hostname(), From: from, User: s.user}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.msg.To) == 0 {
		return errors.New("no recipients")
	}
	_, s.msg.TLS = s.conn.TLSConnectionState()
	s.msg.Data = b
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.msg)
	s.srv.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.msg = receivedMail{} }
func (s *mailSession) Logout() error { return nil }
