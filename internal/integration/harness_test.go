package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/testenv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// bins holds the binaries, built once per mode: bins[0] without the race
// detector, bins[1] with it.
var bins [2]struct {
	dir  string
	err  error
	once sync.Once
}

// commands are the programs the whole-system tests run.
var commands = []string{"github.com/fixaroo/berth/cmd/berthd", "github.com/fixaroo/berth/cmd/berth", "github.com/fixaroo/berth/cmd/berth-agent"}

var sourcesOnce sync.Once

// binary builds berthd, berth and berth-agent on first use and returns the
// path of name. Tests get binaries built with -race; benchmarks (tb is a
// *testing.B) get them built without, since the race detector would
// dominate every latency and multiply memory.
func binary(tb testing.TB, name string) string {
	tb.Helper()
	testenv.SkipShort(tb)
	// The binaries are built from sources the test cache does not see;
	// reading them makes a change in any of them rerun this package.
	sourcesOnce.Do(func() { testenv.DependOnSources(tb, commands...) })
	_, bench := tb.(*testing.B)
	bin := &bins[1]
	args := []string{"build", "-race"}
	if bench {
		bin, args = &bins[0], []string{"build"}
	}
	bin.once.Do(func() {
		bin.dir, bin.err = os.MkdirTemp("", "berth-bin-")
		if bin.err != nil {
			return
		}
		cmd := exec.Command("go", append(append(args, "-o", bin.dir+"/"), commands...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			bin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bin.err != nil {
		tb.Fatal(bin.err)
	}
	return filepath.Join(bin.dir, name)
}

// Each whole-system test runs on a loopback block of its own, 127.0.N.0/24,
// so that tests in parallel never meet on an address: berthd listens on
// 127.0.N.1 and may come back on the same port after a restart, agents and
// firewall rules use 127.0.N.x. Blocks are handed out from N = 10 up; the
// test's *testing.T (or B) is the key.
var (
	blocksMu  sync.Mutex
	blocks    = map[testing.TB]int{}
	nextBlock = 10
)

// testIP returns the address 127.0.N.host of tb's loopback block.
func testIP(tb testing.TB, host int) string {
	tb.Helper()
	if host < 1 || host > 254 {
		tb.Fatalf("testIP: host %d out of 1..254", host)
	}
	blocksMu.Lock()
	defer blocksMu.Unlock()
	n, ok := blocks[tb]
	if !ok {
		if nextBlock > 254 {
			tb.Fatal("testIP: every loopback block 127.0.10-254.0/24 is in use")
		}
		n = nextBlock
		nextBlock++
		blocks[tb] = n
		tb.Cleanup(func() {
			blocksMu.Lock()
			delete(blocks, tb)
			blocksMu.Unlock()
		})
	}
	return fmt.Sprintf("127.0.%d.%d", n, host)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := range bins {
		if bins[i].dir != "" {
			os.RemoveAll(bins[i].dir)
		}
	}
	os.Exit(code)
}

// berthd is a running berthd process.
type berthd struct {
	tb      testing.TB
	dataDir string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *syncBuffer
	addr    string // host:port of the TLS listener
	metrics string // host:port of /metrics
	token   string // bootstrap admin token
	http    *http.Client
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBerthd starts berthd on the test's loopback block with dataDir (""
// for a new one) and extra flags, and waits until it answers /readyz.
func startBerthd(tb testing.TB, dataDir string, extra ...string) *berthd {
	tb.Helper()
	return startBerthdOn(tb, dataDir, testIP(tb, 1)+":0", extra...)
}

// startBerthdOn starts berthd listening on listen, for tests that restart
// it and need agents to find it at the same address (b.addr; no other test
// binds the test's loopback block, so the port is still free).
func startBerthdOn(tb testing.TB, dataDir, listen string, extra ...string) *berthd {
	tb.Helper()
	if dataDir == "" {
		dataDir = tb.TempDir()
	}
	if err := os.Remove(filepath.Join(dataDir, "berthd.addr")); err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		tb.Fatalf("listen %q: %v", listen, err)
	}
	b := &berthd{tb: tb, dataDir: dataDir, stderr: &syncBuffer{}, exited: make(chan struct{})}
	b.cmd = exec.Command(binary(tb, "berthd"), append([]string{"--data-dir", dataDir, "--listen", listen,
		"--metrics-listen", net.JoinHostPort(host, "0"), "--tls-host", host}, extra...)...)
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()
	tb.Cleanup(func() {
		b.cmd.Process.Kill()
		<-b.exited
		if tb.Failed() {
			tb.Logf("berthd log:\n%s", b.stderr.String())
		}
	})

	deadline := time.After(60 * time.Second)
	for b.addr == "" {
		select {
		case <-b.exited:
			tb.Fatalf("berthd exited before listening:\n%s", b.stderr.String())
		case <-deadline:
			tb.Fatalf("berthd did not write its address file within 60s:\n%s", b.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		raw, err := os.ReadFile(filepath.Join(dataDir, "berthd.addr"))
		if err != nil {
			continue
		}
		var addrs struct{ Listen, Metrics string }
		if err := json.Unmarshal(raw, &addrs); err != nil {
			tb.Fatalf("address file: %v", err)
		}
		b.addr, b.metrics = addrs.Listen, addrs.Metrics
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin.token"))
	if err != nil {
		tb.Fatal(err)
	}
	b.token = strings.TrimSpace(string(tok))
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dataDir, "ca.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(caPEM) {
		tb.Fatal("ca.pem holds no certificate")
	}
	b.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "localhost"},
		ForceAttemptHTTP2: true,
	}}
	if code, body := b.do("GET", "/readyz", "", nil); code != 200 {
		tb.Fatalf("/readyz: %d %s", code, body)
	}
	return b
}

// url returns the https URL of path at berthd's address (its certificate
// names the address, from --tls-host).
func (b *berthd) url(path string) string {
	return "https://" + b.addr + path
}

// do makes a REST call with the given token ("" for none) and JSON body
// (nil for none) and returns the status code and body.
func (b *berthd) do(method, path, token string, body any) (int, []byte) {
	b.tb.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			b.tb.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url(path), r)
	if err != nil {
		b.tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Fatal(err)
	}
	return resp.StatusCode, out
}

// rest makes a REST call that must succeed and decodes its JSON response.
func (b *berthd) rest(method, path string, body any) map[string]any {
	b.tb.Helper()
	code, out := b.do(method, path, b.token, body)
	if code != 200 {
		b.tb.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		b.tb.Fatalf("%s %s: %v in %s", method, path, err, out)
	}
	return m
}

// call makes an authenticated REST call with a JSON body (nil for none)
// and returns an error unless it answers 200. Unlike rest it does not stop
// the test, so any goroutine may call it.
func (b *berthd) call(method, path string, body any) error {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url(path), r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, out)
	}
	return nil
}

