package testenv

import (
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test would have stopped.
type recorder struct {
	testing.TB
	how, msg string
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatal(args ...any)     { r.how, r.msg = "fail", args[0].(string) }
func (r *recorder) Skip(args ...any)      { r.how, r.msg = "skip", args[0].(string) }
func (r *recorder) Fatalf(string, ...any) { r.how = "fail" }

func TestMissingFailsUnlessShortOutsideCI(t *testing.T) {
	short := testing.Short()
	for _, ci := range []string{"", "true", "1"} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{TB: t}
			Missing(r, "Docker engine: gone")
			want := "fail"
			if ci == "" && short {
				want = "skip"
			}
			if r.how != want || !strings.Contains(r.msg, "Docker engine: gone") {
				t.Errorf("Missing with CI=%q, -short=%v: %s %q, want %s", ci, short, r.how, r.msg, want)
			}
		})
	}
}

func TestDockerUnreachableNamesTheEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	err := check(Docker)
	if err == nil || !strings.Contains(err.Error(), "no engine answers at unix:///nonexistent/docker.sock") {
		t.Fatalf("check(Docker) = %v, want an error naming the engine's address", err)
	}
}

func TestUnknownPart(t *testing.T) {
	if err := check(numParts); err == nil {
		t.Error("check of an unknown part succeeded")
	}
	if s := Part(99).String(); s != "Part(99)" {
		t.Errorf("String = %q", s)
	}
}

func TestDependOnSourcesReadsWhatTheBinaryIsBuiltFrom(t *testing.T) {
	files := DependOnSources(t, "github.com/fixaroo/berth/cmd/berthd")
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	has := map[string]bool{}
	for _, f := range files {
		has[strings.TrimPrefix(f, root+"/")] = true
	}
	for _, want := range []string{"go.mod", "go.sum", "cmd/berthd/main.go", "internal/monitor/monitor.go", "internal/store/sqlite/sqlite.go"} {
		if !has[want] {
			t.Errorf("DependOnSources(cmd/berthd) did not read %s (read %d files)", want, len(files))
		}
	}
	for f := range has {
		if strings.HasSuffix(f, "_test.go") {
			t.Errorf("read test file %s, which no binary is built from", f)
		}
	}
}
