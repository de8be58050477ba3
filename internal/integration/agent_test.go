package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/testenv"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// agent is a running berth-agent process.
type agent struct {
	tb      testing.TB
	name    string
	dataDir string
	cmd     *exec.Cmd
	exited  chan struct{}
	stderr  *syncBuffer
	args    []string
}

// requireDocker returns a runtime for inspecting what agents create; the
// engine and the images are required by the rule of testenv.Require.
func requireDocker(tb testing.TB, images ...string) *docker.Runtime {
	tb.Helper()
	testenv.SkipShort(tb)
	testenv.RequireImages(tb, images...)
	rt, err := docker.New(tb.Context(), docker.Options{})
	if err != nil {
		tb.Fatalf("Docker engine: %v", err)
	}
	tb.Cleanup(func() { rt.Close() })
	return rt
}

// startAgent joins a new node called name to b and runs its agent; extra
// flags override the defaults.
func startAgent(tb testing.TB, b *berthd, name string, extra ...string) *agent {
	tb.Helper()
	jt, err := berthv1.NewNodeServiceClient(b.grpcConn()).CreateJoinToken(b.adminCtx(), &berthv1.CreateJoinTokenRequest{})
	if err != nil {
		tb.Fatal(err)
	}
	a := &agent{tb: tb, name: name, dataDir: tb.TempDir()}
	ip := testIP(tb, 1)
	a.args = []string{"--server", b.url(""), "--join-token", jt.Token, "--data-dir", a.dataDir, "--node-name", name,
		"--http-listen", ip + ":0", "--https-listen", ip + ":0", "--metrics-listen", ip + ":0",
		// Test domains are under .test (berthd's CA); nothing may reach a
		// public ACME CA from a test.
		"--acme-directory", "https://127.0.0.1:9/directory"}
	a.args = append(a.args, extra...)
	// Cleanups run last-registered first: this one runs once the agent,
	// which would recreate what it removes, is gone.
	var nodeID string
	tb.Cleanup(func() { removeNodeObjects(tb, nodeID) })
	a.start()
	tb.Cleanup(func() {
		a.kill()
		if tb.Failed() {
			tb.Logf("agent %s log:\n%s", name, a.stderr.String())
		}
	})
	nodeID = b.waitNode(name, berthv1.NodeState_NODE_STATE_READY).Id
	return a
}

// removeNodeObjects removes the containers, volumes and networks that the
// agent of node nodeID created (its sites' and its MariaDB), found by the
// node label, and nothing else.
func removeNodeObjects(tb testing.TB, nodeID string) {
	if nodeID == "" {
		return // the agent never joined
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := docker.New(ctx, docker.Options{})
	if err != nil {
		tb.Errorf("remove node %s's objects: %v", nodeID, err)
		return
	}
	defer rt.Close()
	own := map[string]string{"berth.managed": "true", "berth.node": nodeID}
	cs, err := rt.ListContainers(ctx, own)
	if err != nil {
		tb.Errorf("list node %s's containers: %v", nodeID, err)
	}
	for _, c := range cs {
		if err := rt.RemoveContainer(ctx, c.Name); err != nil {
			tb.Errorf("remove node %s's container: %v", nodeID, err)
		}
	}
	vols, err := rt.ListVolumes(ctx, own)
	if err != nil {
		tb.Errorf("list node %s's volumes: %v", nodeID, err)
	}
	for _, v := range vols {
		if err := rt.RemoveVolume(ctx, v); err != nil {
			tb.Errorf("remove node %s's volume: %v", nodeID, err)
		}
	}
	nets, err := rt.ListNetworks(ctx, own)
	if err != nil {
		tb.Errorf("list node %s's networks: %v", nodeID, err)
	}
	for _, n := range nets {
		if err := rt.RemoveNetwork(ctx, n.Name); err != nil {
			tb.Errorf("remove node %s's network: %v", nodeID, err)
		}
	}
}

func (a *agent) start() {
	a.stderr, a.exited = &syncBuffer{}, make(chan struct{})
	a.cmd = exec.Command(binary(a.tb, "berth-agent"), a.args...)
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		a.tb.Fatal(err)
	}
	go func() { a.cmd.Wait(); close(a.exited) }()
}

