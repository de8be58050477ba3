package staticserver

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/internal/testenv"
)

const imageTag = "berth/static:dev"

// TestImage builds the berth/static image with deploy/images/build-static.sh
// and checks its configuration with the docker CLI. A second build must be a
// no-op.
func TestImage(t *testing.T) {
	testenv.SkipShort(t)
	testenv.Require(t, testenv.Docker)
	repo := repoRoot(t)
	script := filepath.Join(repo, "deploy", "images", "build-static.sh")

	first := command(t, repo, 5*time.Minute, "bash", script)
	if first != "built "+imageTag && first != imageTag+" up to date" {
		t.Errorf("first build printed %q, want %q or %q", first, "built "+imageTag, imageTag+" up to date")
	}
	if second := command(t, repo, 2*time.Minute, "bash", script); second != imageTag+" up to date" {
		t.Errorf("second build printed %q, want %q", second, imageTag+" up to date")
	}

	var cfg struct {
		User         string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
	out := command(t, repo, time.Minute, "docker", "image", "inspect", "--format", "{{json .Config}}", imageTag)
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("docker image inspect: %v in %q", err, out)
	}
	hash := cfg.Labels["berth.source-hash"]
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
		t.Errorf("label berth.source-hash = %q, want a sha256 hex digest", hash)
	}
	got := map[string]any{"User": cfg.User, "Entrypoint": cfg.Entrypoint, "ExposedPorts": cfg.ExposedPorts}
	want := map[string]any{"User": "65534:65534", "Entrypoint": []string{"/berth-static"}, "ExposedPorts": map[string]struct{}{"8080/tcp": {}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("image config (-want +got):\n%s", diff)
	}
}

// repoRoot is the directory of the module's go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	gomod := command(t, ".", time.Minute, "go", "env", "GOMOD")
	if gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD = %q, want the module's go.mod", gomod)
	}
	return filepath.Dir(gomod)
}

// command runs name in dir and returns its trimmed stdout, failing the test
// with stderr when it fails. TAG is pinned so that a TAG in the caller's
// environment cannot redirect the build.
func command(t *testing.T, dir string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TAG="+imageTag)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
