package docker

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/agents/terminal"
)

func TestValidateName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"site-1", true},
		{"a", true},
		{"berth_site.x-1", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-site", false},
		{".site", false},
		{"Site", false},
		{"site/x", false},
		{"container:abc", false},
		{"site x", false},
		{"site\x00", false},
	} {
		err := validateName("container", tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("validateName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !terminal.Is(err) {
			t.Errorf("validateName(%q): error is not terminal", tc.name)
		}
	}
}

func TestNextFreeSubnet(t *testing.T) {
	pool := netip.MustParsePrefix("10.213.0.0/16")
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		used []netip.Prefix
		skip map[netip.Prefix]bool
		want netip.Prefix
	}{
		{"empty", nil, nil, p("10.213.0.0/28")},
		{"first used", []netip.Prefix{p("10.213.0.0/28")}, nil, p("10.213.0.16/28")},
		{"skip", nil, map[netip.Prefix]bool{p("10.213.0.0/28"): true}, p("10.213.0.16/28")},
		{"larger overlap", []netip.Prefix{p("10.213.0.0/24")}, nil, p("10.213.1.0/28")},
		{"host interface inside", []netip.Prefix{p("10.213.0.40/30")}, nil, p("10.213.0.0/28")},
		{"hole", []netip.Prefix{p("10.213.0.0/28"), p("10.213.0.32/28")}, nil, p("10.213.0.16/28")},
		{"unrelated", []netip.Prefix{p("172.17.0.0/16"), p("10.0.0.0/8")}, nil, netip.Prefix{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := nextFreeSubnet(pool, tc.used, tc.skip)
			if ok != tc.want.IsValid() || got != tc.want {
				t.Errorf("nextFreeSubnet = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
	// 4096 /28s in a /16: the pool serves hundreds of sites.
	var used []netip.Prefix
	for range 4096 {
		s, ok := nextFreeSubnet(pool, used, nil)
		if !ok {
			t.Fatalf("pool exhausted after %d subnets", len(used))
		}
		used = append(used, s)
	}
	if _, ok := nextFreeSubnet(pool, used, nil); ok {
		t.Error("pool not exhausted after 4096 subnets")
	}
}

func TestSpecHash(t *testing.T) {
	r := &Runtime{}
	base := helloSpec("web", "net")
	norm := func(s ContainerSpec) string {
		t.Helper()
		n, err := r.normalizeSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		h, err := specHash(n)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := norm(base)
	same := base
	same.CapAdd, same.Tmpfs, same.Aliases = []string{}, map[string]string{}, nil
	same.Labels = map[string]string{"berth.test": "1", specHashLabel: "stale"}
	same.PidsLimit = DefaultPidsLimit
	if got := norm(same); got != h {
		t.Error("hash differs for an equivalent spec (empty vs nil, reserved label, default pids)")
	}
	caps1, caps2 := base, base
	caps1.CapAdd = []string{"chown", "CAP_SETUID"}
	caps2.CapAdd = []string{"SETUID", "CAP_CHOWN", "chown"}
	if norm(caps1) != norm(caps2) {
		t.Error("hash depends on capability spelling or order")
	}
	changed := base
	changed.Env = []string{"GREETING=other"}
	if norm(changed) == h {
		t.Error("hash unchanged after an env change")
	}
}

// TestNormalizeSpecRefuses covers the policy checks that need no engine.
func TestNormalizeSpecRefuses(t *testing.T) {
	root := t.TempDir()
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runtime{bindRoot: resolved, bindRootGiven: root}
	inside := filepath.Join(root, "release")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(root, "etc-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/var/run/docker.sock", filepath.Join(root, "sock-link")); err != nil {
		t.Fatal(err)
	}
	sockPath := filepath.Join(root, "agent.sock")
	l, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	bind := func(src string) func(*ContainerSpec) {
		return func(s *ContainerSpec) { s.Mounts = []Mount{{Type: MountBind, Source: src, Target: "/srv"}} }
	}
	for _, tc := range []struct {
		name    string
		mutate  func(*ContainerSpec)
		wantErr string // "" means accepted
		retry   bool   // error expected to be retryable
	}{
		{"valid", func(*ContainerSpec) {}, "", false},
		{"bind inside root", bind(inside), "", false},
		{"bind outside root", bind("/etc"), "must be inside", false},
		{"bind dot-dot escape", bind(root + "/../.."), "must be inside", false},
		{"bind root itself", bind(root), "must be inside", false},
		{"bind symlink escape", bind(filepath.Join(root, "etc-link")), "outside", false},
		{"docker socket", bind("/var/run/docker.sock"), "Docker socket", false},
		{"docker socket via symlink", bind(filepath.Join(root, "sock-link")), "Docker socket", false},
		{"socket inside root", bind(sockPath), "sockets", false},
		{"bind source missing", bind(filepath.Join(root, "later")), "does not exist", true},
		{"socket as target", func(s *ContainerSpec) {
			s.Mounts = []Mount{{Type: MountVolume, Source: "data", Target: "/var/run/docker.sock"}}
		}, "Docker socket", false},
		{"bad mount type", func(s *ContainerSpec) { s.Mounts = []Mount{{Type: "tmpfs", Target: "/x"}} }, "type", false},
		{"relative target", func(s *ContainerSpec) { s.Mounts = []Mount{{Type: MountVolume, Source: "v", Target: "x"}} }, "absolute", false},
		{"duplicate target", func(s *ContainerSpec) {
			s.Tmpfs = map[string]string{"/data": ""}
			s.Mounts = []Mount{{Type: MountVolume, Source: "v", Target: "/data"}}
		}, "twice", false},
		{"bad volume name", func(s *ContainerSpec) { s.Mounts = []Mount{{Type: MountVolume, Source: "../x", Target: "/x"}} }, "volume name", false},
		{"bad name", func(s *ContainerSpec) { s.Name = "Web" }, "container name", false},
		{"host network", func(s *ContainerSpec) { s.Network = "host" }, "host", false},
		{"container network", func(s *ContainerSpec) { s.Network = "container:abc" }, "network name", false},
		{"no network", func(s *ContainerSpec) { s.Network = "" }, "network is required", false},
		{"bad label key", func(s *ContainerSpec) { s.Labels = map[string]string{"Berth Site": "x"} }, "label key", false},
		{"label value newline", func(s *ContainerSpec) { s.Labels = map[string]string{"berth.x": "a\nb"} }, "control", false},
		{"bad alias", func(s *ContainerSpec) { s.Aliases = []string{"a b"} }, "alias", false},
		{"bad env", func(s *ContainerSpec) { s.Env = []string{"NOEQUALS"} }, "KEY=VALUE", false},
		{"bad image", func(s *ContainerSpec) { s.Image = "image with spaces" }, "image", false},
		{"bad user", func(s *ContainerSpec) { s.User = "root; rm" }, "user", false},
		{"no memory limit", func(s *ContainerSpec) { s.MemoryMiB = 0 }, "memory", false},
		{"negative pids", func(s *ContainerSpec) { s.PidsLimit = -1 }, "pids", false},
		{"sys_admin", func(s *ContainerSpec) { s.CapAdd = []string{"SYS_ADMIN"} }, "capability", false},
		{"cap all", func(s *ContainerSpec) { s.CapAdd = []string{"ALL"} }, "capability", false},
		{"tmpfs option injection", func(s *ContainerSpec) { s.Tmpfs = map[string]string{"/tmp": "exec,size=1g;x"} }, "options", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := helloSpec("web", "site-net")
			tc.mutate(&s)
			_, err := r.normalizeSpec(s)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("normalizeSpec: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("normalizeSpec error = %v, want it to mention %q", err, tc.wantErr)
			}
			if terminal.Is(err) == tc.retry {
				t.Errorf("terminal.Is(%v) = %v, want %v", err, terminal.Is(err), !tc.retry)
			}
		})
	}

	t.Run("bind resolves symlinks inside root", func(t *testing.T) {
		if err := os.Symlink(inside, filepath.Join(root, "current")); err != nil {
			t.Fatal(err)
		}
		s := helloSpec("web", "site-net")
		bind(filepath.Join(root, "current"))(&s)
		n, err := r.normalizeSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := n.Mounts[0].Source, filepath.Join(resolved, "release"); got != want {
			t.Errorf("bind source = %s, want the resolved %s", got, want)
		}
	})

	t.Run("no bind root", func(t *testing.T) {
		s := helloSpec("web", "site-net")
		bind(inside)(&s)
		_, err := (&Runtime{}).normalizeSpec(s)
		if !terminal.Is(err) {
			t.Errorf("bind mount without a bind root: %v, want a terminal error", err)
		}
	})
}

// TestTerminalErrors checks which of the runtime's errors are terminal:
// a missing image is, a missing object or a busy engine is not.
func TestTerminalErrors(t *testing.T) {
	missing := fmt.Errorf("create container x: %w", imageMissing("berth/static:dev"))
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("engine busy"), false},
		{fmt.Errorf("wrapped: %w", ErrNotFound), false},
		{terminal.Errorf("bad spec"), true},
		{fmt.Errorf("container x: %w", terminal.Errorf("bad spec")), true},
		{missing, true},
		{imageMissing("x"), true},
	} {
		if got := terminal.Is(tc.err); got != tc.want {
			t.Errorf("terminal.Is(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if !errors.Is(missing, ErrImageMissing) {
		t.Error("missing image error does not wrap ErrImageMissing")
	}
	want := "create container x: image \"berth/static:dev\" not found on this node — run `make images`"
	if diff := cmp.Diff(want, missing.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

func TestLineWriter(t *testing.T) {
	var out strings.Builder
	a, b := &lineWriter{w: &out}, &lineWriter{w: &out}
	for _, step := range []struct {
		w *lineWriter
		s string
	}{{a, "out1 par"}, {b, "err1\nerr2 par"}, {a, "t\nout2\n"}, {b, "t\n"}, {a, "tail"}} {
		if _, err := step.w.Write([]byte(step.s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(a.flush(), b.flush()); err != nil {
		t.Fatal(err)
	}
	want := "err1\nout1 part\nout2\nerr2 part\ntail\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("merged lines (-want +got):\n%s", diff)
	}
}