func (a *agent) kill() {
	a.cmd.Process.Kill()
	<-a.exited
}

// waitNode waits until the node called name is in state.
func (b *berthd) waitNode(name string, state berthv1.NodeState) *berthv1.Node {
	b.tb.Helper()
	nodes := berthv1.NewNodeServiceClient(b.grpcConn())
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := nodes.ListNodes(b.adminCtx(), &berthv1.ListNodesRequest{})
		if err != nil {
			b.tb.Fatal(err)
		}
		for _, n := range resp.Nodes {
			if n.Name == name && n.State == state {
				return n
			}
		}
		if time.Now().After(deadline) {
			b.tb.Fatalf("node %s not %v within 90s: %v", name, state, resp.Nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeID returns the id of the node called name.
func (b *berthd) nodeID(name string) string {
	b.tb.Helper()
	resp, err := berthv1.NewNodeServiceClient(b.grpcConn()).ListNodes(b.adminCtx(), &berthv1.ListNodesRequest{})
	if err != nil {
		b.tb.Fatal(err)
	}
	for _, n := range resp.Nodes {
		if n.Name == name {
			return n.Id
		}
	}
	b.tb.Fatalf("no node called %s", name)
	return ""
}

// waitSite follows a site until ok holds, failing on FAILED.
func (b *berthd) waitSite(id string, within time.Duration, ok func(*berthv1.Site) bool) *berthv1.Site {
	b.tb.Helper()
	ctx, cancel := context.WithTimeout(b.adminCtx(), within)
	defer cancel()
	stream, err := berthv1.NewSiteServiceClient(b.grpcConn()).WatchSite(ctx, &berthv1.WatchSiteRequest{Id: id})
	if err != nil {
		b.tb.Fatal(err)
	}
	var last *berthv1.Site
	for {
		msg, err := stream.Recv()
		if err != nil {
			b.tb.Fatalf("site %s did not get there within %v (last: %v): %v", id, within, last, err)
		}
		last = msg.Site
		if ok(last) {
			return last
		}
		if last.State == berthv1.SiteState_SITE_STATE_FAILED {
			b.tb.Fatalf("site %s FAILED: %v", id, last.Conditions)
		}
	}
}

func isRunning(s *berthv1.Site) bool {
	return s.State == berthv1.SiteState_SITE_STATE_RUNNING && s.ObservedGeneration == s.Generation
}

// siteAddr is the address of a site's container on its network.
func siteAddr(tb testing.TB, rt *docker.Runtime, siteID string, port uint16) string {
	tb.Helper()
	c, err := rt.InspectContainer(tb.Context(), "berth-"+siteID)
	if err != nil {
		tb.Fatal(err)
	}
	ip := c.IPs["berth-"+siteID]
	if !ip.IsValid() {
		tb.Fatalf("container of %s has no address: %v", siteID, c.IPs)
	}
	return netip.AddrPortFrom(ip, port).String()
}

func httpGet(url, host string) (int, string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// cleanupSites removes, whatever happens, the containers and networks of
// the sites a test created.
func cleanupSites(tb testing.TB, rt *docker.Runtime, ids *[]string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, id := range *ids {
			rt.RemoveContainer(ctx, "berth-"+id)
			rt.RemoveVolume(ctx, "berth-"+id+"-wp-content")
			rt.RemoveNetwork(ctx, "berth-"+id)
		}
	})
}

func TestStaticSiteOnANode(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	startAgent(t, b, "node-a")

	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Acme", "--slug", "acme", "--email", "ops@acme.test", "-o", "json"), "client")
	siteID := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", "www", "--kind", "static",
		"--domain", "www.acme.test", "--memory", "64", "--no-wait", "-o", "json"), "site")
	ids = append(ids, siteID)
	site := b.waitSite(siteID, 2*time.Minute, isRunning)
	if site.NodeId == "" {
		t.Fatalf("running site has no node: %v", site)
	}

	// Deploy a release and fetch it from the site's container.
	dir := t.TempDir()
	v1 := "<!doctype html><title>v1</title><p>" + strings.Repeat("one ", 200) + "</p>"
	writeFile(t, filepath.Join(dir, "index.html"), v1)
	writeFile(t, filepath.Join(dir, "css", "site.css"), "body{color:#123}")
	rel1 := strings.TrimSpace(b.ok(t, "", "site", "deploy", siteID, dir))
	b.waitSite(siteID, time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel1 })
	addr := siteAddr(t, rt, siteID, 8080)
	if code, body, err := httpGet("http://"+addr+"/", "www.acme.test"); err != nil || code != 200 || body != v1 {
		t.Fatalf("GET / from the container: %d %v, body equal to the release: %v", code, err, body == v1)
	}
	if code, body, _ := httpGet("http://"+addr+"/css/site.css", "www.acme.test"); code != 200 || body != "body{color:#123}" {
		t.Errorf("GET /css/site.css: %d %q", code, body)
	}

	// A second release while a client polls: every answer is one whole version.
	v2 := "<!doctype html><title>v2</title><p>" + strings.Repeat("two ", 300) + "</p>"
	var polls, bad atomic.Int64
	var badMsg atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			code, body, err := httpGet("http://"+addr+"/", "www.acme.test")
			polls.Add(1)
			if err != nil || code != 200 || (body != v1 && body != v2) {
				bad.Add(1)
				badMsg.Store(fmt.Sprintf("%d %v %.60q", code, err, body))
			}
		}
	}()
	writeFile(t, filepath.Join(dir, "index.html"), v2)
	rel2 := strings.TrimSpace(b.ok(t, "", "site", "deploy", siteID, dir))
	b.waitSite(siteID, time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel2 })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if _, body, _ := httpGet("http://"+addr+"/", "www.acme.test"); body == v2 {
			break
		}
	}
	close(stop)
	wg.Wait()
	if bad.Load() > 0 {
		t.Errorf("%d of %d polls during the switch saw an error or a mix, e.g. %v", bad.Load(), polls.Load(), badMsg.Load())
	}
	t.Logf("%d polls during the release switch, none bad", polls.Load())
	if _, body, _ := httpGet("http://"+addr+"/", "www.acme.test"); body != v2 {
		t.Errorf("after the second deploy the site serves %.40q", body)
	}

	// Roll back to the first release.
	b.ok(t, "", "site", "rollback", siteID)
	b.waitSite(siteID, time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel1 })
	if _, body, _ := httpGet("http://"+addr+"/", "www.acme.test"); body != v1 {
		t.Errorf("after rollback the site serves %.40q, want v1", body)
	}

	// Hardening of what the agent created.
	c, err := rt.InspectContainer(t.Context(), "berth-"+siteID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", "inspect", "--format",
		"{{.HostConfig.Privileged}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.SecurityOpt}} {{.HostConfig.CapDrop}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.NetworkMode}} {{range .Mounts}}{{.Source}} {{end}}", c.ID).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"false true", "no-new-privileges", "[ALL]", fmt.Sprint(64 << 20)} {
		if !strings.Contains(got, want) {
			t.Errorf("docker inspect %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "docker.sock") || strings.Contains(got, " host ") {
		t.Errorf("container has a Docker socket mount or the host network: %s", got)
	}

	// Deleting the site removes it from the node, then the record.
	b.ok(t, "", "site", "delete", siteID)
	deadline := time.Now().Add(time.Minute)
	for {
		_, _, code := b.cli(t, "", []string{"BERTH_TOKEN=" + b.token}, "site", "get", siteID)
		if code != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("site still exists a minute after delete")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := rt.InspectContainer(t.Context(), "berth-"+siteID); err == nil {
		t.Error("the site's container still exists after deletion")
	}
}

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
