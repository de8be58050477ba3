package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// result is what one in-process run of the CLI produced.
type result struct {
	code        int
	stdout, err string
}

// runCLI runs the CLI in-process with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errOut}, args, mapEnv(env))
	return result{code: code, stdout: out.String(), err: errOut.String()}
}

func TestRunUsageErrors(t *testing.T) {
	// A token and an unreachable server are configured, so a test passes
	// only if the usage error is found before any dialing.
	env := map[string]string{"HOME": t.TempDir(), "BERTH_TOKEN": "berth_x", "BERTH_SERVER": "127.0.0.1:1"}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "berth"`},
		{[]string{"site", "bogus"}, `unknown command "bogus" for "berth site"`},
		{[]string{"site", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"site", "get"}, "missing ID"},
		{[]string{"site", "get", "a", "b"}, `unexpected argument "b"`},
		{[]string{"-o", "yaml", "site", "list"}, `invalid --output "yaml": want table or json`},
		{[]string{"--timeout", "soon", "site", "list"}, `invalid argument "soon"`},
		{[]string{"site", "list", "--state", "sleeping"}, `invalid --state "sleeping": want pending, provisioning, running, failed or deleting`},
		{[]string{"site", "create", "--client", "cl_1", "--name", "n", "--kind", "wordpress"}, `required flag(s) "domain" not set`},
		{[]string{"site", "create", "--client", "cl_1", "--name", "n", "--kind", "php", "--domain", "d.test"}, `invalid --kind "php": want wordpress or static`},
		{[]string{"site", "create", "--client", "cl_1", "--name", "n", "--kind", "static", "--domain", "d.test", "--title", "T"}, "only for --kind wordpress"},
		{[]string{"site", "update", "site_1"}, "nothing to update"},
		{[]string{"site", "update", "site_1", "--alias", "a.test", "--clear-aliases"}, "none of the others can be"},
		{[]string{"client", "update", "cl_1"}, "nothing to update"},
		{[]string{"user", "create", "--email", "a@b.test", "--role", "client"}, "--role client needs --client ID"},
		{[]string{"user", "create", "--email", "a@b.test", "--role", "admin", "--client", "cl_1"}, "--client is only for --role client"},
		{[]string{"user", "create", "--email", "a@b.test", "--role", "root"}, `invalid --role "root": want admin or client`},
		{[]string{"token", "create", "--name", "ci", "--role", "client"}, "--role client needs --client ID"},
		{[]string{"node", "join-token", "--ttl", "0s"}, "invalid --ttl"},
		{[]string{"audit", "list", "--limit", "0"}, "invalid --limit 0"},
		{[]string{"site", "logs", "site_1", "--tail", "0"}, "invalid --tail 0: want 1 to 10000"},
		{[]string{"site", "logs"}, "missing SITE"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, env, "", tt.args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", r.code, r.err)
			}
			if !strings.Contains(r.err, tt.want) || !strings.Contains(r.err, "--help' for usage") {
				t.Errorf("stderr = %q, want it to contain %q and a pointer to --help", r.err, tt.want)
			}
		})
	}
}

func TestRunHelpAndVersion(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir()}
	for _, args := range [][]string{nil, {"site"}, {"site", "create", "--help"}, {"version"}, {"completion", "bash"}} {
		r := runCLI(t, env, "", args...)
		if r.code != 0 || r.stdout == "" {
			t.Errorf("berth %v: exit %d, stdout %d bytes, stderr %q; want 0 and output", args, r.code, len(r.stdout), r.err)
		}
	}
}

func TestRunNoTokenFailsBeforeDialing(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir(), "BERTH_SERVER": "127.0.0.1:1"}
	r := runCLI(t, env, "", "site", "list")
	want := "error: no API token: run `berth login`, or set --token / BERTH_TOKEN\n"
	if r.code != 1 || r.err != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.err, want)
	}
}

func TestRunConnectionErrors(t *testing.T) {
	srv := startTestServer(t)
	closed := closedAddr(t)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{
			name: "connection refused",
			env:  map[string]string{"BERTH_SERVER": closed, "BERTH_TOKEN": "berth_good"},
			want: "error: berthd at https://" + closed + " is not reachable: connection refused — is it running? set --server or BERTH_SERVER\n",
		},
		{
			name: "untrusted certificate",
			env:  map[string]string{"BERTH_SERVER": srv.addr, "BERTH_TOKEN": "berth_good"},
			want: "error: berthd at https://" + srv.addr + ": certificate is not trusted: pass --ca DATA/ca.pem (or BERTH_CA)\n",
		},
		{
			name: "bad token",
			env:  map[string]string{"BERTH_SERVER": srv.addr, "BERTH_CA": srv.caFile, "BERTH_TOKEN": "berth_bad"},
			want: "error: invalid API token (run `berth login` or check --token)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["HOME"] = t.TempDir()
			r := runCLI(t, tt.env, "", "whoami")
			if r.code != 1 || r.err != tt.want {
				t.Errorf("exit %d, stderr:\n%s\nwant 1 and:\n%s", r.code, r.err, tt.want)
			}
		})
	}
}

func TestRunWhoAmISendsBearerToken(t *testing.T) {
	srv := startTestServer(t)
	env := map[string]string{"HOME": t.TempDir(), "BERTH_CA": srv.caFile, "BERTH_TOKEN": "berth_good"}
	r := runCLI(t, env, "", "--server", "https://"+srv.addr, "-o", "json", "whoami")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %s", r.code, r.err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	want := map[string]any{"role": "ROLE_ADMIN", "email": "ops@example.test", "token_id": "tok_good"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("whoami -o json (-want +got):\n%s", diff)
	}
	if got := srv.auth.lastAuthorization(); got != "Bearer berth_good" {
		t.Errorf("authorization metadata = %q, want %q", got, "Bearer berth_good")
	}
}

func TestRunLoginWhoAmILogout(t *testing.T) {
	srv := startTestServer(t)
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	cfgPath := filepath.Join(home, ".config", "berth", "config.json")

	r := runCLI(t, env, "wrong password\n", "--server", srv.addr, "--ca", srv.caFile, "login", "--email", "ops@example.test")
	if r.code != 1 || !strings.Contains(r.err, "wrong email or password (run `berth login` or check --token)") {
		t.Errorf("login with a wrong password: exit %d, stderr %q", r.code, r.err)
	}
	if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
		t.Errorf("failed login wrote the config file (stat: %v)", err)
	}

	r = runCLI(t, env, "correct horse\n", "--server", srv.addr, "--ca", srv.caFile, "login", "--email", "ops@example.test")
	if r.code != 0 {
		t.Fatalf("login: exit %d, stderr %s", r.code, r.err)
	}
	if !strings.HasPrefix(r.stdout, "Logged in as ops@example.test (admin) — token expires at ") {
		t.Errorf("login stdout = %q", r.stdout)
	}
	got, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	want := fileConfig{Server: "https://" + srv.addr, Token: "berth_session", CA: srv.caFile}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config after login (-want +got):\n%s", diff)
	}
	assertMode(t, cfgPath, 0o600)
	assertMode(t, filepath.Dir(cfgPath), 0o700|os.ModeDir)

	// The config file alone now supplies server, CA and token.
	r = runCLI(t, env, "", "whoami")
	if r.code != 0 || !strings.Contains(r.stdout, "ops@example.test") {
		t.Errorf("whoami after login: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.err)
	}

	r = runCLI(t, env, "", "logout")
	if r.code != 0 || r.stdout != "Logged out.\n" {
		t.Errorf("logout: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.err)
	}
	got, err = loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fileConfig{Server: "https://" + srv.addr, CA: srv.caFile}, got); diff != "" {
		t.Errorf("config after logout (-want +got):\n%s", diff)
	}
	r = runCLI(t, env, "", "whoami")
	if r.code != 1 || !strings.Contains(r.err, "no API token") {
		t.Errorf("whoami after logout: exit %d, stderr %q", r.code, r.err)
	}
}

func TestRunSiteCreateWaits(t *testing.T) {
	pending := &berthv1.Site{Id: "site_new", Name: "blog", State: berthv1.SiteState_SITE_STATE_PENDING, Conditions: []*berthv1.Condition{
		{Type: "Scheduled", Status: "False", Reason: "NoReadyNode", Message: "no ready node"},
	}}
	provisioning := &berthv1.Site{Id: "site_new", State: berthv1.SiteState_SITE_STATE_PROVISIONING, NodeId: "node_a", Conditions: []*berthv1.Condition{
		{Type: "Scheduled", Status: "True"}, {Type: "Ready", Status: "False", Reason: "Starting", Message: "starting containers"},
	}}
	running := &berthv1.Site{Id: "site_new", State: berthv1.SiteState_SITE_STATE_RUNNING, NodeId: "node_a", PrimaryDomain: "blog.acme.test", Conditions: []*berthv1.Condition{
		{Type: "Scheduled", Status: "True"}, {Type: "Ready", Status: "True"},
	}}
	failed := &berthv1.Site{Id: "site_new", State: berthv1.SiteState_SITE_STATE_FAILED, NodeId: "node_a", Conditions: []*berthv1.Condition{
		{Type: "Scheduled", Status: "True"}, {Type: "Ready", Status: "False", Reason: "ImagePullFailed", Message: "pull wordpress:6: not found"},
	}}
	create := []string{"site", "create", "--client", "cl_1", "--name", "blog", "--kind", "wordpress", "--domain", "blog.acme.test"}
	tests := []struct {
		name       string
		script     []*berthv1.Site
		extra      []string
		wantCode   int
		wantStdout string
		wantErr    string
	}{
		{
			name: "running",
			// The repeated version changes nothing shown and prints no line.
			script:   []*berthv1.Site{pending, pending, provisioning, running},
			wantCode: 0,
			wantStdout: "Waiting for site site_new (blog) to run (Ctrl-C stops waiting, the site stays)\n" +
				"site_new: PENDING — Scheduled=False NoReadyNode: no ready node\n" +
				"site_new: PROVISIONING on node_a — Ready=False Starting: starting containers\n" +
				"site_new: RUNNING on node_a — Scheduled=True Ready=True\n" +
				"Site site_new is RUNNING on node_a: https://blog.acme.test/\n",
		},
		{
			name:     "failed",
			script:   []*berthv1.Site{pending, failed},
			wantCode: 1,
			wantErr:  "error: site site_new FAILED: Ready=False ImagePullFailed: pull wordpress:6: not found\n",
		},
		{
			name:     "timeout",
			script:   []*berthv1.Site{pending},
			extra:    []string{"--wait-timeout", "300ms"},
			wantCode: 1,
			wantErr:  "error: site site_new still PENDING after 300ms; follow with `berth site watch site_new`\n",
		},
		{
			name:       "no wait",
			script:     nil,
			extra:      []string{"--no-wait"},
			wantCode:   0,
			wantStdout: "ID        NAME  CLIENT  KIND  STATE    DOMAIN  NODE  AGE\nsite_new  blog  -       -     PENDING  -       -     -\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTestServer(t)
			srv.sites.set(pending, tt.script, false)
			env := map[string]string{"HOME": t.TempDir(), "BERTH_SERVER": srv.addr, "BERTH_CA": srv.caFile, "BERTH_TOKEN": "berth_good"}
			r := runCLI(t, env, "", append(create, tt.extra...)...)
			if r.code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %q", r.code, tt.wantCode, r.err)
			}
			if tt.wantStdout != "" {
				if diff := cmp.Diff(tt.wantStdout, r.stdout); diff != "" {
					t.Errorf("stdout (-want +got):\n%s", diff)
				}
			}
			if tt.wantErr != "" && r.err != tt.wantErr {
				t.Errorf("stderr = %q, want %q", r.err, tt.wantErr)
			}
		})
	}
}

func TestRunSiteWatchUntilDeleted(t *testing.T) {
	srv := startTestServer(t)
	srv.sites.set(nil, []*berthv1.Site{
		{Id: "site_1", State: berthv1.SiteState_SITE_STATE_RUNNING, NodeId: "node_a"},
		{Id: "site_1", State: berthv1.SiteState_SITE_STATE_DELETING, NodeId: "node_a"},
	}, true)
	env := map[string]string{"HOME": t.TempDir(), "BERTH_SERVER": srv.addr, "BERTH_CA": srv.caFile, "BERTH_TOKEN": "berth_good"}
	r := runCLI(t, env, "", "site", "watch", "site_1")
	if r.code != 0 {
		t.Errorf("exit %d, stderr %q", r.code, r.err)
	}
	if want := "site_1: RUNNING on node_a\nsite_1: DELETING on node_a\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if want := "site_1: site deleted\n"; r.err != want {
		t.Errorf("stderr = %q, want %q", r.err, want)
	}

	// A site that does not exist is an error, not a deletion.
	srv.sites.set(nil, nil, false)
	r = runCLI(t, env, "", "site", "watch", "site_1")
	if r.code != 1 || r.err != "error: site \"site_1\" not found (NotFound)\n" {
		t.Errorf("watch of a missing site: exit %d, stderr %q", r.code, r.err)
	}
}

// testServer is a TLS gRPC server on 127.0.0.1 standing in for berthd's API
// in tests of the CLI's own side: TLS trust, the bearer token, error
// mapping, the config file written by login and the site watch loop. The
// whole-system test runs the CLI against the real berthd.
type testServer struct {
	addr   string // host:port
	caFile string // PEM of the CA that signed the server's certificate
	auth   *testAuthServer
	sites  *testSiteServer
}

func startTestServer(t *testing.T) *testServer {
	t.Helper()
	caPEM, cert := newTestCertificates(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: lis.Addr().String(), caFile: caFile, auth: &testAuthServer{}, sites: &testSiteServer{}}
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	berthv1.RegisterAuthServiceServer(gs, s.auth)
	berthv1.RegisterSiteServiceServer(gs, s.sites)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return s
}

// tokens the test server accepts, by secret.
var testTokens = map[string]string{"berth_good": "tok_good", "berth_session": "tok_session"}

func checkToken(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if id, ok := testTokens[strings.TrimPrefix(v, "Bearer ")]; ok && strings.HasPrefix(v, "Bearer ") {
			return id, nil
		}
	}
	return "", status.Error(codes.Unauthenticated, "invalid API token")
}

type testAuthServer struct {
	berthv1.UnimplementedAuthServiceServer
	mu       sync.Mutex // guards the fields below
	lastAuth string
}

func (s *testAuthServer) lastAuthorization() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
}

func (s *testAuthServer) Login(_ context.Context, req *berthv1.LoginRequest) (*berthv1.LoginResponse, error) {
	if req.GetEmail() != "ops@example.test" || req.GetPassword() != "correct horse" {
		return nil, status.Error(codes.Unauthenticated, "wrong email or password")
	}
	return &berthv1.LoginResponse{
		Token:      "berth_session",
		ExpireTime: timestamppb.New(time.Now().Add(24 * time.Hour)),
		User:       &berthv1.User{Id: "usr_1", Email: req.GetEmail(), Role: berthv1.Role_ROLE_ADMIN},
	}, nil
}

func (s *testAuthServer) Logout(ctx context.Context, _ *berthv1.LogoutRequest) (*berthv1.LogoutResponse, error) {
	if _, err := checkToken(ctx); err != nil {
		return nil, err
	}
	return &berthv1.LogoutResponse{}, nil
}

func (s *testAuthServer) WhoAmI(ctx context.Context, _ *berthv1.WhoAmIRequest) (*berthv1.WhoAmIResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.lastAuth = strings.Join(md.Get("authorization"), ",")
	s.mu.Unlock()
	id, err := checkToken(ctx)
	if err != nil {
		return nil, err
	}
	return &berthv1.WhoAmIResponse{Role: berthv1.Role_ROLE_ADMIN, Email: "ops@example.test", TokenId: id}, nil
}

// testSiteServer answers CreateSite with created, and WatchSite with each
// site of script in turn; then it ends the stream with NOT_FOUND if
// deleteAfterScript, else waits for the caller to go away.
type testSiteServer struct {
	berthv1.UnimplementedSiteServiceServer
	mu                sync.Mutex // guards the fields below
	created           *berthv1.Site
	script            []*berthv1.Site
	deleteAfterScript bool
}

func (s *testSiteServer) set(created *berthv1.Site, script []*berthv1.Site, deleteAfterScript bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created, s.script, s.deleteAfterScript = created, script, deleteAfterScript
}

func (s *testSiteServer) CreateSite(ctx context.Context, req *berthv1.CreateSiteRequest) (*berthv1.CreateSiteResponse, error) {
	if _, err := checkToken(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &berthv1.CreateSiteResponse{Site: s.created}, nil
}

func (s *testSiteServer) WatchSite(req *berthv1.WatchSiteRequest, stream grpc.ServerStreamingServer[berthv1.WatchSiteResponse]) error {
	if _, err := checkToken(stream.Context()); err != nil {
		return err
	}
	s.mu.Lock()
	script, deleteAfterScript := s.script, s.deleteAfterScript
	s.mu.Unlock()
	if len(script) == 0 {
		return status.Errorf(codes.NotFound, "site %q not found", req.GetId())
	}
	for _, site := range script {
		if err := stream.Send(&berthv1.WatchSiteResponse{Site: site}); err != nil {
			return err
		}
	}
	if deleteAfterScript {
		return status.Errorf(codes.NotFound, "site %q not found", req.GetId())
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// newTestCertificates makes a CA and a server certificate it signs for
// localhost and 127.0.0.1.
func newTestCertificates(t *testing.T) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "berth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "berthd"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// closedAddr returns a 127.0.0.1 address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}
