package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/fixaroo/berth/agents/terminal"
)

// ExecResult is the outcome of a command run with Exec.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int
}

// execPoll is how often Exec asks for the exit code after the output ended.
const execPoll = 20 * time.Millisecond

// Exec runs argv (an argument vector, never a shell string) in the running
// container called name, feeding it stdin if not nil, with extra environment
// env (KEY=VALUE) as user (empty: the container's user). A non-zero exit code
// is not an error. The run is bounded by ctx's deadline if it has one, else by
// the call timeout. Exec does not wait for a stdin that the command did not
// read to be drained.
func (r *Runtime) Exec(ctx context.Context, name string, argv []string, stdin io.Reader, env []string, user string) (ExecResult, error) {
	if err := validateName("container", name); err != nil {
		return ExecResult{}, err
	}
	if len(argv) == 0 {
		return ExecResult{}, terminal.Errorf("exec in %s: empty command", name)
	}
	if err := validateArgv("exec", argv); err != nil {
		return ExecResult{}, err
	}
	if err := validateEnv(env); err != nil {
		return ExecResult{}, err
	}
	if err := validateUser(user); err != nil {
		return ExecResult{}, err
	}
	c, found, err := r.inspect(ctx, name)
	if err != nil {
		return ExecResult{}, err
	}
	if !found {
		return ExecResult{}, fmt.Errorf("exec in %s: container %w", name, ErrNotFound)
	}
	cctx, cancel := r.call(ctx)
	created, err := r.cli.ExecCreate(cctx, c.ID, client.ExecCreateOptions{
		User:         user,
		Env:          env,
		Cmd:          argv,
		AttachStdin:  stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	cancel()
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %s in %s: %w", argv[0], name, classify(err))
	}

	sctx, scancel := ctx, context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		sctx, scancel = context.WithTimeout(ctx, r.timeout)
	}
	defer scancel()
	att, err := r.cli.ExecAttach(sctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %s in %s: attach: %w", argv[0], name, err)
	}
	defer att.Close()
	// The hijacked connection ignores ctx once established.
	stop := context.AfterFunc(sctx, att.Close)
	defer stop()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		if cerr := sctx.Err(); cerr != nil {
			err = cerr
		}
		return ExecResult{}, fmt.Errorf("exec %s in %s: read output: %w", argv[0], name, err)
	}
	if err := sctx.Err(); err != nil {
		return ExecResult{}, fmt.Errorf("exec %s in %s: %w", argv[0], name, err)
	}
	for {
		cctx, cancel := r.call(sctx)
		ins, err := r.cli.ExecInspect(cctx, created.ID, client.ExecInspectOptions{})
		cancel()
		if err != nil {
			return ExecResult{}, fmt.Errorf("exec %s in %s: inspect: %w", argv[0], name, err)
		}
		if !ins.Running {
			return ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: ins.ExitCode}, nil
		}
		select {
		case <-sctx.Done():
			return ExecResult{}, fmt.Errorf("exec %s in %s: waiting for exit: %w", argv[0], name, sctx.Err())
		case <-time.After(execPoll):
		}
	}
}

// Logs streams the output of the container called name: stdout and stderr
// demultiplexed and merged line by line (a line is never split by a line of
// the other stream). tail > 0 starts with the last tail lines, otherwise with
// all of them. With follow the stream stays open until ctx ends or the reader
// is closed (the call timeout bounds only the request); without, it ends after
// the current output and the call timeout bounds the whole read. The caller
// must Close the reader.
func (r *Runtime) Logs(ctx context.Context, name string, follow bool, tail int) (io.ReadCloser, error) {
	if err := validateName("container", name); err != nil {
		return nil, err
	}
	c, found, err := r.inspect(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("logs of %s: container %w", name, ErrNotFound)
	}
	opts := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow}
	if tail > 0 {
		opts.Tail = strconv.Itoa(tail)
	}
	var (
		sctx   context.Context
		cancel context.CancelFunc
		timer  *time.Timer
	)
	if follow {
		sctx, cancel = context.WithCancel(ctx)
		timer = time.AfterFunc(r.timeout, cancel)
	} else {
		sctx, cancel = context.WithTimeout(ctx, r.timeout)
	}
	body, err := r.cli.ContainerLogs(sctx, c.ID, opts)
	if timer != nil && !timer.Stop() && err == nil {
		_ = body.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("logs of %s: %w", name, err)
	}
	pr, pw := io.Pipe()
	lr := &logReader{pr: pr, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		// StdCopy writes from this goroutine only, so the two line
		// writers can share pw.
		out, errw := &lineWriter{w: pw}, &lineWriter{w: pw}
		_, err := stdcopy.StdCopy(out, errw, body)
		if err == nil {
			err = errors.Join(out.flush(), errw.flush())
		}
		_ = body.Close()
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	return lr, nil
}

type logReader struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	done   chan struct{}
}

func (l *logReader) Read(p []byte) (int, error) { return l.pr.Read(p) }

// Close ends the stream and waits for its goroutine to exit.
func (l *logReader) Close() error {
	l.cancel()
	_ = l.pr.Close()
	<-l.done
	return nil
}

// maxLine bounds how much of a line without a newline is buffered before it
// is passed on anyway.
const maxLine = 64 << 10

// lineWriter passes on complete lines only, so that lines of two streams
// merged into one writer never interleave.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLine {
			return len(p), nil
		}
		n := i + 1
		if i < 0 {
			n = len(l.buf)
		}
		if _, err := l.w.Write(l.buf[:n]); err != nil {
			return 0, err
		}
		l.buf = l.buf[n:]
		if len(l.buf) == 0 {
			l.buf = nil
			return len(p), nil
		}
	}
}

// flush passes on a last unterminated line, terminated.
func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	line := append(l.buf, '\n')
	l.buf = nil
	_, err := l.w.Write(line)
	return err
}
