package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/fixaroo/berth/agents/terminal"
)

const (
	// DefaultPidsLimit is the pids limit of a container whose spec sets none.
	DefaultPidsLimit = 256
	minMemoryMiB     = 6 // the engine refuses less
	// hardeningPolicy is part of the spec hash: bump it when the hardening
	// applied below changes, so that existing containers are recreated.
	hardeningPolicy = 1
)

// Mount types.
const (
	// MountVolume mounts a named volume.
	MountVolume = "volume"
	// MountBind mounts a host directory or file from inside Options.BindRoot.
	MountBind = "bind"
)

// Mount is a volume or bind mount.
type Mount struct {
	Type     string // MountVolume or MountBind
	Source   string // volume name, or a host path inside Options.BindRoot
	Target   string // absolute path in the container
	ReadOnly bool
}

// ContainerSpec is the desired state of one container.
type ContainerSpec struct {
	Name    string
	Image   string   // must already be on the node; never pulled
	Env     []string // KEY=VALUE
	Cmd     []string // argv; empty: the image's default
	User    string   // empty: the image's default
	Labels  map[string]string
	Network string   // required; the container's only network ("host" is refused)
	Aliases []string // DNS aliases on Network
	// MemoryMiB is the memory limit (required, at least 6); swap is disabled.
	MemoryMiB int64
	// CPUMillicores is the CPU limit in thousandths of a CPU; 0: unlimited.
	CPUMillicores int64
	// PidsLimit bounds the number of processes; 0: DefaultPidsLimit.
	PidsLimit      int64
	ReadOnlyRootfs bool
	Tmpfs          map[string]string // target → mount options ("" for the engine default: rw,noexec,nosuid,nodev)
	Mounts         []Mount
	// CapAdd restores capabilities after all are dropped; only Docker's
	// default set (CHOWN, SETUID, NET_BIND_SERVICE, ...) is allowed.
	CapAdd []string
	// ExposedPort is the port the service listens on (informational; no port
	// is ever published on the host).
	ExposedPort int
}

// Container is a container as the engine reports it.
type Container struct {
	ID, Name, Image string // Image is the reference it was created from
	Labels          map[string]string
	State           string // created, running, paused, restarting, removing, exited, dead
	ExitCode        int
	IPs             map[string]netip.Addr // by network name
	StartedAt       time.Time             // zero if never started
	RestartCount    int
}

type inspected = container.InspectResponse

