// Package clienttest holds RunBerthdSuite: what the agent's control-plane
// client relies on in berthd's AgentService (join, certificate renewal, a
// session's authentication and opening hello, a log upload's
// authentication). It runs against the fake berthd of agents/client's tests
// and against internal/agentapi's real server, so the fake cannot drift from
// berthd on these points.
package clienttest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// Berthd is a running AgentService for RunBerthdSuite.
type Berthd struct {
	// Addr is its address, host:port, with a certificate for "localhost"
	// that RootCAs verifies.
	Addr    string
	RootCAs *x509.CertPool
	// JoinToken returns a join token, as sent in JoinRequest, that berthd
	// accepts at least once.
	JoinToken func(t *testing.T) string
	// TakenName is the name of a node that has joined already.
	TakenName string
}

// RunBerthdSuite checks berthd's side of what the agent's client relies on.
// open returns the server for each subtest.
func RunBerthdSuite(t *testing.T, open func(t *testing.T) Berthd) {
	t.Run("JoinRefusals", func(t *testing.T) { testJoinRefusals(t, open(t)) })
	t.Run("JoinAndRenew", func(t *testing.T) { testJoinAndRenew(t, open(t)) })
	t.Run("Connect", func(t *testing.T) { testConnect(t, open(t)) })
	t.Run("SendLogsNeedsNode", func(t *testing.T) { testSendLogsNeedsNode(t, open(t)) })
}

var nameSeq atomic.Int64

// newCSR returns a new key and a certificate request of it.
func newCSR(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "node"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func facts() *agentv1.NodeFacts {
	return &agentv1.NodeFacts{Hostname: "suite", CpuMillicores: 2000, MemoryMib: 4096, AgentVersion: "test"}
}

// dial connects to b, presenting cert if not nil.
func dial(t *testing.T, b Berthd, cert *tls.Certificate) agentv1.AgentServiceClient {
	t.Helper()
	cfg := &tls.Config{RootCAs: b.RootCAs, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	conn, err := grpc.NewClient(b.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return agentv1.NewAgentServiceClient(conn)
}

func suiteContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testJoinRefusals(t *testing.T, b Berthd) {
	ctx := suiteContext(t)
	c := dial(t, b, nil)
	_, csr := newCSR(t)
	for _, tc := range []struct {
		name string
		req  *agentv1.JoinRequest
		want codes.Code
	}{
		{"a wrong token", &agentv1.JoinRequest{JoinToken: "berth_join_wrong", NodeName: "n-wrong", CsrDer: csr, Facts: facts()}, codes.Unauthenticated},
		{"no CPU or memory", &agentv1.JoinRequest{JoinToken: b.JoinToken(t), NodeName: "n-nofacts", CsrDer: csr, Facts: &agentv1.NodeFacts{Hostname: "x"}}, codes.InvalidArgument},
		{"a taken name", &agentv1.JoinRequest{JoinToken: b.JoinToken(t), NodeName: b.TakenName, CsrDer: csr, Facts: facts()}, codes.AlreadyExists},
		{"no certificate request", &agentv1.JoinRequest{JoinToken: b.JoinToken(t), NodeName: "n-nocsr", CsrDer: []byte("junk"), Facts: facts()}, codes.InvalidArgument},
	} {
		if _, err := c.Join(ctx, tc.req); status.Code(err) != tc.want {
			t.Errorf("Join with %s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// checkNodeCert parses der and checks that it names nodeID and that ca
// verifies it for client authentication.
func checkNodeCert(t *testing.T, what string, der []byte, nodeID string, ca *x509.CertPool) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if leaf.Subject.CommonName != nodeID {
		t.Errorf("%s: common name %q, want the node id %q", what, leaf.Subject.CommonName, nodeID)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("%s does not verify as a client certificate: %v", what, err)
	}
	return leaf
}

func testJoinAndRenew(t *testing.T, b Berthd) {
	ctx := suiteContext(t)
	key, csr := newCSR(t)
	name := fmt.Sprintf("suite-%d", nameSeq.Add(1))
	resp, err := dial(t, b, nil).Join(ctx, &agentv1.JoinRequest{JoinToken: b.JoinToken(t), NodeName: name, CsrDer: csr, Facts: facts()})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetNodeId() == "" {
		t.Fatal("Join returned no node id")
	}
	ca := x509.NewCertPool()
	if !ca.AppendCertsFromPEM(resp.GetCaPem()) {
		t.Fatalf("Join's CA PEM holds no certificate: %q", resp.GetCaPem())
	}
	checkNodeCert(t, "Join's certificate", resp.GetCertificateDer(), resp.GetNodeId(), ca)

	_, csr2 := newCSR(t)
	if _, err := dial(t, b, nil).RenewCertificate(ctx, &agentv1.RenewCertificateRequest{CsrDer: csr2}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("RenewCertificate without a certificate: %v, want Unauthenticated", err)
	}
	cert := &tls.Certificate{Certificate: [][]byte{resp.GetCertificateDer()}, PrivateKey: key}
	renewed, err := dial(t, b, cert).RenewCertificate(ctx, &agentv1.RenewCertificateRequest{CsrDer: csr2})
	if err != nil {
		t.Fatal(err)
	}
	checkNodeCert(t, "the renewed certificate", renewed.GetCertificateDer(), resp.GetNodeId(), ca)
}

// join joins a new node and returns its certificate.
func join(t *testing.T, b Berthd) *tls.Certificate {
	t.Helper()
	key, csr := newCSR(t)
	resp, err := dial(t, b, nil).Join(suiteContext(t), &agentv1.JoinRequest{JoinToken: b.JoinToken(t),
		NodeName: fmt.Sprintf("suite-%d", nameSeq.Add(1)), CsrDer: csr, Facts: facts()})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{resp.GetCertificateDer()}, PrivateKey: key}
}

// firstError opens a session, sends first, and returns the session's error
// or nil if it is still open after a moment.
func firstError(t *testing.T, c agentv1.AgentServiceClient, first *agentv1.ConnectRequest) error {
	t.Helper()
	ctx, cancel := context.WithCancel(suiteContext(t))
	defer cancel()
	stream, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(first); err != nil {
		_, err = stream.Recv() // the status, not io.EOF
		return err
	}
	errs := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				errs <- err
				return
			}
		}
	}()
	select {
	case err := <-errs:
		return err
	case <-time.After(500 * time.Millisecond):
		return nil
	}
}

func testConnect(t *testing.T, b Berthd) {
	hello := &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: facts()}}}
	if err := firstError(t, dial(t, b, nil), hello); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Connect without a certificate: %v, want Unauthenticated", err)
	}
	c := dial(t, b, join(t, b))
	heartbeat := &agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Heartbeat{Heartbeat: &agentv1.AgentHeartbeat{}}}
	if err := firstError(t, c, heartbeat); status.Code(err) != codes.InvalidArgument {
		t.Errorf("Connect opened with a heartbeat, not a hello: %v, want InvalidArgument", err)
	}
	if err := firstError(t, c, hello); err != nil {
		t.Errorf("Connect opened with a hello: %v, want the session to stay open", err)
	}
}

func testSendLogsNeedsNode(t *testing.T, b Berthd) {
	stream, err := dial(t, b, nil).SendLogs(suiteContext(t))
	if err == nil {
		_, err = stream.CloseAndRecv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("SendLogs without a certificate: %v, want Unauthenticated", err)
	}
}
