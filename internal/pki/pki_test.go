package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTestCA(t *testing.T) *CA {
	t.Helper()
	ca, created, err := LoadOrCreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("LoadOrCreateCA in an empty directory: created = false, want true")
	}
	return ca
}

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	now := time.Now()
	ca, created, err := LoadOrCreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Error("first call: created = false, want true")
	}
	cert := ca.Certificate()
	if !cert.IsCA || !cert.MaxPathLenZero || cert.MaxPathLen != 0 {
		t.Errorf("IsCA=%v MaxPathLenZero=%v MaxPathLen=%d, want a CA with path length 0", cert.IsCA, cert.MaxPathLenZero, cert.MaxPathLen)
	}
	if got, want := cert.KeyUsage, x509.KeyUsageCertSign|x509.KeyUsageCRLSign; got != want {
		t.Errorf("KeyUsage = %v, want %v", got, want)
	}
	if !strings.HasPrefix(cert.Subject.CommonName, "Berth CA ") {
		t.Errorf("CommonName = %q, want prefix %q", cert.Subject.CommonName, "Berth CA ")
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key is %T, want *ecdsa.PublicKey", cert.PublicKey)
	}
	if got, want := cert.NotAfter.Sub(now).Hours()/24/365, 10.0; got < want-0.1 || got > want+0.1 {
		t.Errorf("validity = %.2f years, want %v", got, want)
	}
	if len(cert.SubjectKeyId) == 0 {
		t.Error("CA certificate has no SubjectKeyId")
	}

	for name, want := range map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %04o, want %04o", name, got, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{KeyFile, CertFile}, names); diff != "" {
		t.Errorf("directory entries (-want +got), no temporary files expected:\n%s", diff)
	}

	reloaded, created, err := LoadOrCreateCA(dir, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if created {
		t.Error("second call: created = true, want false")
	}
	if !bytes.Equal(reloaded.Certificate().Raw, cert.Raw) {
		t.Error("reloaded CA certificate differs from the created one")
	}
	if !bytes.Equal(reloaded.CertPEM(), ca.CertPEM()) {
		t.Error("reloaded CertPEM differs from the created one")
	}
	if !reloaded.key.Public().(*ecdsa.PublicKey).Equal(ca.key.Public()) {
		t.Error("reloaded CA key differs from the created one")
	}
}

func TestLoadOrCreateCAOneFileMissing(t *testing.T) {
	for _, missing := range []string{CertFile, KeyFile} {
		t.Run(missing, func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreateCA(dir, time.Now()); err != nil {
				t.Fatal(err)
			}
			present := CertFile
			if missing == CertFile {
				present = KeyFile
			}
			before, err := os.ReadFile(filepath.Join(dir, present))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, missing)); err != nil {
				t.Fatal(err)
			}

			_, _, err = LoadOrCreateCA(dir, time.Now())
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, missing)+" is missing") {
				t.Errorf("err = %v, want one saying %s is missing", err, missing)
			}
			if _, err := os.Stat(filepath.Join(dir, missing)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was recreated (stat err = %v)", missing, err)
			}
			after, err := os.ReadFile(filepath.Join(dir, present))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("%s was overwritten", present)
			}
		})
	}
}

func TestLoadOrCreateCALooseKeyPermissions(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		t.Run(mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			if _, _, err := LoadOrCreateCA(dir, time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, KeyFile), mode); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateCA(dir, time.Now())
			if err == nil || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("err = %v, want one telling the user to chmod 600", err)
			}
		})
	}
}

func TestLoadOrCreateCARejectsBadFiles(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := LoadOrCreateCA(dir, time.Now().AddDate(-11, 0, 0)); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateCA(dir, time.Now())
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("err = %v, want an expiry error", err)
		}
	})
	t.Run("key of another CA", func(t *testing.T) {
		dir, other := t.TempDir(), t.TempDir()
		for _, d := range []string{dir, other} {
			if _, _, err := LoadOrCreateCA(d, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		key, err := os.ReadFile(filepath.Join(other, KeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, KeyFile), key, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err = LoadOrCreateCA(dir, time.Now())
		if err == nil || !strings.Contains(err.Error(), "does not belong") {
			t.Errorf("err = %v, want a key mismatch error", err)
		}
	})
	t.Run("garbage certificate", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := LoadOrCreateCA(dir, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, CertFile), []byte("not pem"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadOrCreateCA(dir, time.Now()); err == nil {
			t.Error("err = nil, want a parse error")
		}
	})
}

// handshake runs a real TLS handshake over a loopback listener between a
// server using serverCert and a client that trusts roots and verifies
// serverName. It returns the client's handshake error.
func handshake(t *testing.T, serverCert tls.Certificate, roots *x509.CertPool, serverName string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverCert}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { <-done }) // runs after ln.Close below, which unblocks Accept
	t.Cleanup(func() { ln.Close() })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if conn.(*tls.Conn).Handshake() == nil {
			io.WriteString(conn, "ok")
		}
	}()

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(),
		&tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read from server: %v", err)
	}
	if string(got) != "ok" {
		t.Errorf("server sent %q, want %q", got, "ok")
	}
	return nil
}

