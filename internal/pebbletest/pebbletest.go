// Package pebbletest runs a real ACME server for tests: Let's Encrypt's
// Pebble with pebble-challtestsrv as its DNS server, both on loopback, one
// pair per test. Tests that obtain certificates over ACME (agents/certs, the
// edge, whole-system tests) start one with Start and point their ACME client
// at DirectoryURL, trusting Roots.
//
// The binaries come from the repository's bin/ directory (`make tools`
// installs them). Without them a test is skipped, or fails when CI=true: a
// skipped test is not a passed test.
package pebbletest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fixaroo/berth/internal/testenv"
)

// Options configures a Pebble.
type Options struct {
	// HTTPPort is the port on which Pebble validates HTTP-01 challenges:
	// the port of the HTTP server under test. Required.
	HTTPPort int
	// TLSPort is the port on which Pebble validates TLS-ALPN-01
	// challenges: the port of the TLS server under test. Required.
	TLSPort int
}

// Pebble is a running Pebble ACME server and its DNS server. It is stopped
// by the test's cleanup.
type Pebble struct {
	dir        string // the test's temporary directory for config and logs
	dirURL     string
	mgmtURL    string // Pebble's management interface
	dnsMgmtURL string // pebble-challtestsrv's management interface
	tlsCAPEM   []byte // signs Pebble's listener certificate
	issuerPEM  []byte // Pebble's issuing root of this run
	pebbleLog  string
	client     *http.Client // trusts tlsCAPEM; loopback only
}

// readyTimeout bounds how long Start waits for the processes to answer.
const readyTimeout = 15 * time.Second

// Start runs pebble-challtestsrv and Pebble for the duration of the test.
// challtestsrv answers every A query with 127.0.0.1 (SetA changes that per
// host) and no AAAA query, so validation traffic stays on loopback. Pebble
// validates every order (authorization reuse is off, so each order's
// challenges are really checked) without its random validation sleeps, and
// answers with Retry-After of 1 s. Start skips the test under -short, and
// when the binaries are missing (fails when CI=true).
func Start(t testing.TB, o Options) *Pebble {
	t.Helper()
	if testing.Short() {
		t.Skip("pebbletest: real ACME server skipped with -short")
	}
	if o.HTTPPort <= 0 || o.TLSPort <= 0 {
		t.Fatalf("pebbletest: Options.HTTPPort and Options.TLSPort are required, got %+v", o)
	}
	pebbleBin, challBin := binaries(t)

	// Ports are picked free and then handed to the child processes, which
	// leaves a small window for another process to take one; retry then.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := start(t, o, pebbleBin, challBin)
		if err == nil {
			return p
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("pebbletest: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("a port was taken before the server could bind it")

// binaries finds bin/pebble and bin/pebble-challtestsrv beside the go.mod
// above the working directory.
func binaries(t testing.TB) (pebble, challtestsrv string) {
	t.Helper()
	testenv.Require(t, testenv.Pebble)
	pebble, challtestsrv, err := testenv.PebbleBinaries()
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	return pebble, challtestsrv
}

func start(t testing.TB, o Options, pebbleBin, challBin string) (*Pebble, error) {
	t.Helper()
	dir := t.TempDir()
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	listenPort, mgmtPort, dnsPort, dnsMgmtPort := ports[0], ports[1], ports[2], ports[3]

	caPEM, certPEM, keyPEM, err := listenerCert()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"ca.pem": caPEM, "cert.pem": certPEM, "key.pem": keyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	config := map[string]any{
		"pebble": map[string]any{
			"listenAddress":                  "127.0.0.1:" + strconv.Itoa(listenPort),
			"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
			"certificate":                    filepath.Join(dir, "cert.pem"),
			"privateKey":                     filepath.Join(dir, "key.pem"),
			"httpPort":                       o.HTTPPort,
			"tlsPort":                        o.TLSPort,
			"ocspResponderURL":               "",
			"externalAccountBindingRequired": false,
			"retryAfter":                     map[string]int{"authz": 1, "order": 1},
			"keyAlgorithm":                   "ecdsa",
		},
	}
	configJSON, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(configPath, configJSON, 0o600); err != nil {
		return nil, err
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	p := &Pebble{
		dir:        dir,
		dirURL:     fmt.Sprintf("https://127.0.0.1:%d/dir", listenPort),
		mgmtURL:    fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
		dnsMgmtURL: fmt.Sprintf("http://127.0.0.1:%d", dnsMgmtPort),
		tlsCAPEM:   caPEM,
		pebbleLog:  filepath.Join(dir, "pebble.log"),
		client: &http.Client{
			Timeout: 5 * time.Second,
			Transport: &http.Transport{
				Proxy:           nil, // loopback only, whatever the environment says
				TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			},
		},
	}
	t.Cleanup(p.client.CloseIdleConnections)

	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
	chall, err := p.run(t, "pebble-challtestsrv", filepath.Join(dir, "challtestsrv.log"), nil, challBin,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dnsserver", dnsAddr, "-management", "127.0.0.1:"+strconv.Itoa(dnsMgmtPort),
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	if err != nil {
		return nil, err
	}
	if err := waitReady(chall, func() error {
		c, err := net.DialTimeout("tcp", dnsAddr, time.Second)
		if err != nil {
			return err
		}
		c.Close()
		return p.get(p.dnsMgmtURL+"/", nil)
	}); err != nil {
		return nil, fmt.Errorf("pebble-challtestsrv: %w\n%s", err, tail(filepath.Join(dir, "challtestsrv.log")))
	}

	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_VA_ALWAYS_VALID=0", "PEBBLE_AUTHZREUSE=0"}
	peb, err := p.run(t, "pebble", p.pebbleLog, env, pebbleBin, "-config", configPath, "-dnsserver", dnsAddr)
	if err != nil {
		return nil, err
	}
	var issuer []byte
	if err := waitReady(peb, func() error {
		if err := p.get(p.dirURL, nil); err != nil {
			return err
		}
		var b bytes.Buffer
		if err := p.get(p.mgmtURL+"/roots/0", &b); err != nil {
			return err
		}
		issuer = b.Bytes()
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pebble: %w\n%s", err, tail(p.pebbleLog))
	}
	if block, _ := pem.Decode(issuer); block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("pebble: /roots/0 is not a PEM certificate: %q", issuer)
	}
	p.issuerPEM = issuer
	return p, nil
}

// process is a child process and the channel closed when it has exited.
type process struct {
	name   string
	exited chan struct{}
	log    string
}

// run starts a child process with its output going to logPath, kills it in
// the test's cleanup and, if the test failed, logs its output.
func (p *Pebble) run(t testing.TB, name, logPath string, env []string, bin string, args ...string) (*process, error) {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), env...)
	// A file rather than a pipe: the child writes its log lines itself, so
	// a line is in the file before the response that follows it is sent
	// (Orders relies on that).
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	proc := &process{name: name, exited: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(proc.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(logPath))
		}
	})
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-proc.exited
	})
	return proc, nil
}

