package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fixaroo/berth/agents/runtime/docker"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// BenchmarkCreateToRunning measures how long a new site takes from
// CreateSite until berthd reports it RUNNING at its current generation, as
// seen on the WatchSite stream: placement, the agent's session, the
// network and container, the agent's readiness probe and, for WordPress,
// the shared MariaDB (first site only) and the installation. berthd and one
// agent run as processes against the real engine; each iteration creates
// one site with the CLI's default limits and, untimed, deletes it again,
// since a 2-core node has room for only four sites at the default 500
// millicores. Every site thus starts on an empty node. Run it with
// -benchtime 10x; it reports the median and 90th percentile over the b.N
// sites, in seconds.
func BenchmarkCreateToRunning(b *testing.B) {
	b.Run("static", func(b *testing.B) {
		n := startBenchNode(b, "berth/static:dev")
		n.createToRunning(b, 2*time.Minute, func(i int) *berthv1.Site {
			return &berthv1.Site{Name: fmt.Sprintf("s%d", i), Kind: berthv1.SiteKind_SITE_KIND_STATIC,
				PrimaryDomain: fmt.Sprintf("s%d.bench.test", i), Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 500}}
		})
	})
	b.Run("wordpress", func(b *testing.B) {
		n := startBenchNode(b, "berth/wordpress:dev", "berth/mariadb:dev")
		n.createToRunning(b, 5*time.Minute, func(i int) *berthv1.Site {
			return &berthv1.Site{Name: fmt.Sprintf("wp%d", i), Kind: berthv1.SiteKind_SITE_KIND_WORDPRESS,
				PrimaryDomain: fmt.Sprintf("wp%d.bench.test", i), Resources: &berthv1.Resources{MemoryMib: 256, CpuMillicores: 500},
				Wordpress: &berthv1.WordPressSpec{Title: fmt.Sprintf("Bench Blog %d", i), AdminEmail: "ops@bench.test"}}
		})
	})
}

// BenchmarkDockerRunBaseline is the floor under BenchmarkCreateToRunning:
// the same images started with a plain `docker run -d --rm` (default bridge
// network, no limits, no berthd or agent), timed from the command to the
// first HTTP answer of any status from the container's IP on port 8080.
// static serves a bind-mounted release laid out as the agent lays it out;
// wordpress is the image alone, without a database, so it answers with an
// error page and installs nothing. It reports the median in seconds.
func BenchmarkDockerRunBaseline(b *testing.B) {
	b.Run("static", func(b *testing.B) {
		requireDocker(b, "berth/static:dev")
		root := b.TempDir()
		rel := filepath.Join(root, "releases", "r1")
		if err := os.MkdirAll(rel, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rel, "index.html"), []byte("<!doctype html><title>r1</title>"), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Symlink("releases/r1", filepath.Join(root, "current")); err != nil {
			b.Fatal(err)
		}
		// The container runs as nobody; the temporary directory is 0700.
		if err := os.Chmod(root, 0o755); err != nil {
			b.Fatal(err)
		}
		dockerRunToAnswer(b, []string{"--user", "65534:65534", "-v", root + ":/srv:ro"},
			"berth/static:dev", "--root", "/srv", "--listen", ":8080")
	})
	b.Run("wordpress", func(b *testing.B) {
		requireDocker(b, "berth/wordpress:dev")
		dockerRunToAnswer(b, nil, "berth/wordpress:dev")
	})
}