// EnsureContainer makes the container spec.Name match spec and run: it creates
// the container if missing, recreates it if its spec (as recorded in its
// "berth.spec-hash" label, which EnsureContainer computes and sets itself,
// overriding any caller value) or its image (the tag now names another image)
// changed, and starts it if it is not running. It returns the container as
// inspected after these steps; a container that crashes right away may show as
// restarting or exited.
//
// Whatever the spec says, the container gets no-new-privileges, CapDrop ALL
// (plus CapAdd), no privileged mode, the spec's network as its only network
// and its own PID and IPC namespaces, Memory = MemorySwap = MemoryMiB, NanoCPUs
// from CPUMillicores, a pids limit (default 256), an init process, restart
// policy unless-stopped and json-file logs of at most 3 × 10 MB. No port is
// published on the host.
//
// Terminal errors: an invalid spec, a bind mount from outside the bind root or
// of the Docker socket, a missing image ([ErrImageMissing]), or a spec the
// engine refuses. Concurrent calls for the same name may return a retryable
// conflict.
func (r *Runtime) EnsureContainer(ctx context.Context, spec ContainerSpec) (Container, error) {
	norm, err := r.normalizeSpec(spec)
	if err != nil {
		return Container{}, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	hash, err := specHash(norm)
	if err != nil {
		return Container{}, fmt.Errorf("container %s: %w", spec.Name, err)
	}
	cur, found, err := r.inspect(ctx, norm.Name)
	if err != nil {
		return Container{}, err
	}
	imgID, imgFound, err := r.imageID(ctx, norm.Image)
	if err != nil {
		return Container{}, err
	}
	if found {
		var reason string
		switch {
		case cur.Config == nil || cur.Config.Labels[specHashLabel] != hash:
			reason = "spec changed"
		case imgFound && cur.Image != imgID:
			reason = "image changed"
		case cur.State != nil && (cur.State.Dead || cur.State.Status == container.StateDead):
			reason = "container dead"
		}
		if reason == "" {
			return r.ensureRunning(ctx, cur)
		}
		if !imgFound {
			// Keep the running container rather than remove it for a
			// replacement that cannot be created.
			return Container{}, fmt.Errorf("recreate container %s (%s): %w", norm.Name, reason, imageMissing(norm.Image))
		}
		if err := r.removeByID(ctx, cur.ID, norm.Name); err != nil {
			return Container{}, err
		}
		r.log.Info("container removed for recreation", "container", norm.Name, "reason", reason)
	}
	if !imgFound {
		return Container{}, fmt.Errorf("create container %s: %w", norm.Name, imageMissing(norm.Image))
	}

	cfg, hc, nc := r.createConfig(norm, hash)
	cctx, cancel := r.call(ctx)
	res, err := r.cli.ContainerCreate(cctx, client.ContainerCreateOptions{
		Name: norm.Name, Config: cfg, HostConfig: hc, NetworkingConfig: nc,
	})
	cancel()
	if err != nil {
		return Container{}, fmt.Errorf("create container %s: %w", norm.Name, classify(err))
	}
	if len(res.Warnings) > 0 {
		r.log.Debug("container create warnings", "container", norm.Name, "warnings", res.Warnings)
	}
	r.log.Info("container created", "container", norm.Name, "image", norm.Image)
	if err := r.start(ctx, res.ID, norm.Name); err != nil {
		return Container{}, err
	}
	return r.InspectContainer(ctx, norm.Name)
}

// ensureRunning starts (or unpauses) an up-to-date container that is not
// running. A restarting container is left to the engine's restart policy.
func (r *Runtime) ensureRunning(ctx context.Context, c inspected) (Container, error) {
	name := strings.TrimPrefix(c.Name, "/")
	st := c.State
	switch {
	case st == nil:
	case st.Paused:
		cctx, cancel := r.call(ctx)
		_, err := r.cli.ContainerUnpause(cctx, c.ID, client.ContainerUnpauseOptions{})
		cancel()
		if err != nil {
			return Container{}, fmt.Errorf("unpause container %s: %w", name, err)
		}
		r.log.Info("container unpaused", "container", name)
	case st.Running || st.Restarting:
		return toContainer(c), nil
	default:
		if err := r.start(ctx, c.ID, name); err != nil {
			return Container{}, err
		}
	}
	return r.InspectContainer(ctx, name)
}

func (r *Runtime) start(ctx context.Context, id, name string) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	if _, err := r.cli.ContainerStart(cctx, id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", name, classify(err))
	}
	r.log.Info("container started", "container", name)
	return nil
}

// classify marks engine errors that retrying cannot fix as terminal: the
// engine refused the request as invalid (HTTP 400).
func classify(err error) error {
	if cerrdefs.IsInvalidArgument(err) && !cerrdefs.IsConflict(err) && !cerrdefs.IsNotFound(err) {
		return terminal.Wrap(err)
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// createConfig builds the engine's configuration from a normalized spec,
// applying the hardening policy.
func (r *Runtime) createConfig(s ContainerSpec, hash string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[specHashLabel] = hash
	cfg := &container.Config{
		Image:  s.Image,
		Env:    s.Env,
		Cmd:    s.Cmd,
		User:   s.User,
		Labels: labels,
	}
	if s.ExposedPort > 0 {
		if p, ok := network.PortFrom(uint16(s.ExposedPort), network.TCP); ok {
			cfg.ExposedPorts = network.PortSet{p: {}}
		}
	}
	mounts := make([]mount.Mount, 0, len(s.Mounts))
	for _, m := range s.Mounts {
		mm := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Type == MountBind {
			mm.BindOptions = &mount.BindOptions{Propagation: mount.PropagationRPrivate}
		}
		mounts = append(mounts, mm)
	}
	initProc := true
	pids := s.PidsLimit
	hc := &container.HostConfig{
		NetworkMode:   container.NetworkMode(s.Network),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": "10m", "max-file": "3"},
		},
		CapDrop:        []string{"ALL"},
		CapAdd:         s.CapAdd,
		SecurityOpt:    []string{"no-new-privileges:true"},
		Privileged:     false,
		IpcMode:        container.IPCModePrivate,
		ReadonlyRootfs: s.ReadOnlyRootfs,
		Tmpfs:          s.Tmpfs,
		Mounts:         mounts,
		Init:           &initProc,
		Resources: container.Resources{
			Memory:     s.MemoryMiB << 20,
			MemorySwap: s.MemoryMiB << 20,
			NanoCPUs:   s.CPUMillicores * 1_000_000,
			PidsLimit:  &pids,
		},
	}
	var nc *network.NetworkingConfig
	if len(s.Aliases) > 0 && s.Network != network.NetworkNone {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			s.Network: {Aliases: s.Aliases},
		}}
	}
	return cfg, hc, nc
}

