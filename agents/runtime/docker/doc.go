// Package docker is the node agent's container runtime: it runs sites as
// Docker containers through the Engine API (github.com/moby/moby/client). It is
// the only package in Berth that imports the Docker client.
//
// # What it manages
//
// A [Runtime] creates, inspects and removes containers, bridge networks and
// named volumes, runs commands in containers ([Runtime.Exec]) and streams their
// logs ([Runtime.Logs]). Every method takes a context and gives each Engine API
// call its own timeout ([Options.CallTimeout]) derived from it, so a hung engine
// surfaces as a retryable error instead of a stuck reconciler. A Runtime is safe
// for concurrent use.
//
// Methods are idempotent, which is what a level-triggered reconciler needs:
// Ensure* converge on the desired state and are no-ops when it already holds;
// Remove* treat "not found" as success.
//
// # Containers are always hardened
//
// [Runtime.EnsureContainer] applies a fixed hardening policy whatever the spec
// says: no-new-privileges, all capabilities dropped (a spec may only add back
// capabilities from Docker's default set), never privileged, the site's own
// network (never the host's network, PID or IPC namespace), a memory limit with
// no swap, a CPU limit, a pids limit, an init process, a restart policy of
// unless-stopped and rotated json-file logs. Bind mounts must come from inside
// [Options.BindRoot] (checked after resolving symlinks) and the Docker socket
// can never be mounted. The spec is hashed into the container's
// "berth.spec-hash" label; a container whose hash or image differs from the
// desired one is recreated.
//
// # One network per site
//
// Docker's default address pools give only about 31 bridge networks. The
// runtime therefore allocates a /28 per network itself from
// [Options.SubnetPool] (default 10.213.0.0/16, 4096 networks), skipping every
// subnet already used by a Docker network or a host interface, and passes it to
// the engine as explicit IPAM configuration. Bridge networks are isolated from
// each other by the engine's iptables rules, so sites on different networks
// cannot reach each other while the host (the edge proxy) reaches every
// container directly and containers keep outbound access.
//
// # Errors
//
// Errors that retrying cannot fix (an invalid spec, a missing image) are
// marked with package terminal (terminal.Is tells them); every other error
// is transient (timeouts, an unreachable or busy engine, conflicts with a
// concurrent change). Missing objects are reported as [ErrNotFound], missing
// images as [ErrImageMissing].
//
// # Names
//
// Names of containers, networks and volumes, network aliases and label keys
// must match ^[a-z0-9][a-z0-9_.-]{0,127}$. Lookups by name are exact: the
// engine also resolves ID prefixes, so every by-name lookup checks that the
// object it got back really has that name.
package docker
