package agentapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/fixaroo/berth/internal/agentapi"
	"github.com/fixaroo/berth/internal/auth"
	"github.com/fixaroo/berth/internal/blobs"
	"github.com/fixaroo/berth/internal/pki"
	"github.com/fixaroo/berth/internal/rpc"
	"github.com/fixaroo/berth/internal/rpc/rpctest"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// server is a real gRPC server with the AgentService on 127.0.0.1:0 over
// TLS, guarded by an rpc.Gate with the node contract's rules, and a real
// SQLite store.
type server struct {
	store store.Store
	ca    *pki.CA
	blobs *blobs.Store
	addr  string
}

func newServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	box, err := seal.LoadOrCreateKey(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "berth.db"), Box: box})
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
	srv := agentapi.New(agentapi.Options{Store: st, CA: ca, Blobs: bl})
	gate := rpc.NewGate(rpc.Options{Store: st, Rules: []rpc.Rules{agentapi.Rules(), rpc.InfrastructureRules()}})
	serverCert, err := ca.ServerCertificate([]string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	gs := grpc.NewServer(append(gate.ServerOptions(), grpc.Creds(credentials.NewTLS(tlsConfig)))...)
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(func() { srv.Close(); gs.Stop() })
	return &server{store: st, ca: ca, blobs: bl, addr: lis.Addr().String()}
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
	tok.Hash, tok.ID, tok.Name, tok.CreateTime = hash, store.NewID("tok", time.Now()), "test", time.Now().UTC()
	if tok.Kind == "" {
		tok.Kind = store.TokenKindAPI
	}
	s.update(t, func(tx store.Tx) error { return tx.CreateToken(&tok) })
	return secret
}

// csr returns a certificate request of a new key, for names if given.
func csr(t *testing.T, names ...string) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "node"}, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// Principals of the matrix.
const (
	none    = "none"
	expired = "expired"
	revoked = "revoked"
	admin   = "admin"
	clientA = "clientA"
	clientB = "clientB"
	node    = "node"
)

var principals = []string{none, expired, revoked, admin, clientA, clientB, node}

// fixture is a fresh set of resources for one test or cell of the matrix:
// client A with a static site placed on the node and serving a release,
// client B with a site on no node, tokens of people, the node with its certificate and an unused join token.
type fixture struct {
	tokens  map[string]string // principal → secret
	seq     string
	clientA string
	siteID  string
	domain  string
	// otherDomain is the domain of client B's site, which is on no node.
	otherDomain string
	releaseID   string
	nodeID      string
	nodeCert    tls.Certificate
	joinTok     string
	csr         []byte
	siteCSR     []byte // asks for A's domain, which is placed on the node
}

var fixtureSeq atomic.Int64

