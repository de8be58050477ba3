package integration

import (
	"fmt"
	"sync"
	"testing"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

// TestSIGKILLLosesNoAcknowledgedSite kills berthd with SIGKILL while 200
// CreateSite calls are in flight, restarts it, and checks that every site
// whose creation was acknowledged is there, whole.
func TestSIGKILLLosesNoAcknowledgedSite(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	conn := b.grpcConn()
	ctx := b.adminCtx()
	cc, err := berthv1.NewClientServiceClient(conn).CreateClient(ctx, &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Crash", Slug: "crash", ContactEmail: "ops@crash.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sites := berthv1.NewSiteServiceClient(conn)

	const total, killAfter = 200, 100
	var (
		mu    sync.Mutex
		acked = map[string]string{} // site id → domain
		once  sync.Once
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range total {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			domain := fmt.Sprintf("site-%d.crash.test", i)
			resp, err := sites.CreateSite(ctx, &berthv1.CreateSiteRequest{Site: &berthv1.Site{
				ClientId: cc.Client.Id, Name: fmt.Sprintf("s%d", i), Kind: berthv1.SiteKind_SITE_KIND_STATIC, PrimaryDomain: domain}})
			if err != nil {
				return // in flight when berthd died: may or may not exist
			}
			mu.Lock()
			acked[resp.Site.Id] = domain
			n := len(acked)
			mu.Unlock()
			if n >= killAfter {
				once.Do(b.kill)
			}
		}()
	}
	close(start)
	wg.Wait()
	once.Do(b.kill)
	if len(acked) < killAfter {
		t.Fatalf("only %d creations acknowledged before the kill", len(acked))
	}
	t.Logf("%d of %d creations acknowledged before SIGKILL", len(acked), total)

	b2 := startBerthd(t, b.dataDir)
	conn2 := b2.grpcConn()
	found := map[string]*berthv1.Site{}
	req := &berthv1.ListSitesRequest{PageSize: 50}
	for {
		resp, err := berthv1.NewSiteServiceClient(conn2).ListSites(b2.adminCtx(), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range resp.Sites {
			found[s.Id] = s
		}
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	for id, domain := range acked {
		s, ok := found[id]
		if !ok {
			t.Errorf("acknowledged site %s is missing after the restart", id)
			continue
		}
		if s.PrimaryDomain != domain || s.State != berthv1.SiteState_SITE_STATE_PENDING {
			t.Errorf("site %s after restart: domain %q state %v, want %q PENDING", id, s.PrimaryDomain, s.State, domain)
		}
	}
	t.Logf("%d sites after restart", len(found))
}