// BenchmarkAgentRSS reports the resident memory (VmRSS) of berth-agent
// (rss-MiB) and of berthd (berthd-rss-MiB) just after 20 static sites of
// 64 MiB and 50 millicores each (so that they fit on 2 cores) are RUNNING
// on the agent's node. Setting up the sites runs
// once (b.Loop); an iteration only reads both processes' /proc status, so
// b.N does not change what is measured, the metrics are from the last
// read, and ns/op (the cost of a read) is suppressed.
func BenchmarkAgentRSS(b *testing.B) {
	const sites = 20
	n := startBenchNode(b, "berth/static:dev")
	for i := range sites {
		resp, err := n.sites.CreateSite(n.d.adminCtx(), &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: n.clientID,
			Name: fmt.Sprintf("s%d", i), Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: fmt.Sprintf("s%d.rss.test", i),
			Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 50}}})
		if err != nil {
			b.Fatal(err)
		}
		n.ids = append(n.ids, resp.Site.Id)
	}
	start := time.Now()
	for _, id := range n.ids {
		n.d.waitSite(id, 3*time.Minute, isRunning)
	}
	b.Logf("%d static sites RUNNING %v after creation", sites, time.Since(start).Round(time.Millisecond))

	var agentRSS, berthdRSS float64
	for b.Loop() {
		var err1, err2 error
		agentRSS, err1 = rssMiB(n.a.cmd.Process.Pid)
		berthdRSS, err2 = rssMiB(n.d.cmd.Process.Pid)
		if err := errors.Join(err1, err2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(agentRSS, "rss-MiB")
	b.ReportMetric(berthdRSS, "berthd-rss-MiB")
	b.ReportMetric(sites, "sites")
	n.deleteSites(b, n.ids...)
}

// benchNode is berthd and one agent, built without the race detector,
// running against the real engine, with a client to own the sites.
type benchNode struct {
	d        *berthd
	a        *agent
	rt       *docker.Runtime
	sites    berthv1.SiteServiceClient
	clientID string
	ids      []string // sites created, removed from the engine at the end whatever happens
}

// startBenchNode starts a node with the images present. If they include
// MariaDB, the node-wide MariaDB is removed before and after, since its
// root password lives in an agent data dir that is thrown away.
func startBenchNode(b *testing.B, images ...string) *benchNode {
	return startBenchNodeWith(b, images, nil)
}

// startBenchNodeWith is startBenchNode with extra agent flags.
func startBenchNodeWith(b *testing.B, images, agentFlags []string) *benchNode {
	b.Helper()
	n := &benchNode{rt: requireDocker(b, images...)}
	n.d = startBerthd(b, "")
	// Registered before the agent starts so that it runs after the agent
	// is killed, which would otherwise recreate what it removes.
	cleanupSites(b, n.rt, &n.ids)
	n.a = startAgent(b, n.d, "node-bench", agentFlags...)
	conn := n.d.grpcConn()
	cl, err := berthv1.NewClientServiceClient(conn).CreateClient(n.d.adminCtx(), &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Bench Ltd", Slug: "bench", ContactEmail: "ops@bench.test"}})
	if err != nil {
		b.Fatal(err)
	}
	n.clientID, n.sites = cl.Client.Id, berthv1.NewSiteServiceClient(conn)
	return n
}

// createToRunning creates one site per iteration, times it from CreateSite
// until RUNNING, deletes it untimed and reports p50-s and p90-s.
func (n *benchNode) createToRunning(b *testing.B, within time.Duration, site func(i int) *berthv1.Site) {
	b.Helper()
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		s := site(i)
		s.ClientId = n.clientID
		start := time.Now()
		resp, err := n.sites.CreateSite(n.d.adminCtx(), &berthv1.CreateSiteRequest{Site: s})
		if err != nil {
			b.Fatal(err)
		}
		n.ids = append(n.ids, resp.Site.Id)
		n.d.waitSite(resp.Site.Id, within, isRunning)
		took = append(took, time.Since(start))
		b.StopTimer()
		n.deleteSites(b, resp.Site.Id)
		b.StartTimer()
	}
	reportSeconds(b, took)
}

// deleteSites deletes sites and waits until berthd has forgotten them and
// their containers, networks and volumes are gone from the node.
func (n *benchNode) deleteSites(b *testing.B, ids ...string) {
	b.Helper()
	ctx := n.d.adminCtx()
	for _, id := range ids {
		if _, err := n.sites.DeleteSite(ctx, &berthv1.DeleteSiteRequest{Id: id}); err != nil {
			b.Fatalf("delete site %s: %v", id, err)
		}
	}
	waitUntil(b, 3*time.Minute, "the deleted sites are removed from the node", func() bool {
		for _, id := range ids {
			if _, err := n.sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: id}); status.Code(err) != codes.NotFound {
				return false
			}
			label := map[string]string{"berth.site": id}
			cs, err1 := n.rt.ListContainers(b.Context(), label)
			ns, err2 := n.rt.ListNetworks(b.Context(), label)
			vs, err3 := n.rt.ListVolumes(b.Context(), label)
			if errors.Join(err1, err2, err3) != nil || len(cs)+len(ns)+len(vs) > 0 {
				return false
			}
		}
		return true
	})
}

// dockerRunToAnswer starts image with `docker run -d --rm` once per
// iteration, times it to the first HTTP answer from the container's IP on
// port 8080, removes the container and reports p50-s.
func dockerRunToAnswer(b *testing.B, opts []string, image string, args ...string) {
	b.Helper()
	prefix := "berth-bench-run-" + strings.ToLower(rand.Text()[:8])
	var names []string
	b.Cleanup(func() {
		for _, name := range names {
			removeContainer(name)
		}
	})
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		names = append(names, name)
		run := slices.Concat([]string{"run", "-d", "--rm", "--name", name}, opts, []string{image}, args)
		start := time.Now()
		if out, err := dockerCLI(time.Minute, run...); err != nil {
			b.Fatalf("docker run: %v: %s", err, out)
		}
		ip, err := dockerCLI(30*time.Second, "inspect", "--format", "{{.NetworkSettings.IPAddress}}", name)
		if err != nil || net.ParseIP(ip) == nil {
			b.Fatalf("IP of %s: %q %v", name, ip, err)
		}
		if err := firstAnswer("http://"+net.JoinHostPort(ip, "8080")+"/", 2*time.Minute); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		if err := removeContainer(name); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	reportSeconds(b, took)
}

// dockerCLI runs the docker CLI with a timeout and returns its trimmed
// combined output.
func dockerCLI(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// removeContainer removes a container and its anonymous volumes (the
// WordPress image declares one) and waits until it is gone.
func removeContainer(name string) error {
	dockerCLI(30*time.Second, "rm", "-f", "-v", name) // fails if --rm is already removing it
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := dockerCLI(10*time.Second, "inspect", "--format", "{{.Id}}", name); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s still exists 30s after docker rm -f", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstAnswer polls url until it answers with any HTTP status.
func firstAnswer(url string, within time.Duration) error {
	// No keep-alive: the next container may get this one's address.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no HTTP answer from %s within %v: %w", url, within, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reportSeconds reports the median and 90th percentile of took in seconds
// and logs every sample.
func reportSeconds(b *testing.B, took []time.Duration) {
	b.Helper()
	b.Logf("in order: %v", took)
	sorted := slices.Sorted(slices.Values(took))
	b.ReportMetric(percentile(sorted, 0.50).Seconds(), "p50-s")
	b.ReportMetric(percentile(sorted, 0.90).Seconds(), "p90-s")
}
