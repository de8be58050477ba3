package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/store"
	"github.com/fixaroo/berth/internal/store/sqlite"
	"github.com/fixaroo/berth/internal/testenv"
	"github.com/fixaroo/berth/internal/uptime"
	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// uptimeSettle is how long after its end berthd judges a minute in the
// uptime tests.
const uptimeSettle = 15 * time.Second

// uptimeFlags are berthd's flags in the uptime tests. They run on real
// minutes (the SLA maths is never fed a fake clock) and stay short because
// berthd probes every 10 s, judges a minute uptimeSettle after it ends,
// looks for such minutes every 2 s and opens an incident after a single
// down minute.
var uptimeFlags = []string{"--probe-interval", "10s", "--uptime-settle", uptimeSettle.String(), "--uptime-tick", "2s",
	"--incident-minutes", "1", "--alert-allow-private", "127.0.0.0/8"}

// Every test site's uptime check wants uptimeKeyword: a release whose page
// lacks it fails every probe, from every vantage, so the site is held down
// cleanly for as long as it serves that release.
const (
	uptimeKeyword = "berth-uptime-ok"
	okPage        = "<h1>" + uptimeKeyword + "</h1>"
	brokenPage    = "<h1>broken</h1>"
)

// webhookSink is a real HTTP server that records the alerts posted to it.
type webhookSink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newWebhookSink(t *testing.T) *webhookSink {
	w := &webhookSink{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			http.Error(rw, "not JSON", 400)
			return
		}
		w.mu.Lock()
		w.events = append(w.events, body)
		w.mu.Unlock()
	}))
	t.Cleanup(w.srv.Close)
	return w
}

// count returns how many alerts of event have field set to value.
func (w *webhookSink) count(event, field, value string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		fields, _ := e["fields"].(map[string]any)
		if e["event"] == event && fields[field] == value {
			n++
		}
	}
	return n
}

