package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
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

// count returns how many alerts of event mention site.
func (w *webhookSink) count(event, siteID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, e := range w.events {
		fields, _ := e["fields"].(map[string]any)
		if e["event"] == event && fields["site_id"] == siteID {
			n++
		}
	}
	return n
}

// iptables runs iptables with args, failing the test on error.
func iptables(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %v: %v\n%s", args, err, out)
	}
}

// minutes returns the verdicts of a site's minutes in [from, to), by the
// UptimeService's daily bars and windows: counts of down, degraded and
// counted minutes.
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

// TestUptimeWholeSystem runs three nodes on their own loopback addresses
// and berthd as the fourth vantage point, with 10 s probes:
//   - a site whose container is kept stopped by hand goes DOWN, an incident
//     opens, and the webhook gets exactly one "opened" and, once the site
//     is back, exactly one "resolved";
//   - a site that a single vantage cannot reach (a firewall rule against
//     that node's probes) is DEGRADED, never DOWN, and opens no incident;
//   - with berthd stopped for two minutes the nodes keep probing, and
//     after its restart those minutes are filled from their buffers, each
//     vantage counted once;
//   - a node cut off (its agent frozen) goes NOT_READY and its site is
//     DOWN as its peers and berthd see it, while a site on a healthy node
//     shows no downtime.
func TestUptimeWholeSystem(t *testing.T) {
	rt := requireDocker(t, "berth/static:dev")
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatal("iptables is needed to firewall one prober: apt-get install iptables")
	}
	sink := newWebhookSink(t)
	b := startBerthdOn(t, "", "127.0.0.1:0", "--probe-interval", "10s", "--uptime-settle", "15s", "--alert-allow-private", "127.0.0.0/8")
	var ids []string
	cleanupSites(t, rt, &ids)
	ips := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	agents := map[string]*agent{}
	for i, ip := range ips {
		name := fmt.Sprintf("up-%c", 'a'+i)
		agents[ip] = startAgent(t, b, name, "--http-listen", ip+":0", "--https-listen", ip+":0")
		agents[ip].edgeAddrs()
	}
	clientID := decodeID(t, b.ok(t, "", "client", "create", "--name", "Uptime Ltd", "--slug", "uptime", "--email", "ops@uptime.test", "-o", "json"), "client")
	_, err := berthv1.NewAlertServiceClient(b.grpcConn()).CreateAlertChannel(b.adminCtx(), &berthv1.CreateAlertChannelRequest{Channel: &berthv1.AlertChannel{
		ClientId: clientID, Name: "ops webhook", Kind: berthv1.AlertChannelKind_ALERT_CHANNEL_KIND_WEBHOOK, Url: sink.srv.URL + "/hook"}})
	if err != nil {
		t.Fatal(err)
	}

	// Three sites, one per node (the scheduler spreads them).
	nodeIP := map[string]string{} // node id → its address
	for ip, a := range agents {
		nodeIP[b.nodeID(a.name)] = ip
	}
	sites := map[string]string{} // node address → site id
	for i := range 3 {
		id := decodeID(t, b.ok(t, "", "site", "create", "--client", clientID, "--name", fmt.Sprintf("s%d", i), "--kind", "static",
			"--domain", fmt.Sprintf("s%d.uptime.localhost", i), "--memory", "64", "--cpu", "100", "--no-wait", "-o", "json"), "site")
		ids = append(ids, id)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>up</h1>"), 0o644); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimSpace(b.ok(t, "", "site", "deploy", id, dir))
		site := b.waitSite(id, 2*time.Minute, func(s *berthv1.Site) bool { return isRunning(s) && s.ReleaseId == rel })
		if _, dup := sites[nodeIP[site.NodeId]]; dup {
			t.Fatalf("two sites on node %s: the test needs one per node", site.NodeId)
		}
		sites[nodeIP[site.NodeId]] = id
	}
	down, degraded, healthy := sites[ips[0]], sites[ips[1]], sites[ips[2]]

	// Phase 1: keep the first site's container stopped; firewall node C's
	// probes of node B's site.
	edgeB := agents[ips[1]].edgeHTTPSPort()
	iptables(t, "-I", "INPUT", "-s", ips[2], "-d", ips[1], "-p", "tcp", "--dport", edgeB, "-j", "REJECT", "--reject-with", "tcp-reset")
	t.Cleanup(func() {
		exec.Command("iptables", "-D", "INPUT", "-s", ips[2], "-d", ips[1], "-p", "tcp", "--dport", edgeB, "-j", "REJECT", "--reject-with", "tcp-reset").Run()
	})
	phase1 := time.Now()
	stopUntil := make(chan struct{})
	var stopper sync.WaitGroup
	stopper.Go(func() {
		for {
			select {
			case <-stopUntil:
				return
			default:
			}
			exec.Command("docker", "stop", "-t", "0", "berth-"+down).Run()
			time.Sleep(500 * time.Millisecond)
		}
	})
	uptime := berthv1.NewUptimeServiceClient(b.grpcConn())
	var incident *berthv1.Incident
	waitUntil(t, 6*time.Minute, "an incident opens for the stopped site", func() bool {
		resp, err := uptime.ListIncidents(b.adminCtx(), &berthv1.ListIncidentsRequest{SiteId: down})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Incidents) > 0 {
			incident = resp.Incidents[0]
			return true
		}
		return false
	})
	waitUntil(t, time.Minute, "the webhook gets the opened alert", func() bool { return sink.count("incident.opened", down) >= 1 })
	close(stopUntil)
	stopper.Wait()
	waitUntil(t, 6*time.Minute, "the incident resolves once the site is back", func() bool {
		resp, err := uptime.GetIncident(b.adminCtx(), &berthv1.GetIncidentRequest{Id: incident.Id})
		if err != nil {
			t.Fatal(err)
		}
		incident = resp.Incident
		return !incident.Open
	})
	waitUntil(t, time.Minute, "the webhook gets the resolved alert", func() bool { return sink.count("incident.resolved", down) >= 1 })
	phase1End := time.Now()
	if n, m := sink.count("incident.opened", down), sink.count("incident.resolved", down); n != 1 || m != 1 {
		t.Errorf("webhook got %d opened and %d resolved alerts, want exactly one each", n, m)
	}
	t.Logf("incident %s: %s → %s, causes %v, vantages %v", incident.Id, incident.StartTime.AsTime(), incident.EndTime.AsTime(), incident.ErrorClasses, incident.Vantages)
	if len(incident.Vantages) < 3 {
		t.Errorf("incident seen from %v, want most of the four vantage points", incident.Vantages)
	}
	// The firewalled site was degraded, never down, and had no incident.
	w := b.uptimeWindow(t, degraded, phase1, phase1End)
	if w.DegradedMinutes == 0 || w.DownMinutes != 0 {
		t.Errorf("site behind one firewalled prober: %d degraded, %d down minutes; want some degraded and none down", w.DegradedMinutes, w.DownMinutes)
	}
	if resp, err := uptime.ListIncidents(b.adminCtx(), &berthv1.ListIncidentsRequest{SiteId: degraded}); err != nil || len(resp.Incidents) != 0 {
		t.Errorf("incidents of the degraded site: %v %v, want none", resp.GetIncidents(), err)
	}
	exec.Command("iptables", "-D", "INPUT", "-s", ips[2], "-d", ips[1], "-p", "tcp", "--dport", edgeB, "-j", "REJECT", "--reject-with", "tcp-reset").Run()

	// Phase 2: berthd away for two minutes while the nodes probe.
	b.stop()
	outage := time.Now()
	time.Sleep(2 * time.Minute) // the outage itself: the nodes probe and buffer meanwhile
	outageEnd := time.Now()
	b = startBerthdOn(t, b.dataDir, b.addr, "--probe-interval", "10s", "--uptime-settle", "15s", "--alert-allow-private", "127.0.0.0/8")
	uptime = berthv1.NewUptimeServiceClient(b.grpcConn())
	from, to := outage.Truncate(time.Minute).Add(time.Minute), outageEnd.Truncate(time.Minute)
	waitUntil(t, 3*time.Minute, "the outage's minutes are judged", func() bool {
		w := b.uptimeWindow(t, healthy, from, to)
		return w.CountedMinutes == int64(to.Sub(from)/time.Minute)
	})
	w = b.uptimeWindow(t, healthy, from, to)
	if w.NoDataMinutes != 0 || w.DownMinutes != 0 || w.UptimeRatio != 1 {
		t.Errorf("minutes of the outage: %+v; want every one counted and up", w)
	}

	// Phase 3: node C frozen: NOT_READY, its site down as its peers see it.
	frozen := agents[ips[2]]
	if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { frozen.cmd.Process.Signal(syscall.SIGCONT) })
	cut := time.Now()
	b.waitNode(frozen.name, berthv1.NodeState_NODE_STATE_NOT_READY)
	var cutIncident *berthv1.Incident
	waitUntil(t, 6*time.Minute, "the frozen node's site is seen down", func() bool {
		resp, err := uptime.ListIncidents(b.adminCtx(), &berthv1.ListIncidentsRequest{SiteId: healthy, OpenOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Incidents) > 0 {
			cutIncident = resp.Incidents[0]
			return true
		}
		return false
	})
	for _, v := range cutIncident.Vantages {
		if v == b.nodeID(frozen.name) {
			t.Errorf("the frozen node is listed among the vantages that saw its site down: %v", cutIncident.Vantages)
		}
	}
	cutFrom, cutTo := cut.Truncate(time.Minute), time.Now().Truncate(time.Minute)
	if !cutTo.After(cutFrom) {
		cutTo = cutFrom.Add(time.Minute)
	}
	w = b.uptimeWindow(t, degraded, cutFrom, cutTo)
	if w.DownMinutes != 0 {
		t.Errorf("a site on a healthy node had %d down minutes while another node was cut off", w.DownMinutes)
	}
	if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
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
