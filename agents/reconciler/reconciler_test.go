package reconciler

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fixaroo/berth/agents/runtime/docker"
	"github.com/fixaroo/berth/internal/shared/seal"
	"github.com/fixaroo/berth/internal/testenv"
	agentv1 "github.com/fixaroo/berth/proto/berth/agent/v1"
)

// harness runs a Reconciler against the real Docker engine.
type harness struct {
	t        *testing.T
	r        *Reconciler
	rt       *docker.Runtime
	dataDir  string
	statuses chan *agentv1.SiteStatus
	bundles  map[string][]byte
	nodeID   string // unique to the test: its objects carry it, with testLabel

	mu        sync.Mutex
	upstreams map[string]netip.AddrPort // from Options.Upstream
}

// newHarness starts a reconciler; configure, if any, changes its options
// before it starts.
func newHarness(t *testing.T, configure ...func(*Options)) *harness {
	t.Helper()
	testenv.SkipShort(t)
	testenv.RequireImages(t, DefaultImages.Static)
	dataDir := t.TempDir()
	rt, err := docker.New(t.Context(), docker.Options{BindRoot: dataDir})
	if err != nil {
		t.Fatalf("Docker engine: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	box, err := seal.LoadOrCreateKey(filepath.Join(dataDir, "state.key"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, rt: rt, dataDir: dataDir, statuses: make(chan *agentv1.SiteStatus, 100), bundles: map[string][]byte{},
		upstreams: map[string]netip.AddrPort{}, nodeID: testNodeID()}
	// Registered before the reconciler runs, so that it runs after the
	// reconciler has stopped.
	t.Cleanup(h.removeOwn)
	o := Options{
		Runtime: rt, NodeID: h.nodeID, Labels: map[string]string{testLabel: "1"}, DataDir: dataDir, Box: box, Resync: time.Second,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Fetch: func(ctx context.Context, id string) (io.ReadCloser, error) {
			b, ok := h.bundles[id]
			if !ok {
				return nil, fmt.Errorf("no release %s", id)
			}
			return io.NopCloser(bytes.NewReader(b)), nil
		},
		Report: func(st *agentv1.SiteStatus) { h.statuses <- st },
		Upstream: func(id string, addr netip.AddrPort) {
			h.mu.Lock()
			defer h.mu.Unlock()
			if addr.IsValid() {
				h.upstreams[id] = addr
			} else {
				delete(h.upstreams, id)
			}
		},
	}
	for _, f := range configure {
		f(&o)
	}
	h.r = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// testLabel marks what reconciler tests create, besides their node id.
const testLabel = "berth.test"

// testNodeID returns a node id of the form the store makes, unique to a test.
func testNodeID() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	b := make([]byte, 17)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return "node_test" + string(b)
}

// own are the labels of everything this harness's reconciler creates, and
// of nothing else on the engine.
func (h *harness) own() map[string]string {
	return map[string]string{testLabel: "1", LabelNode: h.nodeID}
}

// removeOwn removes the containers, volumes and networks the test's
// reconciler created, found by their labels.
func (h *harness) removeOwn() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := h.rt.ListContainers(ctx, h.own())
	if err != nil {
		h.t.Errorf("list the test's containers: %v", err)
	}
	for _, c := range cs {
		if err := h.rt.RemoveContainer(ctx, c.Name); err != nil {
			h.t.Errorf("remove the test's container: %v", err)
		}
	}
	vols, err := h.rt.ListVolumes(ctx, h.own())
	if err != nil {
		h.t.Errorf("list the test's volumes: %v", err)
	}
	for _, v := range vols {
		if err := h.rt.RemoveVolume(ctx, v); err != nil {
			h.t.Errorf("remove the test's volume: %v", err)
		}
	}
	nets, err := h.rt.ListNetworks(ctx, h.own())
	if err != nil {
		h.t.Errorf("list the test's networks: %v", err)
	}
	for _, n := range nets {
		if err := h.rt.RemoveNetwork(ctx, n.Name); err != nil {
			h.t.Errorf("remove the test's network: %v", err)
		}
	}
}

