package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/fixaroo/berth/internal/shared/validate"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

const (
	// maxLogStreams bounds the log requests a node answers at once; more
	// are refused with an error.
	maxLogStreams = 8
	// maxLogBatch bounds the encoded size of a SendLogs message.
	maxLogBatch = 64 << 10
	// maxLogLine bounds the bytes read for one line: longer lines are sent
	// in pieces (cut between characters).
	maxLogLine = 16 << 10
	// maxTailLines is the most lines berthd asks for.
	maxTailLines = 10_000
	// logsRefuseTimeout bounds a SendLogs call that only reports an error.
	logsRefuseTimeout = 10 * time.Second
)

// serveLogs answers a LogsRequest from berthd in the background, with a
// SendLogs call of its own.
func (s *Session) serveLogs(ctx context.Context, client agentv1.AgentServiceClient, req *agentv1.LogsRequest) {
	select {
	case s.logSlots <- struct{}{}:
	default:
		s.logStreams.Go(func() {
			s.refuseLogs(ctx, client, req, fmt.Errorf("node %s already sends %d logs; try again later", s.opts.Identity.NodeID, maxLogStreams))
		})
		return
	}
	s.logStreams.Go(func() {
		defer func() { <-s.logSlots }()
		if err := s.sendLogs(ctx, client, req); err != nil && ctx.Err() == nil {
			s.opts.Log.Warn("cannot send site logs to berthd", "site_id", req.GetSiteId(), "err", err)
		}
	})
}

// refuseLogs answers req with an error only.
func (s *Session) refuseLogs(ctx context.Context, client agentv1.AgentServiceClient, req *agentv1.LogsRequest, reason error) {
	ctx, cancel := context.WithTimeout(ctx, logsRefuseTimeout)
	defer cancel()
	stream, err := client.SendLogs(ctx)
	if err == nil {
		err = stream.Send(&agentv1.SendLogsRequest{RequestId: req.GetRequestId(), Error: reason.Error()})
		if _, cerr := stream.CloseAndRecv(); err == nil || errors.Is(err, io.EOF) {
			err = cerr
		}
	}
	if err != nil && ctx.Err() == nil {
		s.opts.Log.Warn("cannot tell berthd why the site's logs are unavailable", "site_id", req.GetSiteId(), "reason", reason, "err", err)
	}
}

// sendLogs streams the output of req's site to berthd until it ends or,
// when following, until berthd ends the call because its reader has gone.
func (s *Session) sendLogs(ctx context.Context, client agentv1.AgentServiceClient, req *agentv1.LogsRequest) error {
	// Cancelling ctx ends the reader (SessionOptions.Logs), which the
	// reading loop below may be blocked in.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := s.openLogs(ctx, req)
	if err != nil {
		s.refuseLogs(ctx, client, req, err)
		return nil
	}
	defer rc.Close()
	stream, err := client.SendLogs(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&agentv1.SendLogsRequest{RequestId: req.GetRequestId()}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	// berthd ends the call when the reader has gone away (and a Send
	// failing with io.EOF means the same): stop reading then.
	ended := make(chan error, 1)
	go func() {
		ended <- stream.RecvMsg(&agentv1.SendLogsResponse{})
		cancel()
	}()
	readErr, sendErr := sendLines(stream, rc)
	if readErr != nil && ctx.Err() == nil {
		msg := &agentv1.SendLogsRequest{Error: fmt.Sprintf("read the logs of site %s: %v", req.GetSiteId(), readErr)}
		if err := stream.Send(msg); err != nil && !errors.Is(err, io.EOF) {
			sendErr = err
		}
	}
	if sendErr == nil {
		sendErr = stream.CloseSend()
	}
	if err := <-ended; err != nil {
		return err
	}
	return sendErr
}

// openLogs checks req and opens its site's output.
func (s *Session) openLogs(ctx context.Context, req *agentv1.LogsRequest) (io.ReadCloser, error) {
	if err := validate.ID("site_id", "site", req.GetSiteId()); err != nil {
		return nil, err
	}
	tail := req.GetTailLines()
	if tail <= 0 || tail > maxTailLines {
		return nil, fmt.Errorf("tail_lines %d: must be between 1 and %d", tail, maxTailLines)
	}
	if s.opts.Logs == nil {
		return nil, fmt.Errorf("node %s cannot read site logs: it runs no container runtime", s.opts.Identity.NodeID)
	}
	return s.opts.Logs(ctx, req.GetSiteId(), req.GetFollow(), int(tail))
}

// sendLines sends the lines of r in batches of at most maxLogBatch bytes,
// each as soon as no more output is waiting, until r ends (readErr nil at
// io.EOF) or a send fails. A send failing with io.EOF (berthd ended the
// call; the stream's status comes from RecvMsg) is not an error.
func sendLines(stream agentv1.AgentService_SendLogsClient, r io.Reader) (readErr, sendErr error) {
	lr := newLineReader(r)
	var batch []string
	size := 0
	flush := func() error {
		err := stream.Send(&agentv1.SendLogsRequest{Lines: batch})
		batch, size = nil, 0
		return err
	}
	for {
		line, err := lr.next()
		if err == nil {
			n := protowire.SizeTag(2) + protowire.SizeBytes(len(line))
			if size+n > maxLogBatch {
				if err := flush(); err != nil {
					return nil, ignoreEOF(err)
				}
			}
			batch, size = append(batch, line), size+n
		}
		if len(batch) > 0 && (err != nil || !lr.buffered()) {
			if err := flush(); err != nil {
				return nil, ignoreEOF(err)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil, nil
		} else if err != nil {
			return err, nil
		}
	}
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// lineReader splits output into lines without their line ends, as valid
// UTF-8 (invalid bytes become U+FFFD) and at most maxLogLine bytes of
// input each: a longer line comes in pieces, cut between characters.
type lineReader struct {
	br    *bufio.Reader
	carry []byte // the start of a character cut off the previous piece
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, maxLogLine-utf8.UTFMax)}
}

// next returns the next line or piece, or the reader's error once no
// output is left.
func (l *lineReader) next() (string, error) {
	b, err := l.br.ReadSlice('\n')
	full := errors.Is(err, bufio.ErrBufferFull)
	if err != nil && !full {
		if len(b) == 0 && len(l.carry) == 0 {
			return "", err
		}
		// A last line without a line end; the error comes with the next call.
	}
	piece := append(l.carry, b...)
	l.carry = nil
	if full {
		cut := cutPoint(piece)
		l.carry = bytes.Clone(piece[cut:])
		piece = piece[:cut]
	} else {
		piece = bytes.TrimSuffix(piece, []byte("\n"))
	}
	return strings.ToValidUTF8(string(piece), "\uFFFD"), nil
}

// buffered reports whether output is waiting, so that next will not block.
func (l *lineReader) buffered() bool { return len(l.carry) > 0 || l.br.Buffered() > 0 }

// cutPoint is where to cut b so that no character is split: before an
// incomplete character at its end, else at its end.
func cutPoint(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if utf8.FullRune(b[i:]) {
				return len(b)
			}
			return i
		}
	}
	return len(b)
}
