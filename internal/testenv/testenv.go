// Package testenv is the one place where tests say which real parts of the
// machine they need: the Docker engine, Pebble, Chromium, PostgreSQL,
// iptables, root.
//
// The rule is the same for every part. A missing part fails the test with a
// message that says how to get it, in CI (any non-empty $CI) and in every
// run without -short. Only a quick local loop (-short, $CI empty) skips.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Part is a real component a test needs.
type Part int

// The parts a test can require.
const (
	// Docker is a Docker engine answering at $DOCKER_HOST (default
	// unix:///var/run/docker.sock).
	Docker Part = iota
	// Pebble is bin/pebble and bin/pebble-challtestsrv beside go.mod.
	Pebble
	// Chromium is a Chromium or Chrome binary ($BERTH_CHROMIUM or on PATH).
	Chromium
	// PostgreSQL is a PostgreSQL server installation (initdb and postgres).
	PostgreSQL
	// Root is running as uid 0.
	Root
	// IPTables is the iptables command, usable by this user.
	IPTables
	numParts
)

var names = [numParts]string{"Docker engine", "Pebble", "Chromium", "PostgreSQL", "root", "iptables"}

// String returns the part's name.
func (p Part) String() string {
	if p < 0 || p >= numParts {
		return fmt.Sprintf("Part(%d)", int(p))
	}
	return names[p]
}

var checks [numParts]struct {
	once sync.Once
	err  error
}

// Check reports why part is missing, or nil when it is here. The result is
// computed once per process.
func Check(p Part) error {
	c := &checks[p]
	c.once.Do(func() { c.err = check(p) })
	return c.err
}

func check(p Part) error {
	switch p {
	case Docker:
		return pingDocker()
	case Pebble:
		_, _, err := PebbleBinaries()
		return err
	case Chromium:
		_, err := ChromiumPath()
		return err
	case PostgreSQL:
		_, err := PostgresBinDir()
		return err
	case Root:
		if os.Geteuid() != 0 {
			return errors.New("this test needs root: run the tests as root, as CI does")
		}
		return nil
	case IPTables:
		if _, err := exec.LookPath("iptables"); err != nil {
			return errors.New("iptables is not installed: apt-get install iptables (or `make system-deps` as root)")
		}
		if os.Geteuid() != 0 {
			return errors.New("iptables needs root: run the tests as root, as CI does")
		}
		return nil
	}
	return fmt.Errorf("unknown part %d", int(p))
}

// InCI reports whether the tests run in CI: $CI is set to anything.
func InCI() bool { return os.Getenv("CI") != "" }

// MaySkip reports whether a missing part may skip a test instead of
// failing it: only in a -short run outside CI.
func MaySkip() bool { return testing.Short() && !InCI() }

// Require stops the test unless every part is here: it fails, saying what
// is missing and how to get it, or, in a -short run outside CI, skips.
func Require(tb testing.TB, parts ...Part) {
	tb.Helper()
	var missing []string
	for _, p := range parts {
		if err := Check(p); err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v", p, err))
		}
	}
	if len(missing) == 0 {
		return
	}
	Missing(tb, strings.Join(missing, "; "))
}

// Missing stops the test for a missing part described by msg, by the rule
// of Require.
func Missing(tb testing.TB, msg string) {
	tb.Helper()
	switch {
	case MaySkip():
		tb.Skip(msg + " (skipped: -short outside CI)")
	case InCI():
		tb.Fatal(msg + " (required in CI)")
	default:
		tb.Fatal(msg + " (required without -short; `go test -short` skips this test)")
	}
}

// SkipShort skips a slow whole-process test in a -short run, whether or not
// its parts are here: -short is the quick local loop.
func SkipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("whole-process test: skipped with -short")
	}
}

// DockerHost is the engine's address: $DOCKER_HOST, or the default socket.
func DockerHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return "unix:///var/run/docker.sock"
}

// dockerClient returns an HTTP client speaking to the engine, and the base
// URL of its API.
func dockerClient() (*http.Client, string, error) {
	host := DockerHost()
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	tr := &http.Transport{}
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		return &http.Client{Transport: tr, Timeout: 20 * time.Second}, "http://docker", nil
	case "tcp", "http":
		return &http.Client{Transport: tr, Timeout: 20 * time.Second}, "http://" + u.Host, nil
	}
	return nil, "", fmt.Errorf("DOCKER_HOST %q: only unix:// and tcp:// are supported by the tests", host)
}

