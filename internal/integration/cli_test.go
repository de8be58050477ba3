package integration

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the berth binary against b with the given stdin and returns
// stdout, stderr and the exit code. The environment carries only the
// connection settings, so the developer's own config cannot leak in.
func (b *berthd) cli(tb testing.TB, stdin string, env []string, args ...string) (string, string, int) {
	tb.Helper()
	cmd := exec.Command(binary(tb, "berth"), args...)
	cmd.Env = append([]string{
		"HOME=" + tb.TempDir(),
		"BERTH_SERVER=" + b.url(""),
		"BERTH_CA=" + filepath.Join(b.dataDir, "ca.pem"),
	}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// ok runs the CLI as admin and fails the test unless it succeeds.
func (b *berthd) ok(tb testing.TB, stdin string, args ...string) string {
	tb.Helper()
	out, errOut, code := b.cli(tb, stdin, []string{"BERTH_TOKEN=" + b.token}, args...)
	if code != 0 {
		tb.Fatalf("berth %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func decodeID(t *testing.T, out, field string) string {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	id, _ := m[field]["id"].(string)
	if id == "" {
		t.Fatalf("no %s.id in %s", field, out)
	}
	return id
}

func TestCLI(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")

	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Acme Ltd", "--slug", "acme", "--email", "ops@acme.test", "-o", "json"), "client")
	b.ok(t, "a long enough password\n", "user", "create", "--email", "owner@acme.test", "--role", "client", "--client", clientID, "--password-stdin")
	siteID := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", "www", "--kind", "static",
		"--domain", "www.acme.test", "--alias", "acme.test", "--no-wait", "-o", "json"), "site")

	if out := b.ok(t, "", "site", "list"); !strings.Contains(out, siteID) || !strings.Contains(out, "PENDING") {
		t.Errorf("site list:\n%s", out)
	}
	if out := b.ok(t, "", "site", "get", siteID, "-o", "json"); !strings.Contains(out, `"primary_domain": "www.acme.test"`) {
		t.Errorf("site get -o json:\n%s", out)
	}
	if out := b.ok(t, "", "client", "list"); !strings.Contains(out, "acme") {
		t.Errorf("client list:\n%s", out)
	}
	if out := b.ok(t, "", "user", "list"); !strings.Contains(out, "owner@acme.test") {
		t.Errorf("user list:\n%s", out)
	}
	if out := b.ok(t, "", "audit", "list"); !strings.Contains(out, "CreateSite") {
		t.Errorf("audit list lacks CreateSite:\n%s", out)
	}
	if out := b.ok(t, "", "site", "update", siteID, "--memory", "512", "-o", "json"); !strings.Contains(out, `"memory_mib": 512`) {
		t.Errorf("site update:\n%s", out)
	}

	// The client user logs in with the CLI; the session is saved in the
	// config file and sees only the client's own site.
	cfg := filepath.Join(t.TempDir(), "config.json")
	env := []string{"BERTH_CONFIG=" + cfg}
	if out, errOut, code := b.cli(t, "a long enough password\n", env, "login", "--email", "owner@acme.test", "--password-stdin"); code != 0 {
		t.Fatalf("login: %d %s %s", code, out, errOut)
	}
	out, errOut, code := b.cli(t, "", env, "site", "list")
	if code != 0 || !strings.Contains(out, siteID) {
		t.Errorf("site list as client: %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := b.cli(t, "", env, "node", "list"); code == 0 || !strings.Contains(errOut, "admin") {
		t.Errorf("node list as client: exit %d, stderr %q; want a failure saying it is for admins", code, errOut)
	}

	// Errors say what to do.
	if _, errOut, code := b.cli(t, "", nil, "site", "list"); code == 0 || !strings.Contains(errOut, "berth login") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "create", "--client", clientID, "--name", "bad", "--kind", "static", "--domain", "exa mple.com", "--no-wait")
	if code == 0 || !strings.Contains(errOut, "spaces") {
		t.Errorf("bad domain: exit %d, stderr %q", code, errOut)
	}

	// Without --no-wait, site create follows the site and tells why it is
	// still pending: no node has joined.
	out, errOut, code = b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "create", "--client", clientID, "--name", "shop",
		"--kind", "static", "--domain", "shop.acme.test", "--wait-timeout", "3s")
	if code != 1 || !strings.Contains(out+errOut, "NoReadyNode") || !strings.Contains(out+errOut, "still PENDING") {
		t.Errorf("site create waiting with no node: exit %d\n%s%s", code, out, errOut)
	}

	// Deleting a site that was never placed removes it at once.
	b.ok(t, "", "site", "delete", siteID)
	if _, errOut, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "get", siteID); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("get deleted site: exit %d, stderr %q", code, errOut)
	}
}
