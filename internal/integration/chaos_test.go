package integration

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/runtime/docker"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// waitUntil polls cond every 100 ms until it holds or within passes.
func waitUntil(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChaos kills the agent while it creates ten sites, removes and kills
// containers, and stops berthd: the node converges with no duplicates and
// no leftovers, and keeps serving without the control plane.
func TestChaos(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	a := startAgent(t, b, "node-chaos")
	nodeID := b.nodeID("node-chaos")
	conn := b.grpcConn()
	cc, err := berthv1.NewClientServiceClient(conn).CreateClient(b.adminCtx(), &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Chaos", Slug: "chaos", ContactEmail: "ops@chaos.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sites := berthv1.NewSiteServiceClient(conn)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := sites.CreateSite(b.adminCtx(), &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: cc.Client.Id,
				Name: fmt.Sprintf("s%d", i), Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: fmt.Sprintf("s%d.chaos.test", i),
				Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 100}}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, resp.Site.Id)
			mu.Unlock()
		}()
	}
	wg.Wait()

	// Kill the agent as soon as it has started creating containers.
	mine := map[string]string{"berth.managed": "true", "berth.kind": "static", "berth.node": nodeID}
	waitUntil(t, time.Minute, "the agent creates a first container", func() bool {
		cs, err := rt.ListContainers(t.Context(), mine)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs) > 0
	})
	a.kill()
	cs, err := rt.ListContainers(t.Context(), mine)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("agent killed with %d of 10 containers created", len(cs))
	a.start()
	for _, id := range ids {
		b.waitSite(id, 3*time.Minute, isRunning)
	}
	assertOneEach(t, rt, nodeID, ids)

	// A container removed by hand comes back.
	victim := ids[0]
	if err := rt.RemoveContainer(t.Context(), "berth-"+victim); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "the removed container is recreated", func() bool {
		c, err := rt.InspectContainer(t.Context(), "berth-"+victim)
		return err == nil && c.State == "running"
	})

	// Deploy a release to one site so there is content to check.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "index.html"), "still here")
	served := ids[1]
	rel := strings.TrimSpace(b.ok(t, "", "site", "deploy", served, dir))
	b.waitSite(served, time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel })

	// berthd stops: sites keep serving; a site container that crashes is restarted.
	b.stop()
	addr := siteAddr(t, rt, served, 8080)
	if code, body, err := httpGet("http://"+addr+"/", "s1.chaos.test"); err != nil || code != 200 || body != "still here" {
		t.Fatalf("with berthd stopped the site answers %d %q %v", code, body, err)
	}
	c, err := rt.InspectContainer(t.Context(), "berth-"+served)
	if err != nil {
		t.Fatal(err)
	}
	crashContainer(t, c)
	waitUntil(t, 90*time.Second, "the crashed container runs again", func() bool {
		c2, err := rt.InspectContainer(t.Context(), "berth-"+served)
		return err == nil && c2.State == "running" && !c2.StartedAt.Equal(c.StartedAt)
	})
	waitUntil(t, 30*time.Second, "the restarted site answers", func() bool {
		_, body, err := httpGet("http://"+siteAddr(t, rt, served, 8080)+"/", "s1.chaos.test")
		return err == nil && body == "still here"
	})

	// berthd comes back: the node reconnects and reports its sites.
	b2 := startBerthdOn(t, b.dataDir, b.addr)
	b2.waitNode("node-chaos", berthv1.NodeState_NODE_STATE_READY)
	for _, id := range ids {
		b2.waitSite(id, time.Minute, isRunning)
	}
	assertOneEach(t, rt, nodeID, ids)
}

// assertOneEach checks that each site has exactly one container and one
// network, and that node nodeID runs no other static container.
func assertOneEach(t *testing.T, rt *docker.Runtime, nodeID string, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		cs, err := rt.ListContainers(t.Context(), map[string]string{"berth.site": id})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := rt.ListNetworks(t.Context(), map[string]string{"berth.site": id})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || len(ns) != 1 {
			t.Errorf("site %s has %d containers and %d networks, want 1 and 1", id, len(cs), len(ns))
		}
	}
	all, err := rt.ListContainers(t.Context(), map[string]string{"berth.managed": "true", "berth.kind": "static", "berth.node": nodeID})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if !want[c.Labels["berth.site"]] {
			t.Errorf("orphan container %s (site %s)", c.Name, c.Labels["berth.site"])
		}
	}
}

// crashContainer kills a container's main process from the host, as a crash
// would (docker kill would count as a deliberate stop).
func crashContainer(t *testing.T, c docker.Container) {
	t.Helper()
	out, err := execOutput("docker", "inspect", "--format", "{{.State.Pid}}", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		t.Fatalf("container %s has no process (%q)", c.Name, out)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}
