package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

func TestIdentityRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	now := time.Now()
	id, keyPEM, certPEM := ca.identity(t, "node_01", "berth.example:8443", now, now.Add(time.Hour))
	if err := saveIdentity(dir, id, keyPEM, certPEM); err != nil {
		t.Fatal(err)
	}
	got, err := LoadIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.NodeID != id.NodeID || got.NodeName != id.NodeName || got.Server != id.Server {
		t.Errorf("LoadIdentity = %q %q %q, want %q %q %q", got.NodeID, got.NodeName, got.Server, id.NodeID, id.NodeName, id.Server)
	}
	if !bytes.Equal(got.Cert.Certificate[0], id.Cert.Certificate[0]) || !bytes.Equal(got.CAPEM, ca.pem) {
		t.Error("LoadIdentity returned another certificate or CA")
	}
	if got.Cert.Leaf == nil || got.Cert.Leaf.Subject.CommonName != "node_01" {
		t.Errorf("leaf not parsed: %v", got.Cert.Leaf)
	}
	if _, err := got.Cert.Leaf.Verify(x509.VerifyOptions{Roots: got.CAPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("loaded certificate does not verify against the loaded CA pool: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", keyFile, fi.Mode().Perm())
	}
}

func TestLoadIdentityNotJoined(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadIdentity(dir); !errors.Is(err, ErrNotJoined) {
		t.Errorf("empty dir: LoadIdentity = %v, want ErrNotJoined", err)
	}
	// A join that crashed before node.json leaves the node not joined.
	ca := newTestCA(t)
	id, keyPEM, certPEM := ca.identity(t, "node_01", "a:1", time.Now(), time.Now().Add(time.Hour))
	if err := saveIdentity(dir, id, keyPEM, certPEM); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, nodeFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentity(dir); !errors.Is(err, ErrNotJoined) {
		t.Errorf("without node.json: LoadIdentity = %v, want ErrNotJoined", err)
	}
}