func newFixture(t *testing.T, s *server) *fixture {
	t.Helper()
	now := time.Now().UTC()
	n := fixtureSeq.Add(1)
	f := &fixture{tokens: map[string]string{}, seq: fmt.Sprint(n), clientA: store.NewID("cl", now), siteID: store.NewID("site", now),
		domain: fmt.Sprintf("www.alpha-%d.test", n), otherDomain: fmt.Sprintf("www.bravo-%d.test", n), releaseID: store.NewID("rel", now), nodeID: store.NewID("node", now)}
	bravoID := store.NewID("cl", now)
	digest, size, err := s.blobs.Write(bytes.NewReader([]byte("bundle of alpha " + f.seq)))
	if err != nil {
		t.Fatal(err)
	}
	s.blobs.Unpin(digest)
	s.update(t, func(tx store.Tx) error {
		for id, slug := range map[string]string{f.clientA: "alpha-" + f.seq, bravoID: "bravo-" + f.seq} {
			if err := tx.CreateClient(&store.Client{ID: id, DisplayName: slug, Slug: slug, ContactEmail: "ops@" + slug + ".test", CreateTime: now, UpdateTime: now}); err != nil {
				return err
			}
		}
		if err := tx.CreateNode(&store.Node{ID: f.nodeID, Name: "node-" + f.seq, State: store.NodeStateReady, MemoryMiB: 4096, CPUMillicores: 4000, CreateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateSite(&store.Site{ID: f.siteID, ClientID: f.clientA, Name: "web", Kind: store.SiteKindStatic, PrimaryDomain: f.domain,
			MemoryMiB: 128, CPUMillicores: 100, State: store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateSite(&store.Site{ID: store.NewID("site", now), ClientID: bravoID, Name: "web", Kind: store.SiteKindStatic, PrimaryDomain: f.otherDomain,
			MemoryMiB: 128, CPUMillicores: 100, State: store.SiteStatePending, Generation: 1, CreateTime: now, UpdateTime: now}); err != nil {
			return err
		}
		if err := tx.CreateRelease(&store.Release{ID: f.releaseID, SiteID: f.siteID, Digest: digest, SizeBytes: size, CreateTime: now}); err != nil {
			return err
		}
		site, err := tx.GetSite(f.siteID)
		if err != nil {
			return err
		}
		site.NodeID, site.State, site.ReleaseID = f.nodeID, store.SiteStateProvisioning, f.releaseID
		return tx.UpdateSite(site)
	})
	joinSecret, joinHash := auth.NewToken(auth.JoinTokenPrefix)
	f.joinTok = joinSecret
	s.update(t, func(tx store.Tx) error {
		return tx.CreateJoinToken(&store.JoinToken{ID: store.NewID("jt", now), Hash: joinHash, CreatedBy: "test", CreateTime: now, ExpireTime: now.Add(10 * time.Minute)})
	})
	key, nodeCSR := csr(t)
	der, err := s.ca.SignClientCSR(nodeCSR, f.nodeID, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.nodeCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	_, f.csr = csr(t)
	_, f.siteCSR = csr(t, f.domain)
	f.tokens[admin] = s.token(t, store.Token{Role: store.RoleAdmin})
	f.tokens[expired] = s.token(t, store.Token{Role: store.RoleAdmin, ExpireTime: now.Add(-time.Minute)})
	f.tokens[revoked] = s.token(t, store.Token{Role: store.RoleAdmin, RevokeTime: now.Add(-time.Minute)})
	f.tokens[clientA] = s.token(t, store.Token{Role: store.RoleClient, ClientID: f.clientA})
	f.tokens[clientB] = s.token(t, store.Token{Role: store.RoleClient, ClientID: bravoID})
	return f
}

// matrixRow is the request and expected outcome of one RPC for each principal.
type matrixRow struct {
	req func(f *fixture) proto.Message
	// want maps principals to codes; unlisted principals without a valid
	// credential expect Unauthenticated.
	want map[string]codes.Code
}

// nodeOnly expects OK for the node and PermissionDenied for people.
func nodeOnly(req func(f *fixture) proto.Message) matrixRow {
	return matrixRow{req: req, want: map[string]codes.Code{node: codes.OK, admin: codes.PermissionDenied, clientA: codes.PermissionDenied, clientB: codes.PermissionDenied}}
}

// nodeOnlyCode expects code for the node and PermissionDenied for people.
func nodeOnlyCode(code codes.Code, req func(f *fixture) proto.Message) matrixRow {
	r := nodeOnly(req)
	r.want[node] = code
	return r
}

// certKey is where certmagic keeps the certificate of domain.
func certKey(domain string) string {
	return "certificates/acme-v02.api.letsencrypt.org-directory/" + domain + "/" + domain + ".crt"
}

func testFacts() *agentv1.NodeFacts {
	return &agentv1.NodeFacts{Hostname: "test", CpuMillicores: 2000, MemoryMib: 4096, AgentVersion: "test"}
}

var matrix = map[string]matrixRow{
	// Join needs no credential but the join token in the request.
	"/berth.agent.v1.AgentService/Join": {
		req: func(f *fixture) proto.Message {
			return &agentv1.JoinRequest{JoinToken: f.joinTok, NodeName: "joined-" + f.seq, CsrDer: f.csr, Facts: testFacts()}
		},
		want: map[string]codes.Code{none: codes.OK, expired: codes.OK, revoked: codes.OK, admin: codes.OK, clientA: codes.OK, clientB: codes.OK, node: codes.OK},
	},
	"/berth.agent.v1.AgentService/RenewCertificate": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.RenewCertificateRequest{CsrDer: f.csr}
	}),
	"/berth.agent.v1.AgentService/Connect": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: testFacts()}}}
	}),
	// The node may fetch releases of the sites placed on it.
	"/berth.agent.v1.AgentService/FetchRelease": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.FetchReleaseRequest{ReleaseId: f.releaseID}
	}),
	// Log requests are issued by berthd; one it did not issue is NotFound.
	"/berth.agent.v1.AgentService/SendLogs": {
		req: func(f *fixture) proto.Message {
			return &agentv1.SendLogsRequest{RequestId: "logs_01jd0000000000000000000000", Lines: []string{"forged"}}
		},
		want: map[string]codes.Code{node: codes.NotFound, admin: codes.PermissionDenied, clientA: codes.PermissionDenied, clientB: codes.PermissionDenied},
	},
	// Certificate storage of the node's own domains (certs_test.go covers
	// other nodes' domains).
	"/berth.agent.v1.AgentService/GetCertData": nodeOnlyCode(codes.NotFound, func(f *fixture) proto.Message {
		return &agentv1.GetCertDataRequest{Key: certKey(f.domain)}
	}),
	"/berth.agent.v1.AgentService/PutCertData": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.PutCertDataRequest{Key: certKey(f.domain), Value: []byte("pem")}
	}),
	"/berth.agent.v1.AgentService/DeleteCertData": nodeOnlyCode(codes.NotFound, func(f *fixture) proto.Message {
		return &agentv1.DeleteCertDataRequest{Key: certKey(f.domain)}
	}),
	"/berth.agent.v1.AgentService/ListCertData": nodeOnlyCode(codes.NotFound, func(f *fixture) proto.Message {
		return &agentv1.ListCertDataRequest{Prefix: "certificates", Recursive: true}
	}),
	"/berth.agent.v1.AgentService/StatCertData": nodeOnlyCode(codes.NotFound, func(f *fixture) proto.Message {
		return &agentv1.StatCertDataRequest{Key: certKey(f.domain)}
	}),
	"/berth.agent.v1.AgentService/LockCertData": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.LockCertDataRequest{Name: "issue_cert_" + f.domain, TtlSeconds: 60}
	}),
	"/berth.agent.v1.AgentService/UnlockCertData": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.UnlockCertDataRequest{Name: "issue_cert_" + f.domain}
	}),
	"/berth.agent.v1.AgentService/SignCertificate": nodeOnly(func(f *fixture) proto.Message {
		return &agentv1.SignCertificateRequest{CsrDer: f.siteCSR}
	}),
}

