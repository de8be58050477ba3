package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/fixaroo/berth/internal/testenv"
)

// testImage is built by ensureTestImage from testdata/helloserver, without
// any registry. It is kept between runs as a cache (labelled berth.test=1).
const (
	testImage          = "berth-test/hello:latest"
	testImageHashLabel = "berth.test.binary-sha256"
)

// testLabels marks every resource the tests create.
var testLabels = map[string]string{"berth.test": "1"}

// newTestRuntime connects to the local engine, required by the rule of
// testenv.Require.
func newTestRuntime(t *testing.T, o Options) *Runtime {
	t.Helper()
	testenv.Require(t, testenv.Docker)
	r, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("Docker engine: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// suffix returns a random per-test name suffix.
func suffix() string { return fmt.Sprintf("%08x", rand.Uint32()) }

// cleanupCtx is for t.Cleanup, which runs after t.Context is cancelled.
func cleanupCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func cleanupContainer(t *testing.T, r *Runtime, name string) {
	t.Helper()
	t.Cleanup(func() {
		if err := r.RemoveContainer(cleanupCtx(t), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func cleanupNetwork(t *testing.T, r *Runtime, name string) {
	t.Helper()
	t.Cleanup(func() {
		if err := r.RemoveNetwork(cleanupCtx(t), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

func cleanupVolume(t *testing.T, r *Runtime, name string) {
	t.Helper()
	t.Cleanup(func() {
		if err := r.RemoveVolume(cleanupCtx(t), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// testNetwork creates a labelled network removed at cleanup. Registered
// before containers' cleanups, it is removed after them.
func testNetwork(t *testing.T, r *Runtime, name string) Network {
	t.Helper()
	cleanupNetwork(t, r, name)
	n, err := r.EnsureNetwork(t.Context(), name, testLabels)
	if err != nil {
		t.Fatalf("EnsureNetwork(%s): %v", name, err)
	}
	return n
}

// helloSpec is a small hardened hello server on network.
func helloSpec(name, network string) ContainerSpec {
	return ContainerSpec{
		Name:           name,
		Image:          testImage,
		Env:            []string{"GREETING=world"},
		Labels:         map[string]string{"berth.test": "1"},
		Network:        network,
		MemoryMiB:      32,
		CPUMillicores:  250,
		ReadOnlyRootfs: true,
		ExposedPort:    8080,
	}
}

// testContainer ensures a container that is removed at cleanup.
func testContainer(t *testing.T, r *Runtime, spec ContainerSpec) Container {
	t.Helper()
	cleanupContainer(t, r, spec.Name)
	c, err := r.EnsureContainer(t.Context(), spec)
	if err != nil {
		t.Fatalf("EnsureContainer(%s): %v", spec.Name, err)
	}
	return c
}

// httpGet fetches url from the host, retrying while the server starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	imageOnce sync.Once
	imageErr  error
)

// ensureTestImage builds testImage once per test binary: a static build of
// testdata/helloserver in an image FROM scratch, built through the Engine
// API from a tar context. An image with the same binary hash is reused.
func ensureTestImage(t *testing.T, r *Runtime) {
	t.Helper()
	imageOnce.Do(func() { imageErr = buildTestImage(r) })
	if imageErr != nil {
		t.Fatalf("test image: %v", imageErr)
	}
}

func buildTestImage(r *Runtime) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "berth-helloserver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", bin, "./testdata/helloserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build helloserver: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(binary)
	hash := hex.EncodeToString(sum[:])

	res, err := r.cli.ImageInspect(ctx, testImage)
	if err == nil && res.Config != nil && res.Config.Labels[testImageHashLabel] == hash {
		return nil
	}

	dockerfile := "FROM scratch\nCOPY hello /hello\nEXPOSE 8080\nENTRYPOINT [\"/hello\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"hello", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	build, err := r.cli.ImageBuild(ctx, &buf, client.ImageBuildOptions{
		Tags:        []string{testImage},
		Labels:      map[string]string{"berth.test": "1", testImageHashLabel: hash},
		Remove:      true,
		ForceRemove: true,
	})
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	defer build.Body.Close()
	// The build reports failures in its JSON message stream, not the status.
	dec := json.NewDecoder(build.Body)
	var log strings.Builder
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("image build output: %w", err)
		}
		if msg.Error != "" {
			return fmt.Errorf("image build: %s\n%s", msg.Error, log.String())
		}
		log.WriteString(msg.Stream)
	}
	return nil
}
