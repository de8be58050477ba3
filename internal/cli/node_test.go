package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func TestWriteDrainResult(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	node := &berthv1.Node{Id: "node_a", Name: "a", State: berthv1.NodeState_NODE_STATE_DRAINING, SiteCount: 2}
	var buf bytes.Buffer
	err := writeDrainResult(&buf, now, &berthv1.DrainNodeResponse{
		Node:  node,
		Moved: []*berthv1.SiteMove{{SiteId: "site_1", NodeId: "node_b"}},
		NotMoved: []*berthv1.NotMoved{
			{SiteId: "site_2", Reason: "WordPress sites move with backups, which are not available yet; the site keeps running on node_a"},
			{SiteId: "site_3", Reason: "no ready node has 4000 MiB memory and 100 millicores free"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `ID      NAME  STATE     SITES  MEMORY(MiB)  CPU(m)  HEARTBEAT  AGE
node_a  a     DRAINING  2      0/0          0/0     -          -

Moved 1 site off the node:
SITE    NOW ON
site_1  node_b

Could not move 2 sites; they keep running on the node:
SITE    REASON
site_2  WordPress sites move with backups, which are not available yet; the site keeps running on node_a
site_3  no ready node has 4000 MiB memory and 100 millicores free

Follow the moves with ` + "`berth site list --node node_a`" + `; drain again to retry the sites that stayed.
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}

	buf.Reset()
	if err := writeDrainResult(&buf, now, &berthv1.DrainNodeResponse{Node: node}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\nNo sites to move.\n") {
		t.Errorf("drain of an empty node:\n%s", buf.String())
	}
}

func TestWriteDeleteNodeResult(t *testing.T) {
	tests := []struct {
		resp *berthv1.DeleteNodeResponse
		want string
	}{
		{&berthv1.DeleteNodeResponse{}, "Deleted node node_a\n"},
		{&berthv1.DeleteNodeResponse{RequeuedSiteIds: []string{"site_1", "site_2"}, FailedSiteIds: []string{"site_3"}, DeletedSiteIds: []string{"site_4"}},
			"Deleted node node_a\n" +
				"2 static sites will be placed on other nodes: site_1, site_2\n" +
				"1 WordPress site is FAILED: its data was on the node, and WordPress sites cannot move until backups exist; delete and recreate it: site_3\n" +
				"1 site being deleted was removed: site_4\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := writeDeleteNodeResult(&buf, "node_a", tt.resp); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
			t.Errorf("output for %v (-want +got):\n%s", tt.resp, diff)
		}
	}
}

// GetSiteCredentials answers for site_wp, and for site_shown as berthd does
// once the password was shown.
func (s *testSiteServer) GetSiteCredentials(ctx context.Context, req *berthv1.GetSiteCredentialsRequest) (*berthv1.GetSiteCredentialsResponse, error) {
	if _, err := checkToken(ctx); err != nil {
		return nil, err
	}
	switch req.GetId() {
	case "site_wp":
		return &berthv1.GetSiteCredentialsResponse{AdminUser: "admin", AdminPassword: "s3cretPassw0rdXYZ", LoginUrl: "https://blog.example.test/wp-admin/"}, nil
	case "site_shown":
		return nil, status.Error(codes.FailedPrecondition, "the admin password was shown on 2026-11-01T12:00:00Z; reset it from WordPress (Lost your password?) or delete and recreate the site")
	}
	return nil, status.Errorf(codes.NotFound, "site %q not found", req.GetId())
}

func TestRunSiteCredentials(t *testing.T) {
	srv := startTestServer(t)
	env := map[string]string{"HOME": t.TempDir(), "BERTH_SERVER": srv.addr, "BERTH_CA": srv.caFile, "BERTH_TOKEN": "berth_good"}
	r := runCLI(t, env, "", "site", "credentials", "site_wp")
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
	want := "User:       admin\nPassword:   s3cretPassw0rdXYZ\nLogin URL:  https://blog.example.test/wp-admin/\n"
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if !strings.Contains(r.err, "not shown again") {
		t.Errorf("stderr = %q, want the warning that the password is not shown again", r.err)
	}
	r = runCLI(t, env, "", "site", "credentials", "site_shown")
	if r.code != 1 || !strings.Contains(r.err, "was shown on 2026-11-01T12:00:00Z") || strings.Contains(r.err, "not shown again") {
		t.Errorf("second call: exit %d, stdout %q, stderr %q; want the server's refusal only", r.code, r.stdout, r.err)
	}
}
