package integration

import (
	"strings"
	"testing"
	"time"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// containerEnv returns the value of an environment variable of a container.
func containerEnv(t *testing.T, name, key string) string {
	t.Helper()
	out, err := execOutput("docker", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", name)
	if err != nil {
		t.Fatal(out, err)
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	t.Fatalf("container %s has no %s", name, key)
	return ""
}

func TestWordPressSites(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/wordpress:dev", "berth/mariadb:dev")
	b := startBerthd(t, "")
	// Registered before the agent starts, so the agent is gone (cleanups run
	// last first) before its sites and its MariaDB are removed.
	var ids []string
	cleanupSites(t, rt, &ids)
	startAgent(t, b, "node-wp")
	nodeID := b.nodeID("node-wp")

	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Bistro", "--slug", "bistro", "--email", "ops@bistro.test", "-o", "json"), "client")
	create := func(name, title string) string {
		id := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", name, "--kind", "wordpress",
			"--domain", name+".bistro.test", "--title", title, "--admin-email", "chef@bistro.test", "--no-wait", "-o", "json"), "site")
		ids = append(ids, id)
		return id
	}
	a := create("blog", "Bistro Blog")
	bID := create("news", "Bistro News")
	start := time.Now()
	b.waitSite(a, 5*time.Minute, isRunning)
	b.waitSite(bID, 5*time.Minute, isRunning)
	t.Logf("two WordPress sites RUNNING %v after creation", time.Since(start).Round(time.Second))

	for id, want := range map[string]string{a: "Bistro Blog", bID: "Bistro News"} {
		host := map[string]string{a: "blog.bistro.test", bID: "news.bistro.test"}[id]
		code, body, err := httpGet("http://"+siteAddr(t, rt, id, 8080)+"/", host)
		if err != nil || code != 200 || !strings.Contains(body, want) {
			t.Errorf("front page of %s: %d %v, contains %q: %v", id, code, err, want, strings.Contains(body, want))
		}
	}

	// One MariaDB for both, the node's own, and B's credentials cannot
	// read A's database.
	nodeMaria := map[string]string{"berth.kind": "mariadb", "berth.node": nodeID}
	maria, err := rt.ListContainers(t.Context(), nodeMaria)
	if err != nil || len(maria) != 1 {
		t.Fatalf("MariaDB containers of node %s: %d (%v), want 1", nodeID, len(maria), err)
	}
	mariaName := maria[0].Name
	if mariaName != "berth-mariadb-"+nodeID {
		t.Errorf("the node's MariaDB is called %s, want berth-mariadb-%s", mariaName, nodeID)
	}
	if vols, err := rt.ListVolumes(t.Context(), nodeMaria); err != nil || len(vols) != 1 {
		t.Errorf("MariaDB volumes of node %s: %v (%v), want 1", nodeID, vols, err)
	}
	userB := containerEnv(t, "berth-"+bID, "WORDPRESS_DB_USER")
	passB := containerEnv(t, "berth-"+bID, "WORDPRESS_DB_PASSWORD")
	dbA := containerEnv(t, "berth-"+a, "WORDPRESS_DB_NAME")
	res, err := rt.Exec(t.Context(), mariaName, []string{"mariadb", "--user=" + userB, "--batch", "-e", "SELECT option_value FROM `" + dbA + "`.wp_options LIMIT 1"},
		nil, []string{"MYSQL_PWD=" + passB}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(string(res.Stderr), "denied") {
		t.Errorf("site B's user read site A's database: exit %d, %s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	res, err = rt.Exec(t.Context(), mariaName, []string{"mariadb", "--user=" + userB, "--batch", "-e", "SELECT 1"},
		nil, []string{"MYSQL_PWD=" + passB}, "")
	if err != nil || res.ExitCode != 0 {
		t.Errorf("site B's user cannot log in at all: %v %s", err, res.Stderr)
	}

	// Isolation: from inside site A's container, B's container is unreachable;
	// the node's MariaDB is reachable by its alias on A's network.
	connect := func(addr string) int {
		host, port, _ := strings.Cut(addr, ":")
		res, err := rt.Exec(t.Context(), "berth-"+a, []string{"php", "-r",
			"$s = @fsockopen($argv[1], (int)$argv[2], $errno, $errstr, 3); exit($s ? 0 : 1);", host, port}, nil, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return res.ExitCode
	}
	// Docker's inter-network isolation is iptables rules that the engine
	// rewrites whenever a network is created or removed; other tests do that
	// all the time, and a connection that starts in such a rewrite can get
	// through. Isolation that is there holds on most tries; isolation that is
	// missing fails every one.
	const tries = 5
	got := 0
	for range tries {
		if connect(siteAddr(t, rt, bID, 8080)) == 0 {
			got++
		}
	}
	switch {
	case got == tries:
		t.Errorf("site A's container opened a connection to site B's container on all %d tries", tries)
	case got > 0:
		t.Logf("site A's container reached site B's container on %d of %d tries, while other networks changed", got, tries)
	}
	if code := connect("berth-mariadb:3306"); code != 0 {
		t.Error("site A's container cannot reach the node's MariaDB as berth-mariadb")
	}

	// Hardening of every container the agent runs here (sites and MariaDB).
	managed, err := rt.ListContainers(t.Context(), map[string]string{"berth.managed": "true", "berth.node": nodeID})
	if err != nil || len(managed) < 3 {
		t.Fatalf("berth-managed containers: %d (%v), want at least 3", len(managed), err)
	}
	for _, c := range managed {
		out, err := execOutput("docker", "inspect", "--format",
			"{{.HostConfig.Privileged}}|{{.HostConfig.SecurityOpt}}|{{.HostConfig.CapDrop}}|{{.HostConfig.Memory}}|{{.HostConfig.NanoCpus}}|{{.HostConfig.PidsLimit}}|{{.HostConfig.NetworkMode}}|{{.HostConfig.PidMode}}|{{range .Mounts}}{{.Source}},{{end}}", c.ID)
		if err != nil {
			t.Fatal(out, err)
		}
		f := strings.Split(out, "|")
		if f[0] != "false" || !strings.Contains(f[1], "no-new-privileges") || f[2] != "[ALL]" || f[3] == "0" || f[4] == "0" ||
			f[5] == "<nil>" || f[5] == "0" || f[6] == "host" || f[7] == "host" || strings.Contains(f[8], "docker.sock") {
			t.Errorf("container %s is not hardened: %s", c.Name, out)
		}
	}

	// Deleting B drops its database user and its volume.
	b.ok(t, "", "site", "delete", bID)
	waitUntil(t, 2*time.Minute, "site B is removed from the node", func() bool {
		_, err := rt.InspectContainer(t.Context(), "berth-"+bID)
		return err != nil
	})
	res, err = rt.Exec(t.Context(), mariaName, []string{"mariadb", "--user=" + userB, "--batch", "-e", "SELECT 1"},
		nil, []string{"MYSQL_PWD=" + passB}, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 {
		t.Error("site B's database user still exists after deletion")
	}
	vols, _ := rt.ListVolumes(t.Context(), map[string]string{"berth.site": bID})
	if len(vols) != 0 {
		t.Errorf("site B's volumes remain: %v", vols)
	}
	if s := b.waitSite(a, time.Minute, isRunning); s.State != berthv1.SiteState_SITE_STATE_RUNNING {
		t.Errorf("site A after B's deletion: %v", s.State)
	}
}
