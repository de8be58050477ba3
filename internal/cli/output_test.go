package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testSites() []*berthv1.Site {
	return []*berthv1.Site{
		{
			Id: "site_01", ClientId: "cl_acme", Name: "blog", Kind: berthv1.SiteKind_SITE_KIND_WORDPRESS,
			PrimaryDomain: "blog.acme.test", AliasDomains: []string{"www.blog.acme.test"},
			State: berthv1.SiteState_SITE_STATE_RUNNING, NodeId: "node_a",
			CreateTime: timestamppb.New(testNow.Add(-3 * 24 * time.Hour)),
		},
		{
			Id: "site_02", ClientId: "cl_acme", Name: "docs", Kind: berthv1.SiteKind_SITE_KIND_STATIC,
			PrimaryDomain: "docs.acme.test", State: berthv1.SiteState_SITE_STATE_PENDING,
			CreateTime: timestamppb.New(testNow.Add(-90 * time.Second)),
		},
	}
}

func TestSiteListTable(t *testing.T) {
	var b bytes.Buffer
	p := printer{out: &b, now: testNow}
	resp := &berthv1.ListSitesResponse{Sites: testSites()}
	if err := p.show(resp, func(w io.Writer, now time.Time) error { return writeSites(w, now, resp.Sites...) }); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"ID       NAME  CLIENT   KIND       STATE    DOMAIN             NODE    AGE\n" +
		"site_01  blog  cl_acme  WORDPRESS  RUNNING  blog.acme.test +1  node_a  3d\n" +
		"site_02  docs  cl_acme  STATIC     PENDING  docs.acme.test     -       1m\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestSiteListJSON(t *testing.T) {
	var b bytes.Buffer
	p := printer{out: &b, json: true, now: testNow}
	resp := &berthv1.ListSitesResponse{Sites: testSites(), NextPageToken: "next"}
	if err := p.show(resp, func(io.Writer, time.Time) error { t.Error("table renderer called for -o json"); return nil }); err != nil {
		t.Fatal(err)
	}
	// The shape scripts rely on: the response message, proto field names,
	// enum names in full, two-space indent.
	var generic map[string]any
	if err := json.Unmarshal(b.Bytes(), &generic); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, b.String())
	}
	sites, ok := generic["sites"].([]any)
	if !ok || len(sites) != 2 {
		t.Fatalf(`output has no "sites" list of 2: %s`, b.String())
	}
	first := sites[0].(map[string]any)
	for key, want := range map[string]any{"id": "site_01", "client_id": "cl_acme", "primary_domain": "blog.acme.test", "state": "SITE_STATE_RUNNING", "kind": "SITE_KIND_WORDPRESS"} {
		if first[key] != want {
			t.Errorf("sites[0][%q] = %v, want %v", key, first[key], want)
		}
	}
	if generic["next_page_token"] != "next" {
		t.Errorf("next_page_token = %v, want next", generic["next_page_token"])
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("{\n  \"sites\": [\n    {\n")) {
		t.Errorf("output is not indented by two spaces:\n%s", b.String())
	}
	var back berthv1.ListSitesResponse
	if err := protojson.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resp, &back, protocmp.Transform()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestSiteProgress(t *testing.T) {
	tests := []struct {
		site *berthv1.Site
		want string
	}{
		{
			site: &berthv1.Site{Id: "site_x", State: berthv1.SiteState_SITE_STATE_PENDING, Conditions: []*berthv1.Condition{
				{Type: "Scheduled", Status: "False", Reason: "NoReadyNode", Message: "no ready node has 256 MiB free"},
			}},
			want: "site_x: PENDING — Scheduled=False NoReadyNode: no ready node has 256 MiB free",
		},
		{
			site: &berthv1.Site{Id: "site_x", State: berthv1.SiteState_SITE_STATE_PROVISIONING, NodeId: "node_a", Conditions: []*berthv1.Condition{
				{Type: "Scheduled", Status: "True"},
				{Type: "Ready", Status: "Unknown", Reason: "Pulling"},
			}},
			want: "site_x: PROVISIONING on node_a — Ready=Unknown Pulling",
		},
		{
			site: &berthv1.Site{Id: "site_x", State: berthv1.SiteState_SITE_STATE_RUNNING, NodeId: "node_a", Conditions: []*berthv1.Condition{
				{Type: "Scheduled", Status: "True"},
				{Type: "Ready", Status: "True"},
			}},
			want: "site_x: RUNNING on node_a — Scheduled=True Ready=True",
		},
		{
			site: &berthv1.Site{Id: "site_x"},
			want: "site_x: -",
		},
	}
	for _, tt := range tests {
		if got := siteProgress(tt.site); got != tt.want {
			t.Errorf("siteProgress:\n got: %s\nwant: %s", got, tt.want)
		}
	}
}

func TestEnumLabelAndParse(t *testing.T) {
	if got := enumLabel(berthv1.SiteState_SITE_STATE_RUNNING); got != "RUNNING" {
		t.Errorf("enumLabel(SITE_STATE_RUNNING) = %q", got)
	}
	if got := enumLabel(berthv1.Role_ROLE_CLIENT); got != "CLIENT" {
		t.Errorf("enumLabel(ROLE_CLIENT) = %q", got)
	}
	if got := enumLabel(berthv1.NodeState_NODE_STATE_NOT_READY); got != "NOT_READY" {
		t.Errorf("enumLabel(NODE_STATE_NOT_READY) = %q", got)
	}
	if got := enumLabel(berthv1.SiteKind_SITE_KIND_UNSPECIFIED); got != "" {
		t.Errorf("enumLabel(unspecified) = %q, want empty", got)
	}
	for _, in := range []string{"running", "RUNNING", "site_state_running"} {
		n, err := parseEnum(berthv1.SiteState(0).Descriptor(), "state", in)
		if err != nil || berthv1.SiteState(n) != berthv1.SiteState_SITE_STATE_RUNNING {
			t.Errorf("parseEnum(%q) = %v, %v", in, n, err)
		}
	}
	_, err := parseEnum(berthv1.SiteKind(0).Descriptor(), "kind", "unspecified")
	if err == nil || err.Error() != `invalid --kind "unspecified": want wordpress or static` {
		t.Errorf("parseEnum(unspecified) error = %v", err)
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		t    *timestamppb.Timestamp
		want string
	}{
		{nil, ""},
		{timestamppb.New(testNow.Add(-5 * time.Second)), "5s"},
		{timestamppb.New(testNow.Add(-12 * time.Minute)), "12m"},
		{timestamppb.New(testNow.Add(-47 * time.Hour)), "47h"},
		{timestamppb.New(testNow.Add(-30 * 24 * time.Hour)), "30d"},
		{timestamppb.New(testNow.Add(3 * time.Hour)), "in 3h"},
	}
	for _, tt := range tests {
		if got := age(tt.t, testNow); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestWriteStatusPage(t *testing.T) {
	var b strings.Builder
	err := writeStatusPage(&b, &berthv1.Client{Slug: "acme", StatusPage: &berthv1.StatusPage{
		Enabled: true, SiteIds: []string{"site_a", "site_b"}, AccentColor: "#1f6feb", HasLogo: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := `
Status page:   on
Path:          /status/acme
Sites:         site_a, site_b
Accent color:  #1f6feb
Logo:          yes
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