// agentMethods lists every RPC of the berth.agent.v1 package from the

// TestAuthorizationMatrix calls every RPC of the node contract as every
// kind of principal and checks the status code: node methods are for node
// certificates only, people's credentials are refused, and what a refused
// caller is told names nothing of client A.
func TestAuthorizationMatrix(t *testing.T) {
	s := newServer(t)
	plain := s.dial(t, nil)
	for _, md := range rpctest.Methods(t, "berth.agent.v1", 10) {
		method := rpctest.FullMethod(md)
		row, ok := matrix[method]
		if !ok {
			t.Errorf("%s has no row in the authorization matrix: add one", method)
			continue
		}
		for _, p := range principals {
			want, ok := row.want[p]
			if !ok {
				want = codes.Unauthenticated
			}
			t.Run(strings.TrimPrefix(method, "/berth.agent.v1.")+"/"+p, func(t *testing.T) {
				f := newFixture(t, s)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if tok := f.tokens[p]; tok != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
				}
				conn := plain
				if p == node {
					conn = s.dial(t, &f.nodeCert)
				}
				resp, err := call(ctx, conn, md, row.req(f))
				if got := status.Code(err); got != want {
					t.Fatalf("code = %v (%v), want %v", got, err, want)
				}
				if p == clientB {
					body := status.Convert(err).Message()
					if resp != nil {
						body += protojson.Format(resp)
					}
					for _, secret := range []string{f.clientA, f.siteID, f.releaseID} {
						if strings.Contains(body, secret) && !strings.Contains(protojson.Format(row.req(f)), secret) {
							t.Errorf("client B received client A's %q:\n%s", secret, body)
						}
					}
				}
			})
		}
	}
}

// call invokes any method with req and returns its (first) response.
// Bidirectional streams are left open for sending.
func call(ctx context.Context, conn *grpc.ClientConn, md protoreflect.MethodDescriptor, req proto.Message) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		return nil, err
	}
	resp := mt.New().Interface()
	if !md.IsStreamingServer() && !md.IsStreamingClient() {
		return resp, conn.Invoke(ctx, rpctest.FullMethod(md), req, resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: md.IsStreamingServer(), ClientStreams: md.IsStreamingClient()}, rpctest.FullMethod(md))
	if err != nil {
		return nil, err
	}
	// io.EOF: the server ended the call; RecvMsg tells how.
	if err := stream.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if !md.IsStreamingClient() || !md.IsStreamingServer() {
		if err := stream.CloseSend(); err != nil {
			return nil, err
		}
	}
	return resp, stream.RecvMsg(resp)
}

// TestDeniedNodeCallsAreAudited checks that a person's call of a node
// method is refused and audited.
func TestDeniedNodeCallsAreAudited(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+f.tokens[clientA])
	_, err := agentv1.NewAgentServiceClient(s.dial(t, nil)).GetCertData(ctx, &agentv1.GetCertDataRequest{Key: certKey(f.domain)})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("GetCertData as a client: %v, want PermissionDenied", err)
	}
	var events []*store.AuditEvent
	err = s.store.View(context.Background(), func(tx store.ReadTx) (err error) {
		events, err = tx.ListAuditEvents(store.AuditFilter{}, store.Page{Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Method == agentv1.AgentService_GetCertData_FullMethodName && e.Code == codes.PermissionDenied.String() {
			if e.ClientID != f.clientA {
				t.Errorf("denied GetCertData filed under client %q, want the caller's %q", e.ClientID, f.clientA)
			}
			return
		}
	}
	t.Errorf("no audit event of the denied GetCertData among %d", len(events))
}
