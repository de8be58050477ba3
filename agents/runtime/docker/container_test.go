package docker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/fixaroo/berth/agents/terminal"
)

func TestEnsureContainerLifecycle(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	ctx := t.Context()
	sfx := suffix()
	nw := testNetwork(t, r, "bt-life-"+sfx)
	spec := helloSpec("bt-life-"+sfx, nw.Name)

	c := testContainer(t, r, spec)
	if c.State != "running" || c.Image != testImage || c.Labels[specHashLabel] == "" || c.StartedAt.IsZero() {
		t.Errorf("created container = %+v, want running %s with a spec hash", c, testImage)
	}
	ip := c.IPs[nw.Name]
	if !nw.Subnet.Contains(ip) {
		t.Fatalf("container IP %v not in its network %s", ip, nw.Subnet)
	}
	if got := httpGet(t, fmt.Sprintf("http://%s:8080/", ip)); got != "hello world" {
		t.Errorf("GET / = %q, want %q", got, "hello world")
	}

	again, err := r.EnsureContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != c.ID {
		t.Errorf("unchanged spec recreated the container: %s → %s", c.ID, again.ID)
	}

	// A stopped container is started again, not recreated.
	timeout := 1
	if _, err := r.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.InspectContainer(ctx, spec.Name); st.State != "exited" {
		t.Fatalf("after stop: state %s", st.State)
	}
	restarted, err := r.EnsureContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if restarted.ID != c.ID || restarted.State != "running" {
		t.Errorf("after EnsureContainer on a stopped container: id %s state %s, want %s running", restarted.ID, restarted.State, c.ID)
	}

	// A changed spec recreates it.
	spec.Env = []string{"GREETING=berth"}
	changed, err := r.EnsureContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if changed.ID == c.ID || changed.State != "running" {
		t.Errorf("changed spec: id %s state %s, want a new running container", changed.ID, changed.State)
	}
	if got := httpGet(t, fmt.Sprintf("http://%s:8080/", changed.IPs[nw.Name])); got != "hello berth" {
		t.Errorf("GET / after change = %q, want %q", got, "hello berth")
	}

	listed, err := r.ListContainers(ctx, map[string]string{"berth.test": "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(listed, func(l Container) bool { return l.ID == changed.ID && l.State == "running" }) {
		t.Errorf("ListContainers does not include %s: %+v", changed.ID, listed)
	}

	if err := r.RemoveContainer(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, spec.Name); err != nil {
		t.Errorf("removing a removed container: %v", err)
	}
	if _, err := r.InspectContainer(ctx, spec.Name); !errors.Is(err, ErrNotFound) {
		t.Errorf("InspectContainer after removal: %v, want ErrNotFound", err)
	}
}

// TestInspectIsExact checks that a name that happens to be a prefix of
// another container's ID does not resolve to that container.
func TestInspectIsExact(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	ctx := t.Context()
	sfx := suffix()
	nw := testNetwork(t, r, "bt-exact-"+sfx)
	c := testContainer(t, r, helloSpec("bt-exact-"+sfx, nw.Name))
	prefix := c.ID[:12]
	if _, err := r.InspectContainer(ctx, prefix); !errors.Is(err, ErrNotFound) {
		t.Errorf("InspectContainer(ID prefix) = %v, want ErrNotFound", err)
	}
	if err := r.RemoveContainer(ctx, prefix); err != nil {
		t.Fatal(err)
	}
	if _, err := r.InspectContainer(ctx, c.Name); err != nil {
		t.Errorf("RemoveContainer(ID prefix) removed %s: %v", c.Name, err)
	}
}

func TestHardening(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("release 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := newTestRuntime(t, Options{BindRoot: root})
	ensureTestImage(t, r)
	ctx := t.Context()
	sfx := suffix()
	nw := testNetwork(t, r, "bt-hard-"+sfx)
	vol := "bt-hard-" + sfx
	cleanupVolume(t, r, vol) // after the container's cleanup
	if err := r.EnsureVolume(ctx, vol, testLabels); err != nil {
		t.Fatal(err)
	}
	spec := helloSpec("bt-hard-"+sfx, nw.Name)
	spec.CapAdd = []string{"net_bind_service"}
	spec.PidsLimit = 100
	spec.Tmpfs = map[string]string{"/tmp": "size=16m"}
	spec.Mounts = []Mount{
		{Type: MountBind, Source: root, Target: "/srv"},
		{Type: MountVolume, Source: vol, Target: "/data"},
	}
	// The bind root itself is refused; mount a directory inside it.
	if _, err := r.EnsureContainer(ctx, spec); !terminal.Is(err) {
		t.Fatalf("bind-mounting the bind root itself: %v, want a terminal error", err)
	}
	site := filepath.Join(root, "site")
	if err := os.Mkdir(site, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(site, "index.html"), []byte("release 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Mounts[0] = Mount{Type: MountBind, Source: site, Target: "/srv", ReadOnly: true}
	c := testContainer(t, r, spec)

	res, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := res.Container.HostConfig
	type hardening struct {
		SecurityOpt, CapDrop, CapAdd []string
		Privileged, ReadonlyRootfs   bool
		NetworkMode                  string
		PidMode, IpcMode             string
		Memory, MemorySwap, NanoCPUs int64
		PidsLimit                    int64
		Init                         bool
		Restart                      container.RestartPolicyMode
		LogType                      string
		LogConfig                    map[string]string
		Published                    int
	}
	got := hardening{
		SecurityOpt: hc.SecurityOpt, CapDrop: hc.CapDrop, CapAdd: hc.CapAdd,
		Privileged: hc.Privileged, ReadonlyRootfs: hc.ReadonlyRootfs,
		NetworkMode: string(hc.NetworkMode), PidMode: string(hc.PidMode), IpcMode: string(hc.IpcMode),
		Memory: hc.Memory, MemorySwap: hc.MemorySwap, NanoCPUs: hc.NanoCPUs,
		Init:    hc.Init != nil && *hc.Init,
		Restart: hc.RestartPolicy.Name, LogType: hc.LogConfig.Type, LogConfig: hc.LogConfig.Config,
		Published: len(hc.PortBindings),
	}
	if hc.PidsLimit != nil {
		got.PidsLimit = *hc.PidsLimit
	}
	want := hardening{
		SecurityOpt: []string{"no-new-privileges:true"}, CapDrop: []string{"ALL"}, CapAdd: []string{"CAP_NET_BIND_SERVICE"},
		Privileged: false, ReadonlyRootfs: true,
		NetworkMode: nw.Name, PidMode: "", IpcMode: "private",
		Memory: 32 << 20, MemorySwap: 32 << 20, NanoCPUs: 250_000_000, PidsLimit: 100,
		Init: true, Restart: container.RestartPolicyUnlessStopped,
		LogType: "json-file", LogConfig: map[string]string{"max-size": "10m", "max-file": "3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host config (-want +got):\n%s", diff)
	}

	// What the kernel says about the container's processes.
	status := execOK(t, r, c.Name, "/hello", "readfile", "/proc/self/status")
	for _, line := range []string{"NoNewPrivs:\t1", "CapEff:\t0000000000000400", "CapBnd:\t0000000000000400"} {
		if !strings.Contains(status, line+"\n") {
			t.Errorf("/proc/self/status lacks %q:\n%s", line, status)
		}
	}
	if got := execOK(t, r, c.Name, "/hello", "readfile", "/srv/index.html"); got != "release 1" {
		t.Errorf("bind mount content = %q", got)
	}
	execOK(t, r, c.Name, "/hello", "writefile", "/data/x", "ok")
	execOK(t, r, c.Name, "/hello", "writefile", "/tmp/x", "ok")
	for _, path := range []string{"/x", "/srv/x"} { // read-only rootfs and bind mount
		res, err := r.Exec(ctx, c.Name, []string{"/hello", "writefile", path, "x"}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "read-only file system") {
			t.Errorf("writing %s: exit %d, stderr %q; want a read-only failure", path, res.ExitCode, res.Stderr)
		}
	}
}

func execOK(t *testing.T, r *Runtime, name string, argv ...string) string {
	t.Helper()
	res, err := r.Exec(t.Context(), name, argv, nil, nil, "")
	if err != nil {
		t.Fatalf("exec %v: %v", argv, err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exec %v: exit %d: %s", argv, res.ExitCode, res.Stderr)
	}
	return string(res.Stdout)
}

// TestEnsureContainerRefuses checks refusals end to end: nothing is created.
func TestEnsureContainerRefuses(t *testing.T) {
	root := t.TempDir()
	r := newTestRuntime(t, Options{BindRoot: root})
	ensureTestImage(t, r)
	if err := os.Symlink("/var/run/docker.sock", filepath.Join(root, "sock")); err != nil {
		t.Fatal(err)
	}
	sfx := suffix()
	for _, tc := range []struct {
		name   string
		mounts []Mount
		want   string
	}{
		{"bind outside root", []Mount{{Type: MountBind, Source: "/etc", Target: "/srv"}}, "must be inside"},
		{"docker socket", []Mount{{Type: MountBind, Source: "/var/run/docker.sock", Target: "/srv/d"}}, "Docker socket"},
		{"docker socket via symlink", []Mount{{Type: MountBind, Source: filepath.Join(root, "sock"), Target: "/srv/d"}}, "Docker socket"},
		{"docker socket directory", []Mount{{Type: MountBind, Source: "/run", Target: "/srv/d"}}, "must be inside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := helloSpec("bt-refuse-"+sfx, "none")
			spec.Mounts = tc.mounts
			cleanupContainer(t, r, spec.Name)
			_, err := r.EnsureContainer(t.Context(), spec)
			if !terminal.Is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("EnsureContainer = %v, want a terminal error mentioning %q", err, tc.want)
			}
			if _, err := r.InspectContainer(t.Context(), spec.Name); !errors.Is(err, ErrNotFound) {
				t.Errorf("a refused container exists: %v", err)
			}
		})
	}
}

func TestMissingImage(t *testing.T) {
	r := newTestRuntime(t, Options{})
	spec := helloSpec("bt-noimage-"+suffix(), "none")
	spec.Image = "berth-test/missing-" + suffix() + ":dev"
	cleanupContainer(t, r, spec.Name)
	_, err := r.EnsureContainer(t.Context(), spec)
	if !terminal.Is(err) || !errors.Is(err, ErrImageMissing) {
		t.Fatalf("EnsureContainer with a missing image = %v, want a terminal ErrImageMissing", err)
	}
	want := fmt.Sprintf("image %q not found on this node — run `make images`", spec.Image)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if ok, err := r.ImageExists(t.Context(), spec.Image); ok || err != nil {
		t.Errorf("ImageExists(missing) = %v, %v", ok, err)
	}
}

// TestIsolation: sites on different networks cannot reach each other; on
// the same network they can; the host reaches all of them.
func TestIsolation(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	sfx := suffix()
	netA := testNetwork(t, r, "bt-iso-a-"+sfx)
	netB := testNetwork(t, r, "bt-iso-b-"+sfx)
	a := testContainer(t, r, helloSpec("bt-iso-a-"+sfx, netA.Name))
	b := testContainer(t, r, helloSpec("bt-iso-b-"+sfx, netB.Name))
	peer := testContainer(t, r, helloSpec("bt-iso-peer-"+sfx, netA.Name))

	aIP, bIP, peerIP := a.IPs[netA.Name], b.IPs[netB.Name], peer.IPs[netA.Name]
	for _, ip := range []netip.Addr{aIP, bIP, peerIP} { // the host reaches every site; all are up
		if got := httpGet(t, fmt.Sprintf("http://%s:8080/", ip)); got != "hello world" {
			t.Fatalf("host → %s: %q", ip, got)
		}
	}
	connect := func(target net.IP) string {
		return httpGet(t, fmt.Sprintf("http://%s:8080/connect?addr=%s", aIP, net.JoinHostPort(target.String(), "8080")))
	}
	if got := connect(peerIP.AsSlice()); got != "ok" {
		t.Errorf("A → container on A's network: %q, want ok", got)
	}
	if got := connect(bIP.AsSlice()); !strings.HasPrefix(got, "fail") {
		t.Errorf("A → B on another site's network: %q, want fail", got)
	}
}

func TestVolumes(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ctx := t.Context()
	sfx := suffix()
	name := "bt-vol-" + sfx
	label := map[string]string{"berth.test": "1", "berth.test.run": sfx}
	cleanupVolume(t, r, name)
	for range 2 {
		if err := r.EnsureVolume(ctx, name, label); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.ListVolumes(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{name}, got); diff != "" {
		t.Errorf("ListVolumes (-want +got):\n%s", diff)
	}
	for range 2 {
		if err := r.RemoveVolume(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := r.ListVolumes(ctx, label); err != nil || len(got) != 0 {
		t.Errorf("after removal: %v, %v", got, err)
	}
}