// testWriter sends log lines to the test's log, shown when it fails.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// upstream returns where the reconciler last said site id is served.
func (h *harness) upstream(id string) netip.AddrPort {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.upstreams[id]
}

// containerAddr is where site id's container listens on its network.
func (h *harness) containerAddr(id string, port uint16) netip.AddrPort {
	h.t.Helper()
	c, err := h.rt.InspectContainer(context.Background(), containerName(id))
	if err != nil {
		h.t.Fatal(err)
	}
	ip, err := containerIP(c, networkName(id))
	if err != nil {
		h.t.Fatal(err)
	}
	return netip.AddrPortFrom(ip, port)
}

// waitFor waits for a status of site that satisfies ok.
func (h *harness) waitFor(siteID string, ok func(*agentv1.SiteStatus) bool) *agentv1.SiteStatus {
	h.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case st := <-h.statuses:
			if st.GetSiteId() == siteID && ok(st) {
				return st
			}
		case <-deadline:
			h.t.Fatalf("site %s did not reach the expected status within 2 minutes; last statuses: %v", siteID, h.r.Statuses())
		}
	}
}

func running(st *agentv1.SiteStatus) bool {
	return st.GetState() == agentv1.SiteState_SITE_STATE_RUNNING
}

func archive(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func siteID() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	b := make([]byte, 26)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return "site_" + string(b)
}

func (h *harness) get(siteID, path string) (int, string) {
	h.t.Helper()
	c, err := h.rt.InspectContainer(context.Background(), containerName(siteID))
	if err != nil {
		h.t.Fatal(err)
	}
	ip, err := containerIP(c, networkName(siteID))
	if err != nil {
		h.t.Fatal(err)
	}
	code, body, err := h.r.probe(context.Background(), ip, staticPort, "www.example.test")
	if err != nil {
		h.t.Fatal(err)
	}
	return code, body
}

func TestStaticSiteLifecycle(t *testing.T) {
	h := newHarness(t)
	id := siteID()
	h.bundles["rel_one"] = archive(t, map[string]string{"index.html": "<h1>one</h1>"})
	h.bundles["rel_two"] = archive(t, map[string]string{"index.html": "<h1>two</h1>"})
	site := &agentv1.SiteAssignment{SiteId: id, ClientId: "cl_x", Name: "www", Kind: agentv1.SiteKind_SITE_KIND_STATIC, Generation: 1,
		Domains: []string{"www.example.test"}, Resources: &agentv1.Resources{MemoryMib: 64, CpuMillicores: 200}, ReleaseId: "rel_one"}
	h.r.Apply(t.Context(), &agentv1.DesiredState{Revision: 1, Sites: []*agentv1.SiteAssignment{site}})
	h.waitFor(id, running)
	if code, body := h.get(id, "/"); code != 200 || body != "<h1>one</h1>" {
		t.Fatalf("GET / = %d %q, want the first release", code, body)
	}
	if got, want := h.upstream(id), h.containerAddr(id, staticPort); got != want {
		t.Errorf("upstream = %v, want the container's %v", got, want)
	}
	if got, want := h.r.Upstream(id), h.containerAddr(id, staticPort); got != want {
		t.Errorf("Reconciler.Upstream = %v, want the container's %v", got, want)
	}

	// A new release replaces the content without a new container.
	before, _ := h.rt.InspectContainer(t.Context(), containerName(id))
	for k, v := range h.own() {
		if before.Labels[k] != v {
			t.Errorf("container label %s = %q, want %q", k, before.Labels[k], v)
		}
	}
	site.ReleaseId, site.Generation = "rel_two", 2
	h.r.Apply(t.Context(), &agentv1.DesiredState{Revision: 2, Sites: []*agentv1.SiteAssignment{site}})
	h.waitFor(id, func(st *agentv1.SiteStatus) bool { return running(st) && st.GetReleaseId() == "rel_two" })
	if code, body := h.get(id, "/"); code != 200 || body != "<h1>two</h1>" {
		t.Errorf("GET / after the second release = %d %q", code, body)
	}
	after, _ := h.rt.InspectContainer(t.Context(), containerName(id))
	if before.ID != after.ID {
		t.Error("a new release recreated the container")
	}

	// A container removed by hand comes back.
	if err := h.rt.RemoveContainer(t.Context(), containerName(id)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := h.rt.InspectContainer(t.Context(), containerName(id))
		if err == nil && c.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a removed container was not recreated within 2 minutes: container %+v, %v; statuses %v", c, err, h.r.Statuses())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The edge is told the new container's address once it answers.
	for want := h.containerAddr(id, staticPort); h.upstream(id) != want; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("upstream = %v, want the new container's %v", h.upstream(id), want)
		}
	}

	// Deleting removes everything of the site.
	site.Deleting, site.Generation = true, 3
	h.r.Apply(t.Context(), &agentv1.DesiredState{Revision: 3, Sites: []*agentv1.SiteAssignment{site}})
	h.waitFor(id, func(st *agentv1.SiteStatus) bool { return st.GetRemoved() })
	if _, err := h.rt.InspectContainer(t.Context(), containerName(id)); err == nil {
		t.Error("container still exists after deletion")
	}
	nets, err := h.rt.ListNetworks(t.Context(), map[string]string{LabelSite: id})
	if err != nil || len(nets) != 0 {
		t.Errorf("networks after deletion: %v %v", nets, err)
	}
	if _, err := os.Stat(h.r.siteDir(id)); !os.IsNotExist(err) {
		t.Errorf("site files still on disk: %v", err)
	}
	if addr := h.upstream(id); addr.IsValid() {
		t.Errorf("upstream after deletion = %v, want none", addr)
	}
	if addr := h.r.Upstream(id); addr.IsValid() {
		t.Errorf("Reconciler.Upstream after deletion = %v, want none", addr)
	}
}

