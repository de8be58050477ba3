package staticserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// TestImage builds the berth/static image with deploy/images/build-static.sh
// into a tag of its own (so that an image already built by `make images`
// does not make the build a no-op), checks its configuration with the docker
// CLI, and removes the tag. A second build must be a no-op.
func TestImage(t *testing.T) {
	testenv.SkipShort(t)
	testenv.Require(t, testenv.Docker)
	repo := repoRoot(t)
	script := filepath.Join(repo, "deploy", "images", "build-static.sh")
	tag := tempTag(t)

	if first := command(t, repo, 5*time.Minute, "bash", script, tag); first != "built "+tag {
		t.Errorf("first build printed %q, want %q", first, "built "+tag)
	}
	if second := command(t, repo, 2*time.Minute, "bash", script, tag); second != tag+" up to date" {
		t.Errorf("second build printed %q, want %q", second, tag+" up to date")
	}

	var cfg struct {
		User         string
		Entrypoint   []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
	out := command(t, repo, time.Minute, "docker", "image", "inspect", "--format", "{{json .Config}}", tag)
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

// tempTag returns a berth/static tag that no image has, and removes that tag
// (and the image, unless another tag still names it) when the test ends.
func tempTag(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	tag := "berth/static:test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "docker", "image", "rm", tag).CombinedOutput()
		if err != nil && !strings.Contains(strings.ToLower(string(out)), "no such image") {
			t.Errorf("docker image rm %s: %v\n%s", tag, err, out)
		}
	})
	return tag
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
// with stderr when it fails.
func command(t *testing.T, dir string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
