package client

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// testServer is a small AgentService standing in for berthd: Join is open,
// the other calls need a client certificate from the CA, as in berthd.
type testServer struct {
	agentv1.UnimplementedAgentServiceServer
	t        *testing.T
	ca       *testCA
	addr     string
	secret   string        // the join token's secret part
	certTTL  time.Duration // of issued client certificates
	sessions chan *serverSession
	renewals atomic.Int32
	logCalls chan *logCall
}

// logCall is one SendLogs call as the test sees it.
type logCall struct {
	nodeID string
	msgs   chan *agentv1.SendLogsRequest // everything the agent sent; closed when it stops sending
	end    chan struct{}                 // closed by the test: berthd's reader has gone away
}

// serverSession is one Connect stream as the test sees it.
type serverSession struct {
	nodeID string
	serial string                       // of the client certificate
	msgs   chan *agentv1.ConnectRequest // everything the agent sent
	stream agentv1.AgentService_ConnectServer
	end    chan error // the test ends the stream with this status
}

func startTestServer(t *testing.T, ca *testCA) *testServer {
	t.Helper()
	s := &testServer{
		t: t, ca: ca, secret: strings.Split(testJoinToken(ca), ".")[0],
		certTTL: 24 * time.Hour, sessions: make(chan *serverSession, 16), logCalls: make(chan *logCall, 32),
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = lis.Addr().String()
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{ca.serverCert(t)},
		ClientCAs:    ca.pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
	})))
	agentv1.RegisterAgentServiceServer(srv, s)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return s
}

// caller returns the node id (client certificate common name) and the
// certificate's serial number, or an Unauthenticated error.
func caller(ctx context.Context) (nodeID, serial string, err error) {
	p, ok := peer.FromContext(ctx)
	if ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.VerifiedChains) > 0 {
			leaf := info.State.VerifiedChains[0][0]
			return leaf.Subject.CommonName, leaf.SerialNumber.String(), nil
		}
	}
	return "", "", status.Error(codes.Unauthenticated, "a node certificate is required")
}

func (s *testServer) Join(ctx context.Context, req *agentv1.JoinRequest) (*agentv1.JoinResponse, error) {
	if req.GetJoinToken() != s.secret {
		return nil, status.Error(codes.Unauthenticated, "the join token is invalid, expired or already used")
	}
	if req.GetNodeName() == "taken" {
		return nil, status.Error(codes.AlreadyExists, "node name taken")
	}
	if req.GetFacts().GetCpuMillicores() <= 0 || req.GetFacts().GetMemoryMib() <= 0 {
		return nil, status.Error(codes.InvalidArgument, "facts: must report the node's CPU and memory")
	}
	now := time.Now()
	der, err := s.ca.signCSR(s.t, req.GetCsrDer(), "node_"+req.GetNodeName(), now.Add(-5*time.Minute), now.Add(s.certTTL))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &agentv1.JoinResponse{NodeId: "node_" + req.GetNodeName(), CertificateDer: der, CaPem: s.ca.pem}, nil
}

func (s *testServer) RenewCertificate(ctx context.Context, req *agentv1.RenewCertificateRequest) (*agentv1.RenewCertificateResponse, error) {
	nodeID, _, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	der, err := s.ca.signCSR(s.t, req.GetCsrDer(), nodeID, now.Add(-5*time.Minute), now.Add(s.certTTL))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.renewals.Add(1)
	return &agentv1.RenewCertificateResponse{CertificateDer: der}, nil
}

func (s *testServer) Connect(stream agentv1.AgentService_ConnectServer) error {
	nodeID, serial, err := caller(stream.Context())
	if err != nil {
		return err
	}
	// As berthd: a session opens with a hello.
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetHello() == nil {
		return status.Error(codes.InvalidArgument, "the first message of a session must be a hello")
	}
	ss := &serverSession{nodeID: nodeID, serial: serial, msgs: make(chan *agentv1.ConnectRequest, 100), stream: stream, end: make(chan error, 1)}
	ss.msgs <- first
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			ss.msgs <- m
		}
	}()
	s.sessions <- ss
	select {
	case err := <-ss.end:
		return err
	case <-stream.Context().Done():
		return stream.Context().Err()
	}
}

func (s *testServer) SendLogs(stream agentv1.AgentService_SendLogsServer) error {
	nodeID, _, err := caller(stream.Context())
	if err != nil {
		return err
	}
	lc := &logCall{nodeID: nodeID, msgs: make(chan *agentv1.SendLogsRequest, 100), end: make(chan struct{})}
	s.logCalls <- lc
	recvErr := make(chan error, 1)
	go func() {
		defer close(lc.msgs)
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			lc.msgs <- m
		}
	}()
	select {
	case err := <-recvErr:
		if err != io.EOF {
			return err
		}
	case <-lc.end:
	}
	return stream.SendAndClose(&agentv1.SendLogsResponse{})
}

// nextLogCall waits for the agent's next SendLogs call.
func (s *testServer) nextLogCall(t *testing.T) *logCall {
	t.Helper()
	select {
	case lc := <-s.logCalls:
		return lc
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a SendLogs call")
		return nil
	}
}

// all returns the messages of the call until the agent stops sending.
func (lc *logCall) all(t *testing.T) []*agentv1.SendLogsRequest {
	t.Helper()
	var msgs []*agentv1.SendLogsRequest
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-lc.msgs:
			if !ok {
				return msgs
			}
			msgs = append(msgs, m)
		case <-timeout:
			t.Fatalf("the agent did not end its SendLogs call; sent %v", msgs)
		}
	}
}

// nextSession waits for the agent's next Connect.
func (s *testServer) nextSession(t *testing.T, clock *fakeClock) *serverSession {
	t.Helper()
	var ss *serverSession
	waitFor(t, clock, "a new session", func() bool {
		select {
		case ss = <-s.sessions:
			return true
		default:
			return false
		}
	})
	return ss
}

// next waits for the next message of the session that satisfies match,
// skipping others.
func (ss *serverSession) next(t *testing.T, clock *fakeClock, what string, match func(*agentv1.ConnectRequest) bool) *agentv1.ConnectRequest {
	t.Helper()
	var got *agentv1.ConnectRequest
	waitFor(t, clock, what, func() bool {
		for {
			select {
			case m := <-ss.msgs:
				if match(m) {
					got = m
					return true
				}
			default:
				return false
			}
		}
	})
	return got
}

// waitFor polls cond, advancing clock (if not nil) by a second between
// polls, until cond holds or 10 real seconds have passed.
func waitFor(t *testing.T, clock *fakeClock, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
		if clock != nil {
			clock.Advance(time.Second)
		}
	}
}