func TestMissingImageIsTerminal(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Images = Images{Static: "berth/does-not-exist:dev"} })
	id := siteID()
	h.r.Apply(t.Context(), &agentv1.DesiredState{Revision: 1, Sites: []*agentv1.SiteAssignment{{SiteId: id, Kind: agentv1.SiteKind_SITE_KIND_STATIC,
		Generation: 1, Domains: []string{"x.test"}, Resources: &agentv1.Resources{MemoryMib: 64, CpuMillicores: 100}}}})
	st := h.waitFor(id, func(st *agentv1.SiteStatus) bool { return st.GetState() == agentv1.SiteState_SITE_STATE_FAILED })
	if msg := st.GetConditions()[0].GetMessage(); !strings.Contains(msg, "make images") {
		t.Errorf("failure message %q does not tell to run make images", msg)
	}
}

func TestLabels(t *testing.T) {
	r := New(Options{NodeID: exampleNodeID, Labels: map[string]string{testLabel: "1", "team": "web"}})
	want := map[string]string{LabelManaged: "true", LabelSite: "site_x", LabelKind: "static", LabelNode: exampleNodeID, testLabel: "1", "team": "web"}
	if diff := cmp.Diff(want, r.labels("site_x", "static")); diff != "" {
		t.Errorf("labels of a site (-want +got):\n%s", diff)
	}
	want = map[string]string{LabelManaged: "true", LabelKind: "mariadb", LabelNode: exampleNodeID, testLabel: "1", "team": "web"}
	if diff := cmp.Diff(want, r.labels("", "mariadb")); diff != "" {
		t.Errorf("labels of the node's MariaDB (-want +got):\n%s", diff)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"node id and a test label", Options{NodeID: exampleNodeID, Labels: map[string]string{testLabel: "1"}}, true},
		{"node id with a dash", Options{NodeID: "node-1"}, false},
		{"node id too long", Options{NodeID: "node_" + strings.Repeat("a", 60)}, false},
		{"label key with upper case", Options{Labels: map[string]string{"Team": "x"}}, false},
		{"label overriding the node", Options{Labels: map[string]string{LabelNode: "node_x"}}, false},
		{"label overriding managed", Options{Labels: map[string]string{LabelManaged: "false"}}, false},
		{"label value with a newline", Options{Labels: map[string]string{"team": "a\nb"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.o.validate(); (err == nil) != tc.ok {
				t.Errorf("validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
