package docker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/agents/terminal"
)

func TestExec(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	ctx := t.Context()
	sfx := suffix()
	nw := testNetwork(t, r, "bt-exec-"+sfx)
	c := testContainer(t, r, helloSpec("bt-exec-"+sfx, nw.Name))

	for _, tc := range []struct {
		name  string
		argv  []string
		stdin io.Reader
		env   []string
		want  ExecResult
	}{
		{
			name: "argv is passed verbatim, no shell",
			argv: []string{"/hello", "echo", "a b", "$HOME; rm -rf /", "*", `"q"`},
			want: ExecResult{Stdout: []byte("a b\n$HOME; rm -rf /\n*\n\"q\"\n")},
		},
		{
			name: "exit code and stderr",
			argv: []string{"/hello", "exit", "3"},
			want: ExecResult{Stderr: []byte("exiting 3\n"), ExitCode: 3},
		},
		{
			name:  "stdin",
			argv:  []string{"/hello", "cat"},
			stdin: strings.NewReader("piped\ninput"),
			want:  ExecResult{Stdout: []byte("piped\ninput")},
		},
		{
			name: "env",
			argv: []string{"/hello", "getenv", "FOO"},
			env:  []string{"FOO=bar baz"},
			want: ExecResult{Stdout: []byte("bar baz")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Exec(ctx, c.Name, tc.argv, tc.stdin, tc.env, "")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Transformer("str", func(b []byte) string { return string(b) })); diff != "" {
				t.Errorf("Exec (-want +got):\n%s", diff)
			}
		})
	}

	if _, err := r.Exec(ctx, "bt-exec-missing-"+sfx, []string{"/hello"}, nil, nil, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("Exec in a missing container: %v, want ErrNotFound", err)
	}
	if _, err := r.Exec(ctx, c.Name, nil, nil, nil, ""); !terminal.Is(err) {
		t.Errorf("Exec with no argv: %v, want a terminal error", err)
	}
}

func TestLogs(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	sfx := suffix()
	nw := testNetwork(t, r, "bt-logs-"+sfx)
	c := testContainer(t, r, helloSpec("bt-logs-"+sfx, nw.Name))
	url := fmt.Sprintf("http://%s:8080", c.IPs[nw.Name])
	httpGet(t, url+"/first")
	// The engine stores a container's output a moment after the container
	// writes it: wait for the request's line before reading the logs whole.
	waitLogLine(t, r, c.Name, "request /first")

	rc, err := r.Logs(t.Context(), c.Name, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listening on :8080\n", "ready (stderr)\n", "request /first\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("logs lack %q:\n%s", want, b)
		}
	}
	if strings.ContainsRune(string(b), 0) || strings.ContainsRune(string(b), 1) {
		t.Errorf("logs contain stream headers: %q", b)
	}

	// Follow: see a request that happens after the stream opened.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rc, err = r.Logs(ctx, c.Name, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	httpGet(t, url+"/followed")
	sc := bufio.NewScanner(rc)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "request /followed" {
			break
		}
	}
	if len(lines) == 0 || lines[len(lines)-1] != "request /followed" {
		t.Fatalf("followed logs %q (err %v), want them to end with the new request", lines, sc.Err())
	}
	if len(lines) > 2 {
		t.Errorf("tail 1: got %d lines before the new request: %q", len(lines)-1, lines)
	}
	start := time.Now()
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closing a followed log stream took %s", d)
	}
}

// waitLogLine follows the logs of container name until they hold the line
// want.
func waitLogLine(t *testing.T, r *Runtime, name, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rc, err := r.Logs(ctx, name, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		if sc.Text() == want {
			return
		}
	}
	t.Fatalf("logs of %s never held %q (err %v)", name, want, sc.Err())
}
