package docker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fixaroo/berth/agents/terminal"
)

// The one validator for every name that reaches the engine: container,
// network and volume names, network aliases and label keys.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,127}$`)

var (
	envKeyRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	imageRefRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$`)
	userRE     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$`)
	tmpfsOptRE = regexp.MustCompile(`^[a-z0-9=,_.]*$`)
	capRE      = regexp.MustCompile(`^[A-Z_]+$`)
)

// maxLabelValue bounds label values; Docker itself has no limit.
const maxLabelValue = 4096

// allowedCaps is Docker's default capability set: CapAdd may restore any of
// these after CapDrop ALL, nothing beyond (no SYS_ADMIN, NET_ADMIN, ...).
var allowedCaps = []string{
	"CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_MKNOD", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",
	"CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

// Reserved label set by EnsureContainer.
const specHashLabel = "berth.spec-hash"

// dockerSocketPaths are the places the engine's socket is usually found.
var dockerSocketPaths = []string{"/var/run/docker.sock", "/run/docker.sock"}

// validateName checks a container, network or volume name.
func validateName(kind, name string) error {
	if !nameRE.MatchString(name) {
		return terminal.Errorf("%s name %q: must be 1-128 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit", kind, name)
	}
	return nil
}

// validateLabels checks label keys (same rule as names) and values.
func validateLabels(labels map[string]string) error {
	for k, v := range labels {
		if !nameRE.MatchString(k) {
			return terminal.Errorf("label key %q: must be 1-128 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit", k)
		}
		if len(v) > maxLabelValue {
			return terminal.Errorf("label %s: value longer than %d bytes", k, maxLabelValue)
		}
		if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return terminal.Errorf("label %s: value must be UTF-8 text without control characters", k)
		}
	}
	return nil
}

func validateImageRef(ref string) error {
	if !imageRefRE.MatchString(ref) || strings.Contains(ref, "..") {
		return terminal.Errorf("image %q: not a valid image reference", ref)
	}
	return nil
}

func validateEnv(env []string) error {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !envKeyRE.MatchString(k) {
			return terminal.Errorf("environment entry %q: must be KEY=VALUE with KEY of A-Z, a-z, 0-9, '_'", kv)
		}
		if strings.ContainsRune(v, 0) {
			return terminal.Errorf("environment variable %s: value contains a NUL byte", k)
		}
	}
	return nil
}

func validateArgv(what string, argv []string) error {
	for _, a := range argv {
		if strings.ContainsRune(a, 0) {
			return terminal.Errorf("%s: argument %q contains a NUL byte", what, a)
		}
	}
	return nil
}

func validateUser(user string) error {
	if user != "" && !userRE.MatchString(user) {
		return terminal.Errorf("user %q: must be a name or id, optionally :group", user)
	}
	return nil
}

// normalizeCaps uppercases, adds the CAP_ prefix, sorts, deduplicates and
// checks each capability against allowedCaps.
func normalizeCaps(caps []string) ([]string, error) {
	var out []string
	for _, c := range caps {
		n := strings.ToUpper(c)
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if !capRE.MatchString(n) || !slices.Contains(allowedCaps, n) {
			return nil, terminal.Errorf("capability %q: only Docker's default capabilities may be added back (%s)", c, strings.Join(allowedCaps, ", "))
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// validateTarget checks a path inside the container.
func validateTarget(what, p string) error {
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" || strings.ContainsRune(p, 0) {
		return terminal.Errorf("%s %q: must be a clean absolute path other than /", what, p)
	}
	if isDockerSocketName(p) {
		return terminal.Errorf("%s %q: the Docker socket can never be mounted into a container", what, p)
	}
	return nil
}

func isDockerSocketName(p string) bool { return filepath.Base(p) == "docker.sock" }

// resolveBindSource checks that src is strictly inside the bind root after
// cleaning and resolving symlinks, and is not (and does not contain) the
// Docker socket. It returns the resolved path, which is what gets mounted.
// A source that does not exist (yet) is a retryable error.
func (r *Runtime) resolveBindSource(src string) (string, error) {
	if isDockerSocketName(src) {
		return "", terminal.Errorf("bind source %q: the Docker socket can never be mounted into a container", src)
	}
	if r.bindRoot == "" {
		return "", terminal.Errorf("bind source %q: bind mounts are disabled (no bind root configured)", src)
	}
	if !filepath.IsAbs(src) {
		return "", terminal.Errorf("bind source %q: must be an absolute path", src)
	}
	clean := filepath.Clean(src)
	if !strictlyInside(r.bindRootGiven, clean) && !strictlyInside(r.bindRoot, clean) {
		return "", terminal.Errorf("bind source %q: must be inside %s", src, r.bindRootGiven)
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("bind source %q does not exist", src)
	}
	if err != nil {
		return "", fmt.Errorf("bind source %q: %w", src, err)
	}
	for _, sock := range dockerSocketPaths {
		if s, err := filepath.EvalSymlinks(sock); err == nil && (s == resolved || strictlyInside(resolved, s)) {
			return "", terminal.Errorf("bind source %q resolves to or contains the Docker socket %s: it can never be mounted into a container", src, s)
		}
	}
	if isDockerSocketName(resolved) {
		return "", terminal.Errorf("bind source %q resolves to %s: the Docker socket can never be mounted into a container", src, resolved)
	}
	if !strictlyInside(r.bindRoot, resolved) {
		return "", terminal.Errorf("bind source %q resolves to %s, outside %s", src, resolved, r.bindRoot)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return "", fmt.Errorf("bind source %q: %w", src, err)
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return "", terminal.Errorf("bind source %q: sockets (such as the Docker socket) can never be mounted into a container", src)
	}
	return resolved, nil
}

// strictlyInside reports whether p is below dir (not dir itself).
func strictlyInside(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || filepath.IsAbs(rel) {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