func TestServerCertificateHandshake(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	cert, err := ca.ServerCertificate([]string{"localhost", "127.0.0.1", "::1", "localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if diff := cmp.Diff([]string{"localhost"}, leaf.DNSNames); diff != "" {
		t.Errorf("DNSNames (-want +got):\n%s", diff)
	}
	if got := len(leaf.IPAddresses); got != 2 {
		t.Errorf("got %d IP addresses %v, want 2", got, leaf.IPAddresses)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage); diff != "" {
		t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
	}
	if got, want := leaf.NotBefore, now.Add(-5*time.Minute).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", got, want)
	}
	if got, want := leaf.NotAfter, now.Add(90*24*time.Hour).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if len(leaf.SubjectKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Errorf("SubjectKeyId = %x, AuthorityKeyId = %x, want both set, AKID = CA SKID %x",
			leaf.SubjectKeyId, leaf.AuthorityKeyId, ca.Certificate().SubjectKeyId)
	}
	if leaf.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v looks too short to be 128 random bits", leaf.SerialNumber)
	}

	tests := []struct {
		serverName string
		roots      *x509.CertPool
		ok         bool
	}{
		{serverName: "localhost", roots: ca.Pool(), ok: true},
		{serverName: "127.0.0.1", roots: ca.Pool(), ok: true},
		{serverName: "::1", roots: ca.Pool(), ok: true},
		{serverName: "berth.example.com", roots: ca.Pool(), ok: false},
		{serverName: "localhost", roots: newTestCA(t).Pool(), ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			err := handshake(t, cert, tt.roots, tt.serverName)
			if tt.ok && err != nil {
				t.Errorf("handshake: %v", err)
			}
			var verr *tls.CertificateVerificationError
			if !tt.ok && !errors.As(err, &verr) {
				t.Errorf("handshake err = %v, want a certificate verification error", err)
			}
		})
	}
}

func TestServerCertificateRejectsBadHosts(t *testing.T) {
	ca := newTestCA(t)
	for _, hosts := range [][]string{nil, {""}, {"exa mple.com"}, {"localhost", "a/b"}, {"fe80::1%eth0"}} {
		if _, err := ca.ServerCertificate(hosts, time.Now()); err == nil {
			t.Errorf("ServerCertificate(%q): err = nil, want an error", hosts)
		}
	}
}

func newCSR(t *testing.T, subject string) (der []byte, key crypto.Signer) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: subject},
		DNSNames: []string{"evil.example.com"},
	}, k)
	if err != nil {
		t.Fatal(err)
	}
	return der, k
}

func TestSignClientCSR(t *testing.T) {
	ca := newTestCA(t)
	csr, key := newCSR(t, "berthd-admin")
	now := time.Now()
	der, err := ca.SignClientCSR(csr, "node_01jd3m5kq8x7w2c9v4r6t0yzab", 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	if got, want := cert.Subject.CommonName, "node_01jd3m5kq8x7w2c9v4r6t0yzab"; got != want {
		t.Errorf("CommonName = %q, want %q", got, want)
	}
	var uris []string
	for _, u := range cert.URIs {
		uris = append(uris, u.String())
	}
	if diff := cmp.Diff([]string{"berth://node/node_01jd3m5kq8x7w2c9v4r6t0yzab"}, uris); diff != "" {
		t.Errorf("URI SANs (-want +got):\n%s", diff)
	}
	if len(cert.DNSNames) != 0 {
		t.Errorf("DNSNames = %q, want none: the CSR's extensions must be ignored", cert.DNSNames)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certificate public key is not the CSR's")
	}
	if got, want := cert.NotAfter, now.Add(24*time.Hour).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", got, want)
	}
	if len(cert.SubjectKeyId) == 0 || !bytes.Equal(cert.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
		t.Errorf("SubjectKeyId = %x, AuthorityKeyId = %x, want both set", cert.SubjectKeyId, cert.AuthorityKeyId)
	}

	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify for client auth: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Error("verify for server auth: err = nil, want an error for a client-only certificate")
	}
}

