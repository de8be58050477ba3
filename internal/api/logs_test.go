package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/internal/api"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// fakeNode is a test's own session as a node: a real Connect stream and
// SendLogs calls on a connection with the node's certificate.
type fakeNode struct {
	t       *testing.T
	agents  agentv1.AgentServiceClient
	connect agentv1.AgentService_ConnectClient
}

// connectNode opens the Connect stream of the node with cert and waits for
// the first desired state, after which berthd knows the node is connected.
func connectNode(t *testing.T, ctx context.Context, conn *grpc.ClientConn) *fakeNode {
	t.Helper()
	n := &fakeNode{t: t, agents: agentv1.NewAgentServiceClient(conn)}
	var err error
	if n.connect, err = n.agents.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.connect.Send(&agentv1.ConnectRequest{Msg: &agentv1.ConnectRequest_Hello{Hello: &agentv1.AgentHello{Facts: testFacts()}}}); err != nil {
		t.Fatal(err)
	}
	if msg, err := n.connect.Recv(); err != nil || msg.GetDesiredState() == nil {
		t.Fatalf("first message of the session: %v, %v; want a desired state", msg, err)
	}
	return n
}

// logsRequest returns the next LogsRequest berthd sends the node.
func (n *fakeNode) logsRequest() *agentv1.LogsRequest {
	n.t.Helper()
	for {
		msg, err := n.connect.Recv()
		if err != nil {
			n.t.Fatalf("waiting for a logs request: %v", err)
		}
		if lr := msg.GetLogsRequest(); lr != nil {
			return lr
		}
	}
}

// recvLines reads the logs stream to its end.
func recvLines(stream berthv1.LogService_GetSiteLogsClient) ([]string, error) {
	var lines []string
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return lines, nil
		} else if err != nil {
			return lines, err
		}
		lines = append(lines, msg.GetLines()...)
	}
}

func bearer(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func TestGetSiteLogs(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	logs := berthv1.NewLogServiceClient(s.conn)
	ctxA := bearer(ctx, f.tokens[clientA])

	// Before the node connects there is no one to ask.
	stream, err := logs.GetSiteLogs(ctxA, &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = recvLines(stream)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "is not running on a connected node") {
		t.Fatalf("logs of a site whose node is not connected: %v, want FailedPrecondition", err)
	}

	node := connectNode(t, ctx, s.dial(t, &f.nodeCert))
	stream, err = logs.GetSiteLogs(ctxA, &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID, TailLines: 5})
	if err != nil {
		t.Fatal(err)
	}
	lr := node.logsRequest()
	if lr.SiteId != f.a.siteID || lr.TailLines != 5 || lr.Follow || lr.RequestId == "" {
		t.Fatalf("logs request %v: want site A, 5 lines, no follow", lr)
	}
	// More batches than berthd buffers, so that the node waits for the reader.
	send, err := node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId}); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		batch := []string{fmt.Sprintf("line %d.1", i), fmt.Sprintf("line %d.2", i)}
		want = append(want, batch...)
		if err := send.Send(&agentv1.SendLogsRequest{Lines: batch}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := send.CloseAndRecv(); err != nil {
		t.Fatalf("SendLogs: %v", err)
	}
	got, err := recvLines(stream)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines received (-want +got):\n%s", diff)
	}

	// A request id is answered once.
	send, err = node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Lines: []string{"again"}})
	if _, err := send.CloseAndRecv(); status.Code(err) != codes.NotFound {
		t.Errorf("second answer to one request: %v, want NotFound", err)
	}

	// The default tail, and the node's error passed on.
	stream, err = logs.GetSiteLogs(ctxA, &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	if lr = node.logsRequest(); lr.TailLines != 100 {
		t.Errorf("tail_lines 0 asks the node for %d lines, want 100", lr.TailLines)
	}
	send, err = node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Error: "container berth-x: not found"})
	if _, err := send.CloseAndRecv(); err != nil {
		t.Errorf("SendLogs with an error: %v", err)
	}
	_, err = recvLines(stream)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "container berth-x: not found") {
		t.Errorf("node's error: %v, want FailedPrecondition with its text", err)
	}

	// Client B may not see site A; bad tails are refused.
	stream, err = logs.GetSiteLogs(bearer(ctx, f.tokens[clientB]), &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recvLines(stream); status.Code(err) != codes.NotFound {
		t.Errorf("client B reading site A's logs: %v, want NotFound", err)
	}
	for _, tail := range []int32{-1, 10_001} {
		stream, err = logs.GetSiteLogs(ctxA, &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID, TailLines: tail})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recvLines(stream); status.Code(err) != codes.InvalidArgument {
			t.Errorf("tail_lines %d: %v, want InvalidArgument", tail, err)
		}
	}
}