// grpcConn dials berthd over TLS trusting its CA.
func (b *berthd) grpcConn() *grpc.ClientConn {
	b.tb.Helper()
	creds, err := credentials.NewClientTLSFromFile(filepath.Join(b.dataDir, "ca.pem"), "localhost")
	if err != nil {
		b.tb.Fatal(err)
	}
	conn, err := grpc.NewClient(b.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		b.tb.Fatal(err)
	}
	b.tb.Cleanup(func() { conn.Close() })
	return conn
}

// adminCtx returns a context carrying the admin token.
func (b *berthd) adminCtx() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+b.token)
}

// stop sends SIGTERM and waits for a clean exit.
func (b *berthd) stop() {
	b.tb.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.tb.Fatal(err)
	}
	select {
	case <-b.exited:
	case <-time.After(30 * time.Second):
		b.tb.Fatalf("berthd did not stop within 30s of SIGTERM:\n%s", b.stderr.String())
	}
	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		b.tb.Fatalf("berthd exited with %d after SIGTERM:\n%s", code, b.stderr.String())
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (b *berthd) kill() {
	b.cmd.Process.Kill()
	<-b.exited
}

// rssMiB returns the resident set size of process pid in MiB, from /proc.
func rssMiB(pid int) (float64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kB, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kB / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// writeFile writes content to path, creating its directory, and fails the
// test on any error.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}