func TestSignClientCSRRejects(t *testing.T) {
	ca := newTestCA(t)
	csr, _ := newCSR(t, "node")
	badSig := slices.Clone(csr)
	badSig[len(badSig)-1] ^= 0xff // last byte of the ECDSA signature

	tests := []struct {
		name       string
		csr        []byte
		commonName string
		ttl        time.Duration
		invalidCSR bool
	}{
		{name: "bad signature", csr: badSig, commonName: "node", ttl: time.Hour, invalidCSR: true},
		{name: "not a CSR", csr: []byte("garbage"), commonName: "node", ttl: time.Hour, invalidCSR: true},
		{name: "empty common name", csr: csr, commonName: "", ttl: time.Hour},
		{name: "slash in common name", csr: csr, commonName: "node/../admin", ttl: time.Hour},
		{name: "long common name", csr: csr, commonName: strings.Repeat("n", 65), ttl: time.Hour},
		{name: "zero ttl", csr: csr, commonName: "node", ttl: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := ca.SignClientCSR(tt.csr, tt.commonName, tt.ttl, time.Now())
			if err == nil {
				t.Fatalf("err = nil, want an error (got %d bytes of certificate)", len(der))
			}
			if got := errors.Is(err, ErrInvalidCSR); got != tt.invalidCSR {
				t.Errorf("errors.Is(%v, ErrInvalidCSR) = %v, want %v", err, got, tt.invalidCSR)
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	serverCert, err := ca.ServerCertificate([]string{"localhost"}, now)
	if err != nil {
		t.Fatal(err)
	}
	csr, key := newCSR(t, "ignored")
	der, err := ca.SignClientCSR(csr, "node_1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peer := make(chan string, 1)
	go func() {
		defer close(peer)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := conn.(*tls.Conn)
		if tc.Handshake() != nil {
			return
		}
		peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.WriteString(conn, "ok")
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{
		RootCAs:      ca.Pool(),
		ServerName:   "localhost",
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("read: %v", err)
	}
	if got := <-peer; got != "node_1" {
		t.Errorf("server saw client %q, want %q", got, "node_1")
	}
}

func TestDefaultServerHosts(t *testing.T) {
	hosts := DefaultServerHosts()
	for _, want := range []string{"localhost", "127.0.0.1", "::1"} {
		if !slices.Contains(hosts, want) {
			t.Errorf("DefaultServerHosts() = %q, missing %q", hosts, want)
		}
	}
	if got := slices.Compact(slices.Sorted(slices.Values(hosts))); len(got) != len(hosts) {
		t.Errorf("DefaultServerHosts() = %q has duplicates", hosts)
	}
	if name, err := os.Hostname(); err == nil && isDNSName(strings.ToLower(name)) && !slices.Contains(hosts, strings.ToLower(name)) {
		t.Errorf("DefaultServerHosts() = %q, missing host name %q", hosts, name)
	}
	ca := newTestCA(t)
	if _, err := ca.ServerCertificate(hosts, time.Now()); err != nil {
		t.Errorf("ServerCertificate(DefaultServerHosts()): %v", err)
	}
}

func TestSignServerCSR(t *testing.T) {
	ca := newTestCA(t)
	csr, key := newCSR(t, "evil.example.com")
	der, err := ca.SignServerCSR(csr, []string{"blog.localhost", "www.blog.localhost"}, 90*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"blog.localhost", "www.blog.localhost"}, cert.DNSNames); diff != "" {
		t.Errorf("DNSNames (-want +got):\n%s", diff)
	}
	if !cert.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certificate public key is not the CSR's")
	}
	for _, name := range []string{"blog.localhost", "www.blog.localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "evil.example.com"}); err == nil {
		t.Error("the certificate is valid for the CSR's own subject; only the names given may be")
	}

	for _, bad := range []struct {
		name  string
		csr   []byte
		names []string
	}{
		{"no names", csr, nil},
		{"not a DNS name", csr, []string{"bad name"}},
		{"garbage CSR", []byte("nope"), []string{"a.localhost"}},
	} {
		if _, err := ca.SignServerCSR(bad.csr, bad.names, time.Hour, time.Now()); err == nil {
			t.Errorf("%s: err = nil, want an error", bad.name)
		}
	}
}
