package integration

import (
	"fmt"
	"testing"
	"time"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// TestDensity runs well past the ~31 bridge networks Docker's default
// address pools allow: 40 static sites, each on its own network, on one node.
func TestDensity(t *testing.T) {
	t.Parallel()
	rt := requireDocker(t, "berth/static:dev")
	b := startBerthd(t, "")
	var ids []string
	cleanupSites(t, rt, &ids)
	startAgent(t, b, "node-dense")
	conn := b.grpcConn()
	cc, err := berthv1.NewClientServiceClient(conn).CreateClient(b.adminCtx(), &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Dense", Slug: "dense", ContactEmail: "ops@dense.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sites := berthv1.NewSiteServiceClient(conn)
	const n = 40
	for i := range n {
		resp, err := sites.CreateSite(b.adminCtx(), &berthv1.CreateSiteRequest{Site: &berthv1.Site{ClientId: cc.Client.Id,
			Name: fmt.Sprintf("d%d", i), Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: fmt.Sprintf("d%d.dense.test", i),
			Resources: &berthv1.Resources{MemoryMib: 64, CpuMillicores: 50}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Site.Id)
	}
	start := time.Now()
	for _, id := range ids {
		b.waitSite(id, 5*time.Minute, isRunning)
	}
	t.Logf("%d static sites RUNNING on one node %v after creation", n, time.Since(start).Round(time.Second))
	assertOneEach(t, rt, b.nodeID("node-dense"), ids)
	subnets := map[string]string{}
	for _, id := range ids {
		ns, err := rt.ListNetworks(t.Context(), map[string]string{"berth.site": id})
		if err != nil || len(ns) != 1 {
			t.Fatalf("networks of %s: %v %v", id, ns, err)
		}
		if other, dup := subnets[ns[0].Subnet.String()]; dup {
			t.Errorf("sites %s and %s share subnet %s", other, id, ns[0].Subnet)
		}
		subnets[ns[0].Subnet.String()] = id
	}
	// Every site answers from its own container.
	for i, id := range ids {
		if code, _, err := httpGet("http://"+siteAddr(t, rt, id, 8080)+"/", fmt.Sprintf("d%d.dense.test", i)); err != nil || code != 503 {
			t.Errorf("site %s (no release yet) answers %d %v, want 503", id, code, err)
		}
	}
}