// TestFollowEndsWithTheReader checks that the node's SendLogs call ends
// when the reader of a followed log goes away, so the node stops reading.
func TestFollowEndsWithTheReader(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node := connectNode(t, ctx, s.dial(t, &f.nodeCert))
	readCtx, stopReading := context.WithCancel(bearer(ctx, f.tokens[admin]))
	defer stopReading()
	stream, err := berthv1.NewLogServiceClient(s.conn).GetSiteLogs(readCtx, &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	lr := node.logsRequest()
	if !lr.Follow {
		t.Errorf("logs request %v: want follow", lr)
	}
	send, err := node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Lines: []string{"first"}}); err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Recv()
	if err != nil || !cmp.Equal(msg.GetLines(), []string{"first"}) {
		t.Fatalf("first batch: %v, %v", msg, err)
	}
	stopReading()
	// The node's call ends with OK, with no more sends from the node.
	if err := send.RecvMsg(&agentv1.SendLogsResponse{}); err != nil {
		t.Errorf("SendLogs after the reader went away: %v, want OK", err)
	}
}

// TestSendLogsOnlyFromTheAskedNode checks that a node cannot answer (or
// spoil) a request issued to another node.
func TestSendLogsOnlyFromTheAskedNode(t *testing.T) {
	s := newServer(t)
	f := newFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node := connectNode(t, ctx, s.dial(t, &f.nodeCert))
	stream, err := berthv1.NewLogServiceClient(s.conn).GetSiteLogs(bearer(ctx, f.tokens[admin]), &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	lr := node.logsRequest()

	spare := agentv1.NewAgentServiceClient(s.dial(t, ptr(s.nodeCert(t, f.spareNodeID))))
	send, err := spare.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Lines: []string{"forged"}})
	if _, err := send.CloseAndRecv(); status.Code(err) != codes.NotFound {
		t.Errorf("another node answering the request: %v, want NotFound", err)
	}

	// The asked node still can.
	send, err = node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Lines: []string{"genuine"}})
	if _, err := send.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	got, err := recvLines(stream)
	if err != nil || !cmp.Equal(got, []string{"genuine"}) {
		t.Errorf("lines %q, %v; want only the asked node's", got, err)
	}
}

func TestGetSiteLogsNodeDoesNotAnswer(t *testing.T) {
	s := newServer(t, func(o *api.Options) { o.LogsStartTimeout = 200 * time.Millisecond })
	f := newFixture(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	node := connectNode(t, ctx, s.dial(t, &f.nodeCert))
	stream, err := berthv1.NewLogServiceClient(s.conn).GetSiteLogs(bearer(ctx, f.tokens[admin]), &berthv1.GetSiteLogsRequest{SiteId: f.a.siteID})
	if err != nil {
		t.Fatal(err)
	}
	lr := node.logsRequest()
	if _, err := recvLines(stream); status.Code(err) != codes.Unavailable {
		t.Fatalf("node that never answers: %v, want Unavailable", err)
	}
	// A late answer finds no one waiting.
	send, err := node.agents.SendLogs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send.Send(&agentv1.SendLogsRequest{RequestId: lr.RequestId, Lines: []string{"late"}})
	if _, err := send.CloseAndRecv(); status.Code(err) != codes.NotFound {
		t.Errorf("late answer: %v, want NotFound", err)
	}
}
