package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fixaroo/berth/internal/agentapi"
	"github.com/fixaroo/berth/internal/api"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/logrelay"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
)

// server is a real gRPC server on 127.0.0.1:0 over TLS, carrying the API
// and the node contract (agentapi) behind one rpc.Gate as berthd does, with a
// real SQLite store, and a client connection to it.
type server struct {
	store   store.Store
	ca      *pki.CA
	blobs   *blobs.Store
	api     *api.API
	scratch string // api.Options.ScratchDir
	addr    string
	conn    *grpc.ClientConn
}

// newServer starts a server; opts may change the API's options.
func newServer(t *testing.T, opts ...func(*api.Options)) *server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, _, err := pki.LoadOrCreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bl, err := blobs.New(blobs.Options{Dir: filepath.Join(dir, "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	o := api.Options{Store: st, WatchResync: time.Second, CA: ca, Blobs: bl, ScratchDir: t.TempDir()}
	for _, opt := range opts {
		opt(&o)
	}
	relay := logrelay.New()
	o.Logs = relay
	a := api.New(o)
	nodes := agentapi.New(agentapi.Options{Store: st, Now: o.Now, CA: ca, Blobs: o.Blobs, Logs: relay, WatchResync: o.WatchResync})
	gate := rpc.NewGate(rpc.Options{Store: st, Now: o.Now, Rules: []rpc.Rules{api.Rules(), agentapi.Rules(), rpc.InfrastructureRules()}})
	serverCert, err := ca.ServerCertificate([]string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	gs := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(tlsConfig)))...)
	a.Register(gs)
	nodes.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(func() { a.Close(); nodes.Close(); gs.Stop() })
	s := &server{store: st, ca: ca, blobs: o.Blobs, api: a, scratch: o.ScratchDir, addr: lis.Addr().String()}
	s.conn = s.dial(t, nil)
	return s
}

// dial connects to the server, presenting cert as client certificate if given.
func (s *server) dial(t *testing.T, cert *tls.Certificate) *grpc.ClientConn {
	t.Helper()
	cfg := &tls.Config{RootCAs: s.ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// nodeCert issues a node client certificate for nodeID the way Join does.
func (s *server) nodeCert(t *testing.T, nodeID string) tls.Certificate {
	t.Helper()
	key, csr := newCSR(t)
	der, err := s.ca.SignClientCSR(csr, nodeID, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// newCSR returns a new key and a certificate request for it.
func newCSR(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "node"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// update runs fn in a store transaction and fails the test on error.
func (s *server) update(t *testing.T, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.store.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// token stores a token and returns its secret.
func (s *server) token(t *testing.T, tok store.Token) string {
	t.Helper()
	secret, hash := auth.NewToken(auth.TokenPrefix)
	tok.Hash = hash
	if tok.ID == "" {
		tok.ID = store.NewID("tok", time.Now())
	}
	if tok.CreateTime.IsZero() {
		tok.CreateTime = time.Now().UTC()
	}
	if tok.Name == "" {
		tok.Name = "test"
	}
	if tok.Kind == "" {
		tok.Kind = store.TokenKindAPI
	}
	s.update(t, func(tx store.Tx) error { return tx.CreateToken(&tok) })
	return secret
}