// incidents returns the incident ids of the alerts of event about a site.
func (w *webhookSink) incidents(event, siteID string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for _, e := range w.events {
		fields, _ := e["fields"].(map[string]any)
		if e["event"] == event && fields["site_id"] == siteID {
			id, _ := fields["incident_id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

// uptimeWindow returns the custom window [from, to) of a site's uptime:
// counts of up, down, degraded and unjudged minutes.
func (b *berthd) uptimeWindow(t *testing.T, siteID string, from, to time.Time) *berthv1.UptimeWindow {
	t.Helper()
	resp, err := berthv1.NewUptimeServiceClient(b.grpcConn()).GetSiteUptime(b.adminCtx(), &berthv1.GetSiteUptimeRequest{
		SiteId: siteID, StartTime: timestamppb.New(from), EndTime: timestamppb.New(to)})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range resp.Windows {
		if w.Name == "custom" {
			return w
		}
	}
	t.Fatal("no custom window in the answer")
	return nil
}

// edgeHTTPSPort is the port of the agent's HTTPS edge.
func (a *agent) edgeHTTPSPort() string {
	_, httpsAddr := a.edgeAddrs()
	_, port, err := net.SplitHostPort(httpsAddr)
	if err != nil {
		a.tb.Fatal(err)
	}
	return port
}

// uptimeFleet is berthd (on 127.0.N.1) and three nodes, each on an address
// of its own in the test's loopback block (127.0.N.2-4), with a client
// whose alerts go to a webhook sink.
type uptimeFleet struct {
	t        *testing.T
	b        *berthd
	nodes    map[string]*agent // by node id
	nodeIPs  map[string]string // node id → its address
	clientID string
	sink     *webhookSink
	sites    []string // removed from Docker at the end
}

func startUptimeFleet(t *testing.T) *uptimeFleet {
	t.Helper()
	rt := requireDocker(t, "berth/static:dev")
	f := &uptimeFleet{t: t, sink: newWebhookSink(t), nodes: map[string]*agent{}, nodeIPs: map[string]string{}}
	cleanupSites(t, rt, &f.sites)
	f.b = startBerthd(t, "", uptimeFlags...)
	for i := range 3 {
		ip := testIP(t, 2+i)
		a := startAgent(t, f.b, fmt.Sprintf("up-%c", 'a'+i), "--http-listen", ip+":0", "--https-listen", ip+":0")
		a.edgeAddrs()
		id := f.b.nodeID(a.name)
		f.nodes[id], f.nodeIPs[id] = a, ip
	}
	f.clientID = decodeID(t, f.b.ok(t, "", "client", "create", "--name", "Uptime Ltd", "--slug", "uptime", "--email", "ops@uptime.test", "-o", "json"), "client")
	_, err := berthv1.NewAlertServiceClient(f.b.grpcConn()).CreateAlertChannel(f.b.adminCtx(), &berthv1.CreateAlertChannelRequest{Channel: &berthv1.AlertChannel{
		ClientId: f.clientID, Name: "ops webhook", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK, Url: f.sink.srv.URL + "/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// site creates a static site whose uptime check wants uptimeKeyword,
// deploys okPage and waits until the site serves it. It returns the site,
// its release and its node.
func (f *uptimeFleet) site(name string) (id, rel, nodeID string) {
	f.t.Helper()
	id = decodeID(f.t, f.b.ok(f.t, "", "site", "create", "--client", f.clientID, "--name", name, "--kind", "static",
		"--domain", name+".uptime.localhost", "--check-keyword", uptimeKeyword, "--memory", "64", "--cpu", "100", "--no-wait", "-o", "json"), "site")
	f.sites = append(f.sites, id)
	rel = f.deploy(id, okPage)
	s, err := berthv1.NewSiteServiceClient(f.b.grpcConn()).GetSite(f.b.adminCtx(), &berthv1.GetSiteRequest{Id: id})
	if err != nil {
		f.t.Fatal(err)
	}
	return id, rel, s.Site.NodeId
}

// deploy uploads page as the site's index.html and waits until the site
// serves the new release.
func (f *uptimeFleet) deploy(siteID, page string) string {
	f.t.Helper()
	dir := f.t.TempDir()
	writeFile(f.t, filepath.Join(dir, "index.html"), page)
	rel := strings.TrimSpace(f.b.ok(f.t, "", "site", "deploy", siteID, dir))
	f.b.waitSite(siteID, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel })
	return rel
}

// status is the verdict of the site's last judged minute.
func (f *uptimeFleet) status(siteID string) berthv1.MinuteStatus {
	f.t.Helper()
	resp, err := berthv1.NewUptimeServiceClient(f.b.grpcConn()).GetSiteUptime(f.b.adminCtx(), &berthv1.GetSiteUptimeRequest{SiteId: siteID})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.Status
}

// waitStatus waits until berthd has judged the site's last minute as one
// of want.
func (f *uptimeFleet) waitStatus(siteID string, want ...berthv1.MinuteStatus) {
	f.t.Helper()
	waitUntil(f.t, 3*time.Minute, fmt.Sprintf("site %s judged %v", siteID, want), func() bool { return slices.Contains(want, f.status(siteID)) })
}

// incidents lists the site's incidents.
func (f *uptimeFleet) incidents(siteID string, openOnly bool) []*berthv1.Incident {
	f.t.Helper()
	resp, err := berthv1.NewUptimeServiceClient(f.b.grpcConn()).ListIncidents(f.b.adminCtx(), &berthv1.ListIncidentsRequest{SiteId: siteID, OpenOnly: openOnly})
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.Incidents
}

// vantagesOf returns the sorted vantage names of the given nodes and berthd.
func vantagesOf(nodeIDs ...string) []string {
	return slices.Sorted(slices.Values(append(nodeIDs, "berthd")))
}

// TestUptimeQuorum runs berthd and three nodes, each on its own loopback
// address, and two sites:
//   - one deploys a page that lacks its check keyword: every vantage sees
//     it fail, its minutes are DOWN, one incident opens after the first
//     (--incident-minutes 1), and the webhook gets exactly one "opened"
//     and, once a rollback brings the keyword back, one "resolved";
//   - the other cannot be reached by one vantage (a firewall rule resets
//     that node's connections to the site's node): one failure out of four
//     makes it DEGRADED, never DOWN, and it has no incident.
func TestUptimeQuorum(t *testing.T) {
	// The block first, in test order, so that the firewall rule's tag
	// names the same block on every run of this test alone.
	testIP(t, 1)
	t.Parallel()
	testenv.Require(t, testenv.IPTables)
	f := startUptimeFleet(t)
	down, good, downNode := f.site("down")
	degraded, _, degradedNode := f.site("degraded")
	if downNode == degradedNode {
		t.Fatalf("both sites on node %s: the test needs them on two nodes", downNode)
	}

	// Some node other than the degraded site's is cut off from that
	// site's node's edge; the rule is scoped to the two addresses.
	var cut string
	for id := range f.nodes {
		if id != degradedNode {
			cut = id
			break
		}
	}
	rejectTCP(t, "uptime-quorum", f.nodeIPs[cut], f.nodeIPs[degradedNode], f.nodes[degradedNode].edgeHTTPSPort())
	ruled := time.Now()
	// A startup minute (probes before a node served a site) could open an
	// incident with one down minute; a judged minute of each site since
	// shows that is over. The degraded site's shows the rule at work (or,
	// were the quorum rule wrong, takes it down: checked below).
	f.waitStatus(down, berthv1.MinuteStatus_MINUTE_STATUS_UP)
	f.waitStatus(degraded, berthv1.MinuteStatus_MINUTE_STATUS_DEGRADED, berthv1.MinuteStatus_MINUTE_STATUS_DOWN)
	before := map[string]bool{}
	for _, inc := range append(f.incidents(down, false), f.incidents(degraded, false)...) {
		t.Logf("incident before the test's own, as a site came up: %v", inc)
		before[inc.Id] = true
	}

	// Break the page early in a minute, so that every vantage's last probe
	// of that minute fails: the minute is DOWN from all four.
	if s := time.Now().Second(); s > 30 {
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))
	}
	broken := time.Now()
	f.deploy(down, brokenPage)
	t.Logf("page without the keyword served %s after the minute began", time.Since(broken.Truncate(time.Minute)).Round(time.Second))
	var inc *berthv1.Incident
	waitUntil(t, 3*time.Minute, "an incident opens for the site whose page lacks its keyword", func() bool {
		for _, i := range f.incidents(down, false) {
			if !before[i.Id] {
				inc = i
				return true
			}
		}
		return false
	})
	opened := time.Now()
	// With --incident-minutes 1 the incident opens as soon as its first
	// minute is judged (about settle after the minute ends); with 2 it
	// would take a minute more.
	if lag := opened.Sub(inc.StartTime.AsTime()); lag > time.Minute+uptimeSettle+30*time.Second {
		t.Errorf("incident opened %v after its first minute began; one down minute should open it (--incident-minutes 1)", lag.Round(time.Second))
	}
	if inc.StartTime.AsTime().Before(broken.Truncate(time.Minute)) {
		t.Errorf("incident starts at %v, before the page broke at %v", inc.StartTime.AsTime(), broken)
	}
	waitUntil(t, time.Minute, "the webhook gets the opened alert", func() bool { return f.sink.count("incident.opened", "incident_id", inc.Id) >= 1 })

	f.b.ok(t, "", "site", "rollback", down, good)
	f.b.waitSite(down, time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == good })
	waitUntil(t, 3*time.Minute, "the incident resolves once the keyword is back", func() bool {
		resp, err := berthv1.NewUptimeServiceClient(f.b.grpcConn()).GetIncident(f.b.adminCtx(), &berthv1.GetIncidentRequest{Id: inc.Id})
		if err != nil {
			t.Fatal(err)
		}
		inc = resp.Incident
		return !inc.Open
	})
	waitUntil(t, time.Minute, "the webhook gets the resolved alert", func() bool { return f.sink.count("incident.resolved", "incident_id", inc.Id) >= 1 })
	end := time.Now()
	t.Logf("incident %s: %s → %s, causes %v, vantages %v", inc.Id, inc.StartTime.AsTime(), inc.EndTime.AsTime(), inc.ErrorClasses, inc.Vantages)

	var after []string
	for _, i := range f.incidents(down, false) {
		if !before[i.Id] {
			after = append(after, i.Id)
		}
	}
	if len(after) != 1 {
		t.Errorf("the broken page opened incidents %v, want exactly one", after)
	}
	for _, event := range []string{"incident.opened", "incident.resolved"} {
		if n := f.sink.count(event, "incident_id", inc.Id); n != 1 {
			t.Errorf("webhook got %d %s alerts for the incident, want exactly one", n, event)
		}
		for _, id := range f.sink.incidents(event, down) {
			if id != inc.Id && !before[id] {
				t.Errorf("webhook got %s for another incident %s of the site", event, id)
			}
		}
	}
	if want := vantagesOf(slices.Collect(maps.Keys(f.nodes))...); !slices.Equal(inc.Vantages, want) {
		t.Errorf("incident seen from %v, want every vantage %v", inc.Vantages, want)
	}
	if !slices.Contains(inc.ErrorClasses, "keyword_missing") {
		t.Errorf("incident causes %v lack keyword_missing", inc.ErrorClasses)
	}
	start, stop := inc.StartTime.AsTime(), inc.EndTime.AsTime()
	if w := f.b.uptimeWindow(t, down, start, stop); w.DownMinutes != int64(stop.Sub(start)/time.Minute) {
		t.Errorf("incident %v → %v: %d down minutes of %d counted, want all down", start, stop, w.DownMinutes, w.CountedMinutes)
	}

	// The site that one vantage could not reach was degraded, never down,
	// and had no incident.
	from, to := ruled.Truncate(time.Minute).Add(time.Minute), end.Add(-uptimeSettle).Truncate(time.Minute)
	w := f.b.uptimeWindow(t, degraded, from, to)
	t.Logf("site behind the firewall, %v → %v: %d degraded, %d down of %d counted minutes", from, to, w.DegradedMinutes, w.DownMinutes, w.CountedMinutes)
	if w.DegradedMinutes == 0 || w.DownMinutes != 0 {
		t.Errorf("site one vantage cannot reach: %d degraded, %d down minutes; want some degraded and none down", w.DegradedMinutes, w.DownMinutes)
	}
	for _, i := range f.incidents(degraded, false) {
		if !before[i.Id] {
			t.Errorf("the degraded site has an incident: %v", i)
		}
	}
}

// TestUptimeBerthdOutage stops berthd for one whole minute while three
// nodes keep probing a site and buffering the results: after berthd's
// restart that minute is filled from the buffers, up, with each node's
// vote and each node's results counted once.
func TestUptimeBerthdOutage(t *testing.T) {
	t.Parallel()
	f := startUptimeFleet(t)
	site, _, _ := f.site("steady")
	f.waitStatus(site, berthv1.MinuteStatus_MINUTE_STATUS_UP)

	// Stop berthd just before a minute boundary and start it again just
	// after the next one: the minute between passes entirely without it.
	next := time.Now().Truncate(time.Minute).Add(time.Minute)
	if time.Until(next) < 5*time.Second {
		next = next.Add(time.Minute)
	}
	time.Sleep(time.Until(next) - 3*time.Second)
	f.b.stop()
	stopped := time.Now()
	from := stopped.Truncate(time.Minute).Add(time.Minute) // the first minute wholly inside the outage
	to := from.Add(time.Minute)
	time.Sleep(time.Until(to) + time.Second)
	f.b = startBerthdOn(t, f.b.dataDir, f.b.addr, uptimeFlags...)
	t.Logf("berthd away %v, from %v; the minute %v is wholly inside", time.Since(stopped).Round(time.Second), stopped, from)

	waitUntil(t, 3*time.Minute, "the outage's minute is judged", func() bool {
		return f.b.uptimeWindow(t, site, from, to).CountedMinutes == 1
	})
	if w := f.b.uptimeWindow(t, site, from, to); w.NoDataMinutes != 0 || w.DownMinutes != 0 || w.DegradedMinutes != 0 || w.UptimeRatio != 1 {
		t.Errorf("the minute of the outage: %+v; want it counted and up", w)
	}

	// The API counts minutes, not votes or results, so the store answers
	// whether a node's buffered results were counted twice. It is read
	// beside the running berthd (SQLite in WAL mode takes readers from
	// other processes): nodes reconnect with backoff after the restart and
	// send their buffers when they do, and berthd then redoes the minute.
	key, err := seal.LoadOrCreateKey(filepath.Join(f.b.dataDir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(f.b.dataDir, "berth.db"), Box: key})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var minutes []store.SiteMinute
	var results []store.ProbeResult
	waitUntil(t, 3*time.Minute, "every node's buffered results of the outage's minute are counted", func() bool {
		err := st.View(t.Context(), func(tx store.ReadTx) (err error) {
			if minutes, err = tx.ListSiteMinutes(site, from, to); err != nil {
				return err
			}
			results, err = tx.ListProbeResults(site, from, to)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(minutes) == 1 && minutes[0].Total >= 3
	})
	// One vote per node: the three nodes, not berthd, which was away.
	if len(minutes) != 1 || minutes[0].Total != 3 || minutes[0].Up != 3 || minutes[0].Status != int32(uptime.StatusUp) {
		t.Errorf("stored minute of the outage: %+v; want one, up, with the votes of the three nodes", minutes)
	}
	// One result per node per 10 s probe: 6 in a minute (5 or 7 when a
	// probe ends right at a boundary); a result counted twice makes 12.
	perNode := map[string]int{}
	for _, r := range results {
		perNode[r.NodeID]++
	}
	t.Logf("results stored for the outage's minute, by vantage: %v", perNode)
	if got, want := slices.Sorted(maps.Keys(perNode)), slices.Sorted(maps.Keys(f.nodes)); !slices.Equal(got, want) {
		t.Errorf("results of the outage's minute come from %v, want the three nodes %v", got, want)
	}
	for node, n := range perNode {
		if n < 5 || n > 7 {
			t.Errorf("node %s has %d results stored for the outage's minute, want 6 (one per 10 s probe)", node, n)
		}
	}
}

// TestUptimeFrozenAgent freezes one node's agent (SIGSTOP) with a site on
// it and another on a healthy node: the frozen node goes NOT_READY, its
// site is DOWN as its peers and berthd see it (an incident whose vantages
// leave the frozen node out), and the other site has no down minute.
func TestUptimeFrozenAgent(t *testing.T) {
	t.Parallel()
	f := startUptimeFleet(t)
	cutSite, _, cutNode := f.site("frozen")
	healthySite, _, healthyNode := f.site("healthy")
	if cutNode == healthyNode {
		t.Fatalf("both sites on node %s: the test needs them on two nodes", cutNode)
	}
	f.waitStatus(cutSite, berthv1.MinuteStatus_MINUTE_STATUS_UP)
	f.waitStatus(healthySite, berthv1.MinuteStatus_MINUTE_STATUS_UP)

	frozen := f.nodes[cutNode]
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.cmd.Process.Signal(syscall.SIGCONT) })
	cut := time.Now()
	f.b.waitNode(frozen.name, berthv1.NodeState_NODE_STATE_NOT_READY)
	var inc *berthv1.Incident
	waitUntil(t, 3*time.Minute, "the frozen node's site is seen down", func() bool {
		for _, i := range f.incidents(cutSite, true) {
			if !i.StartTime.AsTime().Before(cut.Truncate(time.Minute)) {
				inc = i
				return true
			}
		}
		return false
	})
	seen := time.Now()
	t.Logf("incident %s from %v, causes %v, vantages %v; node %s frozen at %v", inc.Id, inc.StartTime.AsTime(), inc.ErrorClasses, inc.Vantages, cutNode, cut)
	var peers []string
	for id := range f.nodes {
		if id != cutNode {
			peers = append(peers, id)
		}
	}
	if want := vantagesOf(peers...); !slices.Equal(inc.Vantages, want) {
		t.Errorf("the frozen node's site was seen down from %v, want its two peers and berthd %v", inc.Vantages, want)
	}
	// The minute the node froze in, and each one after it until the
	// incident was seen, once judged: none is down for the healthy site.
	from, to := cut.Truncate(time.Minute), seen.Truncate(time.Minute)
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	var w *berthv1.UptimeWindow
	waitUntil(t, 2*time.Minute, "the healthy site's minutes of the freeze are judged", func() bool {
		w = f.b.uptimeWindow(t, healthySite, from, to)
		return w.CountedMinutes == int64(to.Sub(from)/time.Minute)
	})
	t.Logf("site on a healthy node, %v → %v: %d counted, %d degraded, %d down minutes", from, to, w.CountedMinutes, w.DegradedMinutes, w.DownMinutes)
	if w.DownMinutes != 0 {
		t.Errorf("a site on a healthy node had %d down minutes of %d counted while another node was frozen; want none", w.DownMinutes, w.CountedMinutes)
	}
}

// rejectTCP makes the kernel reset every TCP connection from src to
// dst:port until the test ends, with an INPUT rule tagged with name and
// the test's loopback block. A -timeout panic skips t.Cleanup, so a rule
// that an earlier run left behind is found by its tag and removed first.
// Rules without the tag are never touched.
func rejectTCP(t *testing.T, name, src, dst, port string) {
	t.Helper()
	tag := "berth-test-" + name + "-" + strings.TrimSuffix(testIP(t, 1), ".1")
	if err := deleteTagged(tag); err != nil {
		t.Fatal(err)
	}
	rule := []string{"INPUT", "-s", src + "/32", "-d", dst + "/32", "-p", "tcp", "-m", "tcp", "--dport", port,
		"-m", "comment", "--comment", tag, "-j", "REJECT", "--reject-with", "tcp-reset"}
	t.Cleanup(func() {
		if err := deleteTagged(tag); err != nil {
			t.Error(err)
		}
	})
	if out, err := exec.Command("iptables", append([]string{"-w", "-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %v: %v\n%s", rule, err, out)
	}
}

// deleteTagged deletes every INPUT rule whose comment is tag, by
// re-issuing its spec, as iptables -S prints it, with -D.
func deleteTagged(tag string) error {
	out, err := exec.Command("iptables", "-w", "-S", "INPUT").Output()
	if err != nil {
		return fmt.Errorf("iptables -S INPUT: %w", err)
	}
	for line := range strings.Lines(string(out)) {
		spec := strings.Fields(line)
		tagged := false
		for i := 1; i+1 < len(spec); i++ {
			if spec[i] == "--comment" && strings.Trim(spec[i+1], `"`) == tag {
				spec[i+1], tagged = tag, true
			}
		}
		if !tagged || spec[0] != "-A" {
			continue
		}
		spec[0] = "-D"
		if out, err := exec.Command("iptables", append([]string{"-w"}, spec...)...).CombinedOutput(); err != nil {
			return fmt.Errorf("iptables %v: %v\n%s", spec, err, out)
		}
	}
	return nil
}
