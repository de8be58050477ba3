package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	berthv1 "github.com/fixaroo/berth/proto/berth/v1"
)

func TestFirstStartFiles(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	for name, want := range map[string]os.FileMode{"admin.token": 0o600, "ca-key.pem": 0o600, "secret.key": 0o600, "ca.pem": 0o644} {
		fi, err := os.Stat(filepath.Join(b.dataDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	if !strings.HasPrefix(b.token, "berth_") {
		t.Errorf("admin token %q does not start with berth_", b.token)
	}
	if !strings.Contains(b.stderr.String(), "admin.token") {
		t.Errorf("berthd did not tell where the admin token is:\n%s", b.stderr.String())
	}
	if strings.Contains(b.stderr.String(), b.token) {
		t.Error("berthd logged the admin token itself")
	}
	// A restart keeps the token and does not announce a new one.
	b.stop()
	b2 := startBerthd(t, b.dataDir)
	if b2.token != b.token {
		t.Error("admin token changed across a restart")
	}
	if strings.Contains(b2.stderr.String(), "created the bootstrap admin") {
		t.Error("second start created another bootstrap token")
	}
	b2.rest("GET", "/v1/auth/whoami", nil)
}

func TestRESTAndGRPC(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")

	// REST, with plain net/http.
	c := b.rest("POST", "/v1/clients", map[string]any{"display_name": "Acme Ltd", "slug": "acme", "contact_email": "ops@acme.test"})
	clientID := c["client"].(map[string]any)["id"].(string)
	u := b.rest("POST", "/v1/users", map[string]any{
		"user":     map[string]any{"email": "owner@acme.test", "role": "ROLE_CLIENT", "client_id": clientID},
		"password": "a long enough password",
	})
	if got := u["user"].(map[string]any)["client_id"]; got != clientID {
		t.Errorf("user client_id = %v", got)
	}
	s := b.rest("POST", "/v1/sites", map[string]any{
		"client_id": clientID, "name": "www", "kind": "SITE_KIND_STATIC", "primary_domain": "www.acme.test",
		"alias_domains": []string{"acme.test"},
	})
	site := s["site"].(map[string]any)
	siteID := site["id"].(string)
	if site["state"] != "SITE_STATE_PENDING" || site["generation"] != "1" {
		t.Errorf("new site: state %v generation %v, want PENDING and 1", site["state"], site["generation"])
	}
	got := b.rest("GET", "/v1/sites/"+siteID, nil)["site"].(map[string]any)
	if got["primary_domain"] != "www.acme.test" {
		t.Errorf("GET site: %v", got)
	}
	list := b.rest("GET", "/v1/sites?client_id="+clientID, nil)
	if n := len(list["sites"].([]any)); n != 1 {
		t.Errorf("list sites: %d sites, want 1", n)
	}
	if n := len(b.rest("GET", "/v1/clients", nil)["clients"].([]any)); n != 1 {
		t.Errorf("list clients: %d, want 1", n)
	}

	// PATCH without an update mask changes the fields in the body.
	patched := b.rest("PATCH", "/v1/sites/"+siteID, map[string]any{"resources": map[string]any{"memory_mib": 768}})["site"].(map[string]any)
	if res := patched["resources"].(map[string]any); res["memory_mib"] != float64(768) || res["cpu_millicores"] != float64(500) || patched["generation"] != "2" {
		t.Errorf("PATCH memory only: %v", patched)
	}
	if code, body := b.do("POST", "/v1/sites", b.token, map[string]any{"client_id": clientID, "name": "dup", "kind": "SITE_KIND_STATIC", "primary_domain": "ACME.test"}); code != http.StatusConflict || !strings.Contains(string(body), "acme.test") {
		t.Errorf("site with another site's alias as domain: %d %s, want 409 naming the domain", code, body)
	}

	// The client user logs in over REST and sees its site.
	login := b.rest("POST", "/v1/auth/login", map[string]any{"email": "owner@acme.test", "password": "a long enough password"})
	session := login["token"].(string)
	code, body := b.do("GET", "/v1/sites/"+siteID, session, nil)
	if code != 200 || !strings.Contains(string(body), siteID) {
		t.Errorf("client GET own site: %d %s", code, body)
	}
	if code, body := b.do("GET", "/v1/nodes", session, nil); code != http.StatusForbidden {
		t.Errorf("client GET /v1/nodes: %d %s, want 403", code, body)
	}
	if code, _ := b.do("GET", "/v1/sites", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/sites without token: %d, want 401", code)
	}

	// gRPC over the same TLS port.
	conn := b.grpcConn()
	ctx := b.adminCtx()
	cc, err := berthv1.NewClientServiceClient(conn).CreateClient(ctx, &berthv1.CreateClientRequest{Client: &berthv1.Client{
		DisplayName: "Bistro", Slug: "bistro", ContactEmail: "hello@bistro.test"}})
	if err != nil {
		t.Fatal(err)
	}
	sites := berthv1.NewSiteServiceClient(conn)
	cs, err := sites.CreateSite(ctx, &berthv1.CreateSiteRequest{Site: &berthv1.Site{
		ClientId: cc.Client.Id, Name: "blog", Kind: berthv1.SiteKind_SITE_KIND_WORDPRESS, PrimaryDomain: "blog.bistro.test",
		Wordpress: &berthv1.WordPressSpec{Title: "Bistro Blog", AdminEmail: "chef@bistro.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := sites.GetSite(ctx, &berthv1.GetSiteRequest{Id: cs.Site.Id})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Site.Wordpress.GetTitle() != "Bistro Blog" {
		t.Errorf("GetSite over gRPC: %v", gs.Site)
	}
	ls, err := sites.ListSites(ctx, &berthv1.ListSitesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Sites) != 2 {
		t.Errorf("ListSites over gRPC: %d sites, want 2", len(ls.Sites))
	}
	up, err := sites.UpdateSite(ctx, &berthv1.UpdateSiteRequest{
		Site: &berthv1.Site{Id: cs.Site.Id, Resources: &berthv1.Resources{MemoryMib: 512}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"resources.memory_mib"}}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Site.Generation != 2 || up.Site.Resources.MemoryMib != 512 {
		t.Errorf("UpdateSite: generation %d memory %d, want 2 and 512", up.Site.Generation, up.Site.Resources.MemoryMib)
	}

	// WatchSite over REST streams newline-delimited JSON.
	req, _ := http.NewRequest("GET", b.url("/v1/sites/"+siteID+"/watch"), nil)
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		Result struct{ Site struct{ ID string } } `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&first); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if first.Result.Site.ID != siteID {
		t.Errorf("watch first message names site %q, want %q", first.Result.Site.ID, siteID)
	}
}

func TestBadInputIsRejectedAndAudited(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	clientID := b.rest("POST", "/v1/clients", map[string]any{"display_name": "Acme", "slug": "acme", "contact_email": "ops@acme.test"})["client"].(map[string]any)["id"].(string)
	site := func(mod func(m map[string]any)) map[string]any {
		m := map[string]any{"client_id": clientID, "name": "www", "kind": "SITE_KIND_STATIC", "primary_domain": "www.acme.test"}
		mod(m)
		return m
	}
	cases := []struct {
		name, path string
		body       map[string]any
		field      string // the message must name it
	}{
		{"domain with space", "/v1/sites", site(func(m map[string]any) { m["primary_domain"] = "exa mple.com" }), "primary_domain"},
		{"ip address", "/v1/sites", site(func(m map[string]any) { m["primary_domain"] = "10.0.0.1" }), "primary_domain"},
		{"wildcard", "/v1/sites", site(func(m map[string]any) { m["primary_domain"] = "*.acme.test" }), "primary_domain"},
		{"url not host", "/v1/sites", site(func(m map[string]any) { m["primary_domain"] = "https://acme.test/" }), "primary_domain"},
		{"long label", "/v1/sites", site(func(m map[string]any) { m["primary_domain"] = strings.Repeat("a", 64) + ".test" }), "primary_domain"},
		{"bad alias", "/v1/sites", site(func(m map[string]any) { m["alias_domains"] = []string{"ok.acme.test", "bad..acme.test"} }), "alias_domains[1]"},
		{"site name traversal", "/v1/sites", site(func(m map[string]any) { m["name"] = "../etc" }), "name"},
		{"site name uppercase", "/v1/sites", site(func(m map[string]any) { m["name"] = "WWW" }), "name"},
		{"memory too small", "/v1/sites", site(func(m map[string]any) { m["resources"] = map[string]any{"memory_mib": 8} }), "memory_mib"},
		{"cpu too large", "/v1/sites", site(func(m map[string]any) { m["resources"] = map[string]any{"cpu_millicores": 1000000} }), "cpu_millicores"},
		{"no kind", "/v1/sites", site(func(m map[string]any) { delete(m, "kind") }), "kind"},
		{"unknown client", "/v1/sites", site(func(m map[string]any) { m["client_id"] = "cl_0000000000000000000000000a" }), "client_id"},
		{"slug uppercase", "/v1/clients", map[string]any{"display_name": "X", "slug": "Bad Slug", "contact_email": "a@b.test"}, "slug"},
		{"slug path", "/v1/clients", map[string]any{"display_name": "X", "slug": "a/b", "contact_email": "a@b.test"}, "slug"},
		{"email", "/v1/clients", map[string]any{"display_name": "X", "slug": "xyz", "contact_email": "not-an-email"}, "contact_email"},
		{"email with name", "/v1/clients", map[string]any{"display_name": "X", "slug": "xyz", "contact_email": "Bob <bob@b.test>"}, "contact_email"},
		{"display name control char", "/v1/clients", map[string]any{"display_name": "X\u0007", "slug": "xyz", "contact_email": "a@b.test"}, "display_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := b.do("POST", tc.path, b.token, tc.body)
			if code != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", code, body)
			}
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body is not JSON: %s", body)
			}
			if e.Code != 3 || !strings.Contains(e.Message, tc.field) {
				t.Errorf("error %+v: want code 3 (InvalidArgument) and a message naming %q", e, tc.field)
			}
		})
	}
	// Nothing was written: the one client, no site.
	if n := len(b.rest("GET", "/v1/sites", nil)["sites"].([]any)); n != 0 {
		t.Errorf("%d sites exist after only invalid CreateSite calls", n)
	}
	if n := len(b.rest("GET", "/v1/clients", nil)["clients"].([]any)); n != 1 {
		t.Errorf("%d clients exist, want 1", n)
	}
	// Each failed attempt is in the audit log.
	events := b.rest("GET", "/v1/audit-events?failed_only=true&page_size=1000", nil)["events"].([]any)
	var invalid int
	for _, e := range events {
		if e.(map[string]any)["code"] == "InvalidArgument" {
			invalid++
		}
	}
	if invalid != len(cases) {
		t.Errorf("audit log holds %d InvalidArgument events, want %d", invalid, len(cases))
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	code, body := b.do("GET", "/openapi.json", "", nil)
	if code != 200 {
		t.Fatalf("GET /openapi.json: %d", code)
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	for _, p := range []string{"/v1/clients", "/v1/clients/{id}", "/v1/sites", "/v1/sites/{id}", "/v1/nodes", "/v1/nodes/{id}",
		"/v1/join-tokens", "/v1/tokens", "/v1/users", "/v1/audit-events"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi.json lacks %s; it has %v", p, keys(doc.Paths))
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := b.do("GET", p, "", nil); code != 200 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := startBerthd(t, "")
	b.rest("GET", "/v1/clients", nil)
	resp, err := http.Get("http://" + b.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The legacy scheme is the strict one: names must be [a-zA-Z_:][a-zA-Z0-9_:]*.
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	for _, name := range []string{"berth_grpc_server_handled_total", "berth_grpc_server_handling_seconds", "berth_store_tx_duration_seconds", "berth_build_info"} {
		if _, ok := families[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	var found bool
	for _, m := range families["berth_grpc_server_handled_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["method"] == berthv1.ClientService_ListClients_FullMethodName && labels["code"] == "OK" && m.GetCounter().GetValue() >= 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no handled_total sample for the REST ListClients call:\n%s", fmt.Sprint(families["berth_grpc_server_handled_total"]))
	}
}
