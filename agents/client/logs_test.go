package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

var testSiteID = "site_01jd" + strings.Repeat("a", 22)

// logsCall records one call of SessionOptions.Logs.
type logsCall struct {
	siteID string
	follow bool
	tail   int
}

// logsSession runs a joined session whose Logs is open, and returns its
// server's Connect stream.
func logsSession(t *testing.T, open func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error)) (*testServer, *serverSession) {
	t.Helper()
	ca := newTestCA(t)
	srv := startTestServer(t, ca)
	dataDir := t.TempDir()
	id, err := Join(context.Background(), JoinConfig{Server: srv.addr, JoinToken: testJoinToken(ca), DataDir: dataDir, NodeName: "n1"}, testFacts)
	if err != nil {
		t.Fatal(err)
	}
	runSession(t, SessionOptions{Identity: id, DataDir: dataDir, Logs: open})
	return srv, srv.nextSession(t, nil)
}

func askLogs(t *testing.T, ss *serverSession, lr *agentv1.LogsRequest) {
	t.Helper()
	if err := ss.stream.Send(&agentv1.ConnectResponse{Msg: &agentv1.ConnectResponse_LogsRequest{LogsRequest: lr}}); err != nil {
		t.Fatal(err)
	}
}

func TestSessionSendsLogs(t *testing.T) {
	long := strings.Repeat("é", 20<<10) // 40 KiB of two-byte characters: three pieces
	output := "first\n" + long + "\nbad \xff byte\n"
	for i := range 2000 {
		output += fmt.Sprintf("line %d of the output\n", i)
	}
	output += "last, without a line end"
	var mu sync.Mutex
	var calls []logsCall
	srv, ss := logsSession(t, func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error) {
		mu.Lock()
		calls = append(calls, logsCall{siteID, follow, tail})
		mu.Unlock()
		if siteID != testSiteID {
			return nil, errors.New("no container berth-" + siteID)
		}
		// Output arrives in small reads, as from a pipe.
		return io.NopCloser(iotest.HalfReader(strings.NewReader(output))), nil
	})

	askLogs(t, ss, &agentv1.LogsRequest{RequestId: "logs_1", SiteId: testSiteID, TailLines: 50})
	msgs := srv.nextLogCall(t).all(t)
	if len(msgs) < 3 || msgs[0].GetRequestId() != "logs_1" {
		t.Fatalf("SendLogs messages %v: want the request id first, then lines", msgs)
	}
	var got []string
	for _, m := range msgs {
		if size := proto.Size(m); size > maxLogBatch {
			t.Errorf("a SendLogs message has %d bytes, more than %d", size, maxLogBatch)
		}
		if m.GetError() != "" {
			t.Errorf("error %q", m.GetError())
		}
		got = append(got, m.GetLines()...)
	}
	want := strings.Split(strings.ReplaceAll(output, "\xff", "\uFFFD"), "\n")
	// The long line comes in pieces of at most maxLogLine bytes, cut
	// between characters.
	if len(got) != len(want)+2 {
		t.Fatalf("got %d lines, want %d (+2 pieces)", len(got), len(want))
	}
	for _, piece := range got[1:4] {
		if len(piece) > maxLogLine || !utf8.ValidString(piece) {
			t.Errorf("piece of the long line: %d bytes, valid UTF-8: %v", len(piece), utf8.ValidString(piece))
		}
	}
	got = append(append(got[:1:1], strings.Join(got[1:4], "")), got[4:]...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}

	// Failures are sent as the error, and the site id is checked first.
	for _, tc := range []struct {
		siteID, want string
	}{
		{"site_01jd" + strings.Repeat("b", 22), "no container berth-site_01jd"},
		{"../../etc", `site_id "../../etc"`},
	} {
		askLogs(t, ss, &agentv1.LogsRequest{RequestId: "logs_2", SiteId: tc.siteID, TailLines: 10, Follow: true})
		msgs := srv.nextLogCall(t).all(t)
		if len(msgs) != 1 || msgs[0].GetRequestId() != "logs_2" || !strings.Contains(msgs[0].GetError(), tc.want) || len(msgs[0].GetLines()) > 0 {
			t.Errorf("answer for site %q: %v, want one message with an error containing %q", tc.siteID, msgs, tc.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	wantCalls := []logsCall{{testSiteID, false, 50}, {"site_01jd" + strings.Repeat("b", 22), true, 10}}
	if diff := cmp.Diff(wantCalls, calls, cmp.AllowUnexported(logsCall{})); diff != "" {
		t.Errorf("Logs calls (-want +got):\n%s", diff)
	}
}

// followed is a followed log: it ends only when its ctx does.
type followed struct {
	io.Reader
	closed chan struct{}
}

// TestSessionStopsFollowing checks that the agent stops reading a followed
// log when berthd ends the call, and answers at most maxLogStreams
// requests at once.
func TestSessionStopsFollowing(t *testing.T) {
	opened := make(chan followed, 2*maxLogStreams)
	srv, ss := logsSession(t, func(ctx context.Context, siteID string, follow bool, tail int) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		f := followed{Reader: pr, closed: make(chan struct{})}
		go func() {
			pw.Write([]byte("started\n"))
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
			close(f.closed)
		}()
		opened <- f
		return pr, nil
	})

	var calls []*logCall
	for i := range maxLogStreams {
		askLogs(t, ss, &agentv1.LogsRequest{RequestId: fmt.Sprint("logs_", i), SiteId: testSiteID, TailLines: 10, Follow: true})
		lc := srv.nextLogCall(t)
		for _, want := range []string{"request id", "first line"} {
			select {
			case m := <-lc.msgs:
				if (want == "request id" && m.GetRequestId() != fmt.Sprint("logs_", i)) || (want == "first line" && !cmp.Equal(m.GetLines(), []string{"started"})) {
					t.Fatalf("call %d: %v, want the %s", i, m, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("call %d: no %s", i, want)
			}
		}
		calls = append(calls, lc)
	}
	askLogs(t, ss, &agentv1.LogsRequest{RequestId: "logs_busy", SiteId: testSiteID, TailLines: 10, Follow: true})
	msgs := srv.nextLogCall(t).all(t)
	if len(msgs) != 1 || !strings.Contains(msgs[0].GetError(), "already sends 8 logs") {
		t.Errorf("request over the limit: %v, want an error", msgs)
	}

	// berthd's reader goes away: the agent closes the log.
	close(calls[0].end)
	select {
	case <-(<-opened).closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent still reads the log after berthd ended the call")
	}
	calls[0].all(t)
	// The other follows end when the session stops (runSession checks
	// that Run returns).
}