// normalizeSpec validates spec and returns it in canonical form: defaults
// applied, empty collections nil, capabilities and aliases sorted, the
// reserved label dropped and bind sources resolved.
func (r *Runtime) normalizeSpec(spec ContainerSpec) (ContainerSpec, error) {
	s := spec
	if err := validateName("container", s.Name); err != nil {
		return s, err
	}
	if err := validateImageRef(s.Image); err != nil {
		return s, err
	}
	if s.Network == "" {
		return s, terminal.Errorf("network is required")
	}
	if err := validateName("network", s.Network); err != nil {
		return s, err
	}
	if s.Network == network.NetworkHost {
		return s, terminal.Errorf("network %q: containers never share the host's network", s.Network)
	}
	if err := validateEnv(s.Env); err != nil {
		return s, err
	}
	if err := validateArgv("command", s.Cmd); err != nil {
		return s, err
	}
	if err := validateUser(s.User); err != nil {
		return s, err
	}
	s.Labels = maps.Clone(s.Labels)
	delete(s.Labels, specHashLabel)
	if err := validateLabels(s.Labels); err != nil {
		return s, err
	}
	s.Aliases = slices.Clone(s.Aliases)
	for _, a := range s.Aliases {
		if err := validateName("alias", a); err != nil {
			return s, err
		}
	}
	slices.Sort(s.Aliases)
	s.Aliases = slices.Compact(s.Aliases)
	if s.MemoryMiB < minMemoryMiB {
		return s, terminal.Errorf("memory limit %d MiB: at least %d MiB is required", s.MemoryMiB, minMemoryMiB)
	}
	if s.CPUMillicores < 0 {
		return s, terminal.Errorf("cpu limit %d millicores: must not be negative", s.CPUMillicores)
	}
	switch {
	case s.PidsLimit < 0:
		return s, terminal.Errorf("pids limit %d: must not be negative", s.PidsLimit)
	case s.PidsLimit == 0:
		s.PidsLimit = DefaultPidsLimit
	}
	if s.ExposedPort < 0 || s.ExposedPort > 65535 {
		return s, terminal.Errorf("exposed port %d: out of range", s.ExposedPort)
	}
	caps, err := normalizeCaps(s.CapAdd)
	if err != nil {
		return s, err
	}
	s.CapAdd = caps

	targets := map[string]bool{}
	for t, opts := range s.Tmpfs {
		if err := validateTarget("tmpfs target", t); err != nil {
			return s, err
		}
		if !tmpfsOptRE.MatchString(opts) {
			return s, terminal.Errorf("tmpfs %s: options %q may only contain a-z, 0-9, '=', ',', '_', '.'", t, opts)
		}
		targets[t] = true
	}
	s.Mounts = slices.Clone(s.Mounts)
	for i, m := range s.Mounts {
		if err := validateTarget("mount target", m.Target); err != nil {
			return s, err
		}
		if targets[m.Target] {
			return s, terminal.Errorf("mount target %s: used twice", m.Target)
		}
		targets[m.Target] = true
		switch m.Type {
		case MountVolume:
			if err := validateName("volume", m.Source); err != nil {
				return s, err
			}
		case MountBind:
			src, err := r.resolveBindSource(m.Source)
			if err != nil {
				return s, err
			}
			s.Mounts[i].Source = src
		default:
			return s, terminal.Errorf("mount %s: type %q: must be %q or %q", m.Target, m.Type, MountVolume, MountBind)
		}
	}
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.Cmd) == 0 {
		s.Cmd = nil
	}
	if len(s.Labels) == 0 {
		s.Labels = nil
	}
	if len(s.Aliases) == 0 {
		s.Aliases = nil
	}
	if len(s.Tmpfs) == 0 {
		s.Tmpfs = nil
	}
	if len(s.Mounts) == 0 {
		s.Mounts = nil
	}
	if len(s.CapAdd) == 0 {
		s.CapAdd = nil
	}
	return s, nil
}