func TestLoadIdentityAfterInterruptedRenewal(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	for _, tc := range []struct {
		name    string
		crash   func(t *testing.T, dir string, keyPEM, certPEM []byte) // leaves the renewal half done
		wantNew bool
	}{
		{"staged only", func(t *testing.T, dir string, keyPEM, certPEM []byte) {
			write(t, filepath.Join(dir, keyFile+newSuffix), keyPEM)
			write(t, filepath.Join(dir, certFile+newSuffix), certPEM)
		}, false},
		{"key renamed", func(t *testing.T, dir string, keyPEM, certPEM []byte) {
			write(t, filepath.Join(dir, keyFile), keyPEM)
			write(t, filepath.Join(dir, certFile+newSuffix), certPEM)
		}, true},
		{"both renamed", func(t *testing.T, dir string, keyPEM, certPEM []byte) {
			if err := saveRenewed(dir, keyPEM, certPEM); err != nil {
				t.Fatal(err)
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			old, keyPEM, certPEM := ca.identity(t, "node_01", "a:1", now, now.Add(time.Hour))
			if err := saveIdentity(dir, old, keyPEM, certPEM); err != nil {
				t.Fatal(err)
			}
			renewed, newKeyPEM, newCertPEM := ca.identity(t, "node_01", "a:1", now, now.Add(2*time.Hour))
			tc.crash(t, dir, newKeyPEM, newCertPEM)
			got, err := LoadIdentity(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := old
			if tc.wantNew {
				want = renewed
			}
			if !bytes.Equal(got.Cert.Certificate[0], want.Cert.Certificate[0]) {
				t.Errorf("LoadIdentity returned the %s certificate", map[bool]string{true: "old", false: "new"}[tc.wantNew])
			}
			for _, f := range []string{keyFile + newSuffix, certFile + newSuffix} {
				if _, err := os.Stat(filepath.Join(dir, f)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s left behind: %v", f, err)
				}
			}
			if again, err := LoadIdentity(dir); err != nil || !bytes.Equal(again.Cert.Certificate[0], want.Cert.Certificate[0]) {
				t.Errorf("second LoadIdentity: %v", err)
			}
		})
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPinnedTLS(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	good := ca.serverCert(t)
	leafOnly := tls.Certificate{Certificate: good.Certificate[:1], PrivateKey: good.PrivateKey}
	otherLeaf := other.serverCert(t)
	// The pinned CA, but beside a leaf that another CA signed.
	mixed := tls.Certificate{Certificate: [][]byte{otherLeaf.Certificate[0], ca.cert.Raw}, PrivateKey: otherLeaf.PrivateKey}
	pin := func(c *testCA) []byte {
		_, h, err := ParseJoinToken(testJoinToken(c))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	for _, tc := range []struct {
		name    string
		server  tls.Certificate
		pin     []byte
		host    string
		wantErr string
	}{
		{"right pin", good, pin(ca), "127.0.0.1", ""},
		{"right pin, by name", good, pin(ca), "localhost", ""},
		{"wrong pin", good, pin(other), "127.0.0.1", "did not present the CA pinned"},
		{"leaf only", leafOnly, pin(ca), "127.0.0.1", "did not present the CA pinned"},
		{"leaf from another CA", mixed, pin(ca), "127.0.0.1", "does not verify"},
		{"wrong host", good, pin(ca), "berth.example", "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveTLS(t, tc.server)
			conn, err := tls.Dial("tcp", addr, pinnedTLSConfig(tc.host, tc.pin))
			if conn != nil {
				conn.Close()
			}
			if tc.wantErr == "" && err != nil {
				t.Fatalf("dial: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("dial = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// serveTLS accepts TLS connections on 127.0.0.1 with cert and completes
// their handshakes.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.(*tls.Conn).Handshake()
			}(c)
		}
	}()
	return lis.Addr().String()
}

func TestJoin(t *testing.T) {
	ca := newTestCA(t)
	srv := startTestServer(t, ca)
	facts := &agentv1.NodeFacts{Hostname: "n1", CpuMillicores: 1000, MemoryMib: 512}
	cfg := JoinConfig{Server: "https://" + srv.addr, JoinToken: testJoinToken(ca), DataDir: t.TempDir(), NodeName: "n1"}
	ctx := context.Background()

	id, err := Join(ctx, cfg, facts)
	if err != nil {
		t.Fatal(err)
	}
	if id.NodeID != "node_n1" || id.Server != srv.addr {
		t.Errorf("Join = node %q at %q, want node_n1 at %q", id.NodeID, id.Server, srv.addr)
	}
	loaded, err := LoadIdentity(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.NodeID != id.NodeID || !bytes.Equal(loaded.Cert.Certificate[0], id.Cert.Certificate[0]) || !bytes.Equal(loaded.CAPEM, ca.pem) {
		t.Error("the saved identity differs from the one Join returned")
	}

	other := newTestCA(t)
	for _, tc := range []struct {
		name string
		cfg  func(c *JoinConfig)
		want string
	}{
		{"used token", func(c *JoinConfig) {
			secret, pin, _ := strings.Cut(c.JoinToken, ".")
			c.JoinToken = secret[:len(secret)-1] + "Q." + pin
		}, "join token rejected: it is invalid, expired or already used — make a new one with `berth node join-token`"},
		{"name taken", func(c *JoinConfig) { c.NodeName = "taken" }, `a node named "taken" exists already`},
		{"token from another berthd", func(c *JoinConfig) {
			secret, _, _ := strings.Cut(c.JoinToken, ".")
			c.JoinToken = secret + "." + other.hash()
		}, "did not present the CA pinned in the join token"},
		{"nobody there", func(c *JoinConfig) { c.Server = closedAddr(t) }, "cannot reach berthd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.DataDir = t.TempDir()
			tc.cfg(&c)
			_, err := Join(ctx, c, facts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Join = %v, want an error containing %q", err, tc.want)
			}
			if _, err := LoadIdentity(c.DataDir); !errors.Is(err, ErrNotJoined) {
				t.Errorf("after a failed join, LoadIdentity = %v, want ErrNotJoined", err)
			}
		})
	}
}

// closedAddr returns a local address where nothing listens.
func closedAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