// waitReady polls ready until it succeeds, the process exits or
// readyTimeout passes.
func waitReady(proc *process, ready func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-proc.exited:
			if out, _ := os.ReadFile(proc.log); bytes.Contains(out, []byte("address already in use")) {
				return errPortTaken
			}
			return fmt.Errorf("%s exited before it was ready (last error: %v)", proc.name, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", proc.name, readyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches url; any answer from the server counts (a 404 from a
// management root still shows it is up) unless into is set, which requires
// a 200 and receives the body.
func (p *Pebble) get(url string, into io.Writer) error {
	resp, err := p.client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if into == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	_, err = io.Copy(into, resp.Body)
	return err
}

// DirectoryURL is the ACME directory, https://127.0.0.1:PORT/dir.
func (p *Pebble) DirectoryURL() string { return p.dirURL }

// RootsPEM returns, PEM-encoded, the CA of Pebble's own TLS listener (for
// an ACME client talking to DirectoryURL) followed by this run's issuing
// root (for verifying the certificates Pebble issues).
func (p *Pebble) RootsPEM() []byte {
	return append(append([]byte{}, p.tlsCAPEM...), p.issuerPEM...)
}

// Roots returns a new pool with the certificates of RootsPEM.
func (p *Pebble) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.RootsPEM())
	return pool
}

// IssuerRoot returns a new pool with only this run's issuing root: a
// certificate that verifies against it was issued by this Pebble.
func (p *Pebble) IssuerRoot() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.issuerPEM)
	return pool
}

// SetA makes host resolve, for Pebble's validation, to ip alone (an IPv4
// address such as 127.0.0.2) instead of the default 127.0.0.1.
func (p *Pebble) SetA(t testing.TB, host, ip string) {
	t.Helper()
	p.ClearA(t, host)
	p.dnsPost(t, "/add-a", map[string]any{"host": host, "addresses": []string{ip}})
}

// ClearA removes the addresses SetA gave host; it resolves to 127.0.0.1
// again.
func (p *Pebble) ClearA(t testing.TB, host string) {
	t.Helper()
	p.dnsPost(t, "/clear-a", map[string]any{"host": host})
}

func (p *Pebble) dnsPost(t testing.TB, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("pebbletest: %v", err)
	}
	resp, err := p.client.Post(p.dnsMgmtURL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("pebbletest: challtestsrv %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("pebbletest: challtestsrv %s: %s %s", path, resp.Status, msg)
	}
}

// orderLine is what Pebble logs once for each new order it accepts
// (wfe.NewOrder, after the order is stored; rejected orders don't log it).
const orderLine = "Added order "

// Orders returns how many new orders Pebble has accepted so far. Pebble
// writes the log line before it answers the newOrder request, so an order
// the client has seen accepted is always counted.
func (p *Pebble) Orders() int {
	b, err := os.ReadFile(p.pebbleLog)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte(orderLine))
}

// tail returns the last 200 lines of a log file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 200 {
		lines = append([]string{"..."}, lines[len(lines)-200:]...)
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// listenerCert makes a throwaway CA and, signed by it, an ECDSA certificate
// for 127.0.0.1, ::1 and localhost for Pebble's listeners.
func listenerCert() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebbletest listener CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		nil
}