// specHash hashes a normalized spec together with the hardening policy
// version. Bind sources are resolved, so re-pointing a symlink under the bind
// root changes the hash.
func specHash(s ContainerSpec) (string, error) {
	b, err := json.Marshal(struct {
		Policy int
		Spec   ContainerSpec
	}{hardeningPolicy, s})
	if err != nil {
		return "", fmt.Errorf("hash spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// inspect returns the container whose name or full ID is exactly ref. The
// engine also resolves ID prefixes; such matches are treated as not found.
func (r *Runtime) inspect(ctx context.Context, ref string) (inspected, bool, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.ContainerInspect(cctx, ref, client.ContainerInspectOptions{})
	if isNotFound(err) {
		return inspected{}, false, nil
	}
	if err != nil {
		return inspected{}, false, fmt.Errorf("inspect container %s: %w", ref, err)
	}
	c := res.Container
	if c.ID != ref && strings.TrimPrefix(c.Name, "/") != ref {
		return inspected{}, false, nil
	}
	return c, true, nil
}

// InspectContainer returns the container called name, or an error wrapping
// ErrNotFound.
func (r *Runtime) InspectContainer(ctx context.Context, name string) (Container, error) {
	if err := validateName("container", name); err != nil {
		return Container{}, err
	}
	c, found, err := r.inspect(ctx, name)
	if err != nil {
		return Container{}, err
	}
	if !found {
		return Container{}, fmt.Errorf("container %s: %w", name, ErrNotFound)
	}
	return toContainer(c), nil
}

// ListContainers returns the containers in any state carrying all the given
// labels, sorted by name. It inspects each one (the engine's list omits exit
// codes, start times and restart counts).
func (r *Runtime) ListContainers(ctx context.Context, labels map[string]string) ([]Container, error) {
	if err := validateLabels(labels); err != nil {
		return nil, err
	}
	cctx, cancel := r.call(ctx)
	res, err := r.cli.ContainerList(cctx, client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]Container, 0, len(res.Items))
	for _, item := range res.Items {
		c, found, err := r.inspect(ctx, item.ID)
		if err != nil {
			return nil, err
		}
		if found { // else removed since listing
			out = append(out, toContainer(c))
		}
	}
	slices.SortFunc(out, func(a, b Container) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveContainer force-removes the container called name with its anonymous
// volumes. A container that does not exist is success.
func (r *Runtime) RemoveContainer(ctx context.Context, name string) error {
	if err := validateName("container", name); err != nil {
		return err
	}
	c, found, err := r.inspect(ctx, name)
	if err != nil || !found {
		return err
	}
	if err := r.removeByID(ctx, c.ID, name); err != nil {
		return err
	}
	r.log.Info("container removed", "container", name)
	return nil
}

func (r *Runtime) removeByID(ctx context.Context, id, name string) error {
	cctx, cancel := r.call(ctx)
	defer cancel()
	_, err := r.cli.ContainerRemove(cctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

func toContainer(c inspected) Container {
	out := Container{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), RestartCount: c.RestartCount, IPs: map[string]netip.Addr{}}
	if c.Config != nil {
		out.Image = c.Config.Image
		out.Labels = maps.Clone(c.Config.Labels)
	}
	if st := c.State; st != nil {
		out.State = string(st.Status)
		out.ExitCode = st.ExitCode
		if t, err := time.Parse(time.RFC3339Nano, st.StartedAt); err == nil && t.Year() > 1 {
			out.StartedAt = t
		}
	}
	if c.NetworkSettings != nil {
		for name, ep := range c.NetworkSettings.Networks {
			if ep != nil && ep.IPAddress.IsValid() {
				out.IPs[name] = ep.IPAddress
			}
		}
	}
	return out
}