func pingDocker() error {
	c, base, err := dockerClient()
	if err != nil {
		return err
	}
	resp, err := c.Get(base + "/_ping")
	if err != nil {
		return fmt.Errorf("no engine answers at %s (%v): start dockerd (apt-get install docker.io), or point DOCKER_HOST at a running engine", DockerHost(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the engine at %s answers /_ping with %s %q", DockerHost(), resp.Status, body)
	}
	return nil
}

// RequireImages requires the Docker engine and each local image: a missing
// image is missing by the rule of Require, with `make images` as the fix.
func RequireImages(tb testing.TB, images ...string) {
	tb.Helper()
	Require(tb, Docker)
	c, base, err := dockerClient()
	if err != nil {
		Missing(tb, err.Error())
	}
	for _, img := range images {
		resp, err := c.Get(base + "/images/" + url.PathEscape(img) + "/json")
		if err != nil {
			Missing(tb, fmt.Sprintf("Docker engine: inspect image %s: %v", img, err))
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			Missing(tb, fmt.Sprintf("image %s is missing (%s): run `make images`", img, resp.Status))
		}
	}
}

// RepoRoot returns the directory holding the module's go.mod, found above
// the working directory (a test's working directory is its package).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// PebbleBinaries returns the paths of bin/pebble and bin/pebble-challtestsrv
// beside go.mod.
func PebbleBinaries() (pebble, challtestsrv string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	pebble, challtestsrv = filepath.Join(root, "bin", "pebble"), filepath.Join(root, "bin", "pebble-challtestsrv")
	for _, p := range []string{pebble, challtestsrv} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%s is missing: run `make tools`", p)
		}
	}
	return pebble, challtestsrv, nil
}

// ChromiumPath finds the browser: $BERTH_CHROMIUM, else chromium,
// chromium-browser or google-chrome on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("BERTH_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("BERTH_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome on PATH: apt-get install chromium fonts-liberation (or `make system-deps` as root), or set BERTH_CHROMIUM")
}

// PostgresBinDir returns the directory of PostgreSQL's server programs
// (initdb, pg_ctl, postgres): $BERTH_PG_BIN, else the newest
// /usr/lib/postgresql/*/bin.
func PostgresBinDir() (string, error) {
	if d := os.Getenv("BERTH_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("BERTH_PG_BIN=%s: %w", d, err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		return "", errors.New("no PostgreSQL server found under /usr/lib/postgresql: apt-get install postgresql (or `make system-deps` as root), or set BERTH_PG_BIN")
	}
	return filepath.Dir(dirs[len(dirs)-1]), nil
}

// DependOnSources makes Go's test cache see the sources of the packages
// named by patterns (e.g. "github.com/fixaroo/berth/cmd/berthd"), for tests
// that build and run those programs as subprocesses: it reads every file of
// this module that goes into them, and go.mod and go.sum. `go test` records
// the files a test opens, so a change in any of them reruns the test instead
// of reporting a stale "(cached)" pass. Call it from a test (files opened
// in TestMain before m.Run are not recorded). It returns the files read.
func DependOnSources(tb testing.TB, patterns ...string) []string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Fatal(err)
	}
	// One line per package of the main module: its directory, then its Go
	// and embedded files.
	const format = `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .CgoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}
{{end}}{{end}}`
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", format}, patterns...)...)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%v: %s", err, exit.Stderr)
		}
		tb.Fatalf("go list %v: %v", patterns, err)
	}
	files := []string{filepath.Join(root, "go.mod"), filepath.Join(root, "go.sum")}
	for line := range strings.Lines(string(out)) {
		fields := strings.Split(strings.TrimSpace(line), "|")
		if len(fields) < 2 {
			continue
		}
		for _, f := range fields[1:] {
			files = append(files, filepath.Join(fields[0], f))
		}
	}
	for _, f := range files {
		if _, err := os.ReadFile(f); err != nil {
			tb.Fatalf("read source %s: %v", f, err)
		}
	}
	return files
}
