package integration

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startupLine is what berth-static writes (slog text, on stderr) when it
// starts serving in a site's container.
const startupLine = "level=INFO msg=serving root=/srv listen=:8080"

// TestSiteLogs reads a static site's container output through berthd and
// the site's node: once, over REST, and followed until Ctrl-C.
func TestSiteLogs(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	startAgent(t, b, "node-logs")

	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Logs", "--slug", "logs", "--email", "ops@logs.test", "-o", "json"), "client")
	siteID := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", "www", "--kind", "static",
		"--domain", "www.logs.test", "--memory", "64", "--no-wait", "-o", "json"), "site")
	ids = append(ids, siteID)
	b.waitSite(siteID, 2*time.Minute, isRunning)

	out := b.ok(t, "", "site", "logs", siteID, "--tail", "50")
	if !strings.Contains(out, startupLine) {
		t.Errorf("berth site logs printed %q, want berth-static's start-up line %q", out, startupLine)
	}

	// REST streams the batches as newline-delimited JSON.
	code, body := b.do("GET", "/v1/sites/"+siteID+"/logs?tail_lines=10", b.token, nil)
	if code != 200 || !strings.Contains(string(body), `"result"`) || !strings.Contains(string(body), "msg=serving") {
		t.Errorf("GET /v1/sites/%s/logs: %d %s", siteID, code, body)
	}

	// --follow prints until Ctrl-C, which ends it cleanly.
	cmd := exec.Command(binary(t, "berth"), "site", "logs", siteID, "--follow")
	cmd.Env = []string{
		"HOME=" + t.TempDir(),
		"BERTH_SERVER=" + b.url(""),
		"BERTH_CA=" + filepath.Join(b.dataDir, "ca.pem"),
		"BERTH_TOKEN=" + b.token,
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	seen := make(chan bool, 1)
	go func() {
		found := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if !found && strings.Contains(sc.Text(), startupLine) {
				found = true
				seen <- true
			}
		}
		if !found {
			seen <- false
		}
		exited <- cmd.Wait()
	}()
	select {
	case ok := <-seen:
		if !ok {
			t.Fatalf("berth site logs --follow ended without the start-up line: %v\n%s", <-exited, stderr.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("berth site logs --follow printed no start-up line within a minute\n%s", stderr.String())
	}
	// Still following: it has not exited on its own.
	select {
	case err := <-exited:
		t.Fatalf("berth site logs --follow exited on its own: %v\n%s", err, stderr.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("berth site logs --follow after Ctrl-C: %v, want exit 0\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("berth site logs --follow did not exit after Ctrl-C")
	}
}
