package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/moby/client"
)

// DefaultCallTimeout bounds each Engine API call when
// [Options.CallTimeout] is not set.
const DefaultCallTimeout = 30 * time.Second

// DefaultSubnetPool is the pool that network subnets are carved from when
// [Options.SubnetPool] is not set: 4096 /28s.
var DefaultSubnetPool = netip.MustParsePrefix("10.213.0.0/16")

// subnetBits is the size of every network the runtime allocates: a /28 holds
// the gateway and 13 containers.
const subnetBits = 28

// Options configures a [Runtime]. Zero values mean the documented default.
type Options struct {
	// Logger receives container and network state changes. Default: discard.
	Logger *slog.Logger
	// BindRoot is the only directory that bind-mount sources may come from
	// (the agent's data dir). It must exist. Empty: bind mounts are refused.
	// It may not be "/".
	BindRoot string
	// SubnetPool is the IPv4 prefix that network subnets (/28 each) are
	// allocated from. Default: [DefaultSubnetPool].
	SubnetPool netip.Prefix
	// CallTimeout bounds each Engine API call. Default: [DefaultCallTimeout].
	CallTimeout time.Duration
}

// Runtime talks to one Docker engine. It is safe for concurrent use.
type Runtime struct {
	cli           *client.Client
	log           *slog.Logger
	bindRoot      string // BindRoot resolved by EvalSymlinks, or ""
	bindRootGiven string // BindRoot as configured, cleaned
	pool          netip.Prefix
	timeout       time.Duration

	netMu sync.Mutex // serializes subnet allocation and network creation
}

// Info describes the engine.
type Info struct {
	ServerVersion string // engine version, e.g. "20.10.24+dfsg1"
	APIVersion    string // negotiated Engine API version, e.g. "1.41"
	NCPU          int
	MemTotalBytes int64
}

// New connects to the engine configured by the environment (DOCKER_HOST etc.,
// default the local unix socket), negotiates the API version and pings the
// engine. The caller must Close the Runtime.
func New(ctx context.Context, o Options) (*Runtime, error) {
	r := &Runtime{log: o.Logger, pool: o.SubnetPool, timeout: o.CallTimeout}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "docker")
	if r.timeout <= 0 {
		r.timeout = DefaultCallTimeout
	}
	if !r.pool.IsValid() {
		r.pool = DefaultSubnetPool
	}
	if !r.pool.Addr().Is4() || r.pool.Bits() > subnetBits {
		return nil, fmt.Errorf("subnet pool %s: must be an IPv4 prefix of /%d or larger", r.pool, subnetBits)
	}
	r.pool = r.pool.Masked()
	if o.BindRoot != "" {
		root := filepath.Clean(o.BindRoot)
		if !filepath.IsAbs(root) {
			return nil, fmt.Errorf("bind root %q: must be an absolute path", o.BindRoot)
		}
		resolved, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, fmt.Errorf("bind root: %w", err)
		}
		if resolved == "/" {
			return nil, errors.New(`bind root: "/" would allow mounting anything`)
		}
		r.bindRoot, r.bindRootGiven = resolved, root
	}

	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	if _, err := cli.Ping(cctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("Docker engine not reachable at %s: %w — is dockerd running?", cli.DaemonHost(), err)
	}
	r.cli = cli
	return r, nil
}

// Close releases the connection to the engine. It does not touch containers.
func (r *Runtime) Close() error { return r.cli.Close() }

// call derives the context for one Engine API call.
func (r *Runtime) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.timeout)
}

// Info returns the engine's version and capacity.
func (r *Runtime) Info(ctx context.Context) (Info, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.Info(cctx, client.InfoOptions{})
	if err != nil {
		return Info{}, fmt.Errorf("engine info: %w", err)
	}
	return Info{
		ServerVersion: res.Info.ServerVersion,
		APIVersion:    r.cli.ClientVersion(),
		NCPU:          res.Info.NCPU,
		MemTotalBytes: res.Info.MemTotal,
	}, nil
}

// ImageExists reports whether the image ref (e.g. "berth/static:dev") is
// present on the node. It never pulls.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	if err := validateImageRef(ref); err != nil {
		return false, err
	}
	_, found, err := r.imageID(ctx, ref)
	return found, err
}

// imageID returns the ID of the local image ref.
func (r *Runtime) imageID(ctx context.Context, ref string) (string, bool, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.ImageInspect(cctx, ref)
	if isNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return res.ID, true, nil
}
