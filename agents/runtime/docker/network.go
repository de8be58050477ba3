package docker

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// Network is a bridge network as the engine reports it.
type Network struct {
	ID, Name string
	Subnet   netip.Prefix // first IPv4 subnet; invalid if the network has none
	Gateway  netip.Addr
	Labels   map[string]string
}

// maxSubnetAttempts bounds retries when another process takes the subnet we
// picked between listing and creating.
const maxSubnetAttempts = 8

// EnsureNetwork returns the network called name, creating it if it does not
// exist: a bridge network (not internal: the host reaches its containers and
// they reach the internet) on a /28 that the runtime allocates itself from the
// subnet pool, with inter-container traffic enabled inside it. Labels are set
// at creation only; the engine cannot relabel a network.
//
// It is idempotent by name. Calls within one Runtime are serialized. The API
// 1.41 engine does not refuse duplicate network names, so after creating, the
// runtime checks for a concurrent creator in another process and keeps the
// older network.
func (r *Runtime) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (Network, error) {
	if err := validateName("network", name); err != nil {
		return Network{}, err
	}
	if err := validateLabels(labels); err != nil {
		return Network{}, err
	}
	r.netMu.Lock()
	defer r.netMu.Unlock()

	existing, err := r.networksNamed(ctx, name)
	if err != nil {
		return Network{}, err
	}
	if len(existing) > 0 {
		return toNetwork(existing[0].Network), nil
	}

	tried := map[netip.Prefix]bool{}
	for attempt := 0; ; attempt++ {
		used, err := r.usedSubnets(ctx)
		if err != nil {
			return Network{}, err
		}
		subnet, ok := nextFreeSubnet(r.pool, used, tried)
		if !ok {
			return Network{}, fmt.Errorf("create network %s: subnet pool %s is exhausted", name, r.pool)
		}
		gw := subnet.Addr().Next()
		cctx, cancel := r.call(ctx)
		res, err := r.cli.NetworkCreate(cctx, name, client.NetworkCreateOptions{
			Driver: "bridge",
			IPAM: &network.IPAM{
				Driver: "default",
				Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gw}},
			},
			Options: map[string]string{"com.docker.network.bridge.enable_icc": "true"},
			Labels:  labels,
		})
		cancel()
		if err != nil {
			if isSubnetConflict(err) && attempt < maxSubnetAttempts {
				r.log.Debug("subnet taken concurrently, trying the next", "network", name, "subnet", subnet.String())
				tried[subnet] = true
				continue
			}
			return Network{}, fmt.Errorf("create network %s on %s: %w", name, subnet, err)
		}
		r.log.Info("network created", "network", name, "subnet", subnet.String())
		return r.settleDuplicate(ctx, name, res.ID)
	}
}

// settleDuplicate keeps the oldest network called name if a concurrent
// creator made a second one, removing ours if it lost.
func (r *Runtime) settleDuplicate(ctx context.Context, name, ours string) (Network, error) {
	nets, err := r.networksNamed(ctx, name)
	if err != nil {
		return Network{}, err
	}
	if len(nets) == 0 {
		return Network{}, fmt.Errorf("network %s vanished right after creation", name)
	}
	keep := nets[0]
	if keep.ID != ours && slices.ContainsFunc(nets, func(n network.Summary) bool { return n.ID == ours }) {
		cctx, cancel := r.call(ctx)
		_, err := r.cli.NetworkRemove(cctx, ours, client.NetworkRemoveOptions{})
		cancel()
		if err != nil && !isNotFound(err) {
			return Network{}, fmt.Errorf("remove duplicate network %s: %w", name, err)
		}
	}
	return toNetwork(keep.Network), nil
}

