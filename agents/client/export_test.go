package client

import (
	"testing"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// What agent_test.go (package client_test) needs of this package's fake
// berthd to run the whole agent against it.

// FakeBerthd is the fake berthd of server_test.go with its CA.
type FakeBerthd struct {
	srv *testServer
	ca  *testCA
}

// StartFakeBerthd starts a fake berthd for the rest of the test.
func StartFakeBerthd(t *testing.T) *FakeBerthd {
	ca := newTestCA(t)
	return &FakeBerthd{srv: startTestServer(t, ca), ca: ca}
}

// Addr is the fake's address, host:port.
func (f *FakeBerthd) Addr() string { return f.srv.addr }

// JoinToken is a join token the fake accepts.
func (f *FakeBerthd) JoinToken() string { return testJoinToken(f.ca) }

// NextHello waits for the agent's next session and its hello; send sends
// the agent a message on that session.
func (f *FakeBerthd) NextHello(t *testing.T) (hello *agentv1.AgentHello, send func(*agentv1.ConnectResponse) error) {
	t.Helper()
	ss := f.srv.nextSession(t, nil)
	return ss.next(t, nil, "hello", anyMsg).GetHello(), ss.stream.Send
}

// ClosedAddr is an address where nothing listens.
func ClosedAddr(t *testing.T) string { return closedAddr(t) }

// WaitFor polls cond until it holds or 10 seconds have passed.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitFor(t, nil, what, cond)
}

// SyncBuffer is a bytes.Buffer safe for concurrent use.
type SyncBuffer = syncBuffer
