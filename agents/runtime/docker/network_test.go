package docker

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/fixaroo/berth/agents/terminal"
)

func TestInfo(t *testing.T) {
	r := newTestRuntime(t, Options{})
	info, err := r.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.ServerVersion == "" || info.APIVersion == "" || info.NCPU < 1 || info.MemTotalBytes <= 0 {
		t.Errorf("Info = %+v, want all fields set", info)
	}
	t.Logf("engine %s, API %s", info.ServerVersion, info.APIVersion)
}

func TestEnsureNetwork(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ctx := t.Context()
	sfx := suffix()
	a := testNetwork(t, r, "bt-net-a-"+sfx)
	b := testNetwork(t, r, "bt-net-b-"+sfx)

	for _, n := range []Network{a, b} {
		if n.Subnet.Bits() != subnetBits || !DefaultSubnetPool.Contains(n.Subnet.Addr()) {
			t.Errorf("network %s: subnet %s, want a /28 inside %s", n.Name, n.Subnet, DefaultSubnetPool)
		}
		if n.Gateway != n.Subnet.Addr().Next() {
			t.Errorf("network %s: gateway %s, want the subnet's first address", n.Name, n.Gateway)
		}
		if n.Labels["berth.test"] != "1" {
			t.Errorf("network %s: labels %v", n.Name, n.Labels)
		}
		ins, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ins.Network.Internal || ins.Network.Driver != "bridge" {
			t.Errorf("network %s: internal=%v driver=%s, want a non-internal bridge", n.Name, ins.Network.Internal, ins.Network.Driver)
		}
	}
	if a.Subnet.Overlaps(b.Subnet) {
		t.Errorf("networks share address space: %s and %s", a.Subnet, b.Subnet)
	}

	again, err := r.EnsureNetwork(ctx, a.Name, testLabels)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != a.ID || again.Subnet != a.Subnet {
		t.Errorf("second EnsureNetwork = %+v, want the existing %+v", again, a)
	}

	listed, err := r.ListNetworks(ctx, map[string]string{"berth.test": "1"})
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, n := range listed {
		if n.ID == a.ID || n.ID == b.ID {
			found++
		}
	}
	if found != 2 {
		t.Errorf("ListNetworks found %d of the 2 networks in %v", found, listed)
	}

	if err := r.RemoveNetwork(ctx, b.Name); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveNetwork(ctx, b.Name); err != nil {
		t.Errorf("removing a removed network: %v", err)
	}
	if nets, err := r.networksNamed(ctx, b.Name); err != nil || len(nets) != 0 {
		t.Errorf("network %s still there after RemoveNetwork: %v %v", b.Name, nets, err)
	}
	if _, err := r.EnsureNetwork(ctx, "Bad Name", nil); !terminal.Is(err) {
		t.Errorf("invalid network name: %v, want a terminal error", err)
	}
}

// TestManyNetworks creates more networks than Docker's default address pools
// hold (~31): the runtime allocates subnets itself.
func TestManyNetworks(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ctx := t.Context()
	const n = 40
	sfx := suffix()
	label := map[string]string{"berth.test": "1", "berth.test.run": sfx}
	subnets := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("bt-many-%s-%02d", sfx, i)
		cleanupNetwork(t, r, name)
		nw, err := r.EnsureNetwork(ctx, name, label)
		if err != nil {
			t.Fatalf("network %d of %d: %v", i+1, n, err)
		}
		if other, dup := subnets[nw.Subnet.String()]; dup {
			t.Fatalf("%s and %s share subnet %s", name, other, nw.Subnet)
		}
		subnets[nw.Subnet.String()] = name
	}
	listed, err := r.ListNetworks(ctx, label)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != n {
		t.Fatalf("ListNetworks = %d networks, want %d", len(listed), n)
	}
	for _, nw := range listed {
		if err := r.RemoveNetwork(ctx, nw.Name); err != nil {
			t.Fatal(err)
		}
	}
	if listed, err := r.ListNetworks(ctx, label); err != nil || len(listed) != 0 {
		t.Errorf("after removal: %d networks left, %v", len(listed), err)
	}
}

func TestConnectNetwork(t *testing.T) {
	r := newTestRuntime(t, Options{})
	ensureTestImage(t, r)
	ctx := t.Context()
	sfx := suffix()
	home := testNetwork(t, r, "bt-conn-home-"+sfx)
	shared := testNetwork(t, r, "bt-conn-shared-"+sfx)
	c := testContainer(t, r, helloSpec("bt-conn-"+sfx, home.Name))

	for range 2 { // idempotent
		if err := r.ConnectNetwork(ctx, shared.Name, c.Name, []string{"web"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.InspectContainer(ctx, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ip := got.IPs[shared.Name]; !shared.Subnet.Contains(ip) {
		t.Errorf("IP on %s = %v, want one in %s (IPs %v)", shared.Name, ip, shared.Subnet, got.IPs)
	}
	if ip := got.IPs[home.Name]; !home.Subnet.Contains(ip) {
		t.Errorf("IP on %s = %v, want one in %s", home.Name, ip, home.Subnet)
	}

	// The container is berth-labelled: removing the network detaches it.
	if err := r.RemoveNetwork(ctx, shared.Name); err != nil {
		t.Fatalf("RemoveNetwork with a berth container attached: %v", err)
	}
	got, err = r.InspectContainer(ctx, c.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.IPs[shared.Name]; ok {
		t.Errorf("container still on removed network: %v", got.IPs)
	}
}

// TestEnsureNetworkRaces runs two Runtimes (as two agents' processes would,
// without a shared lock) against each other: racing for the same free subnet
// must retry with the next one, and racing for the same name must end with
// one network.
func TestEnsureNetworkRaces(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	r1 := newTestRuntime(t, Options{Logger: logger})
	r2 := newTestRuntime(t, Options{Logger: logger})
	ctx := t.Context()
	sfx := suffix()
	const n = 6
	type result struct {
		nw  Network
		err error
	}
	results := make(chan result, 2*n+2)
	var wg sync.WaitGroup
	for i, r := range []*Runtime{r1, r2} {
		wg.Go(func() {
			for j := range n {
				name := fmt.Sprintf("bt-race-%s-%d-%d", sfx, i, j)
				cleanupNetwork(t, r1, name)
				nw, err := r.EnsureNetwork(ctx, name, testLabels)
				results <- result{nw, err}
			}
			shared := "bt-race-" + sfx + "-shared"
			cleanupNetwork(t, r1, shared)
			nw, err := r.EnsureNetwork(ctx, shared, testLabels)
			results <- result{nw, err}
		})
	}
	wg.Wait()
	close(results)
	subnets := map[string]string{}
	sharedIDs := map[string]bool{}
	for res := range results {
		if res.err != nil {
			t.Fatal(res.err)
		}
		if strings.HasSuffix(res.nw.Name, "-shared") {
			sharedIDs[res.nw.ID] = true
			continue
		}
		if other, dup := subnets[res.nw.Subnet.String()]; dup {
			t.Errorf("%s and %s share subnet %s", res.nw.Name, other, res.nw.Subnet)
		}
		subnets[res.nw.Subnet.String()] = res.nw.Name
	}
	if len(sharedIDs) != 1 {
		t.Errorf("racing EnsureNetwork for one name returned %d networks", len(sharedIDs))
	}
	if nets, err := r1.networksNamed(ctx, "bt-race-"+sfx+"-shared"); err != nil || len(nets) != 1 {
		t.Errorf("%d networks named bt-race-%s-shared, want 1 (%v)", len(nets), sfx, err)
	}
}