// networksNamed lists networks whose name is exactly name, oldest first.
func (r *Runtime) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	// The engine's name filter matches substrings; keep exact matches only.
	res, err := r.cli.NetworkList(cctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var out []network.Summary
	for _, n := range res.Items {
		if n.Name == name {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b network.Summary) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// usedSubnets returns every IPv4 subnet in use by a Docker network or a host
// interface.
func (r *Runtime) usedSubnets(ctx context.Context) ([]netip.Prefix, error) {
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.NetworkList(cctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var used []netip.Prefix
	for _, n := range res.Items {
		for _, c := range n.IPAM.Config {
			if c.Subnet.IsValid() && c.Subnet.Addr().Is4() {
				used = append(used, c.Subnet.Masked())
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("host interfaces: %w", err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(ipn.String()); err == nil && p.Addr().Is4() {
				used = append(used, p.Masked())
			}
		}
	}
	return used, nil
}

// nextFreeSubnet returns the first /28 of pool that overlaps no used prefix
// and is not in skip.
func nextFreeSubnet(pool netip.Prefix, used []netip.Prefix, skip map[netip.Prefix]bool) (netip.Prefix, bool) {
	pool = pool.Masked()
	if !pool.Addr().Is4() || pool.Bits() > subnetBits {
		return netip.Prefix{}, false
	}
	first, last := prefixRange(pool)
	const step = uint32(1) << (32 - subnetBits)
	taken := make([]bool, (last-first)/step+1) // by /28 index within pool
	for _, u := range used {
		if !u.Addr().Is4() || !u.Overlaps(pool) {
			continue
		}
		lo, hi := prefixRange(u.Masked())
		lo, hi = max(lo, first), min(hi, last)
		for i := (lo - first) / step; i <= (hi-first)/step; i++ {
			taken[i] = true
		}
	}
	for i, t := range taken {
		if t {
			continue
		}
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], first+uint32(i)*step)
		cand := netip.PrefixFrom(netip.AddrFrom4(a), subnetBits)
		if !skip[cand] {
			return cand, true
		}
	}
	return netip.Prefix{}, false
}

// prefixRange returns the first and last address of an IPv4 prefix.
func prefixRange(p netip.Prefix) (uint32, uint32) {
	a := p.Addr().As4()
	first := binary.BigEndian.Uint32(a[:])
	return first, first | (uint32(1)<<(32-p.Bits()) - 1)
}

// isSubnetConflict recognizes the engine's answer when the requested subnet
// was taken in the meantime ("Pool overlaps with other one on this address
// space", "... address already in use").
func isSubnetConflict(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "overlaps") || strings.Contains(msg, "in use")
}

func toNetwork(n network.Network) Network {
	out := Network{ID: n.ID, Name: n.Name, Labels: maps.Clone(n.Labels)}
	for _, c := range n.IPAM.Config {
		if c.Subnet.IsValid() && c.Subnet.Addr().Is4() {
			out.Subnet, out.Gateway = c.Subnet, c.Gateway
			break
		}
	}
	return out
}

// RemoveNetwork removes the network called name (every network of that name,
// should duplicates exist). A network that does not exist is success.
// Containers still attached are force-disconnected first if they carry a
// "berth.*" label (they are ours, and about to be reconciled); any other
// container still attached makes it fail with a retryable error naming it,
// rather than cutting off something Berth does not manage.
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	if err := validateName("network", name); err != nil {
		return err
	}
	nets, err := r.networksNamed(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if err := r.removeNetwork(ctx, n.ID, name); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runtime) removeNetwork(ctx context.Context, id, name string) error {
	cctx, cancel := r.call(ctx)
	ins, err := r.cli.NetworkInspect(cctx, id, client.NetworkInspectOptions{})
	cancel()
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}
	var foreign []string
	for cid, ep := range ins.Network.Containers {
		c, found, err := r.inspect(ctx, cid)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if c.Config == nil || !hasBerthLabel(c.Config.Labels) {
			foreign = append(foreign, ep.Name)
			continue
		}
		cctx, cancel := r.call(ctx)
		_, err = r.cli.NetworkDisconnect(cctx, id, client.NetworkDisconnectOptions{Container: cid, Force: true})
		cancel()
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("disconnect %s from network %s: %w", ep.Name, name, err)
		}
	}
	if len(foreign) > 0 {
		slices.Sort(foreign)
		return fmt.Errorf("remove network %s: containers not managed by Berth are still attached: %s", name, strings.Join(foreign, ", "))
	}
	cctx, cancel = r.call(ctx)
	_, err = r.cli.NetworkRemove(cctx, id, client.NetworkRemoveOptions{})
	cancel()
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove network %s: %w", name, err)
	}
	r.log.Info("network removed", "network", name)
	return nil
}

func hasBerthLabel(labels map[string]string) bool {
	for k := range labels {
		if strings.HasPrefix(k, "berth.") {
			return true
		}
	}
	return false
}

// ListNetworks returns the networks carrying all the given labels, sorted by
// name.
func (r *Runtime) ListNetworks(ctx context.Context, labels map[string]string) ([]Network, error) {
	if err := validateLabels(labels); err != nil {
		return nil, err
	}
	cctx, cancel := r.call(ctx)
	defer cancel()
	res, err := r.cli.NetworkList(cctx, client.NetworkListOptions{Filters: labelFilters(labels)})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	out := make([]Network, 0, len(res.Items))
	for _, n := range res.Items {
		out = append(out, toNetwork(n.Network))
	}
	slices.SortFunc(out, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// ConnectNetwork attaches container to network with the given DNS aliases.
// It is idempotent: a container already attached with (at least) these
// aliases is left alone; one attached without them is reconnected, since the
// engine cannot change an endpoint's aliases in place.
func (r *Runtime) ConnectNetwork(ctx context.Context, networkName, containerName string, aliases []string) error {
	if err := validateName("network", networkName); err != nil {
		return err
	}
	if err := validateName("container", containerName); err != nil {
		return err
	}
	for _, a := range aliases {
		if err := validateName("alias", a); err != nil {
			return err
		}
	}
	nets, err := r.networksNamed(ctx, networkName)
	if err != nil {
		return err
	}
	if len(nets) == 0 {
		return fmt.Errorf("connect %s to network %s: network %w", containerName, networkName, ErrNotFound)
	}
	netID := nets[0].ID
	c, found, err := r.inspect(ctx, containerName)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("connect %s to network %s: container %w", containerName, networkName, ErrNotFound)
	}
	if ep := endpoint(c, networkName); ep != nil {
		if containsAll(ep.Aliases, aliases) {
			return nil
		}
		cctx, cancel := r.call(ctx)
		_, err := r.cli.NetworkDisconnect(cctx, netID, client.NetworkDisconnectOptions{Container: c.ID, Force: true})
		cancel()
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("disconnect %s from network %s to change aliases: %w", containerName, networkName, err)
		}
	}
	cctx, cancel := r.call(ctx)
	_, err = r.cli.NetworkConnect(cctx, netID, client.NetworkConnectOptions{
		Container:      c.ID,
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	cancel()
	if err != nil {
		// A concurrent connect wins the race: check before failing.
		if c2, found, err2 := r.inspect(ctx, containerName); err2 == nil && found {
			if ep := endpoint(c2, networkName); ep != nil && containsAll(ep.Aliases, aliases) {
				return nil
			}
		}
		if isNotFound(err) {
			return fmt.Errorf("connect %s to network %s: %w: %w", containerName, networkName, ErrNotFound, err)
		}
		return fmt.Errorf("connect %s to network %s: %w", containerName, networkName, err)
	}
	return nil
}

func endpoint(c inspected, networkName string) *network.EndpointSettings {
	if c.NetworkSettings == nil {
		return nil
	}
	return c.NetworkSettings.Networks[networkName]
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func labelFilters(labels map[string]string) client.Filters {
	f := make(client.Filters)
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		f.Add("label", k+"="+labels[k])
	}
	return f
}
